//! A small blocking client for the node's HTTP API.

use anyhow::{anyhow, Context};
use machina_primitives::Encode;
use machina_stf::Transaction;
use serde_json::Value;
use std::time::Duration;

pub use machina_module_cli::NodeError;

/// Talks to one node.
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for the node at `base`, e.g. `http://127.0.0.1:8645`.
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(90))
                .build(),
        }
    }

    fn handle(&self, r: Result<ureq::Response, ureq::Error>) -> anyhow::Result<Value> {
        match r {
            Ok(resp) => resp.into_json().context("node sent invalid JSON"),
            Err(ureq::Error::Status(_, resp)) => {
                let v: Value = resp.into_json().context("node sent invalid JSON")?;
                Err(NodeError {
                    code: v["code"].as_str().unwrap_or("unknown").to_owned(),
                    message: v["message"].as_str().unwrap_or("").to_owned(),
                }
                .into())
            }
            Err(e) => Err(anyhow!("cannot reach the node at {}: {e}", self.base)),
        }
    }

    /// `GET` a path under the base.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.handle(self.agent.get(&format!("{}{path}", self.base)).call())
    }

    /// `GET` a path that answers with text (such as `/metrics`).
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .call()
            .map_err(|e| anyhow!("cannot reach the node at {}: {e}", self.base))?;
        r.into_string().context("node sent invalid text")
    }

    /// Submits one transaction in its canonical encoding; returns its hash.
    pub fn submit(&self, tx: &Transaction) -> anyhow::Result<String> {
        let v = self.post_bytes("/v1/tx", &tx.encode())?;
        v["hash"]
            .as_str()
            .map(str::to_owned)
            .context("node did not return a hash")
    }

    /// `POST`s canonical bytes to a path.
    pub fn post_bytes(&self, path: &str, body: &[u8]) -> anyhow::Result<Value> {
        self.handle(
            self.agent
                .post(&format!("{}{path}", self.base))
                .set("Content-Type", "application/octet-stream")
                .send_bytes(body),
        )
    }

    /// `POST`s a JSON body to a path.
    pub fn post_json(&self, path: &str, body: &[u8]) -> anyhow::Result<Value> {
        self.handle(
            self.agent
                .post(&format!("{}{path}", self.base))
                .set("Content-Type", "application/json")
                .send_bytes(body),
        )
    }

    /// Waits until the transaction is committed and returns the node's record of it.
    pub fn wait_for_tx(&self, hash: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let v = self.get(&format!("/v1/tx/{hash}?wait_ms=5000"))?;
            if v["status"] == "committed" {
                return Ok(v);
            }
            if std::time::Instant::now() >= deadline {
                anyhow::bail!("transaction {hash} was not committed within {timeout:?}");
            }
        }
    }
}

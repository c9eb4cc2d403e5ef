//! A small blocking client for the node's HTTP API.

use anyhow::{anyhow, Context};
use machina_api_types::{SubmitView, TxStatus, TxView};
use machina_primitives::Encode;
use machina_stf::Transaction;
use serde_json::Value;
use std::time::Duration;

pub use machina_module_cli::NodeError;

/// What to do when no node answers.
const START_A_NODE: &str = "start one with `machina dev` (from a source checkout: \
    `cargo run --release -- dev`), or point --node or MACHINA_NODE at a running node";

/// A node's address as given on the command line, with `http://` added when it has no scheme
/// (`127.0.0.1:8645` works like `http://127.0.0.1:8645`), without a trailing slash.
pub fn node_url(s: &str) -> String {
    let s = s.trim().trim_end_matches('/');
    if s.contains("://") {
        s.to_owned()
    } else {
        format!("http://{s}")
    }
}

/// A short prefix of a body that is not an error the node rendered.
fn prefix(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…({} bytes)", &text[..end], text.len()),
    }
}

/// Talks to one node.
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for the node at `base`, e.g. `http://127.0.0.1:8645` or `127.0.0.1:8645`.
    pub fn new(base: &str) -> Client {
        Client {
            base: node_url(base),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(90))
                .build(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The error of a request that got no HTTP answer: which URL, and how to start a node.
    fn unreachable(url: &str, e: ureq::Error) -> anyhow::Error {
        // ureq's sentence starts with the URL, which this one already names.
        let why = e.to_string();
        let why = why
            .strip_prefix(&format!("{url}: "))
            .unwrap_or(&why)
            .to_owned();
        anyhow!("cannot reach the node at {url}: {why}\n  {START_A_NODE}")
    }

    fn handle(url: &str, r: Result<ureq::Response, ureq::Error>) -> anyhow::Result<Value> {
        match r {
            Ok(resp) => resp
                .into_json()
                .with_context(|| format!("{url} answered with invalid JSON")),
            Err(ureq::Error::Status(status, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                let e = match serde_json::from_str::<Value>(&text) {
                    Ok(v) if v["code"].is_string() => NodeError {
                        code: v["code"].as_str().unwrap_or_default().to_owned(),
                        message: v["message"].as_str().unwrap_or("").to_owned(),
                    },
                    // Not a Machina error: perhaps not a Machina node at all.
                    _ => NodeError {
                        code: format!("http_{status}"),
                        message: format!(
                            "{url} answered {status} without a Machina error: {}",
                            prefix(text.trim())
                        ),
                    },
                };
                Err(e.into())
            }
            Err(e) => Err(Self::unreachable(url, e)),
        }
    }

    /// `GET` a path under the base.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = self.url(path);
        Self::handle(&url, self.agent.get(&url).call())
    }

    /// `GET` a path that answers with text (such as `/metrics`).
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let url = self.url(path);
        match self.agent.get(&url).call() {
            Ok(r) => r.into_string().context("node sent invalid text"),
            Err(e @ ureq::Error::Status(..)) => Self::handle(&url, Err(e)).map(|v| v.to_string()),
            Err(e) => Err(Self::unreachable(&url, e)),
        }
    }

    /// Submits one transaction in its canonical encoding; returns its hash.
    pub fn submit(&self, tx: &Transaction) -> anyhow::Result<String> {
        let v = self.post_bytes("/v1/tx", &tx.encode())?;
        let admitted: SubmitView =
            serde_json::from_value(v).context("the node's answer to a submission")?;
        Ok(admitted.tx_hash.to_string())
    }

    /// Runs one transaction against the node's pending state (`POST /v1/tx/simulate`):
    /// the receipt it would get, nothing charged.
    pub fn simulate(&self, tx: &Transaction) -> anyhow::Result<Value> {
        self.post_bytes("/v1/tx/simulate", &tx.encode())
    }

    /// `POST`s canonical bytes to a path.
    pub fn post_bytes(&self, path: &str, body: &[u8]) -> anyhow::Result<Value> {
        let url = self.url(path);
        Self::handle(
            &url,
            self.agent
                .post(&url)
                .set("Content-Type", "application/octet-stream")
                .send_bytes(body),
        )
    }

    /// `POST`s a JSON body to a path.
    pub fn post_json(&self, path: &str, body: &[u8]) -> anyhow::Result<Value> {
        let url = self.url(path);
        Self::handle(
            &url,
            self.agent
                .post(&url)
                .set("Content-Type", "application/json")
                .send_bytes(body),
        )
    }

    /// Waits until the transaction is committed and returns the node's record of it.
    pub fn wait_for_tx(&self, hash: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let v = self.get(&format!("/v1/tx/{hash}?wait_ms=5000"))?;
            let view: TxView =
                serde_json::from_value(v.clone()).context("the node's answer to a lookup")?;
            if view.status == TxStatus::Committed {
                return Ok(v);
            }
            if std::time::Instant::now() >= deadline {
                anyhow::bail!("transaction {hash} was not committed within {timeout:?}");
            }
        }
    }
}

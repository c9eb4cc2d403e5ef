//! What a Machina module's CLI subcommands may ask of the command line: keys, addresses, the
//! node, submission and printing.
//!
//! Each module crate owns its `machina tx` and `machina query` subcommands (clap enums and the
//! code that turns them into actions or reads); the `machina` binary implements these traits
//! once and mounts every module's subcommands with one line each. Command-line code, not
//! protocol: it may use `anyhow` and read the clock.

use machina_primitives::{Address, Keypair, PublicKey};
use serde_json::Value;

/// The command line as a module's `query` subcommands see it.
pub trait QueryHost {
    /// Whether output is JSON (`--json`) rather than sentences.
    fn json(&self) -> bool;
    /// A key of the keystore (or a dev key) by name.
    fn key(&self, name: &str) -> anyhow::Result<Keypair>;
    /// An address given as hex or as a key name.
    fn address_of(&self, name_or_hex: &str) -> anyhow::Result<Address>;
    /// A public key given as hex or as a key name.
    fn public_key_of(&self, name_or_hex: &str) -> anyhow::Result<PublicKey>;
    /// `GET` a path of the node's API.
    fn get(&self, path: &str) -> anyhow::Result<Value>;
    /// The node's chain id.
    fn chain_id(&self) -> anyhow::Result<u64>;

    /// `GET` a path and read the answer as the route's response type.
    fn get_as<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<(T, Value)>
    where
        Self: Sized,
    {
        let v = self.get(path)?;
        let t = serde_json::from_value(v.clone()).map_err(|e| {
            anyhow::anyhow!("the node's answer to {path} is not what this CLI reads: {e}")
        })?;
        Ok((t, v))
    }

    /// Prints `v` as JSON, or the sentence `human` makes.
    fn print(&self, v: &Value, human: &dyn Fn() -> String) {
        if self.json() {
            println!("{v}");
        } else {
            println!("{}", human());
        }
    }

    /// Prints `v` as JSON, pretty when not `--json`.
    fn print_json(&self, v: &Value) {
        self.print(v, &|| serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

/// The command line as a module's `tx` subcommands see it: `A` is the module's action type.
pub trait TxHost<A>: QueryHost {
    /// The account a transaction signed by `signer` is sent as (`--multisig` changes it).
    fn sender_address(&self, signer: &Keypair) -> anyhow::Result<Address>;
    /// Signs `actions` as `sender` with `signer` (and any co-signers), submits, waits for the
    /// receipt and fails with the receipt's code if the actions failed. Returns the
    /// transaction's record (`tx_hash`, `height`, `receipt`).
    fn send(&self, signer: &Keypair, sender: Address, actions: Vec<A>) -> anyhow::Result<Value>;
    /// Prints a transaction's record: hash, height, fee, outcome and events.
    fn print_receipt(&self, rec: &Value);
    /// Whether `--multisig` names the account to send as.
    fn sends_as_multisig(&self) -> bool;

    /// [`TxHost::send`] from the account of key `from`.
    fn send_from(&self, from: &str, actions: Vec<A>) -> anyhow::Result<(Keypair, Value)> {
        let key = self.key(from)?;
        let sender = self.sender_address(&key)?;
        let rec = self.send(&key, sender, actions)?;
        Ok((key, rec))
    }

    /// The account address of machine `id`, read from the node.
    fn machine_address(&self, id: u64) -> anyhow::Result<Address> {
        let m = self.get(&format!("/v1/machine/{id}"))?;
        m["address"]
            .as_str()
            .and_then(Address::from_hex)
            .ok_or_else(|| anyhow::anyhow!("the node's machine {id} has no address"))
    }
}

/// The value of attribute `key` in the first event of `kind` in a transaction's record.
pub fn event_attr<'v>(rec: &'v Value, kind: &str, key: &str) -> Option<&'v Value> {
    rec["receipt"]["events"]
        .as_array()?
        .iter()
        .find(|e| e["kind"] == kind)
        .map(|e| &e["attrs"][key])
}

/// Milliseconds since the Unix epoch, for commands that timestamp (readings): the CLI, unlike
/// the chain, may read the clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An error the node returned, or a refusal in a receipt: its stable code and sentence. The
/// command line prints it as `error: code: sentence` and exits with a failure.
#[derive(Debug)]
pub struct NodeError {
    /// Stable code, e.g. `insufficient_funds`.
    pub code: String,
    /// The sentence.
    pub message: String,
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for NodeError {}

/// An event attribute as an integer, whether the node wrote it as a number or a string.
pub fn attr_u64(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// An event attribute as text (numbers are written out).
pub fn attr_text(v: Option<&Value>) -> Option<String> {
    let v = v?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

//! Machina API types: the node's own response bodies, shared by the server and its clients.
//!
//! Each module's responses live in the module's crate (`machina_<module>::routes`); these are
//! the chain-level ones. The server builds them and the CLI reads them as the same structs, so
//! neither side can rename a key alone.

use machina_primitives::{Address, BlockHeader, Event, Hash, Receipt};
use machina_stf::Transaction;
use serde::{Deserialize, Serialize};

/// `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    /// Always `ok` when the node answers.
    pub status: String,
    /// The chain id transactions must carry.
    pub chain_id: u64,
    /// Height of the last committed block.
    pub height: u64,
    /// State root after it.
    pub state_root: Hash,
}

/// `POST /v1/tx`: the transaction was admitted to the mempool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitView {
    /// Its id.
    pub tx_hash: Hash,
}

/// One transaction of `POST /v1/txs`: admitted, or refused with a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchResult {
    /// Admitted.
    Admitted {
        /// Its id.
        tx_hash: Hash,
    },
    /// Refused.
    Refused {
        /// Stable code.
        code: String,
        /// The sentence.
        message: String,
        /// The module that refused it, when one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        module: Option<String>,
    },
}

/// `POST /v1/txs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchView {
    /// How many were admitted.
    pub accepted: usize,
    /// One result per transaction, in order.
    pub results: Vec<BatchResult>,
}

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// In a committed block.
    Committed,
    /// In the mempool.
    Pending,
}

/// `GET /v1/tx/{hash}`: a transaction, and once committed its block position and receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxView {
    /// Its id.
    pub tx_hash: Hash,
    /// Committed or pending.
    pub status: TxStatus,
    /// Height of its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Position in the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<Transaction>,
    /// What happened to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// `GET /v1/block/{height|hash|latest}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    /// Height.
    pub height: u64,
    /// The block's id.
    pub hash: Hash,
    /// The parent's id.
    pub parent_hash: Hash,
    /// The chain.
    pub chain_id: u64,
    /// Chain time, ms.
    pub timestamp_ms: u64,
    /// Who produced it and received its fees.
    pub proposer: Address,
    /// State root after it.
    pub state_root: Hash,
    /// Merkle root of its transaction ids.
    pub tx_root: Hash,
    /// Merkle root of its receipts.
    pub receipts_root: Hash,
    /// How many transactions.
    pub tx_count: usize,
    /// Their ids, in order.
    pub txs: Vec<Hash>,
    /// Events of the modules' block hooks: clearings, settlements.
    pub events: Vec<Event>,
}

impl BlockView {
    /// The view of a stored block.
    pub fn new(header: &BlockHeader, txs: Vec<Hash>, events: Vec<Event>) -> BlockView {
        BlockView {
            height: header.height,
            hash: header.hash(),
            parent_hash: header.parent_hash,
            chain_id: header.chain_id,
            timestamp_ms: header.timestamp_ms,
            proposer: header.proposer,
            state_root: header.state_root,
            tx_root: header.tx_root,
            receipts_root: header.receipts_root,
            tx_count: txs.len(),
            txs,
            events,
        }
    }
}

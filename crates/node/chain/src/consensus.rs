//! What a validator's consensus engine says about the validator set (each one's last votes),
//! handed to the chain so the API can serve it without depending on the engine.

use crate::Chain;
use serde_json::Value;
use std::sync::Arc;

/// Renders the engine's current account of the validators as JSON.
pub type ConsensusView = Arc<dyn Fn() -> Value + Send + Sync>;

impl Chain {
    /// Set once by the consensus engine of a validator; a dev chain has none.
    pub fn set_consensus_view(&self, view: ConsensusView) {
        let _ = self.consensus.set(view);
    }

    /// The engine's account of the validators, or `None` on a dev chain.
    pub fn consensus_view(&self) -> Option<Value> {
        self.consensus.get().map(|f| f())
    }
}

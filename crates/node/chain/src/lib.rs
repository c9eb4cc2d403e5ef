//! Machina chain: the committed state, the mempool, block building, replay and commit, and
//! their metrics.
//!
//! Layer 4. Used by the dev node's producer and by consensus; reads the clock only to stamp
//! the blocks it builds (the state transition function never does).

pub mod chain;
mod consensus;
pub use consensus::ConsensusView;
mod dev;
mod dump;
pub use dump::StateDump;
pub mod metrics;
mod simulate;
pub use dev::{MAX_SNAPSHOTS, MAX_TIME_STEP_MS};

pub use chain::{dev_proposer, now_ms, Built, Chain, Committed, ReplayError, SubmitError};

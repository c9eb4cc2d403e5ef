//! Machina validators on Commonware: simplex BFT consensus over ed25519 keys, marshal's
//! finalized-block layer (broadcast, backfill, archives) and authenticated p2p.
//!
//! Layer 4. The state transition function is the dev chain's, unchanged: a leader builds a
//! block from its mempool on its parent's state ([`app`]), the others execute it again before
//! their finalize vote, and every validator commits finalized blocks in height order to the
//! same store the dev chain uses ([`finalizer`]).

pub mod app;
pub mod block;
pub mod engine;
pub mod evidence;
pub mod finalizer;
pub mod gossip;
pub mod votes;

pub use app::{Pacing, address_of};
pub use block::{BlockLimits, ConsensusBlock};
pub use engine::{Setup, Timeouts};
pub mod devnet;
pub mod validator;

//! Machina state: an authenticated key-value state with one root per version, inclusion
//! proofs and overlays.
//!
//! Layer 1. The state transition function reads and writes through [`Overlay`]s on top of a
//! [`StateRead`]; the node applies a block's [`ChangeSet`] to an [`AuthenticatedState`] to get
//! the block's state root, and persists the same change set with the block.

use machina_primitives::Hash;
use std::collections::BTreeMap;

pub mod overlay;
pub mod smt;
pub mod sorted;

pub use overlay::{Overlay, StateWrite};
pub use smt::{SmtProof, SparseMerkleTree};

/// Writes of one block (or one transaction): `Some(value)` sets a key, `None` deletes it.
/// A `BTreeMap` so that the order of application never depends on hashing.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Read access to a key-value state.
pub trait StateRead {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
}

/// A key-value state with a Merkle root over all entries and per-key proofs.
///
/// `Clone` must be cheap enough to take a snapshot per block: the block producer and the
/// verifier execute against a snapshot and keep or drop it.
pub trait AuthenticatedState: StateRead + Clone + Send + Sync + 'static {
    /// A proof that a key has a given value, or none, under a root.
    type Proof;

    /// The root committing to every entry.
    fn root(&self) -> Hash;

    /// Applies `changes` and returns the new root.
    fn apply(&mut self, changes: &ChangeSet) -> Hash;

    /// A proof for `key` against [`AuthenticatedState::root`].
    fn prove(&self, key: &[u8]) -> Self::Proof;

    /// Builds a state from all its entries, for example when a node restarts.
    fn from_entries(entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Self;

    /// Number of entries.
    fn len(&self) -> usize;

    /// True when there are no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

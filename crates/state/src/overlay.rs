//! Overlays: pending writes on top of a read-only state.
//!
//! A block executes in an overlay over the committed state, and each transaction in an overlay
//! over the block's. A transaction whose action fails drops its overlay, so its writes vanish
//! as one; a transaction that succeeds merges its writes into the block's overlay.

use crate::{ChangeSet, StateRead};

/// Write access on top of [`StateRead`].
pub trait StateWrite: StateRead {
    /// Sets `key` to `value`.
    fn set(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Removes `key`.
    fn delete(&mut self, key: Vec<u8>);
}

/// Pending writes over a base state. Reads see the writes first.
pub struct Overlay<'a, S: StateRead + ?Sized> {
    base: &'a S,
    writes: ChangeSet,
}

impl<'a, S: StateRead + ?Sized> Overlay<'a, S> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a S) -> Self {
        Overlay {
            base,
            writes: ChangeSet::new(),
        }
    }

    /// The pending writes, consuming the overlay.
    pub fn into_changes(self) -> ChangeSet {
        self.writes
    }

    /// Adds writes made in a nested overlay, which win over earlier ones.
    pub fn merge(&mut self, changes: ChangeSet) {
        self.writes.extend(changes);
    }

    /// Number of keys written so far.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl<S: StateRead + ?Sized> StateRead for Overlay<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(w) => w.clone(),
            None => self.base.get(key),
        }
    }
}

impl<S: StateRead + ?Sized> StateWrite for Overlay<'_, S> {
    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }
}

impl StateRead for std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        std::collections::BTreeMap::get(self, key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_dropped_nested_overlay_leaves_no_trace() {
        let mut base = BTreeMap::new();
        base.insert(b"a".to_vec(), b"1".to_vec());
        let mut block = Overlay::new(&base);
        {
            let mut tx = Overlay::new(&block);
            tx.set(b"a".to_vec(), b"2".to_vec());
            assert_eq!(tx.get(b"a"), Some(b"2".to_vec()));
        }
        assert_eq!(block.get(b"a"), Some(b"1".to_vec()));
        let mut tx = Overlay::new(&block);
        tx.delete(b"a".to_vec());
        let changes = tx.into_changes();
        block.merge(changes);
        assert_eq!(block.get(b"a"), None);
        assert_eq!(base.get(b"a".as_slice()), Some(&b"1".to_vec()));
    }
}

//! A baseline state backend: a sorted map and a balanced Merkle tree over its entries, rebuilt
//! from scratch on every [`AuthenticatedState::apply`].
//!
//! It exists to be benchmarked against [`crate::SparseMerkleTree`] (see `docs/state-backends.md`)
//! and loses on every count that matters to the node:
//! - `apply` rehashes every entry, so its cost grows with the state, not with the batch;
//! - `Clone` copies the whole map;
//! - a proof needs the key's index, found by walking the map (O(n));
//! - it cannot prove that a key is absent: inserting a key shifts the index of every later
//!   leaf, and a proof of absence would need proofs of the two neighbours, which this tree does
//!   not give. [`SortedProof::verify`] rejects every absence claim.

use crate::{AuthenticatedState, ChangeSet, StateRead};
use machina_primitives::hash::merkle_root;
use machina_primitives::{sha256, Hash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

const LEAF_TAG: u8 = 0x00;
const NODE_TAG: u8 = 0x01;

/// The leaf hash of an entry: `sha256(u64 key length || key || value)`.
pub fn entry_hash(key: &[u8], value: &[u8]) -> Hash {
    sha256(&[&(key.len() as u64).to_be_bytes(), key, value])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[NODE_TAG], &left.0, &right.0])
}

/// Every level of the tree [`merkle_root`] computes, from the wrapped leaves up to the root.
fn levels(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    if leaves.is_empty() {
        return Vec::new();
    }
    let mut levels = vec![leaves
        .iter()
        .map(|l| sha256(&[&[LEAF_TAG], &l.0]))
        .collect::<Vec<_>>()];
    while let Some(level) = levels.last().filter(|l| l.len() > 1) {
        let next = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => node_hash(a, b),
                [a] => *a,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
        levels.push(next);
    }
    levels
}

/// The baseline backend: a `BTreeMap` and a balanced binary Merkle tree over its sorted
/// entries (the shape of [`merkle_root`]).
#[derive(Clone, Default)]
pub struct SortedMerkle {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// `levels[0]` holds the wrapped leaves, the last level the root.
    levels: Vec<Vec<Hash>>,
}

impl SortedMerkle {
    /// An empty state, whose root is [`Hash::ZERO`].
    pub fn new() -> Self {
        Self::default()
    }

    fn rebuild(&mut self) {
        let leaves: Vec<Hash> = self.map.iter().map(|(k, v)| entry_hash(k, v)).collect();
        self.levels = levels(&leaves);
        debug_assert_eq!(self.root(), merkle_root(&leaves));
    }
}

impl fmt::Debug for SortedMerkle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SortedMerkle")
            .field("root", &self.root())
            .field("len", &self.map.len())
            .finish()
    }
}

impl StateRead for SortedMerkle {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map.get(key).cloned()
    }
}

impl AuthenticatedState for SortedMerkle {
    type Proof = SortedProof;

    fn root(&self) -> Hash {
        self.levels
            .last()
            .and_then(|top| top.first())
            .copied()
            .unwrap_or(Hash::ZERO)
    }

    fn apply(&mut self, changes: &ChangeSet) -> Hash {
        for (key, value) in changes {
            match value {
                Some(v) => self.map.insert(key.clone(), v.clone()),
                None => self.map.remove(key),
            };
        }
        self.rebuild();
        self.root()
    }

    fn prove(&self, key: &[u8]) -> SortedProof {
        if !self.map.contains_key(key) {
            return SortedProof::Absent;
        }
        let position = self
            .map
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(key)))
            .count();
        let mut index = position;
        let mut siblings = Vec::new();
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            let sibling = if index % 2 == 1 {
                level.get(index - 1)
            } else {
                level.get(index + 1)
            };
            siblings.extend(sibling.copied());
            index /= 2;
        }
        SortedProof::Included {
            index: position as u64,
            leaf_count: self.map.len() as u64,
            siblings,
        }
    }

    fn from_entries(entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Self {
        let mut state = SortedMerkle {
            map: entries.into_iter().collect(),
            levels: Vec::new(),
        };
        state.rebuild();
        state
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// A proof for a [`SortedMerkle`] entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortedProof {
    /// The key is present.
    Included {
        /// The entry's position among the sorted keys.
        index: u64,
        /// Number of entries in the tree.
        leaf_count: u64,
        /// Sibling hashes from the leaf up; a level where the node is promoted has none.
        siblings: Vec<Hash>,
    },
    /// The key is absent. This backend cannot prove it: [`SortedProof::verify`] rejects this.
    Absent,
}

impl SortedProof {
    /// True when this proves that `key` has `value` under `root`. Always false for
    /// `value == None`: absence is not provable with this backend.
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> bool {
        let (
            Some(value),
            SortedProof::Included {
                index,
                leaf_count,
                siblings,
            },
        ) = (value, self)
        else {
            return false;
        };
        let (mut index, mut count) = (*index, *leaf_count);
        if index >= count {
            return false;
        }
        let mut siblings = siblings.iter();
        let mut hash = sha256(&[&[LEAF_TAG], &entry_hash(key, value).0]);
        while count > 1 {
            if index % 2 == 1 {
                let Some(s) = siblings.next() else {
                    return false;
                };
                hash = node_hash(s, &hash);
            } else if index + 1 < count {
                let Some(s) = siblings.next() else {
                    return false;
                };
                hash = node_hash(&hash, s);
            }
            index /= 2;
            count = count.div_ceil(2);
        }
        siblings.next().is_none() && hash == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, Vec<u8>),
        Delete(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..48, proptest::collection::vec(any::<u8>(), 0..6)).prop_map(|(k, v)| Op::Set(k, v)),
            2 => (0u8..48).prop_map(Op::Delete),
        ]
    }

    fn to_changes(ops: &[Op]) -> ChangeSet {
        ops.iter()
            .map(|op| match op {
                Op::Set(k, v) => (vec![*k], Some(v.clone())),
                Op::Delete(k) => (vec![*k], None),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn the_sorted_backend_behaves_like_a_map_and_its_proofs_verify(
            batches in proptest::collection::vec(proptest::collection::vec(op(), 0..24), 1..12),
        ) {
            let mut state = SortedMerkle::new();
            let mut model = BTreeMap::<Vec<u8>, Vec<u8>>::new();
            for batch in &batches {
                let changes = to_changes(batch);
                let root = state.apply(&changes);
                for (k, v) in changes {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
                prop_assert_eq!(state.len(), model.len());
                let leaves: Vec<Hash> = model.iter().map(|(k, v)| entry_hash(k, v)).collect();
                prop_assert_eq!(root, merkle_root(&leaves));
                prop_assert_eq!(SortedMerkle::from_entries(model.clone()).root(), root);
                for k in 0u8..48 {
                    let got = state.get(&[k]);
                    prop_assert_eq!(&got, &model.get(&[k][..]).cloned());
                    let proof = state.prove(&[k]);
                    match got {
                        Some(v) => {
                            prop_assert!(proof.verify(&root, &[k], Some(&v)));
                            let mut wrong = v.clone();
                            wrong.push(0);
                            prop_assert!(!proof.verify(&root, &[k], Some(&wrong)));
                            prop_assert!(!proof.verify(&root, &[k], None));
                        }
                        None => prop_assert!(!proof.verify(&root, &[k], None)),
                    }
                }
            }
        }
    }

    fn state_of(n: u32) -> SortedMerkle {
        SortedMerkle::from_entries((0..n).map(|i| {
            (
                format!("key-{i}").into_bytes(),
                format!("value-{i}").into_bytes(),
            )
        }))
    }

    #[test]
    fn tampered_sorted_proofs_are_rejected() {
        let state = state_of(301);
        let root = state.root();
        let proof = state.prove(b"key-42");
        assert!(proof.verify(&root, b"key-42", Some(b"value-42")));
        assert!(!proof.verify(&root, b"key-43", Some(b"value-42")));
        let SortedProof::Included {
            index,
            leaf_count,
            siblings,
        } = proof
        else {
            panic!("key-42 is present");
        };
        for i in 0..siblings.len() {
            let mut bad = siblings.clone();
            bad[i].0[31] ^= 0x80;
            let bad = SortedProof::Included {
                index,
                leaf_count,
                siblings: bad,
            };
            assert!(!bad.verify(&root, b"key-42", Some(b"value-42")));
        }
        let wrong_index = SortedProof::Included {
            index: index ^ 1,
            leaf_count,
            siblings,
        };
        assert!(!wrong_index.verify(&root, b"key-42", Some(b"value-42")));
    }

    #[test]
    fn the_last_promoted_leaf_of_an_odd_tree_has_a_valid_proof() {
        for n in [1u32, 2, 3, 5, 7, 9, 33] {
            let state = state_of(n);
            for i in 0..n {
                let (k, v) = (format!("key-{i}"), format!("value-{i}"));
                assert!(state.prove(k.as_bytes()).verify(
                    &state.root(),
                    k.as_bytes(),
                    Some(v.as_bytes())
                ));
            }
        }
    }

    #[test]
    fn a_sorted_clone_is_a_snapshot_and_the_empty_state_has_the_zero_root() {
        let original = state_of(10);
        let root = original.root();
        let mut copy = original.clone();
        copy.apply(&[(b"key-1".to_vec(), None)].into_iter().collect());
        assert_ne!(copy.root(), root);
        assert_eq!(original.root(), root);
        let mut all: ChangeSet = (0..10)
            .map(|i| (format!("key-{i}").into_bytes(), None))
            .collect();
        all.insert(b"never-there".to_vec(), None);
        assert_eq!(copy.apply(&all), Hash::ZERO);
        assert!(copy.is_empty());
    }
}

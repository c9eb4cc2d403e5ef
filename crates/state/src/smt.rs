//! The production state backend: a compressed sparse Merkle tree over 256-bit key paths.
//!
//! Every key lives at `path = sha256("machina/state/key" || key)`; bit `i` of the path (most
//! significant bit of byte 0 first) chooses the left (0) or right (1) child at depth `i`. A
//! subtree that holds exactly one leaf is that leaf, so a leaf sits just below the first depth
//! where its path differs from every other path, and the tree is about `log2(n)` deep.
//!
//! Hashes, all SHA-256:
//! - empty subtree: [`Hash::ZERO`];
//! - leaf: `sha256(0x00 || path || sha256(value))`;
//! - internal node: `sha256(0x01 || left || right)`.
//!
//! The shape only depends on the set of paths, so equal contents give equal roots whatever the
//! order of insertion. Nodes are immutable and shared behind [`Arc`]: cloning the tree is O(1)
//! and an update copies only the nodes on the paths it changes.

use crate::{AuthenticatedState, ChangeSet, StateRead};
use machina_primitives::codec::{self, CodecError, Decode, Encode, Reader};
use machina_primitives::{sha256, Hash};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Domain separator of key paths.
const KEY_DOMAIN: &[u8] = b"machina/state/key";
const LEAF_TAG: u8 = 0x00;
const NODE_TAG: u8 = 0x01;
/// Bits in a path, and so the deepest a node can be.
const PATH_BITS: usize = 256;

/// The 256-bit path of `key` in the tree.
pub fn key_path(key: &[u8]) -> [u8; 32] {
    sha256(&[KEY_DOMAIN, key]).0
}

fn bit(path: &[u8; 32], depth: usize) -> u8 {
    (path[depth / 8] >> (7 - depth % 8)) & 1
}

fn leaf_hash(path: &[u8; 32], value_hash: &Hash) -> Hash {
    sha256(&[&[LEAF_TAG], path, &value_hash.0])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[NODE_TAG], &left.0, &right.0])
}

type Link = Option<Arc<Node>>;

enum Node {
    Leaf(Leaf),
    /// Holds at least two leaves below it; one child may be empty.
    Internal {
        hash: Hash,
        left: Link,
        right: Link,
    },
}

struct Leaf {
    hash: Hash,
    path: [u8; 32],
    key: Box<[u8]>,
    value: Box<[u8]>,
}

impl Node {
    fn hash(&self) -> Hash {
        match self {
            Node::Leaf(leaf) => leaf.hash,
            Node::Internal { hash, .. } => *hash,
        }
    }
}

fn link_hash(link: &Link) -> Hash {
    link.as_ref().map_or(Hash::ZERO, |n| n.hash())
}

fn new_leaf(path: [u8; 32], key: &[u8], value: &[u8]) -> Link {
    Some(Arc::new(Node::Leaf(Leaf {
        hash: leaf_hash(&path, &sha256(&[value])),
        path,
        key: key.into(),
        value: value.into(),
    })))
}

/// The node over two subtrees, compressed: a subtree of exactly one leaf is that leaf.
fn join(left: Link, right: Link) -> Link {
    match (&left, &right) {
        (None, None) => None,
        (Some(n), None) | (None, Some(n)) if matches!(**n, Node::Leaf(_)) => Some(n.clone()),
        _ => {
            let hash = node_hash(&link_hash(&left), &link_hash(&right));
            Some(Arc::new(Node::Internal { hash, left, right }))
        }
    }
}

fn same(a: &Link, b: &Link) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// One write of a batch, located by its path.
struct Change<'a> {
    path: [u8; 32],
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

/// How many entries a batch added and removed.
#[derive(Default)]
struct Delta {
    added: usize,
    removed: usize,
}

/// Index of the first change whose path has bit `depth` set. `changes` is sorted by path and
/// shares the first `depth` bits, so the changes going left come first.
fn split_point(changes: &[Change<'_>], depth: usize) -> usize {
    changes.partition_point(|c| bit(&c.path, depth) == 0)
}

/// Builds the subtree at `depth` from `changes` into an empty subtree: sets insert, deletes are
/// no-ops.
fn build(depth: usize, changes: &[Change<'_>], delta: &mut Delta) -> Link {
    let mut sets = changes.iter().filter(|c| c.value.is_some());
    let first = sets.next()?;
    if sets.next().is_none() || depth == PATH_BITS {
        // One set left, or (only on a SHA-256 collision) several sets with the same path, where
        // the last one wins.
        let last = changes
            .iter()
            .rev()
            .find(|c| c.value.is_some())
            .unwrap_or(first);
        delta.added += 1;
        return new_leaf(last.path, last.key, last.value.unwrap_or_default());
    }
    let (l, r) = changes.split_at(split_point(changes, depth));
    join(build(depth + 1, l, delta), build(depth + 1, r, delta))
}

/// Applies `changes` (sorted by path, all below this subtree's prefix) to the subtree at `depth`.
fn update(link: &Link, depth: usize, changes: &[Change<'_>], delta: &mut Delta) -> Link {
    let Some(node) = link else {
        return build(depth, changes, delta);
    };
    if changes.is_empty() {
        return link.clone();
    }
    match &**node {
        Node::Leaf(leaf) => update_leaf(node, leaf, depth, changes, delta),
        Node::Internal { left, right, .. } => {
            let (lc, rc) = changes.split_at(split_point(changes, depth));
            let new_left = update(left, depth + 1, lc, delta);
            let new_right = update(right, depth + 1, rc, delta);
            if same(&new_left, left) && same(&new_right, right) {
                return link.clone();
            }
            join(new_left, new_right)
        }
    }
}

/// Applies `changes` to a subtree at `depth` that is the single leaf `leaf` (held by `node`).
fn update_leaf(
    node: &Arc<Node>,
    leaf: &Leaf,
    depth: usize,
    changes: &[Change<'_>],
    delta: &mut Delta,
) -> Link {
    match changes {
        [] => return Some(node.clone()),
        [c] if c.path == leaf.path => return replace_leaf(node, leaf, c, delta),
        _ if depth == PATH_BITS => {
            // Only on a SHA-256 collision: every change here has the leaf's path; the last wins.
            return match changes.last() {
                Some(c) => replace_leaf(node, leaf, c, delta),
                None => Some(node.clone()),
            };
        }
        _ => {}
    }
    // Push the leaf one level down next to the changes and let `join` compress again.
    let (lc, rc) = changes.split_at(split_point(changes, depth));
    if bit(&leaf.path, depth) == 0 {
        let l = update_leaf(node, leaf, depth + 1, lc, delta);
        join(l, build(depth + 1, rc, delta))
    } else {
        let l = build(depth + 1, lc, delta);
        join(l, update_leaf(node, leaf, depth + 1, rc, delta))
    }
}

fn replace_leaf(node: &Arc<Node>, leaf: &Leaf, change: &Change<'_>, delta: &mut Delta) -> Link {
    match change.value {
        None => {
            delta.removed += 1;
            None
        }
        Some(v) if *leaf.value == *v && *leaf.key == *change.key => Some(node.clone()),
        Some(v) => new_leaf(change.path, change.key, v),
    }
}

/// A compressed sparse Merkle tree: the [`AuthenticatedState`] the node runs on.
///
/// `Clone` is O(1) (the nodes are shared and immutable), so a snapshot per block is free.
#[derive(Clone, Default)]
pub struct SparseMerkleTree {
    root: Link,
    len: usize,
}

impl SparseMerkleTree {
    /// An empty tree, whose root is [`Hash::ZERO`].
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for SparseMerkleTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparseMerkleTree")
            .field("root", &self.root())
            .field("len", &self.len)
            .finish()
    }
}

impl StateRead for SparseMerkleTree {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let path = key_path(key);
        let mut link = &self.root;
        let mut depth = 0;
        while let Some(node) = link {
            match &**node {
                Node::Leaf(leaf) => {
                    return (leaf.path == path && *leaf.key == *key).then(|| leaf.value.to_vec());
                }
                Node::Internal { left, right, .. } => {
                    link = if bit(&path, depth) == 0 { left } else { right };
                    depth += 1;
                }
            }
        }
        None
    }
}

impl AuthenticatedState for SparseMerkleTree {
    type Proof = SmtProof;

    fn root(&self) -> Hash {
        link_hash(&self.root)
    }

    fn apply(&mut self, changes: &ChangeSet) -> Hash {
        let mut sorted: Vec<Change<'_>> = changes
            .iter()
            .map(|(key, value)| Change {
                path: key_path(key),
                key,
                value: value.as_deref(),
            })
            .collect();
        sorted.sort_unstable_by_key(|c| c.path);
        let mut delta = Delta::default();
        self.root = update(&self.root, 0, &sorted, &mut delta);
        self.len = self.len + delta.added - delta.removed;
        self.root()
    }

    fn prove(&self, key: &[u8]) -> SmtProof {
        let path = key_path(key);
        let mut siblings = Vec::new();
        let mut link = &self.root;
        let end = loop {
            match link.as_deref() {
                None => break SmtProofEnd::Empty,
                Some(Node::Leaf(leaf)) => {
                    break SmtProofEnd::Leaf {
                        path: Hash(leaf.path),
                        value_hash: sha256(&[&leaf.value]),
                    }
                }
                Some(Node::Internal { left, right, .. }) => {
                    let (next, other) = if bit(&path, siblings.len()) == 0 {
                        (left, right)
                    } else {
                        (right, left)
                    };
                    siblings.push(link_hash(other));
                    link = next;
                }
            }
        };
        SmtProof { siblings, end }
    }

    fn from_entries(entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Self {
        let mut entries: Vec<([u8; 32], Vec<u8>, Vec<u8>)> = entries
            .into_iter()
            .map(|(k, v)| (key_path(&k), k, v))
            .collect();
        // Stable, so that of duplicate keys the last one given wins, as when collecting a map.
        entries.sort_by_key(|e| e.0);
        let mut changes: Vec<Change<'_>> = Vec::with_capacity(entries.len());
        for (path, key, value) in &entries {
            let change = Change {
                path: *path,
                key,
                value: Some(value),
            };
            match changes.last_mut() {
                Some(last) if last.path == *path => *last = change,
                _ => changes.push(change),
            }
        }
        let mut delta = Delta::default();
        let root = build(0, &changes, &mut delta);
        SparseMerkleTree {
            root,
            len: delta.added,
        }
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// What a proof found where the key's path ends in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmtProofEnd {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key's own leaf, or another key's whose path shares the prefix walked so far
    /// (then the key is absent).
    Leaf {
        /// The leaf's path.
        path: Hash,
        /// SHA-256 of the leaf's value.
        value_hash: Hash,
    },
}

/// A proof that a key has a value, or is absent, under a [`SparseMerkleTree`] root.
///
/// Checking it needs only SHA-256 (at most 259 calls) and no allocation, so a meter or an
/// inverter can check what the chain says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtProof {
    /// Hashes of the siblings of the nodes on the key's path, from the root down.
    pub siblings: Vec<Hash>,
    /// What the path ends on.
    pub end: SmtProofEnd,
}

impl SmtProof {
    /// Most siblings a proof can have: one per bit of a path.
    pub const MAX_SIBLINGS: usize = PATH_BITS;

    /// Largest encoding of a proof: sibling count, siblings, end tag, leaf path and value hash.
    pub const MAX_ENCODED_LEN: usize = 4 + Self::MAX_SIBLINGS * 32 + 1 + 64;

    /// True when this proves, under `root`, that `key` has `value` (`Some`) or is absent
    /// (`None`).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> bool {
        let depth = self.siblings.len();
        if depth > Self::MAX_SIBLINGS {
            return false;
        }
        let path = key_path(key);
        let mut hash = match (&self.end, value) {
            (SmtProofEnd::Empty, None) => Hash::ZERO,
            (SmtProofEnd::Empty, Some(_)) => return false,
            (
                SmtProofEnd::Leaf {
                    path: leaf,
                    value_hash,
                },
                Some(value),
            ) => {
                if leaf.0 != path || *value_hash != sha256(&[value]) {
                    return false;
                }
                leaf_hash(&leaf.0, value_hash)
            }
            (
                SmtProofEnd::Leaf {
                    path: leaf,
                    value_hash,
                },
                None,
            ) => {
                // Another key's leaf proves absence only if it sits where this key's path leads.
                if leaf.0 == path || (0..depth).any(|d| bit(&leaf.0, d) != bit(&path, d)) {
                    return false;
                }
                leaf_hash(&leaf.0, value_hash)
            }
        };
        for (d, sibling) in self.siblings.iter().enumerate().rev() {
            hash = if bit(&path, d) == 0 {
                node_hash(&hash, sibling)
            } else {
                node_hash(sibling, &hash)
            };
        }
        hash == *root
    }
}

const END_EMPTY: u8 = 0;
const END_LEAF: u8 = 1;

impl Encode for SmtProof {
    fn encode_to(&self, out: &mut Vec<u8>) {
        codec::put_vec(out, &self.siblings);
        match &self.end {
            SmtProofEnd::Empty => out.push(END_EMPTY),
            SmtProofEnd::Leaf { path, value_hash } => {
                out.push(END_LEAF);
                path.encode_to(out);
                value_hash.encode_to(out);
            }
        }
    }
}

impl Decode for SmtProof {
    fn decode_from(r: &mut Reader<'_>) -> codec::Result<Self> {
        let siblings = r.vec::<Hash>("smt proof siblings", Self::MAX_SIBLINGS)?;
        let end = match r.u8()? {
            END_EMPTY => SmtProofEnd::Empty,
            END_LEAF => SmtProofEnd::Leaf {
                path: Hash::decode_from(r)?,
                value_hash: Hash::decode_from(r)?,
            },
            tag => {
                return Err(CodecError::BadTag {
                    what: "smt proof end",
                    tag,
                })
            }
        };
        Ok(SmtProof { siblings, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn batch_of(items: &[(&[u8], Option<&[u8]>)]) -> ChangeSet {
        items
            .iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect()
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key-{i}").into_bytes()
    }

    /// Checks hashes, compression and placement of every node; returns the number of leaves.
    fn check_node(link: &Link, depth: usize, prefix: &[u8; 32]) -> usize {
        let Some(node) = link else { return 0 };
        match &**node {
            Node::Leaf(leaf) => {
                assert_eq!(leaf.path, key_path(&leaf.key));
                assert_eq!(leaf.hash, leaf_hash(&leaf.path, &sha256(&[&leaf.value])));
                for d in 0..depth {
                    assert_eq!(bit(&leaf.path, d), bit(prefix, d), "leaf off its prefix");
                }
                1
            }
            Node::Internal { hash, left, right } => {
                assert_eq!(*hash, node_hash(&link_hash(left), &link_hash(right)));
                let mut right_prefix = *prefix;
                right_prefix[depth / 8] |= 0x80 >> (depth % 8);
                let n = check_node(left, depth + 1, prefix)
                    + check_node(right, depth + 1, &right_prefix);
                assert!(
                    n >= 2,
                    "an internal node with fewer than two leaves was not compressed"
                );
                n
            }
        }
    }

    fn check(tree: &SparseMerkleTree) {
        assert_eq!(check_node(&tree.root, 0, &[0; 32]), tree.len());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, Vec<u8>),
        Delete(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        // A small key space, so that sets overwrite and deletes hit existing keys.
        prop_oneof![
            3 => (0u8..48, proptest::collection::vec(any::<u8>(), 0..6)).prop_map(|(k, v)| Op::Set(k, v)),
            2 => (0u8..48).prop_map(Op::Delete),
        ]
    }

    fn batches() -> impl Strategy<Value = Vec<Vec<Op>>> {
        proptest::collection::vec(proptest::collection::vec(op(), 0..24), 1..12)
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
        fn the_tree_behaves_like_a_map_and_its_root_depends_only_on_contents(batches in batches()) {
            let mut tree = SparseMerkleTree::new();
            let mut model = BTreeMap::<Vec<u8>, Vec<u8>>::new();
            for batch in &batches {
                let changes = to_changes(batch);
                let root = tree.apply(&changes);
                for (k, v) in changes {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
                check(&tree);
                prop_assert_eq!(root, tree.root());
                prop_assert_eq!(tree.len(), model.len());
                for k in 0u8..48 {
                    prop_assert_eq!(tree.get(&[k]), model.get(&[k][..]).cloned());
                }
                let rebuilt = SparseMerkleTree::from_entries(model.clone());
                prop_assert_eq!(rebuilt.root(), root);
                let mut one_by_one = SparseMerkleTree::new();
                for (k, v) in model.iter().rev() {
                    one_by_one.apply(&batch_of(&[(k, Some(v))]));
                }
                prop_assert_eq!(one_by_one.root(), root);
            }
        }

        #[test]
        fn proofs_verify_for_present_and_absent_keys_and_fail_for_wrong_values(batches in batches()) {
            let mut tree = SparseMerkleTree::new();
            for batch in &batches {
                tree.apply(&to_changes(batch));
            }
            let root = tree.root();
            for k in 0u8..64 {
                let proof = tree.prove(&[k]);
                match tree.get(&[k]) {
                    Some(v) => {
                        prop_assert!(proof.verify(&root, &[k], Some(&v)));
                        prop_assert!(!proof.verify(&root, &[k], None));
                        let mut wrong = v.clone();
                        wrong.push(1);
                        prop_assert!(!proof.verify(&root, &[k], Some(&wrong)));
                    }
                    None => {
                        prop_assert!(proof.verify(&root, &[k], None));
                        prop_assert!(!proof.verify(&root, &[k], Some(b"")));
                    }
                }
                let bytes = proof.encode();
                prop_assert!(bytes.len() <= SmtProof::MAX_ENCODED_LEN);
                prop_assert_eq!(SmtProof::decode_exact(&bytes, SmtProof::MAX_ENCODED_LEN), Ok(proof));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_proof_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(proof) = SmtProof::decode_exact(&bytes, SmtProof::MAX_ENCODED_LEN) {
                prop_assert_eq!(proof.encode(), bytes);
            }
        }

        #[test]
        fn a_proof_decoded_from_a_valid_prefix_and_random_tail_never_panics(
            n in 0u32..300,
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut bytes = n.to_be_bytes().to_vec();
            bytes.extend_from_slice(&tail);
            let _ = SmtProof::decode_exact(&bytes, SmtProof::MAX_ENCODED_LEN);
        }
    }

    fn tree_of(n: u32) -> SparseMerkleTree {
        SparseMerkleTree::from_entries((0..n).map(|i| (key(i), format!("value-{i}").into_bytes())))
    }

    #[test]
    fn building_incrementally_in_any_batching_gives_the_same_root_as_from_entries() {
        let bulk = tree_of(500);
        let mut incremental = SparseMerkleTree::new();
        for chunk in (0..500u32).rev().collect::<Vec<_>>().chunks(37) {
            let batch: ChangeSet = chunk
                .iter()
                .map(|i| (key(*i), Some(format!("value-{i}").into_bytes())))
                .collect();
            incremental.apply(&batch);
        }
        check(&bulk);
        check(&incremental);
        assert_eq!(bulk.root(), incremental.root());
        assert_eq!(bulk.len(), 500);
        assert_eq!(incremental.len(), 500);
    }

    #[test]
    fn deleting_everything_leaves_the_empty_root() {
        let mut tree = tree_of(300);
        assert_ne!(tree.root(), Hash::ZERO);
        let half: ChangeSet = (0..150).map(|i| (key(i), None)).collect();
        tree.apply(&half);
        check(&tree);
        let upper_half = SparseMerkleTree::from_entries(
            (150..300).map(|i| (key(i), format!("value-{i}").into_bytes())),
        );
        assert_eq!(tree.root(), upper_half.root());
        let rest: ChangeSet = (150..300).map(|i| (key(i), None)).collect();
        assert_eq!(tree.apply(&rest), Hash::ZERO);
        assert!(tree.is_empty());
        assert!(tree.root.is_none());
    }

    #[test]
    fn a_single_leaf_is_the_root_and_collapses_back_after_deleting_its_neighbour() {
        let mut tree = SparseMerkleTree::new();
        tree.apply(&batch_of(&[(b"a", Some(b"1"))]));
        let only_a = tree.root();
        assert_eq!(only_a, leaf_hash(&key_path(b"a"), &sha256(&[b"1"])));
        tree.apply(&batch_of(&[(b"b", Some(b"2"))]));
        assert_ne!(tree.root(), only_a);
        tree.apply(&batch_of(&[(b"b", None)]));
        assert_eq!(tree.root(), only_a);
        assert!(matches!(tree.root.as_deref(), Some(Node::Leaf(_))));
    }

    #[test]
    fn deleting_an_absent_key_or_rewriting_a_value_changes_nothing() {
        let mut tree = tree_of(100);
        let before = tree.clone();
        tree.apply(&batch_of(&[(b"absent", None), (&key(7), Some(b"value-7"))]));
        assert_eq!(tree.root(), before.root());
        assert_eq!(tree.len(), 100);
        assert!(
            same(&tree.root, &before.root),
            "no node should have been rebuilt"
        );
    }

    #[test]
    fn a_clone_is_a_snapshot() {
        let original = tree_of(200);
        let root = original.root();
        let mut snapshot = original.clone();
        snapshot.apply(&batch_of(&[
            (&key(3), Some(b"changed")),
            (&key(4), None),
            (b"new", Some(b"x")),
        ]));
        assert_ne!(snapshot.root(), root);
        assert_eq!(original.root(), root);
        assert_eq!(original.get(&key(3)), Some(b"value-3".to_vec()));
        assert_eq!(original.get(&key(4)), Some(b"value-4".to_vec()));
        assert_eq!(original.get(b"new"), None);
        assert_eq!(original.len(), 200);
        assert_eq!(snapshot.len(), 200);
        check(&original);
        check(&snapshot);
    }

    #[test]
    fn later_duplicates_win_in_from_entries() {
        let tree = SparseMerkleTree::from_entries(vec![
            (b"k".to_vec(), b"1".to_vec()),
            (b"k".to_vec(), b"2".to_vec()),
        ]);
        assert_eq!(tree.len(), 1);
        assert_eq!(tree.get(b"k"), Some(b"2".to_vec()));
    }

    #[test]
    fn tampered_proofs_are_rejected() {
        let tree = tree_of(1000);
        let root = tree.root();
        let k = key(42);
        let v = b"value-42";
        let proof = tree.prove(&k);
        assert!(proof.verify(&root, &k, Some(v)));
        assert!(!proof.siblings.is_empty());

        for i in 0..proof.siblings.len() {
            let mut bad = proof.clone();
            bad.siblings[i].0[0] ^= 1;
            assert!(!bad.verify(&root, &k, Some(v)), "sibling {i} tampered");
        }
        let mut fewer = proof.clone();
        fewer.siblings.pop();
        assert!(!fewer.verify(&root, &k, Some(v)));
        let mut more = proof.clone();
        more.siblings.push(Hash::ZERO);
        assert!(!more.verify(&root, &k, Some(v)));

        assert!(!proof.verify(&root, &k, Some(b"value-43")));
        assert!(!proof.verify(&root, &key(43), Some(v)));
        assert!(!proof.verify(&sha256(&[b"other root"]), &k, Some(v)));

        // Turning an inclusion proof into an absence proof must not work.
        let emptied = SmtProof {
            siblings: proof.siblings.clone(),
            end: SmtProofEnd::Empty,
        };
        assert!(!emptied.verify(&root, &k, None));

        let too_long = SmtProof {
            siblings: vec![Hash::ZERO; SmtProof::MAX_SIBLINGS + 1],
            end: SmtProofEnd::Empty,
        };
        assert!(!too_long.verify(&root, &k, None));
    }

    #[test]
    fn an_absence_proof_ending_on_another_leaf_must_share_the_prefix() {
        let tree = tree_of(1000);
        let root = tree.root();
        let absent = (0..)
            .map(|i| format!("absent-{i}").into_bytes())
            .find(|k| matches!(tree.prove(k).end, SmtProofEnd::Leaf { .. }))
            .expect("some absent key ends on a leaf in a tree of 1000");
        let proof = tree.prove(&absent);
        assert!(proof.verify(&root, &absent, None));
        // The same proof does not speak for a key whose path leads elsewhere.
        let elsewhere = (0..)
            .map(|i| format!("elsewhere-{i}").into_bytes())
            .find(|k| bit(&key_path(k), 0) != bit(&key_path(&absent), 0))
            .expect("half of all keys go the other way at the root");
        assert!(!proof.verify(&root, &elsewhere, None));
    }

    #[test]
    fn an_absence_proof_is_rejected_when_its_leaf_lies_off_the_keys_path() {
        // A root no honest tree has: a leaf whose path starts with 1 placed in the left half.
        let key = (0..)
            .map(|i: u32| i.to_be_bytes().to_vec())
            .find(|k| bit(&key_path(k), 0) == 0)
            .expect("half of all keys go left");
        let mut stray = [0xffu8; 32];
        stray[31] = 0;
        let value_hash = sha256(&[b"v"]);
        let root = node_hash(&leaf_hash(&stray, &value_hash), &Hash::ZERO);
        let proof = SmtProof {
            siblings: vec![Hash::ZERO],
            end: SmtProofEnd::Leaf {
                path: Hash(stray),
                value_hash,
            },
        };
        assert!(!proof.verify(&root, &key, None));
    }

    #[test]
    fn the_empty_tree_proves_absence_with_no_siblings() {
        let tree = SparseMerkleTree::new();
        assert_eq!(tree.root(), Hash::ZERO);
        let proof = tree.prove(b"anything");
        assert_eq!(proof.siblings.len(), 0);
        assert!(proof.verify(&Hash::ZERO, b"anything", None));
        assert!(!proof.verify(&Hash::ZERO, b"anything", Some(b"")));
    }

    #[test]
    fn a_proof_survives_a_serde_round_trip() {
        let tree = tree_of(50);
        let proof = tree.prove(&key(5));
        let json = serde_json::to_string(&proof).expect("a proof serialises");
        let back: SmtProof = serde_json::from_str(&json).expect("and deserialises");
        assert_eq!(back, proof);
    }

    #[test]
    fn oversized_or_malformed_proof_encodings_are_errors() {
        let mut bytes = Vec::new();
        codec::put_len(&mut bytes, SmtProof::MAX_SIBLINGS + 1);
        assert!(matches!(
            SmtProof::decode_exact(&bytes, SmtProof::MAX_ENCODED_LEN),
            Err(CodecError::TooLong { .. })
        ));
        let mut bad_tag = Vec::new();
        codec::put_len(&mut bad_tag, 0);
        bad_tag.push(7);
        assert!(matches!(
            SmtProof::decode_exact(&bad_tag, SmtProof::MAX_ENCODED_LEN),
            Err(CodecError::BadTag { tag: 7, .. })
        ));
    }
}

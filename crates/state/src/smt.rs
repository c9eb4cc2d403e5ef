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

/// Below this many changes a batch is applied on one thread: starting a thread costs more than
/// the hashing it would share.
const PARALLEL_MIN_CHANGES: usize = 2_048;

/// Threads to spread `n` changes over: the machine's cores for a large batch, else one.
fn threads(n: usize) -> usize {
    if n < PARALLEL_MIN_CHANGES {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |c| c.get())
}

/// `f` over `items` in `threads` contiguous parts at once, the results concatenated in order.
fn split_work<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    if threads < 2 {
        return f(items);
    }
    let size = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = items.chunks(size).map(|c| s.spawn(|| f(c))).collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("a state worker panicked"))
            .collect()
    })
}

/// [`update`] with the two subtrees of an internal node updated on separate threads while
/// `threads` allows: each changed path is still hashed once, on whichever core holds its half.
/// The result does not depend on the split, since a subtree's hash depends only on its leaves.
fn update_parallel(
    link: &Link,
    depth: usize,
    changes: &[Change<'_>],
    delta: &mut Delta,
    threads: usize,
) -> Link {
    let Some(Node::Internal { left, right, .. }) = link.as_deref() else {
        return update(link, depth, changes, delta);
    };
    if threads < 2 || changes.len() < PARALLEL_MIN_CHANGES {
        return update(link, depth, changes, delta);
    }
    let (lc, rc) = changes.split_at(split_point(changes, depth));
    let (new_left, (new_right, right_delta)) = std::thread::scope(|s| {
        let r = s.spawn(|| {
            let mut d = Delta::default();
            let r = update_parallel(right, depth + 1, rc, &mut d, threads / 2);
            (r, d)
        });
        let l = update_parallel(left, depth + 1, lc, delta, threads - threads / 2);
        (l, r.join().expect("a state worker panicked"))
    });
    delta.added += right_delta.added;
    delta.removed += right_delta.removed;
    if same(&new_left, left) && same(&new_right, right) {
        return link.clone();
    }
    join(new_left, new_right)
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

    /// Every entry, in path order.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::with_capacity(self.len);
        collect(&self.root, &mut out);
        out
    }

    /// The changes that turn this tree into `other`. Subtrees the two share (equal hashes)
    /// are skipped, so a tree and an earlier version of it differ in O(what changed).
    pub fn diff_to(&self, other: &SparseMerkleTree) -> ChangeSet {
        let mut out = ChangeSet::new();
        diff(&self.root, &other.root, &mut out);
        out
    }
}

fn collect(link: &Link, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    match link.as_deref() {
        None => {}
        Some(Node::Leaf(l)) => out.push((l.key.to_vec(), l.value.to_vec())),
        Some(Node::Internal { left, right, .. }) => {
            collect(left, out);
            collect(right, out);
        }
    }
}

fn diff(a: &Link, b: &Link, out: &mut ChangeSet) {
    let hash = |l: &Link| l.as_ref().map(|n| n.hash());
    if hash(a) == hash(b) {
        return;
    }
    // Internal nodes sit one per bit of the path, so two at the same place cover the same keys.
    if let (
        Some(Node::Internal {
            left: l1,
            right: r1,
            ..
        }),
        Some(Node::Internal {
            left: l2,
            right: r2,
            ..
        }),
    ) = (a.as_deref(), b.as_deref())
    {
        diff(l1, l2, out);
        diff(r1, r2, out);
        return;
    }
    let (mut from, mut to) = (Vec::new(), Vec::new());
    collect(a, &mut from);
    collect(b, &mut to);
    let to: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = to.into_iter().collect();
    for (k, v) in &from {
        if !to.contains_key(k) {
            out.insert(k.clone(), None);
        } else if to.get(k) != Some(v) {
            out.insert(k.clone(), to.get(k).cloned());
        }
    }
    let from: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = from.into_iter().collect();
    for (k, v) in to {
        if !from.contains_key(&k) {
            out.insert(k, Some(v));
        }
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
        let items: Vec<_> = changes.iter().collect();
        let mut sorted: Vec<Change<'_>> = split_work(&items, threads(items.len()), |part| {
            part.iter()
                .map(|(key, value)| Change {
                    path: key_path(key),
                    key,
                    value: value.as_deref(),
                })
                .collect()
        });
        sorted.sort_unstable_by_key(|c| c.path);
        let mut delta = Delta::default();
        self.root = update_parallel(&self.root, 0, &sorted, &mut delta, threads(sorted.len()));
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
mod tests;

//! Tests of the sparse Merkle tree: roots, proofs and their codec.

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
            let n =
                check_node(left, depth + 1, prefix) + check_node(right, depth + 1, &right_prefix);
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

proptest! {
    #[test]
    fn a_diff_turns_one_version_into_another_and_entries_list_the_contents(batches in batches()) {
        let mut versions = vec![SparseMerkleTree::new()];
        for b in &batches {
            let mut next = versions.last().expect("one").clone();
            next.apply(&to_changes(b));
            versions.push(next);
        }
        let (first, last) = (&versions[0], versions.last().expect("one"));
        for (a, b) in [(first, last), (last, first), (&versions[versions.len() / 2], last)] {
            let mut moved = a.clone();
            prop_assert_eq!(moved.apply(&a.diff_to(b)), b.root());
            prop_assert_eq!(moved.entries(), b.entries());
        }
        for (k, v) in last.entries() {
            prop_assert_eq!(last.get(&k), Some(v));
        }
    }
}

#[test]
fn a_large_batch_spread_over_threads_gives_the_root_of_small_serial_batches() {
    // Large enough that the parallel path runs (also in its subtrees), with sets of new keys,
    // overwrites and deletes, some emptying whole subtrees.
    let n = 4 * PARALLEL_MIN_CHANGES as u32;
    let base = tree_of(n);
    let batch: ChangeSet = (0..n + n / 2)
        .map(|i| match i % 3 {
            0 => (key(i), None),
            1 => (key(i), Some(format!("new-{i}").into_bytes())),
            _ => (key(i), Some(format!("value-{i}").into_bytes())),
        })
        .collect();
    let mut parallel = base.clone();
    let root = parallel.apply(&batch);
    let mut serial = base.clone();
    let items: Vec<_> = batch.iter().collect();
    for chunk in items.chunks(100) {
        let small: ChangeSet = chunk
            .iter()
            .map(|(k, v)| ((*k).clone(), (*v).clone()))
            .collect();
        serial.apply(&small);
    }
    check(&parallel);
    assert_eq!(root, serial.root());
    assert_eq!(parallel.len(), serial.len());
    assert_eq!(parallel.entries(), serial.entries());
    // Deleting everything in one parallel batch empties the tree.
    let all: ChangeSet = parallel
        .entries()
        .into_iter()
        .map(|(k, _)| (k, None))
        .collect();
    assert_eq!(parallel.apply(&all), Hash::ZERO);
    assert_eq!(parallel.len(), 0);
}

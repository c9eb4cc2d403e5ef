//! Compares the state backends on the work a node does per block.
//!
//! Run with `cargo run --release -p machina-state --example state_backends [SIZES...]` (default
//! sizes: 10,000 and 100,000 existing keys). Keys are 32 bytes
//! and values 48 bytes, like account records; a batch is 10,000 writes, 80% to existing keys and
//! 20% to new ones. Prints a markdown table.

use machina_primitives::codec::Encode;
use machina_primitives::Hash;
use machina_state::sorted::{SortedMerkle, SortedProof};
use machina_state::{AuthenticatedState, ChangeSet, SmtProof, SparseMerkleTree};
use std::time::{Duration, Instant};

const BATCH: usize = 10_000;
const RUNS: usize = 5;
const PROOFS: usize = 5_000;

/// SplitMix64: a deterministic generator, so that every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Row {
    backend: &'static str,
    n: usize,
    build: Duration,
    apply: Duration,
    prove_per_s: f64,
    verify_per_s: f64,
    proof_bytes: f64,
    clone: Duration,
}

/// How a backend's proofs are checked and sized; the trait leaves proofs opaque.
trait ProofOps: AuthenticatedState {
    fn check(proof: &Self::Proof, root: &Hash, key: &[u8], value: &[u8]) -> bool;
    fn size(proof: &Self::Proof) -> usize;
}

impl ProofOps for SparseMerkleTree {
    fn check(proof: &SmtProof, root: &Hash, key: &[u8], value: &[u8]) -> bool {
        proof.verify(root, key, Some(value))
    }
    fn size(proof: &SmtProof) -> usize {
        proof.encode().len()
    }
}

impl ProofOps for SortedMerkle {
    fn check(proof: &SortedProof, root: &Hash, key: &[u8], value: &[u8]) -> bool {
        proof.verify(root, key, Some(value))
    }
    fn size(proof: &SortedProof) -> usize {
        match proof {
            // index, leaf count and siblings, encoded like the canonical codec would.
            SortedProof::Included { siblings, .. } => 8 + 8 + 4 + 32 * siblings.len(),
            SortedProof::Absent => 1,
        }
    }
}

fn bench<B: ProofOps>(
    backend: &'static str,
    entries: &[(Vec<u8>, Vec<u8>)],
    batches: &[ChangeSet],
) -> Row {
    let mut builds = Vec::new();
    let mut built = None;
    for _ in 0..3 {
        let input = entries.to_vec();
        let t = Instant::now();
        let state = B::from_entries(input);
        builds.push(t.elapsed());
        built = Some(state);
    }
    let build = median(builds);
    let base = built.expect("built three times");
    assert_eq!(base.len(), entries.len());

    let mut applies = Vec::new();
    for batch in batches {
        let mut state = base.clone();
        let t = Instant::now();
        let root = state.apply(batch);
        applies.push(t.elapsed());
        assert_ne!(root, base.root());
    }

    let mut rng = Rng(7);
    let picks: Vec<&(Vec<u8>, Vec<u8>)> = (0..PROOFS)
        .map(|_| &entries[rng.below(entries.len())])
        .collect();
    let t = Instant::now();
    let proofs: Vec<B::Proof> = picks.iter().map(|(k, _)| base.prove(k)).collect();
    let prove = t.elapsed();
    let root = base.root();
    let t = Instant::now();
    let valid = proofs
        .iter()
        .zip(&picks)
        .filter(|(p, (k, v))| B::check(p, &root, k, v))
        .count();
    let verify = t.elapsed();
    assert_eq!(valid, PROOFS, "every proof of a present key verifies");
    let proof_bytes = proofs.iter().map(B::size).sum::<usize>() as f64 / PROOFS as f64;

    let mut clones = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let copy = base.clone();
        clones.push(t.elapsed());
        drop(copy);
    }

    Row {
        backend,
        n: entries.len(),
        build,
        apply: median(applies),
        prove_per_s: PROOFS as f64 / prove.as_secs_f64(),
        verify_per_s: PROOFS as f64 / verify.as_secs_f64(),
        proof_bytes,
        clone: median(clones),
    }
}

fn main() {
    // Sizes to measure: the arguments, or 10,000 and 100,000 keys.
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000];
    }
    let mut rows = Vec::new();
    for n in sizes {
        let mut rng = Rng(n as u64);
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            (0..n).map(|_| (rng.bytes(32), rng.bytes(48))).collect();
        let batches: Vec<ChangeSet> = (0..RUNS)
            .map(|_| {
                let mut batch = ChangeSet::new();
                while batch.len() < BATCH * 8 / 10 {
                    let (k, _) = &entries[rng.below(n)];
                    batch.insert(k.clone(), Some(rng.bytes(48)));
                }
                while batch.len() < BATCH {
                    batch.insert(rng.bytes(32), Some(rng.bytes(48)));
                }
                batch
            })
            .collect();
        rows.push(bench::<SparseMerkleTree>(
            "SparseMerkleTree",
            &entries,
            &batches,
        ));
        rows.push(bench::<SortedMerkle>("SortedMerkle", &entries, &batches));
    }

    println!(
        "| backend | existing keys | bulk build, median of 3 (ms) | apply {BATCH} writes + root, median of {RUNS} (ms) \
         | updates/s | proofs/s | verifications/s | proof size (bytes) | clone (µs) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} |",
            r.backend,
            r.n,
            ms(r.build),
            ms(r.apply),
            BATCH as f64 / r.apply.as_secs_f64(),
            r.prove_per_s,
            r.verify_per_s,
            r.proof_bytes,
            r.clone.as_secs_f64() * 1e6,
        );
    }
}

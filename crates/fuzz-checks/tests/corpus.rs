//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`), the seeds it grew from
//! (`fuzz/seeds/<target>/`) and the crashes fixed since (`fuzz/regressions/<target>/`) through
//! each target's body, on the stable toolchain.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for (name, body) in machina_fuzz_checks::TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
        let seeds = files(&root.join("seeds").join(name));
        let regressions = files(&root.join("regressions").join(name));
        for f in corpus.iter().chain(&seeds).chain(&regressions) {
            let data = std::fs::read(f).expect("a corpus file");
            let r = std::panic::catch_unwind(|| body(&data));
            assert!(r.is_ok(), "{name}: {} fails", f.display());
        }
    }
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    for (name, _) in machina_fuzz_checks::TARGETS {
        assert!(
            root.join(format!("{name}.rs")).is_file(),
            "fuzz/fuzz_targets/{name}.rs is missing"
        );
    }
}

/// How deep the stf target's corpus reaches: `cargo test -p machina-fuzz-checks --test
/// corpus -- --ignored --nocapture [dir]` prints, over `fuzz/corpus-full/stf_sequence` (or
/// the committed corpus), how many successful transactions carried each action.
#[test]
#[ignore = "a report, run by hand"]
fn stf_depth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let full = root.join("corpus-full/stf_sequence");
    let dir = if full.is_dir() {
        full
    } else {
        root.join("corpus/stf_sequence")
    };
    let mut total = std::collections::BTreeMap::new();
    let (mut inputs, mut blocks, mut included) = (0, 0, 0);
    for f in files(&dir) {
        let s = machina_fuzz_checks::stf::run(&std::fs::read(f).expect("a corpus file"));
        inputs += 1;
        blocks += s.blocks;
        included += s.included;
        for (k, v) in s.succeeded {
            *total.entry(k).or_insert(0usize) += v;
        }
    }
    println!("{inputs} inputs, {blocks} blocks, {included} transactions included");
    for (k, v) in total {
        println!("  {k}: {v} successful transactions");
    }
}

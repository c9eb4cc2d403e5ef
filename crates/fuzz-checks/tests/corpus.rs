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

/// How deep the stf targets' corpora reach: `cargo test -p machina-fuzz-checks --test corpus
/// -- --ignored --nocapture` prints, over `fuzz/corpus-full/<target>` (what a run grew) or
/// else the committed corpus, how many successful transactions carried each action and why
/// transactions were left out.
#[test]
#[ignore = "a report, run by hand"]
fn stf_depth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    type Run = fn(&[u8]) -> machina_fuzz_checks::stf::Summary;
    let targets: [(&str, Run); 2] = [
        ("stf_sequence", machina_fuzz_checks::stf::run),
        ("stf_market", machina_fuzz_checks::stf::run_market),
    ];
    for (name, run) in targets {
        let full = root.join("corpus-full").join(name);
        let dir = if full.is_dir() {
            full
        } else {
            root.join("corpus").join(name)
        };
        let mut ok = std::collections::BTreeMap::new();
        let mut refused = std::collections::BTreeMap::new();
        let (mut inputs, mut blocks, mut included) = (0, 0, 0);
        for f in files(&dir) {
            let s = run(&std::fs::read(f).expect("a corpus file"));
            inputs += 1;
            blocks += s.blocks;
            included += s.included;
            for (k, v) in s.succeeded {
                *ok.entry(k).or_insert(0usize) += v;
            }
            for (k, v) in s.refused {
                *refused.entry(k).or_insert(0usize) += v;
            }
        }
        println!(
            "{name} ({}): {inputs} inputs, {blocks} blocks, {included} transactions included",
            dir.display()
        );
        println!("  successful transactions by action: {ok:?}");
        println!("  left out, by code: {refused:?}");
    }
}

//! The bodies of Machina's fuzz targets, as plain functions of the fuzzer's bytes.
//!
//! `fuzz/` (cargo fuzz, libFuzzer, its own workspace) calls each of these from a
//! `fuzz_target!`; `tests/corpus.rs` replays the committed corpus `fuzz/corpus/<target>/`
//! through the same functions on the stable toolchain, so that every input the fuzzer kept
//! stays a regression test. Each function panics exactly when it found a bug: a decoder that
//! panicked, a value that does not survive a round trip, or a broken invariant of the state
//! transition function.
//!
//! Test support at the top of the layers: it reaches down to the node crates (consensus,
//! gateway) because those decode what peers and devices send.

pub mod decode;
pub mod gateway;
pub mod stf;

/// A target's body: the fuzzer's bytes in, a panic when it found a bug.
pub type Body = fn(&[u8]);

/// Every fuzz target: its name (the file in `fuzz/fuzz_targets/` and the folder of its corpus)
/// and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("tx_decode", decode::tx_decode),
    ("action_decode", decode::action_decode),
    ("block_decode", decode::block_decode),
    ("tx_json", decode::tx_json),
    ("consensus_msg", decode::consensus_msg),
    ("gateway_readings", gateway::readings_body),
    ("stf_sequence", stf::sequence),
    ("stf_market", stf::market),
];

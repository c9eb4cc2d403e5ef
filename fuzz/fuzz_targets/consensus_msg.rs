//! `cargo fuzz run consensus_msg`: see docs/fuzzing.md; the body is machina_fuzz_checks::decode::consensus_msg.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| machina_fuzz_checks::decode::consensus_msg(data));

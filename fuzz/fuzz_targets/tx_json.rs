//! `cargo fuzz run tx_json`: see docs/fuzzing.md; the body is machina_fuzz_checks::decode::tx_json.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| machina_fuzz_checks::decode::tx_json(data));

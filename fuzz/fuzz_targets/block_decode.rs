//! `cargo fuzz run block_decode`: see docs/fuzzing.md; the body is machina_fuzz_checks::decode::block_decode.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| machina_fuzz_checks::decode::block_decode(data));

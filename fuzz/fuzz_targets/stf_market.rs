//! `cargo fuzz run stf_market`: see docs/fuzzing.md; the body is machina_fuzz_checks::stf::market.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| machina_fuzz_checks::stf::market(data));

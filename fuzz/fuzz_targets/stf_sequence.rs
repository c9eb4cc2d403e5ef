//! `cargo fuzz run stf_sequence`: see docs/fuzzing.md; the body is machina_fuzz_checks::stf::sequence.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| machina_fuzz_checks::stf::sequence(data));

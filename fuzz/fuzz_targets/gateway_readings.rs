//! `cargo fuzz run gateway_readings`: see docs/fuzzing.md; the body is machina_fuzz_checks::gateway::readings_body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| machina_fuzz_checks::gateway::readings_body(data));

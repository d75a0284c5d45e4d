//! Fuzz target `signature`: see `check_signature` in session/tests/fuzz_checks/mod.rs,
//! which the corpus-replay test (session/tests/fuzz_corpus.rs) also runs.
#![no_main]

#[path = "../../session/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_signature(data));

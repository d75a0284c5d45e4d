//! Fuzz target `config`: see `check_config` in
//! session-config/tests/fuzz_checks/mod.rs, which the corpus-replay test
//! (session-config/tests/fuzz_corpus.rs) also runs.
#![no_main]

#[path = "../../session-config/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_config(data));

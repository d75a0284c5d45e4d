//! Fuzz target `cookie_header`: raw Cookie header bytes through the code both
//! adapters use; see `check_cookie_header` in
//! session/tests/fuzz_checks/cookie_header.rs, which the corpus-replay test
//! (session/tests/fuzz_corpus.rs) also runs.
#![no_main]

#[path = "../../session/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_cookie_header(data));

//! Replays the committed seed corpora of the `cookie`, `cookie_header`,
//! `signature` and `decode` fuzz targets (`fuzz/corpus/<target>/`) through the same checks the
//! fuzzer runs, so plain `cargo test` covers them without a fuzzer.

mod fuzz_checks;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        eprintln!("replaying {}", path.display());
        check(&bytes);
    }
}

#[test]
fn cookie_corpus_replays_clean() {
    replay("cookie", fuzz_checks::check_cookie);
}

#[test]
fn cookie_header_corpus_replays_clean() {
    replay("cookie_header", fuzz_checks::check_cookie_header);
}

#[test]
fn signature_corpus_replays_clean() {
    replay("signature", fuzz_checks::check_signature);
}

#[test]
fn decode_corpus_replays_clean() {
    replay("decode", fuzz_checks::check_decode);
}

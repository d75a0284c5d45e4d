//! The property the `config` fuzz target checks.
//!
//! Shared source: `fuzz/fuzz_targets/config.rs` includes this file with
//! `#[path]`, and `tests/fuzz_corpus.rs` replays the committed seed corpus
//! (`fuzz/corpus/config/`) through the same function.
//!
//! Input layout: `[mode] toml-text (0xFF [key-byte] env-value)*`. The TOML text
//! goes through `SettingsBuilder::toml_str`; each env entry through `env_from`,
//! its key picked from a small list by the key byte. Secrets and URL passwords
//! carry a canary marker, so a leak is found by a plain substring search:
//! - mode bit 0: `secret_key = "<canary>"` is prepended to the TOML text
//!   (bit 1: without its closing quote, so the TOML error is on that line);
//! - mode bit 2: `secret_key_fallbacks = ["<canary>"]` is prepended too;
//! - mode bit 3: `redis = "redis://user:<password canary>@<host>"` is prepended;
//! - env entries for `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and the URL settings
//!   wrap the fuzzed value around a canary.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use session_config::Settings;

/// Marks every secret value the harness gives.
pub const SECRET_MARK: &str = "S3CR3TCANARY";
/// Marks every URL password the harness gives.
pub const PASSWORD_MARK: &str = "P4SSW0RDCANARY";

/// Env variables whose fuzzed value is passed as is.
const PLAIN_KEYS: &[&str] = &[
    "SESSION_TYPE",
    "SESSION_USE_SIGNER",
    "SESSION_PERMANENT",
    "SESSION_KEY_PREFIX",
    "SESSION_ID_LENGTH",
    "SESSION_SERIALIZATION_FORMAT",
    "PERMANENT_SESSION_LIFETIME",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_PARTITIONED",
    "SESSION_MEMCACHED",
    "SESSION_FILE_MODE",
    "SESSION_FILE_THRESHOLD",
    "SESSION_SQLALCHEMY_TABLE",
    "SESSION_SQLALCHEMY_BIND_KEY",
    "SESSION_REFRESH_THRESHOLD",
    "SESSION_MAX_SESSION_BYTES",
    "SESSION_CONNECT_TIMEOUT",
    "SESSION_CLEANUP_N_REQUESTS",
    "SESSION_TYPPE",
    "SESSION_MANAGER",
];

/// URL settings: the value is `<scheme>://user:<password canary>@<fuzzed>`.
const URL_KEYS: &[(&str, &str)] = &[
    ("SESSION_REDIS", "redis://"),
    ("SESSION_REDIS", "rediss://"),
    ("SESSION_MONGODB", "mongodb://"),
    ("SESSION_SQLALCHEMY", "postgres://"),
    ("SESSION_SQLALCHEMY", "mysql://"),
    ("SESSION_SQLALCHEMY", "ftp://"),
];

/// An env entry: its variable, its value, and whether the fuzzed part of the
/// value is secret (a URL's host part after the password is not).
fn env_entry(key_byte: u8, value: &[u8]) -> (String, OsString, bool) {
    let plain = PLAIN_KEYS.len();
    let index = usize::from(key_byte) % (plain + URL_KEYS.len() + 3);
    let wrap = |before: &str, after: &str| {
        let mut bytes = before.as_bytes().to_vec();
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(after.as_bytes());
        OsString::from_vec(bytes)
    };
    if index < plain {
        (
            PLAIN_KEYS[index].to_owned(),
            OsString::from_vec(value.to_vec()),
            false,
        )
    } else if index < plain + URL_KEYS.len() {
        let (key, scheme) = URL_KEYS[index - plain];
        let prefix = format!("{scheme}user:{PASSWORD_MARK}@");
        (key.to_owned(), wrap(&prefix, ""), false)
    } else {
        match index - plain - URL_KEYS.len() {
            0 => ("SECRET_KEY".to_owned(), wrap(SECRET_MARK, ""), true),
            1 => (
                "SECRET_KEY_FALLBACKS".to_owned(),
                wrap("", &format!(",{SECRET_MARK}")),
                true,
            ),
            _ => (
                "SESSION_SQLALCHEMY_BINDS".to_owned(),
                wrap(&format!("{{\"a\":\"postgres://u:{PASSWORD_MARK}@"), ""),
                false,
            ),
        }
    }
}

/// Arbitrary TOML and env values through the builder never panic, and no
/// error, warning, `Debug` of the settings or redacted URL ever shows a
/// secret or a URL password given by the harness.
pub fn check_config(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut sections = rest.split(|&b| b == 0xff);
    let fuzzed_toml = String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();
    let mut public = fuzzed_toml.clone();
    let mut env = Vec::new();
    for section in sections {
        let Some((&key_byte, value)) = section.split_first() else {
            continue;
        };
        let (key, full, secret) = env_entry(key_byte, value);
        if !secret {
            public.push_str(&String::from_utf8_lossy(value));
        }
        env.push((OsString::from(key), full));
    }

    let mut toml = String::new();
    if mode & 0b1 != 0 {
        let close = if mode & 0b10 != 0 { "" } else { "\"" };
        toml.push_str(&format!("secret_key = \"{SECRET_MARK}-toml{close}\n"));
    }
    if mode & 0b100 != 0 {
        toml.push_str(&format!("secret_key_fallbacks = [\"{SECRET_MARK}-fb\"]\n"));
    }
    if mode & 0b1000 != 0 {
        toml.push_str(&format!(
            "redis = \"redis://user:{PASSWORD_MARK}@h{}\"\n",
            if mode & 0b1_0000 != 0 {
                ":bad"
            } else {
                ":6379/0"
            }
        ));
    }
    toml.push_str(&fuzzed_toml);

    let result = Settings::builder()
        .toml_str(toml, "fuzz.toml")
        .env_from(env)
        .build_report();

    // The fuzzer may write a marker into a public place itself; nothing to see.
    let check = |what: &str, text: &str| {
        for mark in [SECRET_MARK, PASSWORD_MARK] {
            assert!(
                public.contains(mark) || !text.contains(mark),
                "{what} reveals a {}: {text}",
                if mark == SECRET_MARK {
                    "secret"
                } else {
                    "URL password"
                }
            );
        }
    };
    match result {
        Ok(report) => {
            check("Settings Debug", &format!("{:?}", report.settings));
            for warning in &report.warnings {
                check("a warning", &warning.to_string());
                check("a warning's Debug", &format!("{warning:?}"));
            }
            check("Provenance Debug", &format!("{:?}", report.provenance));
            for url in &report.settings.redis {
                check("a redacted URL", &url.redacted());
                check("a URL's Display", &url.to_string());
            }
            check("a redacted URL", &report.settings.mongodb.redacted());
            check("a redacted URL", &report.settings.sqlalchemy.redacted());
            let _ = report.settings.validate();
        }
        Err(error) => {
            check("an error", &error.to_string());
            check("an error's Debug", &format!("{error:?}"));
        }
    }
}

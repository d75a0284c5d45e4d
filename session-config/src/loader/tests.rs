//! The loader's unit tests: sources, precedence and warnings.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::settings::SessionType;

fn release_builder() -> SettingsBuilder {
    SettingsBuilder {
        release: true,
        ..SettingsBuilder::new()
    }
}

#[test]
fn insecure_cookie_warns_in_release_only() {
    let report = release_builder()
        .set("type", "memory")
        .build_report()
        .unwrap();
    assert!(matches!(
        report.warnings.as_slice(),
        [ConfigWarning::InsecureCookie { key, origin: Origin::Default }] if key == "cookie_secure"
    ));
    let text = report.warnings[0].to_string();
    assert!(text.contains("cookie_secure (default)"), "{text}");

    let report = release_builder()
        .set("type", "memory")
        .env_from([("SESSION_COOKIE_SECURE", "false")])
        .build_report()
        .unwrap();
    assert!(report.warnings[0]
        .to_string()
        .contains("SESSION_COOKIE_SECURE (env SESSION_COOKIE_SECURE)"));

    let secure = release_builder()
        .set("type", "memory")
        .set("cookie_secure", true)
        .build_report()
        .unwrap();
    assert!(secure.warnings.is_empty());

    let debug = SettingsBuilder {
        release: false,
        ..SettingsBuilder::new()
    }
    .set("type", "memory")
    .build_report()
    .unwrap();
    assert!(debug.warnings.is_empty());
    assert_eq!(debug.settings.session_type, SessionType::Memory);
}

#[test]
fn toml_error_position_without_content() {
    let err = SettingsBuilder::new()
        .toml_str(
            "type = \"redis\"\nsecret_key = \"hunter2-super-secret",
            "inline",
        )
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains("inline"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// Loads that must never panic, whatever the input.
mod no_panic {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Deterministic pseudo-random strings over an alphabet of the characters the parsers
    /// care about, multi-byte ones included.
    fn strings(count: usize) -> Vec<String> {
        const ALPHABET: &[&str] = &[
            "0",
            "1",
            "7",
            "9",
            "o",
            "O",
            "x",
            ".",
            ",",
            ":",
            "@",
            "/",
            "[",
            "]",
            "\"",
            "'",
            "=",
            "&",
            "?",
            "#",
            " ",
            "\t",
            "-",
            "_",
            "s",
            "m",
            "h",
            "d",
            "ms",
            "é",
            "字",
            "💥",
            "://",
            "password=",
            "redis",
            "mongodb+srv",
            "sqlite:",
            "__Host-",
            "{",
            "}",
            "\\",
            "\u{0}",
            "\n",
            "true",
            "none",
            "e",
            "inf",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % 12) as usize;
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn arbitrary_env_values_and_toml_never_panic() {
        let inputs = strings(400);
        for text in &inputs {
            let _ = crate::redact::redact_text(text);
            let _ = crate::keys::suggest_toml_key(text);
            let _ = crate::keys::near_miss_env(text);
            for key in Key::ALL {
                let _ = SettingsBuilder::new()
                    .env_from([(key.env_name(), text.as_str())])
                    .build();
            }
            let _ = SettingsBuilder::new()
                .toml_str(text.as_str(), "fuzz")
                .build();
            let _ = SettingsBuilder::new()
                .toml_str(format!("redis = \"{}\"", text.escape_default()), "fuzz")
                .build();
        }
    }
}

//! Files, tables, environment handling, unknown keys and did-you-mean.

use session_config::{ConfigError, ConfigWarning, Origin, SessionType, Settings};

use crate::{assert_contains, report_env, toml_err};

#[test]
fn missing_explicit_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = Settings::from_file(&missing).unwrap_err();
    assert!(
        matches!(&err, ConfigError::FileNotFound { path, named_by: Origin::Code } if *path == missing)
    );
    assert_contains(
        &err.to_string(),
        &[&missing.display().to_string(), "not found", "code"],
    );

    let err = Settings::builder()
        .standard_from([("SESSION_CONFIG", missing.to_str().unwrap())])
        .build()
        .unwrap_err();
    assert!(matches!(
        &err,
        ConfigError::FileNotFound { named_by: Origin::Env(var), .. } if var == "SESSION_CONFIG"
    ));
    assert_contains(&err.to_string(), &["named by env SESSION_CONFIG"]);
}

#[test]
fn missing_default_file_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::builder()
        .optional_file(dir.path().join("Session.toml"))
        .env_from([("SESSION_TYPE", "memory")])
        .build()
        .unwrap();
    assert_eq!(s.session_type, SessionType::Memory);
    // The standard sources without SESSION_CONFIG: ./Session.toml is optional.
    if !std::path::Path::new(session_config::DEFAULT_CONFIG_FILE).exists() {
        let s = Settings::builder()
            .standard_from(std::iter::empty::<(String, String)>())
            .build()
            .unwrap();
        assert_eq!(s, Settings::default());
    }
}

#[test]
fn a_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Settings::from_file(dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert_contains(&err.to_string(), &["could not read configuration file"]);
}

#[test]
fn invalid_toml_names_the_file_and_position() {
    let (err, msg, path) = toml_err("type = \"redis\"\nid_length = = 3\n");
    assert!(matches!(&err, ConfigError::Toml { origin: Origin::File(p), .. } if *p == path));
    assert_contains(&msg, &[&format!("file {}", path.display()), "line 2"]);
    let (err, _, _) = toml_err("type = \"redis\"\ntype = \"memory\"\n");
    assert!(matches!(err, ConfigError::Toml { .. }));
}

#[test]
fn unknown_file_keys_are_errors_with_did_you_mean() {
    let (err, msg, path) = toml_err("tpye = \"redis\"");
    assert!(matches!(
        &err,
        ConfigError::UnknownKey { key, origin: Origin::File(_), suggestion: Some(s) } if key == "tpye" && s == "type"
    ));
    assert_eq!(
        msg,
        format!(
            "unknown key \"tpye\" in file {}; did you mean \"type\"?",
            path.display()
        )
    );

    // Case typos are not merged silently.
    let (err, _, _) = toml_err("Cookie_Name = \"sid\"");
    assert!(
        matches!(&err, ConfigError::UnknownKey { suggestion: Some(s), .. } if s == "cookie_name")
    );
    // Env spellings in the file.
    let (err, _, _) = toml_err("SESSION_TYPE = \"redis\"");
    assert!(matches!(&err, ConfigError::UnknownKey { suggestion: Some(s), .. } if s == "type"));
    // Nested tables: the keys are flat.
    let (err, msg, _) = toml_err("[cookie]\nname = \"sid\"\n");
    assert!(
        matches!(&err, ConfigError::UnknownKey { key, suggestion: Some(s), .. } if key == "cookie" && s == "cookie_name")
    );
    assert_contains(&msg, &["did you mean \"cookie_name\""]);
    // No suggestion when nothing is close.
    let (err, msg, _) = toml_err("frobnicate = 1");
    assert!(matches!(
        &err,
        ConfigError::UnknownKey {
            suggestion: None,
            ..
        }
    ));
    assert_contains(&msg, &["unknown key \"frobnicate\"", "key list"]);
}

#[test]
fn unknown_code_keys_are_errors() {
    let err = Settings::builder()
        .set("id_lenght", 40)
        .build()
        .unwrap_err();
    assert!(matches!(
        &err,
        ConfigError::UnknownKey { origin: Origin::Code, suggestion: Some(s), .. } if s == "id_length"
    ));
    assert_contains(&err.to_string(), &["in code", "did you mean \"id_length\""]);
}

#[test]
fn session_manager_and_other_variables_are_ignored() {
    let report = report_env(&[
        (
            "SESSION_MANAGER",
            "local/host:@/tmp/.ICE-unix/1234,unix/host:/tmp/.ICE-unix/1234",
        ),
        ("XDG_SESSION_TYPE", "wayland"),
        ("PATH", "/usr/bin"),
        ("SESSION_CONFIG", "/does/not/matter/here.toml"),
    ])
    .unwrap();
    assert_eq!(report.settings, Settings::default());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn near_miss_env_variables_warn() {
    let report = report_env(&[("SESSION_TPYE", "redis"), ("SECRET_KY", "x")]).unwrap();
    assert_eq!(report.settings.session_type, SessionType::Null);
    assert!(report.warnings.contains(&ConfigWarning::NearMissEnvVar {
        var: "SESSION_TPYE".to_owned(),
        suggestion: "SESSION_TYPE".to_owned(),
    }));
    assert!(report.warnings.contains(&ConfigWarning::NearMissEnvVar {
        var: "SECRET_KY".to_owned(),
        suggestion: "SECRET_KEY".to_owned(),
    }));
    let text = report.warnings[0].to_string();
    assert_contains(&text, &["is ignored", "did you mean"]);
}

#[cfg(unix)]
#[test]
fn non_utf8_env_value_is_invalid() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let err = Settings::builder()
        .env_from([(
            OsString::from("SESSION_KEY_PREFIX"),
            OsString::from_vec(vec![b'a', 0xff]),
        )])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    assert_contains(
        &err.to_string(),
        &["SESSION_KEY_PREFIX (env SESSION_KEY_PREFIX)", "UTF-8"],
    );
}

#[test]
fn labelled_tables_for_rockets_figment() {
    let table: toml::Table = "type = \"memory\"\nid_length = 40".parse().unwrap();
    let s = Settings::builder()
        .toml_table(table, "Rocket.toml [session]")
        .build()
        .unwrap();
    assert_eq!(s.id_length.get(), 40);

    let err = Settings::builder()
        .serialized(
            &serde_json::json!({ "id_length": 4 }),
            "Rocket.toml [session]",
        )
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value for id_length (Rocket.toml [session]): 4, expected an integer from 16 to 128"
    );
    let err = Settings::builder()
        .serialized(
            &serde_json::json!({ "cookie_nme": "x" }),
            "Rocket.toml [session]",
        )
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, ConfigError::UnknownKey { origin: Origin::Table(l), .. } if l == "Rocket.toml [session]")
    );

    let err = Settings::builder()
        .serialized(&5, "figment")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Toml {
            origin: Origin::Table(_),
            ..
        }
    ));

    let err = Settings::builder()
        .toml_str("type = ", "inline")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::Toml { .. }));
    assert_contains(&err.to_string(), &["invalid TOML in inline"]);
}

//! `check`: the settings in effect with their sources, redacted; an invalid
//! configuration gives the app's start-up message and exit code 3.

use crate::support::sessionctl;

const SECRET: &str = "0123456789abcdef-a-secret-of-32-bytes";

#[test]
fn a_good_file_lists_every_setting_with_its_source_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Session.toml");
    std::fs::write(
        &file,
        format!(
            "type = \"redis\"\nredis = \"redis://:hunter2@cache:6379/0\"\nid_length = 48\nsecret_key = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    let env = [("SESSION_COOKIE_SECURE", "yes")];
    let run = sessionctl(dir.path(), &env, &["check"]).ok();
    let out = &run.stdout;
    let file = std::fs::canonicalize(&file).unwrap();
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} line in {out}"))
            .to_owned()
    };
    assert!(
        line("id_length").ends_with(&format!("= 48  # file {}, key id_length", file.display())),
        "{out}"
    );
    assert!(
        line("cookie_secure").ends_with("= true  # env SESSION_COOKIE_SECURE"),
        "{out}"
    );
    assert!(
        line("cookie_name").ends_with("= \"session\"  # default"),
        "{out}"
    );
    assert!(line("redis").contains("redis://:***@cache:6379/0"), "{out}");
    assert!(line("secret_key").contains("<redacted>"), "{out}");
    assert!(!out.contains("hunter2") && !out.contains(SECRET), "{out}");
    // Every key is listed.
    assert_eq!(
        out.lines().filter(|l| l.contains(" = ")).count(),
        session_config::Key::ALL.len(),
        "{out}"
    );

    let json = sessionctl(dir.path(), &env, &["check", "--json"])
        .ok()
        .json();
    assert_eq!(json["valid"], true);
    let settings = json["settings"].as_array().unwrap();
    assert_eq!(settings.len(), session_config::Key::ALL.len());
    let id_length = settings.iter().find(|s| s["key"] == "id_length").unwrap();
    assert_eq!(id_length["value"], 48);
    assert_eq!(id_length["source"]["kind"], "file");
    assert_eq!(id_length["source"]["file"], file.display().to_string());
    let secure = settings
        .iter()
        .find(|s| s["key"] == "cookie_secure")
        .unwrap();
    assert_eq!(secure["source"]["variable"], "SESSION_COOKIE_SECURE");
    assert!(!json.to_string().contains("hunter2"));
}

#[test]
fn a_typo_names_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Session.toml"), "tpye = \"redis\"\n").unwrap();
    let run = sessionctl(dir.path(), &[], &["check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let file = std::fs::canonicalize(dir.path().join("Session.toml")).unwrap();
    assert!(
        run.stderr.contains(&format!(
            "unknown key \"tpye\" in file {}; did you mean \"type\"?",
            file.display()
        )),
        "{run:?}"
    );

    let json = sessionctl(dir.path(), &[], &["--json", "check"]).json();
    assert_eq!(json["error"]["kind"], "config");
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"tpye\""));
}

#[test]
fn a_bad_env_value_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let run = sessionctl(dir.path(), &[("SESSION_ID_LENGTH", "8")], &["check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(
        run.stderr.trim(),
        "sessionctl: invalid value for SESSION_ID_LENGTH (env SESSION_ID_LENGTH): \"8\", expected an integer from 16 to 128"
    );
}

#[test]
fn config_names_the_file_to_read_and_a_missing_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Session.toml"), "id_length = 20\n").unwrap();
    std::fs::write(dir.path().join("other.toml"), "id_length = 24\n").unwrap();
    let run = sessionctl(dir.path(), &[], &["check", "--config", "other.toml"]).ok();
    assert!(run.stdout.contains("id_length "), "{run:?}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("id_length "))
        .unwrap();
    assert!(
        line.contains("= 24  # file ") && line.contains("other.toml"),
        "{line}"
    );

    let run = sessionctl(dir.path(), &[], &["--config", "missing.toml", "check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("configuration file missing.toml not found (named by --config)"),
        "{run:?}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_lists_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sessionctl(dir.path(), &[], &["frobnicate"]).code, 2);
    assert_eq!(sessionctl(dir.path(), &[], &["revoke", "ada"]).code, 2);
    let help = sessionctl(dir.path(), &[], &["--help"]).ok();
    assert!(help.stdout.contains("Exit codes:"), "{help:?}");
    assert!(
        help.stdout.contains("3  the configuration is invalid"),
        "{help:?}"
    );
}

/// A reader that went away before the output (`sessionctl check | head -0`)
/// is not a failure of the command, and never a panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sessionctl"))
        .arg("check")
        .env_clear()
        .env("SESSION_TYPE", "memory")
        .current_dir(dir.path())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

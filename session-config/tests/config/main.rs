//! Public-API tests of session-config. The process environment is never touched: every
//! test injects its variables with `env_from`/`standard_from`.
#![allow(clippy::unwrap_used)]

#[cfg(feature = "config")]
mod config_crate;
mod every_key;
mod forms;
mod precedence;
mod redaction;
mod rules;
mod sources;

use std::path::PathBuf;

use session_config::{ConfigError, LoadReport, Settings};
use tempfile::TempDir;

/// A temp dir holding `Session.toml` with `text`.
pub fn toml_file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Session.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Defaults < the given env.
pub fn from_env(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::builder().env_from(vars.iter().copied()).build()
}

/// Defaults < the given env, with the report.
pub fn report_env(vars: &[(&str, &str)]) -> Result<LoadReport, ConfigError> {
    Settings::builder()
        .env_from(vars.iter().copied())
        .build_report()
}

/// Defaults < a file with `text`; returns the result and the file's absolute path.
pub fn from_toml(text: &str) -> (Result<Settings, ConfigError>, PathBuf) {
    let (_dir, path) = toml_file(text);
    let result = Settings::from_file(&path);
    (result, path)
}

/// The error of a load from `text`, with its message; panics on success.
pub fn toml_err(text: &str) -> (ConfigError, String, PathBuf) {
    let (result, path) = from_toml(text);
    let err = result.unwrap_err();
    let msg = err.to_string();
    (err, msg, path)
}

/// The error of a load from `vars`, with its message; panics on success.
pub fn env_err(vars: &[(&str, &str)]) -> (ConfigError, String) {
    let err = from_env(vars).unwrap_err();
    let msg = err.to_string();
    (err, msg)
}

/// Asserts that `msg` contains every one of `parts`.
#[track_caller]
pub fn assert_contains(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{part:?} not in message: {msg}");
    }
}

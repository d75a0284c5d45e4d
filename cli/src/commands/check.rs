//! `check`: every setting in effect, each with its source.

use serde_json::{json, Value};
use session_config::{EffectiveSetting, LoadReport, Origin};

use crate::report::Report;

/// Lists the settings of a valid load (an invalid one never gets here).
pub fn run(report: &LoadReport) -> Report {
    let effective = report.effective();
    let width = effective
        .iter()
        .map(|e| e.key.toml_name().len())
        .max()
        .unwrap_or(0);
    let mut text = String::from("the configuration is valid\n");
    for setting in &effective {
        text.push_str(&format!(
            "{:width$} = {}  # {}\n",
            setting.key.toml_name(),
            setting.shown(),
            source_text(setting)
        ));
    }
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    for warning in &warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    Report {
        text,
        json: json!({
            "valid": true,
            "settings": effective.iter().map(setting_json).collect::<Vec<_>>(),
            "warnings": warnings,
        }),
    }
}

/// `default`, `file /etc/app/Session.toml, key id_length`, `env SESSION_ID_LENGTH`.
fn source_text(setting: &EffectiveSetting) -> String {
    match &setting.origin {
        Origin::File(path) => format!("file {}, key {}", path.display(), setting.key.toml_name()),
        other => {
            let name = other.key_name(setting.key);
            match other {
                Origin::Default | Origin::Env(_) => other.to_string(),
                _ => format!("{other}, key {name}"),
            }
        }
    }
}

fn setting_json(setting: &EffectiveSetting) -> Value {
    let mut entry = json!({
        "key": setting.key.toml_name(),
        "value": setting.value.as_ref().map_or(Value::Null, |v| {
            serde_json::to_value(v).unwrap_or(Value::Null)
        }),
    });
    let source = match &setting.origin {
        Origin::Default => json!({ "kind": "default" }),
        Origin::File(path) => json!({
            "kind": "file",
            "file": path.display().to_string(),
            "key": setting.key.toml_name(),
        }),
        Origin::Env(var) => json!({ "kind": "env", "variable": var }),
        other => json!({
            "kind": "other",
            "description": other.to_string(),
            "key": other.key_name(setting.key),
        }),
    };
    entry["source"] = source;
    entry
}

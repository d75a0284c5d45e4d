//! default < file < env < code, whatever the order of the builder calls.

use session_config::{Key, Origin, Settings};

use crate::toml_file;

#[test]
fn each_layer_overrides_the_one_below() {
    let (_dir, path) = toml_file("id_length = 40\nkey_prefix = \"file:\"\npermanent = false\n");
    let abs = std::path::absolute(&path).unwrap();
    let env = [("SESSION_ID_LENGTH", "50"), ("SESSION_KEY_PREFIX", "env:")];

    let all = Settings::builder()
        .file(&path)
        .env_from(env)
        .set("id_length", 60)
        .build_report()
        .unwrap();
    assert_eq!(all.settings.id_length.get(), 60);
    assert_eq!(all.settings.key_prefix, "env:");
    assert!(!all.settings.permanent);
    assert_eq!(all.settings.cookie.name, "session");
    assert_eq!(all.provenance.origin(Key::IdLength), &Origin::Code);
    assert_eq!(
        all.provenance.origin(Key::KeyPrefix),
        &Origin::Env("SESSION_KEY_PREFIX".to_owned())
    );
    assert_eq!(
        all.provenance.origin(Key::Permanent),
        &Origin::File(abs.clone())
    );
    assert_eq!(all.provenance.origin(Key::CookieName), &Origin::Default);

    let no_code = Settings::builder()
        .file(&path)
        .env_from(env)
        .build()
        .unwrap();
    assert_eq!(no_code.id_length.get(), 50);

    let file_only = Settings::builder().file(&path).build().unwrap();
    assert_eq!(file_only.id_length.get(), 40);
    assert_eq!(file_only.key_prefix, "file:");

    let none = Settings::builder().build().unwrap();
    assert_eq!(none.id_length.get(), 32);
}

#[test]
fn precedence_does_not_depend_on_call_order() {
    let (_dir, path) = toml_file("id_length = 40\n");
    let s = Settings::builder()
        .set("id_length", 60)
        .env_from([("SESSION_ID_LENGTH", "50")])
        .file(&path)
        .build()
        .unwrap();
    assert_eq!(s.id_length.get(), 60);
    let s = Settings::builder()
        .env_from([("SESSION_ID_LENGTH", "50")])
        .file(&path)
        .build()
        .unwrap();
    assert_eq!(s.id_length.get(), 50);
}

#[test]
fn later_sources_of_one_kind_win() {
    let s = Settings::builder()
        .toml_str("id_length = 40", "first")
        .toml_str("id_length = 41", "second")
        .env_from([("SESSION_ID_LENGTH", "50")])
        .env_from([("SESSION_ID_LENGTH", "51")])
        .set("key_prefix", "a:")
        .set("key_prefix", "b:")
        .build_report()
        .unwrap();
    assert_eq!(s.settings.id_length.get(), 51);
    assert_eq!(s.settings.key_prefix, "b:");
}

#[test]
fn a_later_valid_layer_hides_an_earlier_bad_value() {
    // Values are parsed after layering: only the winning value has to be valid.
    let s = Settings::builder()
        .toml_str("id_length = 8", "file")
        .env_from([("SESSION_ID_LENGTH", "64")])
        .build()
        .unwrap();
    assert_eq!(s.id_length.get(), 64);
}

#[test]
fn standard_sources_read_session_config_then_env() {
    let (_dir, path) = toml_file("type = \"memory\"\nid_length = 40\n");
    let env = [
        ("SESSION_CONFIG", path.to_str().unwrap()),
        ("SESSION_ID_LENGTH", "50"),
    ];
    let report = Settings::builder()
        .standard_from(env)
        .build_report()
        .unwrap();
    assert_eq!(
        report.settings.session_type,
        session_config::SessionType::Memory
    );
    assert_eq!(report.settings.id_length.get(), 50);
    assert!(matches!(
        report.provenance.origin(Key::Type),
        Origin::File(_)
    ));
}

#[test]
fn from_map_is_code() {
    let s = Settings::from_map([("type", "filesystem"), ("file_threshold", "7")]).unwrap();
    assert_eq!(s.session_type, session_config::SessionType::Filesystem);
    assert_eq!(s.file_threshold, 7);
    let err = Settings::from_map([("id_length", "300")]).unwrap_err();
    crate::assert_contains(
        &err.to_string(),
        &["id_length (code)", "\"300\"", "an integer from 16 to 128"],
    );
}

//! The codec against real values written by Flask-Session 0.8's msgspec
//! encoder (tests/fixtures, copied from shared/fixtures/flask-session-0.8).

#![allow(clippy::unwrap_used)]

use session::codec::{Codec, Decoded, SerializationFormat};
use session::signing::{Signer, Verified};
use session::{Bytes, SessionId, Timestamp};

const CASES: [&str; 6] = [
    "minimal",
    "scalars",
    "containers",
    "flask_keys",
    "binary_and_time",
    "big_string",
];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn msgpack() -> Codec {
    Codec::new(SerializationFormat::MsgPack, 64 * 1024)
}

fn json() -> Codec {
    Codec::new(SerializationFormat::Json, 64 * 1024)
}

#[test]
fn every_msgpack_fixture_re_encodes_byte_identically() {
    for case in CASES {
        let bytes = fixture(&format!("{case}.msgpack"));
        let (map, how) = msgpack().decode(&bytes).unwrap();
        assert_eq!(how, Decoded::AsConfigured);
        assert_eq!(msgpack().encode(&map).unwrap(), bytes, "{case}");
    }
}

#[test]
fn every_json_fixture_re_encodes_byte_identically() {
    for case in CASES {
        let bytes = fixture(&format!("{case}.json"));
        let (map, how) = json().decode(&bytes).unwrap();
        assert_eq!(how, Decoded::AsConfigured);
        assert_eq!(
            String::from_utf8(json().encode(&map).unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{case}"
        );
    }
}

#[test]
fn msgpack_to_json_matches_msgspec_json() {
    // The same Python value through both encoders: our conversion of the
    // msgpack form must give msgspec's JSON form. `naive` is ISO text in both.
    for case in CASES {
        let (map, _) = msgpack()
            .decode(&fixture(&format!("{case}.msgpack")))
            .unwrap();
        let ours = String::from_utf8(json().encode(&map).unwrap()).unwrap();
        let theirs = String::from_utf8(fixture(&format!("{case}.json"))).unwrap();
        assert_eq!(ours, theirs, "{case}");
    }
}

#[test]
fn scalar_values_read_with_their_types() {
    let (map, _) = msgpack().decode(&fixture("scalars.msgpack")).unwrap();
    assert_eq!(map.get::<String>("s").unwrap().as_deref(), Some("héllo ✓"));
    assert_eq!(
        map.get::<u64>("u64").unwrap(),
        Some(9_223_372_036_854_775_813)
    );
    assert_eq!(map.get::<i64>("i64min").unwrap(), Some(i64::MIN));
    assert_eq!(map.get::<i32>("neg33").unwrap(), Some(-33));
    assert_eq!(map.get::<f64>("f").unwrap(), Some(1.5));
    assert_eq!(map.get::<Option<u8>>("n").unwrap(), Some(None));
    assert!(map.is_permanent());
}

#[test]
fn binary_and_timestamps_read_as_bytes_and_timestamp() {
    let (map, _) = msgpack()
        .decode(&fixture("binary_and_time.msgpack"))
        .unwrap();
    assert_eq!(
        map.get::<Bytes>("blob").unwrap(),
        Some(Bytes(vec![0, 1, 0xfe, 0xff]))
    );
    let when = map.get::<Timestamp>("when").unwrap().unwrap();
    assert_eq!(when.to_rfc3339(), "2026-11-25T12:30:45.123456Z");
    assert_eq!(
        map.get::<String>("naive").unwrap().as_deref(),
        Some("2026-11-25T12:30:45")
    );
}

#[test]
fn flask_keys_are_readable() {
    let (map, _) = msgpack().decode(&fixture("flask_keys.msgpack")).unwrap();
    let flashes: Vec<(String, String)> = map.get("_flashes").unwrap().unwrap();
    assert_eq!(
        flashes,
        [
            ("info".into(), "saved".into()),
            ("error".into(), "bad".into())
        ]
    );
    assert_eq!(map.get::<bool>("_fresh").unwrap(), Some(true));
}

#[test]
fn every_itsdangerous_signer_vector_matches() {
    #[derive(serde::Deserialize)]
    struct Vector {
        secret: String,
        sid: String,
        cookie: String,
    }
    let vectors: Vec<Vector> = serde_json::from_slice(&fixture("signer-vectors.json")).unwrap();
    assert!(vectors.len() >= 8);
    for v in vectors {
        let signer = Signer::new(&v.secret, []);
        let id = SessionId::parse(&v.sid).unwrap();
        assert_eq!(signer.sign(&id), v.cookie, "secret {:?}", v.secret);
        assert_eq!(signer.verify(&v.cookie), Some(Verified::Current(id)));
    }
}

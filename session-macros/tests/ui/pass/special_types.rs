#![deny(warnings)]

use session::{Bytes, SessionData, SessionMap, Timestamp};

#[derive(SessionData)]
struct Special {
    user: Option<String>,
    avatar: Bytes,
    maybe_avatar: Option<Bytes>,
    last_seen: Option<Timestamp>,
    #[session(default = "Timestamp::now")]
    created: Timestamp,
    #[session(skip, default = "session::Timestamp::now")]
    loaded_at: Timestamp,
    flashes: Vec<(String, String)>,
}

fn main() {
    let special = Special::from_map(&SessionMap::new());
    assert_eq!(special.user, None);
    assert!(special.avatar.0.is_empty());
    assert_eq!(special.maybe_avatar, None);
    assert_eq!(special.last_seen, None);
    assert!(special.created <= Timestamp::now());
    assert!(special.loaded_at <= Timestamp::now());
    assert!(special.flashes.is_empty());
    let fields = special.to_fields().unwrap();
    // `None` removes the key; `Bytes` is msgpack bin.
    assert_eq!(fields[0], None);
    assert_eq!(fields[1].as_deref(), Some(&[0xc4, 0][..]));
    assert_eq!(fields[2], None);
    assert_eq!(fields[3], None);
    assert!(fields[4].is_some());
    assert_eq!(Special::KEYS, ["user", "avatar", "maybe_avatar", "last_seen", "created", "flashes"]);
}

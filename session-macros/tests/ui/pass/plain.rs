#![deny(warnings)]

use session::{SessionData, SessionMap};

#[derive(SessionData)]
struct Plain {
    name: String,
    count: u32,
}

fn main() {
    assert_eq!(Plain::KEYS, ["name", "count"]);
    assert_eq!(Plain::KEY_NAME, "name");
    assert_eq!(Plain::KEY_COUNT, "count");
    let plain = Plain::from_map(&SessionMap::new());
    assert_eq!(plain.name, "");
    assert_eq!(plain.count, 0);
    assert_eq!(plain.to_fields().unwrap().len(), 2);
}

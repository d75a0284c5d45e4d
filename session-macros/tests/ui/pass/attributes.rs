#![deny(warnings)]

use session::{SessionData, SessionMap};

mod defaults {
    pub fn theme() -> String {
        "light".to_owned()
    }
}

fn seven() -> u32 {
    7
}

#[derive(SessionData)]
struct Attributes {
    #[session(rename = "_user_id")]
    user_id: Option<String>,
    #[session(default)]
    visits: u32,
    #[session(default = "defaults::theme")]
    theme: String,
    #[session(default = "seven", rename = "lucky-number")]
    lucky: u32,
    #[session(skip)]
    scratch: Vec<u8>,
    #[session(skip, default = "seven")]
    cached: u32,
    r#type: String,
}

fn main() {
    assert_eq!(Attributes::KEYS, ["_user_id", "visits", "theme", "lucky-number", "type"]);
    assert_eq!(Attributes::KEY_USER_ID, "_user_id");
    assert_eq!(Attributes::KEY_LUCKY, "lucky-number");
    assert_eq!(Attributes::KEY_TYPE, "type");
    let value = Attributes::from_map(&SessionMap::new());
    assert_eq!(value.user_id, None);
    assert_eq!(value.visits, 0);
    assert_eq!(value.theme, "light");
    assert_eq!(value.lucky, 7);
    assert!(value.scratch.is_empty());
    assert_eq!(value.cached, 7);
    assert_eq!(value.r#type, "");
}

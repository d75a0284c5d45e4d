#![deny(warnings)]

mod reexport {
    pub use ::session;
}

#[derive(reexport::session::SessionData)]
#[session(crate = "reexport::session")]
struct AtRoot {
    flag: bool,
}

mod inner {
    use crate::reexport::session::{SessionData, SessionMap};

    #[derive(SessionData)]
    #[session(crate = "crate::reexport::session")]
    pub struct ViaReexport {
        pub count: u32,
    }

    #[derive(SessionData)]
    #[session(crate = "::session")]
    pub struct Absolute {
        pub count: u32,
    }

    pub fn check() {
        assert_eq!(ViaReexport::KEYS, ["count"]);
        assert_eq!(ViaReexport::from_map(&SessionMap::new()).count, 0);
        assert_eq!(Absolute::KEY_COUNT, "count");
    }
}

fn main() {
    inner::check();
    assert_eq!(<AtRoot as reexport::session::SessionData>::KEYS, ["flag"]);
    assert_eq!(AtRoot::KEY_FLAG, "flag");
}

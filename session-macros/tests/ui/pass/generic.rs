#![deny(warnings)]

use session::{SessionData, SessionMap};

#[derive(SessionData)]
struct Wrapper<T> {
    value: T,
    maybe: Option<T>,
}

/// No `Default` bound on `T`: only `Option<T>` needs one.
#[derive(SessionData)]
struct OptionalOnly<T: Clone, const N: usize>
where
    T: std::fmt::Debug,
{
    value: Option<T>,
    #[session(skip)]
    list: Vec<T>,
    #[session(default = "fixed")]
    fixed: [u8; N],
}

fn fixed<const N: usize>() -> [u8; N] {
    [1; N]
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct NoDefault(u8);

fn main() {
    assert_eq!(Wrapper::<u32>::KEYS, ["value", "maybe"]);
    assert_eq!(Wrapper::<String>::KEY_VALUE, "value");
    let wrapper = Wrapper::<u32>::from_map(&SessionMap::new());
    assert_eq!(wrapper.value, 0);
    assert_eq!(wrapper.maybe, None);

    let optional = OptionalOnly::<NoDefault, 3>::from_map(&SessionMap::new());
    assert!(optional.value.is_none());
    assert!(optional.list.is_empty());
    assert_eq!(optional.fixed, [1, 1, 1]);
}

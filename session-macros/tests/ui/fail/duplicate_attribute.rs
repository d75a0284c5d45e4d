use session::SessionData;

#[derive(SessionData)]
struct Data {
    #[session(rename = "x")]
    #[session(rename = "y")]
    a: u32,
    #[session(default, default = "zero")]
    b: u32,
    #[session(skip, skip)]
    c: u32,
    #[session(rename = 5, rename = "z")]
    d: u32,
}

#[derive(SessionData)]
#[session(crate = "::session")]
#[session(crate = "::session")]
struct Container {
    a: u32,
}

fn zero() -> u32 {
    0
}

fn main() {}

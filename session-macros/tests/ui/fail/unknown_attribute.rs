use session::SessionData;

#[derive(SessionData)]
struct Data {
    #[session(foo)]
    a: u32,
    #[session(rename = "bee", flatten = true)]
    b: u32,
    #[session(crate = "session")]
    c: u32,
}

#[derive(SessionData)]
#[session(rename = "x")]
struct Container {
    a: u32,
}

fn main() {}

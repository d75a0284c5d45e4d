use session::SessionData;

#[derive(SessionData)]
struct Data {
    #[session(rename = 5)]
    a: u32,
    #[session(default = 5)]
    b: u32,
    #[session(default = "not a path ???")]
    c: u32,
    #[session(rename)]
    d: u32,
    #[session(skip = true)]
    e: u32,
    #[session(rename = "")]
    f: u32,
}

#[derive(SessionData)]
#[session(crate = 5)]
struct BadCrate {
    a: u32,
}

#[derive(SessionData)]
#[session(crate = "not a path")]
struct BadCratePath {
    a: u32,
}

fn main() {}

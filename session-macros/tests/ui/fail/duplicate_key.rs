use session::SessionData;

#[derive(SessionData)]
struct Renamed {
    a: u32,
    #[session(rename = "a")]
    b: u32,
}

#[derive(SessionData)]
struct BothRenamed {
    #[session(rename = "x")]
    a: u32,
    #[session(rename = "x")]
    b: u32,
}

#[derive(SessionData)]
struct RenamedFirst {
    #[session(rename = "b")]
    a: u32,
    b: u32,
}

fn main() {}

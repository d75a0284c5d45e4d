use session::SessionData;

#[derive(SessionData)]
struct Data {
    #[session(rename = "x")]
    #[session(rename = "y")]
    a: u32,
    #[session(default, default = "zero")]
    b: u32,
}

fn zero() -> u32 {
    0
}

fn main() {}

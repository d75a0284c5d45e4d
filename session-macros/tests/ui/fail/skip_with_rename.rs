use session::SessionData;

#[derive(SessionData)]
struct Data {
    #[session(skip, rename = "x")]
    a: u32,
}

fn main() {}

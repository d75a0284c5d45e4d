use session::SessionData;

#[derive(SessionData)]
#[allow(non_snake_case)]
struct Data {
    a: u32,
    #[session(rename = "big_a")]
    A: u32,
}

fn main() {}

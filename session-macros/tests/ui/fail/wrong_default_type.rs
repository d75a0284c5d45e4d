use session::SessionData;

#[derive(SessionData)]
struct Data {
    #[session(default = "String::new")]
    count: u32,
}

fn main() {}

use session::{SessionData, Timestamp};

#[derive(SessionData)]
struct Data {
    seen: Timestamp,
}

fn main() {}

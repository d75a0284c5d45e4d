use session::SessionData;

#[derive(SessionData)]
enum Choice {
    A,
    B,
}

fn main() {}

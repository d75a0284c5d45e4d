use session::SessionData;

#[derive(SessionData)]
struct Nothing;

fn main() {}

use session::SessionData;

#[derive(SessionData)]
struct Pair(u32, String);

fn main() {}

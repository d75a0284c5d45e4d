use session::SessionData;

#[derive(SessionData)]
struct Borrowed<'a> {
    name: &'a str,
}

fn main() {}

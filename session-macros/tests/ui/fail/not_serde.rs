use session::SessionData;

#[derive(Default)]
struct Opaque;

#[derive(SessionData)]
struct Data {
    opaque: Opaque,
}

fn main() {}

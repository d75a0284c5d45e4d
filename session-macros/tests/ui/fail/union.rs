use session::SessionData;

#[derive(SessionData)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}

//! SQL cleanup benchmark (being written).
fn main() {}

//! The Rocket demo (design.md §8); being written.

fn main() {}

//! One file per subcommand.

pub mod check;
pub mod cleanup;
pub mod owner;
pub mod ping;
pub mod show;

//! Commands built at their final size. redis-rs grows a command's two
//! buffers (the argument bytes and their bounds) as arguments are added, a
//! reallocation for most arguments of a short command; a session command
//! knows its arguments up front, so it allocates each buffer once.

use ::redis::Cmd;

/// The most bytes an integer argument takes as text (`u64::MAX`).
pub(super) const INTEGER: usize = 20;

/// The command `name`, with room for `args` more arguments of `bytes` bytes
/// in all.
pub(super) fn sized(name: &str, args: usize, bytes: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(args + 1, name.len() + bytes);
    cmd.arg(name);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sized_command_starts_with_its_name() {
        let mut set = sized("SET", 4, 64);
        set.arg("session:abc")
            .arg(&b"v"[..])
            .arg("EX")
            .arg(u64::MAX);
        assert_eq!(
            set.get_packed_command(),
            b"*5\r\n$3\r\nSET\r\n$11\r\nsession:abc\r\n$1\r\nv\r\n$2\r\nEX\r\n$20\r\n18446744073709551615\r\n"
        );
    }
}

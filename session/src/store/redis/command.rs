//! Commands as the store sends them. The hot operations (`GET`, `GETEX`,
//! `SET`, the conditional save's `EVALSHA`) are [`Command`]s: their
//! arguments borrowed, packed straight into the connection's buffer, with no
//! allocation. redis-rs's `Cmd` copies every argument into buffers of its
//! own first and packs them from there, some 800 instructions per command
//! over Redis (BENCHMARKS.md, issue 20); it stays for the rest, built at its
//! final size.

use std::borrow::Cow;

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

/// A command the store can send: packed in RESP by the direct and shared
/// connections, or handed to redis-rs as a `Cmd` over any other.
pub(super) trait Packed: Sync {
    /// Appends the command in RESP to `out`.
    fn pack(&self, out: &mut Vec<u8>);

    /// The command as redis-rs's `Cmd`, for the connections redis-rs drives.
    fn to_cmd(&self) -> Cow<'_, Cmd>;
}

impl Packed for Cmd {
    fn pack(&self, out: &mut Vec<u8>) {
        self.write_packed_command(out);
    }

    fn to_cmd(&self) -> Cow<'_, Cmd> {
        Cow::Borrowed(self)
    }
}

/// One argument of a [`Command`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Arg<'a> {
    Bytes(&'a [u8]),
    Integer(u64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(text: &'a str) -> Self {
        Arg::Bytes(text.as_bytes())
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Arg::Bytes(bytes)
    }
}

impl From<u64> for Arg<'_> {
    fn from(number: u64) -> Self {
        Arg::Integer(number)
    }
}

/// A command whose arguments (the name first) are borrowed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Command<'a>(pub(super) &'a [Arg<'a>]);

impl Packed for Command<'_> {
    fn pack(&self, out: &mut Vec<u8>) {
        let mut digits = Digits::default();
        let length: usize = self
            .0
            .iter()
            .map(|arg| {
                let bytes = match arg {
                    Arg::Bytes(bytes) => bytes.len(),
                    Arg::Integer(number) => digits.of(*number).len(),
                };
                // `$`, the length, CRLF, the bytes, CRLF.
                1 + digits.of(bytes as u64).len() + 2 + bytes + 2
            })
            .sum();
        out.reserve(1 + digits.of(self.0.len() as u64).len() + 2 + length);
        out.push(b'*');
        out.extend_from_slice(digits.of(self.0.len() as u64));
        out.extend_from_slice(b"\r\n");
        for arg in self.0 {
            let mut number = Digits::default();
            let bytes = match arg {
                Arg::Bytes(bytes) => *bytes,
                Arg::Integer(value) => number.of(*value),
            };
            out.push(b'$');
            out.extend_from_slice(digits.of(bytes.len() as u64));
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
    }

    fn to_cmd(&self) -> Cow<'_, Cmd> {
        let bytes = self
            .0
            .iter()
            .map(|arg| match arg {
                Arg::Bytes(bytes) => bytes.len(),
                Arg::Integer(_) => INTEGER,
            })
            .sum();
        let mut cmd = Cmd::with_capacity(self.0.len(), bytes);
        for arg in self.0 {
            match arg {
                Arg::Bytes(bytes) => cmd.arg(*bytes),
                Arg::Integer(number) => cmd.arg(*number),
            };
        }
        Cow::Owned(cmd)
    }
}

/// A number's decimal digits, written into a buffer of its own.
#[derive(Default)]
struct Digits([u8; INTEGER]);

impl Digits {
    fn of(&mut self, mut number: u64) -> &[u8] {
        let mut start = INTEGER;
        loop {
            start -= 1;
            // `number % 10` is below 10.
            self.0[start] = b'0' + (number % 10) as u8;
            number /= 10;
            if number == 0 {
                return &self.0[start..];
            }
        }
    }
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

    /// A borrowed command packs to the very bytes redis-rs packs, whatever
    /// its arguments: empty, binary, long, and integers at both ends.
    #[test]
    fn a_borrowed_command_packs_as_redis_rs_does() {
        let long = vec![0xffu8; 1234];
        let cases: [&[Arg<'_>]; 4] = [
            &[Arg::from("GET"), Arg::from("session:abc")],
            &[
                Arg::from("SET"),
                Arg::from(&b""[..]),
                Arg::from(&b"\r\n\0\xc3"[..]),
                Arg::from("EX"),
                Arg::from(0),
            ],
            &[
                Arg::from("EVALSHA"),
                Arg::from(&long[..]),
                Arg::from(1),
                Arg::from(u64::MAX),
                Arg::from(9),
                Arg::from(10),
            ],
            &[Arg::from("PING")],
        ];
        for args in cases {
            let command = Command(args);
            let mut packed = b"kept".to_vec();
            command.pack(&mut packed);
            let mut expected = b"kept".to_vec();
            expected.extend_from_slice(&command.to_cmd().get_packed_command());
            assert_eq!(packed, expected, "{args:?}");
            let mut by_hand = ::redis::Cmd::new();
            for arg in args {
                match arg {
                    Arg::Bytes(bytes) => by_hand.arg(*bytes),
                    Arg::Integer(number) => by_hand.arg(*number),
                };
            }
            assert_eq!(
                command.to_cmd().get_packed_command(),
                by_hand.get_packed_command()
            );
        }
    }
}

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

impl Arg<'_> {
    /// The most bytes the argument takes packed, before its framing.
    fn most_bytes(&self) -> usize {
        match self {
            Arg::Bytes(bytes) => bytes.len(),
            Arg::Integer(_) => INTEGER,
        }
    }
}

/// A command whose arguments (the name first) are borrowed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Command<'a>(pub(super) &'a [Arg<'a>]);

impl Packed for Command<'_> {
    fn pack(&self, out: &mut Vec<u8>) {
        // At most: each argument's `$`, length, CRLF and closing CRLF, and
        // the count's line.
        let most: usize = self.0.iter().map(|arg| LINE + arg.most_bytes() + 2).sum();
        out.reserve(LINE + most);
        push_line(out, b'*', self.0.len());
        for arg in self.0 {
            let mut digits = [0; INTEGER];
            let bytes = match arg {
                Arg::Bytes(bytes) => bytes,
                Arg::Integer(number) => decimal(*number, &mut digits),
            };
            push_line(out, b'$', bytes.len());
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
    }

    fn to_cmd(&self) -> Cow<'_, Cmd> {
        let bytes = self.0.iter().map(Arg::most_bytes).sum();
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

/// The most bytes of a line that gives a count or a length: its marker,
/// the number and CRLF.
const LINE: usize = 1 + INTEGER + 2;

/// Appends `marker`, `number` in decimal and CRLF. Counts and lengths below
/// 100 (nearly all of a session command's) are written in one piece.
fn push_line(out: &mut Vec<u8>, marker: u8, number: usize) {
    // Each digit is below 10.
    let digit = |n: usize| b'0' + (n % 10) as u8;
    if number < 10 {
        out.extend_from_slice(&[marker, digit(number), b'\r', b'\n']);
    } else if number < 100 {
        out.extend_from_slice(&[marker, digit(number / 10), digit(number), b'\r', b'\n']);
    } else {
        let mut digits = [0; INTEGER];
        out.push(marker);
        out.extend_from_slice(decimal(number as u64, &mut digits));
        out.extend_from_slice(b"\r\n");
    }
}

/// `number` in decimal, written at the end of `digits`.
fn decimal(mut number: u64, digits: &mut [u8; INTEGER]) -> &[u8] {
    let mut start = INTEGER;
    loop {
        start -= 1;
        // `number % 10` is below 10.
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            return &digits[start..];
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
        let sizes: Vec<Vec<u8>> = [9, 10, 99, 100].map(|n| vec![b'x'; n]).to_vec();
        let cases: [&[Arg<'_>]; 5] = [
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
            &[
                Arg::from(&sizes[0][..]),
                Arg::from(&sizes[1][..]),
                Arg::from(&sizes[2][..]),
                Arg::from(&sizes[3][..]),
                Arg::from(99),
                Arg::from(100),
                Arg::from(&b"0"[..]),
                Arg::from(&b"1"[..]),
                Arg::from(&b"2"[..]),
                Arg::from(&b"3"[..]),
                Arg::from(&b"4"[..]),
            ],
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

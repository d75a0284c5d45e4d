//! One RESP2 reply, read off a direct connection ([`super::direct`]): where it
//! ends in the bytes read so far, and its value.
//!
//! The replies a session command gets (a bulk string, nil, an integer, `OK`)
//! are decoded here; any other (a server error, an array) is handed to
//! redis-rs's own parser, so that its errors carry the kinds the store
//! classifies (`NOSCRIPT`, `READONLY`, …) exactly as over the connection
//! manager.

use ::redis::{ErrorKind, RedisError, Value};

/// How deep arrays may nest in a reply before it is refused: a session
/// command's reply nests at most once.
const MAX_DEPTH: usize = 8;

/// Where the first reply in `bytes` ends, or `None` while it is incomplete.
///
/// # Errors
///
/// A protocol error (`ErrorKind::Parse`) when the bytes are not RESP2.
pub(super) fn end(bytes: &[u8]) -> Result<Option<usize>, RedisError> {
    end_from(bytes, 0, 0)
}

fn end_from(bytes: &[u8], start: usize, depth: usize) -> Result<Option<usize>, RedisError> {
    let Some(line) = line_end(bytes, start) else {
        return Ok(None);
    };
    let after_line = line + 2;
    match bytes[start] {
        b'+' | b'-' | b':' => Ok(Some(after_line)),
        b'$' => match integer(&bytes[start + 1..line])? {
            -1 => Ok(Some(after_line)),
            length if length >= 0 => {
                let end = after_line + length as usize + 2;
                if bytes.len() < end {
                    Ok(None)
                } else if &bytes[end - 2..end] != b"\r\n" {
                    Err(protocol("a bulk string not ended by CRLF"))
                } else {
                    Ok(Some(end))
                }
            }
            _ => Err(protocol("a negative bulk string length")),
        },
        b'*' if depth < MAX_DEPTH => {
            let count = integer(&bytes[start + 1..line])?;
            let mut at = after_line;
            for _ in 0..count.max(0) {
                match end_from(bytes, at, depth + 1)? {
                    Some(end) => at = end,
                    None => return Ok(None),
                }
            }
            Ok(Some(at))
        }
        _ => Err(protocol("an unknown or too deeply nested reply type")),
    }
}

/// The value of one whole reply (`frame`, as [`end`] delimited it).
///
/// # Errors
///
/// A protocol error when the frame is not RESP2. A server error reply is a
/// value ([`Value::ServerError`]), not an error here.
pub(super) fn value(frame: &[u8]) -> Result<Value, RedisError> {
    let header_end = line_end(frame, 0).ok_or_else(|| protocol("a reply without a line end"))?;
    let header = &frame[1..header_end];
    match frame[0] {
        b'$' => match integer(header)? {
            -1 => Ok(Value::Nil),
            _ => Ok(Value::BulkString(
                frame[header_end + 2..frame.len() - 2].to_vec(),
            )),
        },
        b':' => integer(header).map(Value::Int),
        b'+' if header == b"OK" => Ok(Value::Okay),
        _ => ::redis::parse_redis_value(frame),
    }
}

/// Where the line that starts at `start` ends (its `\r`), once its `\n` is
/// there too.
fn line_end(bytes: &[u8], start: usize) -> Option<usize> {
    let at = start + memchr::memchr(b'\r', bytes.get(start..)?)?;
    (bytes.get(at + 1) == Some(&b'\n')).then_some(at)
}

fn integer(text: &[u8]) -> Result<i64, RedisError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| protocol("a malformed integer"))
}

fn protocol(what: &'static str) -> RedisError {
    RedisError::from((
        ErrorKind::Parse,
        "a malformed reply from Redis",
        what.to_owned(),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ::redis::ServerErrorKind;

    use super::*;

    fn whole(bytes: &[u8]) -> Value {
        assert_eq!(end(bytes).unwrap(), Some(bytes.len()), "{bytes:?}");
        value(bytes).unwrap()
    }

    #[test]
    fn the_replies_of_session_commands_decode() {
        assert_eq!(
            whole(b"$4\r\na\r\nb\r\n"),
            Value::BulkString(b"a\r\nb".to_vec())
        );
        assert_eq!(whole(b"$0\r\n\r\n"), Value::BulkString(Vec::new()));
        assert_eq!(whole(b"$-1\r\n"), Value::Nil);
        assert_eq!(whole(b":1\r\n"), Value::Int(1));
        assert_eq!(whole(b":-7\r\n"), Value::Int(-7));
        assert_eq!(whole(b"+OK\r\n"), Value::Okay);
        assert_eq!(whole(b"+PONG\r\n"), Value::SimpleString("PONG".to_owned()));
        assert_eq!(
            whole(b"*2\r\n$1\r\nx\r\n:3\r\n"),
            Value::Array(vec![Value::BulkString(b"x".to_vec()), Value::Int(3)])
        );
    }

    #[test]
    fn a_server_error_keeps_its_kind() {
        let error = whole(b"-NOSCRIPT No matching script.\r\n")
            .extract_error()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Server(ServerErrorKind::NoScript));
        let error = whole(b"-READONLY You can't write against a read only replica.\r\n")
            .extract_error()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly));
    }

    #[test]
    fn an_incomplete_reply_is_not_ended() {
        for partial in [
            &b""[..],
            b"$",
            b"$3\r",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b":12",
            b"*2\r\n$1\r\nx\r\n",
        ] {
            assert_eq!(end(partial).unwrap(), None, "{partial:?}");
        }
    }

    #[test]
    fn a_malformed_reply_is_a_protocol_error() {
        for bad in [
            &b"?x\r\n"[..],
            b"$x\r\n",
            b"$-2\r\n",
            b"$1\r\nab\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
        ] {
            let error = end(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Parse, "{bad:?}");
        }
    }

    #[test]
    fn the_end_of_the_first_of_two_replies() {
        assert_eq!(end(b":1\r\n:2\r\n").unwrap(), Some(4));
    }
}

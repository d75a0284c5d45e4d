//! The msgpack session encoding, compatible with msgspec: a top-level map with
//! string keys. Values are sliced out as their exact bytes, never re-encoded.

use std::ops::Range;

use super::DecodeError;
use crate::map::SessionMap;
use crate::value::MAX_DEPTH;

/// Each entry of a record, made by `entry` from its key's and value's byte
/// ranges, after checking the structure: string keys, each once, and
/// well-formed values with nothing after the map.
pub(super) fn index<E>(
    buf: &[u8], mut entry: impl FnMut(Range<usize>, Range<usize>) -> E,
) -> Result<Vec<E>, DecodeError> {
    let mut cursor = Cursor { buf, pos: 0 };
    let len = cursor.map_len()?;
    // Each entry takes at least two bytes, so the capacity is bounded by the
    // input, not by the declared length.
    let mut entries = Vec::with_capacity(len.min(buf.len() / 2));
    let mut keys = UniqueKeys::new();
    for _ in 0..len {
        let key = cursor.str()?;
        keys.add(buf, key.clone())?;
        let start = cursor.pos;
        cursor.skip_value(MAX_DEPTH)?;
        entries.push(entry(key, start..cursor.pos));
    }
    if cursor.pos != buf.len() {
        return Err(DecodeError::TrailingBytes);
    }
    keys.check_rest(buf)?;
    Ok(entries)
}

/// A Python dict never encodes a key twice; a record that does is not one we
/// can rewrite faithfully. The first keys are compared pairwise as they come,
/// on the stack; past those, the rest are sorted once at the end, so a
/// hostile record cannot make this quadratic.
struct UniqueKeys {
    /// The first keys' byte ranges; records are capped far below 4 GiB.
    first: [(u32, u32); UniqueKeys::PAIRWISE],
    first_len: usize,
    /// The keys after those, checked all together at the end.
    rest: Vec<Range<usize>>,
}

impl UniqueKeys {
    const PAIRWISE: usize = 8;

    fn new() -> Self {
        Self {
            first: [(0, 0); Self::PAIRWISE],
            first_len: 0,
            rest: Vec::new(),
        }
    }

    fn add(&mut self, buf: &[u8], key: Range<usize>) -> Result<(), DecodeError> {
        match (u32::try_from(key.start), u32::try_from(key.end)) {
            (Ok(start), Ok(end)) if self.first_len < Self::PAIRWISE => {
                let bytes = &buf[key];
                let seen = &self.first[..self.first_len];
                if seen
                    .iter()
                    .any(|&(s, e)| &buf[s as usize..e as usize] == bytes)
                {
                    return Err(DecodeError::DuplicateKey);
                }
                self.first[self.first_len] = (start, end);
                self.first_len += 1;
            }
            _ => self.rest.push(key),
        }
        Ok(())
    }

    fn check_rest(self, buf: &[u8]) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<&[u8]> = self.first[..self.first_len]
            .iter()
            .map(|&(start, end)| &buf[start as usize..end as usize])
            .chain(self.rest.iter().map(|range| &buf[range.clone()]))
            .collect();
        keys.sort_unstable();
        if keys.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(DecodeError::DuplicateKey);
        }
        Ok(())
    }
}

/// Encodes the map: a map header, then each key and its stored value bytes.
pub fn encode(map: &SessionMap) -> Vec<u8> {
    let size: usize = map.iter_bytes().map(|(k, v)| k.len() + v.len() + 5).sum();
    let mut out = crate::buffer_pool::take(size + 5);
    // Map lengths and key lengths fit u32: a session is capped far below.
    write_len(&mut out, map.len() as u32, 0x80, 16, [0xde, 0xdf]);
    for (key, raw) in map.iter_bytes() {
        write_str_len(&mut out, key.len() as u32);
        out.extend_from_slice(key);
        out.extend_from_slice(raw);
    }
    out
}

/// A str header in msgspec's choice of the smallest form: fixstr, str8,
/// str16 or str32.
fn write_str_len(out: &mut Vec<u8>, len: u32) {
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else {
        write_len(out, len, 0xa0, 32, [0xda, 0xdb]);
    }
}

/// A map or str header: the fix form below `fix_limit`, else the 16-bit or
/// the 32-bit form (`wide` holds their markers).
fn write_len(out: &mut Vec<u8>, len: u32, fix: u8, fix_limit: u32, wide: [u8; 2]) {
    if len < fix_limit {
        out.push(fix | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(wide[0]);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(wide[1]);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// A bounds-checked reader over untrusted bytes. Every length is checked
/// against what remains before anything is allocated.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let slice = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, width: usize) -> Result<usize, DecodeError> {
        let bytes = self.take(width)?;
        Ok(bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    }

    fn map_len(&mut self) -> Result<usize, DecodeError> {
        match self.byte()? {
            b @ 0x80..=0x8f => Ok(usize::from(b & 0x0f)),
            0xde => self.uint(2),
            0xdf => self.uint(4),
            _ => Err(DecodeError::NotAMap),
        }
    }

    /// A string key, as the range of its bytes.
    fn str(&mut self) -> Result<Range<usize>, DecodeError> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.uint(1)?,
            0xda => self.uint(2)?,
            0xdb => self.uint(4)?,
            _ => return Err(DecodeError::NonStringKey),
        };
        let start = self.pos;
        let bytes = self.take(len)?;
        // Session keys are nearly always ASCII, which is checked far faster.
        if !bytes.is_ascii() {
            std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        }
        Ok(start..self.pos)
    }

    /// Steps over one value, checking its structure and nesting depth.
    fn skip_value(&mut self, depth: usize) -> Result<(), DecodeError> {
        let depth = depth.checked_sub(1).ok_or(DecodeError::TooDeep)?;
        let marker = self.byte()?;
        let (skip, items) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * usize::from(marker & 0x0f)),
            0x90..=0x9f => (0, usize::from(marker & 0x0f)),
            0xa0..=0xbf => (usize::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (self.uint(1)?, 0),
            0xc5 | 0xda => (self.uint(2)?, 0),
            0xc6 | 0xdb => (self.uint(4)?, 0),
            0xc7 => (self.uint(1)? + 1, 0),
            0xc8 => (self.uint(2)? + 1, 0),
            0xc9 => (self.uint(4)? + 1, 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, self.uint(2)?),
            0xdd => (0, self.uint(4)?),
            0xde => (0, 2 * self.uint(2)?),
            0xdf => (0, 2usize.saturating_mul(self.uint(4)?)),
            0xc1 => return Err(DecodeError::ReservedMarker),
        };
        if (0xa0..=0xbf).contains(&marker) || (0xd9..=0xdb).contains(&marker) {
            std::str::from_utf8(self.take(skip)?).map_err(|_| DecodeError::InvalidUtf8)?;
        } else {
            self.take(skip)?;
        }
        // Each item needs at least one byte, so a huge declared count fails on
        // the bytes actually present, not on an allocation.
        for _ in 0..items {
            self.skip_value(depth)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The hand-written headers are rmp's (and msgspec's): smallest form first.
    #[test]
    fn length_headers_match_rmp_at_every_boundary() {
        for len in [0, 1, 15, 16, 31, 32, 255, 256, 65_535, 65_536, 1 << 20] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            write_str_len(&mut ours, len);
            rmp::encode::write_str_len(&mut theirs, len).unwrap();
            assert_eq!(ours, theirs, "str of {len}");

            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            write_len(&mut ours, len, 0x80, 16, [0xde, 0xdf]);
            rmp::encode::write_map_len(&mut theirs, len).unwrap();
            assert_eq!(ours, theirs, "map of {len}");
        }
    }
}

//! The on-disk record: a fixed header with the expiry, the payload, and a
//! SHA-1 of the payload. The table is in the [module docs](super).
//!
//! The expiry sits outside the checksum so that a touch is one eight-byte
//! write in place; everything else is checked on every read, and a record
//! that fails any check is a miss.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

pub(super) const MAGIC: &[u8; 7] = b"RSESS1\0";
pub(super) const EXPIRY_OFFSET: usize = MAGIC.len();
pub(super) const LEN_OFFSET: usize = EXPIRY_OFFSET + 8;
pub(super) const HEADER_LEN: usize = LEN_OFFSET + 8;
pub(super) const CHECKSUM_LEN: usize = 20;

/// What a read found in a session file.
pub(super) enum Decoded<'a> {
    Live { expiry: u64, payload: &'a [u8] },
    Expired,
    Corrupt(&'static str),
}

/// The size of the largest record a payload of at most `max_payload` bytes
/// gives: reads stop there, so a planted or damaged file cannot make the store
/// allocate more than one session's worth of memory.
pub(super) fn max_record_len(max_payload: usize) -> u64 {
    let framing = (HEADER_LEN + CHECKSUM_LEN) as u64;
    u64::try_from(max_payload)
        .unwrap_or(u64::MAX)
        .saturating_add(framing)
}

pub(super) fn encode(expiry: u64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + CHECKSUM_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&expiry.to_be_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&Sha1::digest(payload));
    bytes
}

pub(super) fn decode(bytes: &[u8], now: u64) -> Decoded<'_> {
    let Some(expiry) = parse_header(bytes) else {
        return Decoded::Corrupt("bad header");
    };
    let Some(len) = bytes.get(LEN_OFFSET..HEADER_LEN).and_then(be_u64) else {
        return Decoded::Corrupt("bad header");
    };
    let expected = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(HEADER_LEN + CHECKSUM_LEN));
    if expected != Some(bytes.len()) {
        return Decoded::Corrupt("length mismatch");
    }
    let (payload, checksum) = bytes[HEADER_LEN..].split_at(bytes.len() - HEADER_LEN - CHECKSUM_LEN);
    if Sha1::digest(payload).as_slice() != checksum {
        return Decoded::Corrupt("checksum mismatch");
    }
    if is_expired(expiry, now) {
        Decoded::Expired
    } else {
        Decoded::Live { expiry, payload }
    }
}

/// The expiry, if `bytes` starts with a well-formed header.
fn parse_header(bytes: &[u8]) -> Option<u64> {
    if bytes.get(..MAGIC.len())? != MAGIC {
        return None;
    }
    be_u64(bytes.get(EXPIRY_OFFSET..LEN_OFFSET)?)
}

/// Reads the header from the start of `file`; `None` when it is not one.
pub(super) fn read_header(file: &mut File) -> io::Result<Option<u64>> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match file.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(parse_header(&header[..filled]))
}

pub(super) fn write_expiry(file: &mut File, expiry: u64) -> io::Result<()> {
    file.seek(SeekFrom::Start(EXPIRY_OFFSET as u64))?;
    // One small write in place; not synced, since losing a touch in a crash
    // only makes the session expire earlier.
    file.write_all(&expiry.to_be_bytes())
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// An expiry of 0 means "never".
pub(super) fn is_expired(expiry: u64, now: u64) -> bool {
    expiry != 0 && expiry <= now
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds `ttl` from now, rounded up so a session lives at least its ttl.
pub(super) fn expiry_after(ttl: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let at = now.saturating_add(ttl);
    let secs = at
        .as_secs()
        .saturating_add(u64::from(at.subsec_nanos() > 0));
    // 0 means "never" in the header; a time this late cannot be meant.
    secs.max(1)
}

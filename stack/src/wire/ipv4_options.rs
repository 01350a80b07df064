//! The IPv4 options a router acts on (RFC 791 §3.1; RFC 1812 §5.2.4,
//! §5.3.13): Record Route and Internet Timestamp, which it fills in, and
//! the source routes, which it finds so the caller can refuse them (RFC
//! 7126 §4.3 and §4.4 advise dropping those by default).
//!
//! Both functions take the options of a header that passed
//! [`check_options`](super::ipv4::check_options).

use super::ipv4::HEADER_LEN;
use std::net::Ipv4Addr;

/// Option types (RFC 791 §3.1; IANA's IP Option Numbers).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OptionKind {
    End,
    Nop,
    RecordRoute,
    Timestamp,
    LooseSourceRoute,
    StrictSourceRoute,
    Other(u8),
}

impl From<u8> for OptionKind {
    fn from(v: u8) -> Self {
        match v {
            0 => OptionKind::End,
            1 => OptionKind::Nop,
            7 => OptionKind::RecordRoute,
            68 => OptionKind::Timestamp,
            131 => OptionKind::LooseSourceRoute,
            137 => OptionKind::StrictSourceRoute,
            o => OptionKind::Other(o),
        }
    }
}

/// Byte offsets within an option of those kinds.
pub mod field {
    pub const KIND: usize = 0;
    pub const LENGTH: usize = 1;
    /// Where the next entry goes, counted from 1 at the option's type.
    pub const POINTER: usize = 2;
    /// Timestamp: overflow count (high nibble) and flag (low nibble).
    pub const OVERFLOW_FLAG: usize = 3;
}

/// The smallest pointer of Record Route (its data starts at the 4th byte)
/// and of Timestamp (the 5th).
pub const RECORD_ROUTE_FIRST: usize = 4;
pub const TIMESTAMP_FIRST: usize = 5;
/// The overflow count's largest value: one more is an error (RFC 791).
const OVERFLOW_MAX: u8 = 15;
/// Set in a timestamp that is not milliseconds since midnight UT.
pub const NONSTANDARD_TIME: u32 = 1 << 31;

/// What a Timestamp option asks to be recorded (its flag, RFC 791).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimestampFlag {
    /// Timestamps only.
    Only,
    /// Each timestamp preceded by the recorder's address.
    WithAddress,
    /// Addresses given by the sender; only the one named records.
    Prespecified,
}

impl TimestampFlag {
    fn from_bits(b: u8) -> Option<Self> {
        match b & 0x0f {
            0 => Some(TimestampFlag::Only),
            1 => Some(TimestampFlag::WithAddress),
            3 => Some(TimestampFlag::Prespecified),
            _ => None,
        }
    }

    /// Bytes of one entry.
    fn entry_len(self) -> usize {
        match self {
            TimestampFlag::Only => 4,
            TimestampFlag::WithAddress | TimestampFlag::Prespecified => 8,
        }
    }
}

/// What a header's options hold, for the router's policy.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Any option but End of Option List and No-Operation.
    pub any: bool,
    /// Loose or Strict Source and Record Route.
    pub source_route: bool,
}

/// Walks the options: yields each one's offset, type and length, and
/// stops at End of Option List or at the first that does not fit.
fn walk(options: &[u8]) -> impl Iterator<Item = (usize, OptionKind, usize)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let kind = OptionKind::from(*options.get(at)?);
        let len = match kind {
            OptionKind::End => return None,
            OptionKind::Nop => 1,
            _ => usize::from(*options.get(at + field::LENGTH)?),
        };
        if len == 0 || at + len > options.len() {
            return None;
        }
        let here = at;
        at += len;
        Some((here, kind, len))
    })
}

/// Checks the fields a router writes (RFC 791 §3.1): Record Route and
/// Timestamp each at most once, with a legal pointer, either room for a
/// whole entry or none at all, a known timestamp flag, and an overflow
/// count that can take one more. Returns the offset, from the start of
/// the header, of the first bad byte (Parameter Problem's pointer).
pub fn inspect(options: &[u8]) -> Result<Found, u8> {
    let mut found = Found::default();
    let (mut record_route, mut timestamp) = (false, false);
    for (at, kind, len) in walk(options) {
        let byte = |i: usize| (HEADER_LEN + at + i) as u8;
        let o = options.get(at..at + len).unwrap_or_default();
        let pointer = usize::from(o.get(field::POINTER).copied().unwrap_or(0));
        match kind {
            OptionKind::End | OptionKind::Nop => continue,
            OptionKind::RecordRoute => {
                if std::mem::replace(&mut record_route, true) {
                    return Err(byte(field::KIND)); // "appears at most once"
                }
                if len <= field::POINTER {
                    return Err(byte(field::LENGTH));
                }
                // Room for part of an address only: "in error" (RFC 791).
                if pointer < RECORD_ROUTE_FIRST || (pointer <= len && pointer + 3 > len) {
                    return Err(byte(field::POINTER));
                }
            }
            OptionKind::Timestamp => {
                if std::mem::replace(&mut timestamp, true) {
                    return Err(byte(field::KIND));
                }
                if len <= field::OVERFLOW_FLAG {
                    return Err(byte(field::LENGTH));
                }
                let oflw_flag = o.get(field::OVERFLOW_FLAG).copied().unwrap_or(0);
                let Some(flag) = TimestampFlag::from_bits(oflw_flag) else {
                    return Err(byte(field::OVERFLOW_FLAG));
                };
                if pointer < TIMESTAMP_FIRST || (pointer <= len && pointer + flag.entry_len() - 1 > len) {
                    return Err(byte(field::POINTER));
                }
                // Full, and the overflow count would overflow (RFC 791).
                if pointer > len && oflw_flag >> 4 == OVERFLOW_MAX {
                    return Err(byte(field::OVERFLOW_FLAG));
                }
            }
            OptionKind::LooseSourceRoute | OptionKind::StrictSourceRoute => found.source_route = true,
            OptionKind::Other(_) => {}
        }
        found.any = true;
    }
    Ok(found)
}

/// Who records, and when: the address a router records is the one it
/// has on the interface the packet leaves by (RFC 791: "as known in the
/// environment into which this datagram is being forwarded").
#[derive(Copy, Clone, Debug)]
pub struct Recorder {
    pub addr: Ipv4Addr,
    /// Milliseconds since midnight UT, or a time with
    /// [`NONSTANDARD_TIME`] set.
    pub time: u32,
}

/// Fills in Record Route and Timestamp as `me` (RFC 791 §3.1): the next
/// free entry gets the address and time, and the pointer moves on; a full
/// Timestamp counts one more overflow. A prespecified timestamp is
/// recorded only when the next address is one `own` says is ours.
/// Returns whether the options changed (the header checksum must be
/// filled again). Options that [`inspect`] refused are left alone.
pub fn record(options: &mut [u8], me: Recorder, own: impl Fn(Ipv4Addr) -> bool) -> bool {
    let mut spans = [(0usize, OptionKind::End, 0usize); 2];
    let mut n = 0;
    for (at, kind, len) in walk(options) {
        if matches!(kind, OptionKind::RecordRoute | OptionKind::Timestamp) {
            if let Some(s) = spans.get_mut(n) {
                *s = (at, kind, len);
                n += 1;
            }
        }
    }
    let mut changed = false;
    for &(at, kind, len) in spans.iter().take(n) {
        let Some(o) = options.get_mut(at..at + len) else { continue };
        changed |= match kind {
            OptionKind::RecordRoute => record_route(o, me.addr),
            _ => timestamp(o, me, &own),
        };
    }
    changed
}

fn record_route(o: &mut [u8], addr: Ipv4Addr) -> bool {
    let pointer = usize::from(o.get(field::POINTER).copied().unwrap_or(0));
    if pointer < RECORD_ROUTE_FIRST {
        return false;
    }
    // Full: forwarded without an entry (RFC 791).
    let Some(slot) = o.get_mut(pointer - 1..pointer + 3) else { return false };
    slot.copy_from_slice(&addr.octets());
    o[field::POINTER] = (pointer + 4) as u8;
    true
}

fn timestamp(o: &mut [u8], me: Recorder, own: impl Fn(Ipv4Addr) -> bool) -> bool {
    let pointer = usize::from(o.get(field::POINTER).copied().unwrap_or(0));
    let Some(&oflw_flag) = o.get(field::OVERFLOW_FLAG) else { return false };
    let Some(flag) = TimestampFlag::from_bits(oflw_flag) else { return false };
    if pointer < TIMESTAMP_FIRST {
        return false;
    }
    let Some(slot) = o.get_mut(pointer - 1..pointer - 1 + flag.entry_len()) else {
        // Full: one more overflow, unless that overflows (refused before).
        let overflow = oflw_flag >> 4;
        if overflow >= OVERFLOW_MAX {
            return false;
        }
        o[field::OVERFLOW_FLAG] = (overflow + 1) << 4 | oflw_flag & 0x0f;
        return true;
    };
    let time = me.time.to_be_bytes();
    match flag {
        TimestampFlag::Only => slot.copy_from_slice(&time),
        TimestampFlag::WithAddress => {
            slot[..4].copy_from_slice(&me.addr.octets());
            slot[4..].copy_from_slice(&time);
        }
        TimestampFlag::Prespecified => {
            let named = Ipv4Addr::new(slot[0], slot[1], slot[2], slot[3]);
            if !own(named) {
                return false;
            }
            slot[4..].copy_from_slice(&time);
        }
    }
    o[field::POINTER] = (pointer + flag.entry_len()) as u8;
    true
}

/// Milliseconds since midnight UT (RFC 791's timestamp) for a time given
/// in milliseconds since the Unix epoch.
pub fn ms_since_midnight(unix_ms: u64) -> u32 {
    (unix_ms % 86_400_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const AT: Recorder = Recorder { addr: ME, time: 0x0102_0304 };

    fn none(_: Ipv4Addr) -> bool {
        false
    }

    #[test]
    fn record_route_fills_the_next_entry_then_stays_full_rfc791() {
        let mut o = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(inspect(&o), Ok(Found { any: true, source_route: false }));
        assert!(record(&mut o, AT, none));
        assert_eq!(o, [7, 11, 8, 192, 0, 2, 1, 0, 0, 0, 0, 0]);
        assert!(record(&mut o, AT, none));
        assert_eq!(o, [7, 11, 12, 192, 0, 2, 1, 192, 0, 2, 1, 0]);
        // Full (pointer past the length): forwarded as it is.
        assert_eq!(inspect(&o), Ok(Found { any: true, source_route: false }));
        assert!(!record(&mut o, AT, none));
        assert_eq!(o[2], 12);
    }

    #[test]
    fn malformed_record_route_and_timestamp_point_at_the_bad_byte() {
        // Pointer below 4; room for part of an address; twice.
        assert_eq!(inspect(&[7, 7, 3, 0, 0, 0, 0, 0]), Err(22));
        assert_eq!(inspect(&[7, 6, 4, 0, 0, 0, 0, 0]), Err(22));
        assert_eq!(inspect(&[7, 3, 4, 7, 3, 4, 0, 0]), Err(23));
        // Timestamp: flag 2; pointer below 5; half an entry; overflow full.
        assert_eq!(inspect(&[68, 8, 5, 2, 0, 0, 0, 0]), Err(23));
        assert_eq!(inspect(&[68, 8, 4, 0, 0, 0, 0, 0]), Err(22));
        assert_eq!(inspect(&[68, 8, 5, 1, 0, 0, 0, 0]), Err(22));
        assert_eq!(inspect(&[68, 8, 9, 0xf0, 0, 0, 0, 0]), Err(23));
        assert_eq!(inspect(&[7, 2, 0, 0]), Err(21));
    }

    #[test]
    fn timestamps_of_each_flag_rfc791() {
        let mut only = [68, 8, 5, 0, 0, 0, 0, 0];
        assert!(record(&mut only, AT, none));
        assert_eq!(only, [68, 8, 9, 0, 1, 2, 3, 4]);
        // Full: the overflow count goes up.
        assert!(record(&mut only, AT, none));
        assert_eq!(only[3], 0x10);

        let mut with = [68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(record(&mut with, AT, none));
        assert_eq!(with, [68, 12, 13, 1, 192, 0, 2, 1, 1, 2, 3, 4]);

        // Prespecified: only the one named records.
        let mut pre = [68, 12, 5, 3, 192, 0, 2, 1, 0, 0, 0, 0];
        assert!(!record(&mut pre, AT, none));
        assert_eq!(pre[2], 5);
        assert!(record(&mut pre, AT, |a| a == ME));
        assert_eq!(pre, [68, 12, 13, 3, 192, 0, 2, 1, 1, 2, 3, 4]);
    }

    #[test]
    fn source_routes_and_others_are_found() {
        let lsrr = [1, 131, 7, 4, 10, 0, 0, 1, 0];
        assert_eq!(inspect(&lsrr), Ok(Found { any: true, source_route: true }));
        assert_eq!(inspect(&[137, 3, 4, 0]), Ok(Found { any: true, source_route: true }));
        assert_eq!(inspect(&[148, 4, 0, 0]), Ok(Found { any: true, source_route: false }));
        assert_eq!(inspect(&[1, 1, 1, 0]), Ok(Found::default()));
    }

    #[test]
    fn both_in_one_header_are_recorded() {
        let mut o = [7, 7, 4, 0, 0, 0, 0, 68, 8, 5, 0, 0, 0, 0, 0, 0];
        assert!(record(&mut o, AT, none));
        assert_eq!(o, [7, 7, 8, 192, 0, 2, 1, 68, 8, 9, 0, 1, 2, 3, 4, 0]);
    }

    #[test]
    fn midnight() {
        assert_eq!(ms_since_midnight(86_400_000 * 20_000 + 1234), 1234);
    }
}

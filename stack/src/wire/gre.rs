//! GRE (RFC 2784) with the key and sequence number extensions (RFC 2890).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |C| |K|S| Reserved0       | Ver |         Protocol Type         |
//! |      Checksum (optional)      |       Reserved1 (optional)    |
//! |                         Key (optional)                        |
//! |                 Sequence Number (optional)                    |
//! ```

use super::{be16, be32, checksum, put16, Error, Result};

/// The fixed part.
pub const HEADER_LEN: usize = 4;

pub mod field {
    pub const FLAGS: usize = 0;
    pub const PROTOCOL: usize = 2;
}

/// Flag bits of the first 16-bit word.
pub mod flags {
    pub const CHECKSUM: u16 = 0x8000;
    pub const KEY: u16 = 0x2000;
    pub const SEQUENCE: u16 = 0x1000;
    /// Reserved0 bits 1..=5 (RFC 1701's routing, strict source route and
    /// recursion): a receiver discards packets with any set (RFC 2784 §2.3).
    pub const RFC1701: u16 = 0x4000 | 0x0f80;
    pub const VERSION: u16 = 0x0007;
}

/// A received GRE header, its fields checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GreRepr {
    /// EtherType of the payload.
    pub protocol: u16,
    pub key: Option<u32>,
    /// Header length: 4, plus 4 per optional field present.
    pub len: usize,
}

impl GreRepr {
    /// Parses the header at the start of `b` (the GRE header and its
    /// payload: a checksum, if present, covers both).
    pub fn parse(b: &[u8]) -> Result<GreRepr> {
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let f = be16(b, field::FLAGS);
        // RFC 2784 §2.3.1: version 0 only; RFC 1701's fields are refused.
        if f & (flags::VERSION | flags::RFC1701) != 0 {
            return Err(Error::Malformed);
        }
        let mut len = HEADER_LEN;
        let csum = f & flags::CHECKSUM != 0;
        if csum {
            len += 4;
        }
        let key_at = len;
        if f & flags::KEY != 0 {
            len += 4;
        }
        if f & flags::SEQUENCE != 0 {
            len += 4; // RFC 2890 §2.2: read, not acted on (no reordering)
        }
        if b.len() < len {
            return Err(Error::Truncated);
        }
        if csum && checksum::checksum(b) != 0 {
            return Err(Error::Checksum);
        }
        let key = (f & flags::KEY != 0).then(|| be32(b, key_at));
        Ok(GreRepr { protocol: be16(b, field::PROTOCOL), key, len })
    }

    /// The length of a header we send (no checksum, no sequence).
    pub const fn emitted_len(key: Option<u32>) -> usize {
        if key.is_some() {
            HEADER_LEN + 4
        } else {
            HEADER_LEN
        }
    }

    /// The key of a header as we send it ([`GreRepr::emit`]: no checksum,
    /// so no checksum to verify over a payload an ICMP error quotes only
    /// in part): `Some(key)`, or None if `b` is no such header or is cut
    /// before its key.
    pub fn quoted_key(b: &[u8]) -> Option<Option<u32>> {
        let f = be16(b.get(..HEADER_LEN)?, field::FLAGS);
        if f & (flags::CHECKSUM | flags::VERSION | flags::RFC1701) != 0 {
            return None;
        }
        if f & flags::KEY == 0 {
            return Some(None);
        }
        b.get(HEADER_LEN..HEADER_LEN + 4).map(|_| Some(be32(b, HEADER_LEN)))
    }

    /// Writes a header for `protocol` with `key` into the start of `b`.
    pub fn emit(b: &mut [u8], protocol: u16, key: Option<u32>) {
        if b.len() < Self::emitted_len(key) {
            return;
        }
        put16(b, field::FLAGS, if key.is_some() { flags::KEY } else { 0 });
        put16(b, field::PROTOCOL, protocol);
        if let Some(k) = key {
            b[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&k.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_quoted_header_of_ours_gives_its_key_and_others_none() {
        use super::GreRepr;
        let mut b = [0u8; 8];
        GreRepr::emit(&mut b, 0x0800, Some(7));
        assert_eq!(GreRepr::quoted_key(&b), Some(Some(7)));
        assert_eq!(GreRepr::quoted_key(&b[..6]), None, "cut before its key");
        GreRepr::emit(&mut b, 0x0800, None);
        assert_eq!(GreRepr::quoted_key(&b[..4]), Some(None));
        b[0] = 0x80; // a checksum: not a header we send
        assert_eq!(GreRepr::quoted_key(&b), None);
        assert_eq!(GreRepr::quoted_key(&b[..3]), None);
    }

    use super::*;

    #[test]
    fn a_header_round_trips_with_and_without_key() {
        let mut b = [0u8; 8];
        GreRepr::emit(&mut b, 0x0800, Some(42));
        assert_eq!(b, [0x20, 0, 0x08, 0, 0, 0, 0, 42]);
        assert_eq!(GreRepr::parse(&b), Ok(GreRepr { protocol: 0x0800, key: Some(42), len: 8 }));
        GreRepr::emit(&mut b, 0x86dd, None);
        assert_eq!(GreRepr::parse(&b[..4]), Ok(GreRepr { protocol: 0x86dd, key: None, len: 4 }));
    }

    #[test]
    fn checksum_sequence_version_and_rfc1701_fields() {
        // C and S set: checksum over header and payload, sequence skipped.
        let mut b = vec![0x90, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0x45, 0];
        let c = checksum::checksum(&b);
        b[4..6].copy_from_slice(&c.to_be_bytes());
        assert_eq!(GreRepr::parse(&b).map(|g| g.len), Ok(12));
        b[13] = 1;
        assert_eq!(GreRepr::parse(&b), Err(Error::Checksum));
        assert_eq!(GreRepr::parse(&[0, 1, 8, 0]), Err(Error::Malformed), "version 1 (PPTP)");
        assert_eq!(GreRepr::parse(&[0x40, 0, 8, 0]), Err(Error::Malformed), "RFC 1701 routing");
        assert_eq!(GreRepr::parse(&[0x20, 0, 8, 0, 0]), Err(Error::Truncated), "key cut short");
    }
}

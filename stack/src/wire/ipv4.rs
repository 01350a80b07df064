//! IPv4 headers (RFC 791), validated as RFC 1812 §5.2.2 asks of a router.

use super::checksum;
use super::ip::protocol;
use super::{be16, put16, Error, Result};
use std::net::Ipv4Addr;

/// Byte offsets of the header's fields.
pub mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

/// Bits of the flags and fragment offset word ([`field::FLG_OFF`]).
pub const DONT_FRAGMENT: u16 = 0x4000;
pub const MORE_FRAGMENTS: u16 = 0x2000;
/// The fragment offset, in 8-byte units.
pub const OFFSET_MASK: u16 = 0x1fff;
/// Set in any fragment: MF, or a nonzero offset (RFC 791).
pub const FRAGMENT_BITS: u16 = MORE_FRAGMENTS | OFFSET_MASK;

/// The header length the first byte of `ip` declares (IHL × 4; 0 for
/// no bytes), unchecked.
#[inline(always)]
pub fn ihl(ip: &[u8]) -> usize {
    usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4
}

/// IP protocol numbers (IANA) the gateway knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    Icmp,
    Tcp,
    Udp,
    Unknown(u8),
}

impl From<u8> for Protocol {
    fn from(v: u8) -> Self {
        match v {
            protocol::ICMP => Protocol::Icmp,
            protocol::TCP => Protocol::Tcp,
            protocol::UDP => Protocol::Udp,
            o => Protocol::Unknown(o),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(v: Protocol) -> u8 {
        match v {
            Protocol::Icmp => protocol::ICMP,
            Protocol::Tcp => protocol::TCP,
            Protocol::Udp => protocol::UDP,
            Protocol::Unknown(o) => o,
        }
    }
}

/// A view of an IPv4 packet.
///
/// `new_checked` guarantees the buffer holds the full header the IHL
/// declares (so options are readable) and that the total length fits.
#[derive(Debug)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps the buffer without checks; accessors may panic on short input.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after the length checks of RFC 1812 §5.2.2: at least
    /// 20 bytes, version 4, IHL ≥ 5, header within the buffer, total length
    /// at least the header and at most the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv4Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// The §5.2.2 length checks, in order, each its own error.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::Malformed);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN || hl > b.len() {
            return Err(Error::Malformed);
        }
        let tl = usize::from(self.total_len());
        if tl < hl || tl > b.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & DONT_FRAGMENT != 0
    }
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & MORE_FRAGMENTS != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF) & OFFSET_MASK) << 3
    }
    /// True for any fragment (MF set or a nonzero offset).
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & FRAGMENT_BITS != 0
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> Protocol {
        self.buffer.as_ref()[field::PROTOCOL].into()
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn src(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    pub fn dst(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }
    /// The options bytes (empty for IHL 5).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }
    /// The payload, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_ver_ihl(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::TOS] = v;
    }
    pub fn set_total_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v);
    }
    pub fn set_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::IDENT, v);
    }
    /// Sets DF, MF and the offset (in bytes, a multiple of 8).
    pub fn set_flags_offset(&mut self, df: bool, mf: bool, offset: u16) {
        let v = (u16::from(df) << 14) | (u16::from(mf) << 13) | ((offset >> 3) & 0x1fff);
        put16(self.buffer.as_mut(), field::FLG_OFF, v);
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }
    pub fn set_protocol(&mut self, p: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.into();
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
    /// Recomputes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..hl]);
        self.set_checksum(c);
    }
    /// Decrements the TTL and patches the checksum (RFC 1624), as every
    /// forwarded packet needs (RFC 1812 §5.3.1).
    #[inline(always)]
    pub fn decrement_ttl(&mut self) {
        let b = self.buffer.as_mut();
        b[field::TTL] = b[field::TTL].wrapping_sub(1);
        let (c, d) = (field::CHECKSUM, field::CHECKSUM + 1);
        let hc = checksum::update_ttl(u16::from_ne_bytes([b[c], b[d]]));
        [b[c], b[d]] = hc.to_ne_bytes();
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[hl..tl]
    }
}

/// Checks the option list's TLV structure (RFC 791 §3.1): every option
/// fits, and lengths are at least 2. Returns the offset, from the start
/// of the header, of the first bad byte, for Parameter Problem's pointer.
pub fn check_options(options: &[u8]) -> core::result::Result<(), u8> {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => return Ok(()), // end of option list
            1 => i += 1,        // no-operation
            _ => {
                let len = match options.get(i + 1) {
                    Some(&l) => usize::from(l),
                    None => return Err((HEADER_LEN + i) as u8),
                };
                if len < 2 || i + len > options.len() {
                    return Err((HEADER_LEN + i + 1) as u8);
                }
                i += len;
            }
        }
    }
    Ok(())
}

/// The options a later fragment carries (RFC 791 §3.1: those whose type
/// has the copied flag, 0x80), written to `out` and padded with End of
/// Option List to a multiple of 4; returns their length. `options` must
/// have passed [`check_options`].
pub fn copied_options(options: &[u8], out: &mut [u8; MAX_HEADER_LEN - HEADER_LEN]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        let len = match kind {
            0 => break,
            1 => 1,
            _ => usize::from(options.get(i + 1).copied().unwrap_or(0)).max(2),
        };
        if kind & 0x80 != 0 {
            if let (Some(src), Some(dst)) = (options.get(i..i + len), out.get_mut(n..n + len)) {
                dst.copy_from_slice(src);
                n += len;
            }
        }
        i += len;
    }
    let padded = n.div_ceil(4) * 4;
    if let Some(pad) = out.get_mut(n..padded) {
        pad.fill(0);
    }
    padded
}

/// True for addresses that are never a valid source (RFC 1812 §5.3.7,
/// RFC 6890): 0/8 (0.0.0.0 included: a router should not forward it, and
/// the gateway serves nothing, DHCP included, that a host without an
/// address would ask), loopback, multicast, class E and broadcast.
pub fn is_martian_source(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 0 || o[0] == 127 || o[0] >= 224
}

/// False for most unicast: true for an address whose first octet is 0,
/// 127 or 224 and above, where every address the forwarding checks
/// refuse as a source or a destination lies (martians, broadcast,
/// multicast; RFC 1812 §5.3.7), and a few they take. One test of each
/// address spares ordinary unicast the rest.
#[inline(always)]
pub fn is_unusual(a: u32) -> bool {
    UNUSUAL[(a >> 24) as usize]
}

/// [`is_unusual`] of either address, with one branch.
#[inline(always)]
pub fn either_unusual(a: u32, b: u32) -> bool {
    is_unusual(a) | is_unusual(b)
}

/// The first octets [`is_unusual`] names: 0, 127, 224-255. A byte each:
/// one load a test, where a bitmap takes a load, a shift and a bit test.
static UNUSUAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut o = 0;
    while o < 256 {
        t[o] = o == 0 || o == 127 || o >= 224;
        o += 1;
    }
    t
};

/// True for destinations a router never forwards (RFC 1812 §5.3.7):
/// 0/8, loopback and class E (240/4, broadcast excluded).
pub fn is_martian_destination(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 0 || o[0] == 127 || (o[0] >= 240 && !a.is_broadcast())
}

/// The meaning of an IPv4 header (options are carried, not interpreted).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: Protocol,
    pub payload_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Parses a header that passed `new_checked`, verifying the checksum
    /// and the options' structure. Fragments parse: the caller decides.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        check_options(p.options()).map_err(|_| Error::Malformed)?;
        Ok(Ipv4Repr {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()) - p.header_len(),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        })
    }

    /// Writes a 20-byte header (no options) with its checksum.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv4Packet<T>) {
        p.set_ver_ihl(HEADER_LEN);
        p.set_tos(self.tos);
        p.set_total_len((HEADER_LEN + self.payload_len) as u16);
        p.set_ident(self.ident);
        p.set_flags_offset(self.dont_frag, false, 0);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src(self.src);
        p.set_dst(self.dst);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ICMP echo request header from `ping -c1 203.0.113.2` on Linux, 84 bytes total.
    const HEADER: [u8; 20] =
        [0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 10, 0, 1, 2, 203, 0, 113, 2];

    fn packet() -> Vec<u8> {
        let mut b = HEADER.to_vec();
        b.resize(84, 0xab);
        let c = checksum::checksum(&b[..20]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        b
    }

    #[test]
    fn parse_fields() {
        let b = packet();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.src, Ipv4Addr::new(10, 0, 1, 2));
        assert_eq!(r.dst, Ipv4Addr::new(203, 0, 113, 2));
        assert_eq!(r.protocol, Protocol::Icmp);
        assert_eq!(r.payload_len, 64);
        assert_eq!(r.ttl, 64);
        assert!(r.dont_frag);
        assert!(!p.is_fragment());
        assert_eq!(p.payload().len(), 64);
    }

    #[test]
    fn emit_round_trip() {
        let b = packet();
        let r = Ipv4Repr::parse(&Ipv4Packet::new_checked(&b[..]).unwrap()).unwrap();
        let mut out = vec![0u8; 84];
        out[20..].copy_from_slice(&b[20..]);
        r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, b);
    }

    #[test]
    fn rfc1812_5_2_2_length_checks() {
        let b = packet();
        // Shorter than a header.
        assert_eq!(Ipv4Packet::new_checked(&b[..19]).unwrap_err(), Error::Truncated);
        // Version 6.
        let mut v = b.clone();
        v[0] = 0x65;
        assert_eq!(Ipv4Packet::new_checked(&v[..]).unwrap_err(), Error::Malformed);
        // IHL 4 and IHL beyond the buffer.
        for ihl in [0x44u8, 0x4f] {
            let mut h = b.clone();
            h[0] = ihl;
            assert_eq!(Ipv4Packet::new_checked(&h[..24]).unwrap_err(), Error::Malformed);
        }
        // Total length beyond the buffer, and below the header.
        assert_eq!(Ipv4Packet::new_checked(&b[..83]).unwrap_err(), Error::Truncated);
        let mut t = b.clone();
        t[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(Ipv4Packet::new_checked(&t[..]).unwrap_err(), Error::Truncated);
        // Ethernet padding beyond the total length is fine.
        let mut pad = b.clone();
        pad.extend_from_slice(&[0; 6]);
        assert_eq!(Ipv4Packet::new_checked(&pad[..]).unwrap().payload().len(), 64);
    }

    #[test]
    fn bad_checksum_rejected() {
        let mut b = packet();
        b[10] ^= 0xff;
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p).unwrap_err(), Error::Checksum);
    }

    /// Every address the source and destination checks refuse is
    /// `is_unusual`, whatever its first octet and the rest.
    #[test]
    fn every_address_the_checks_refuse_is_unusual() {
        for first in 0..=255u32 {
            for low in [0, 1, 0xff, 0xff_ffff] {
                let a = first << 24 | low;
                let ip = Ipv4Addr::from(a);
                let refused =
                    is_martian_source(ip) || ip.is_broadcast() || ip.is_multicast() || is_martian_destination(ip);
                assert!(!refused || is_unusual(a), "{ip}");
            }
        }
        assert!(
            !is_unusual(u32::from(Ipv4Addr::new(10, 0, 0, 1))) && !is_unusual(u32::from(Ipv4Addr::new(223, 1, 1, 1)))
        );
        let (ok, odd) = (u32::from(Ipv4Addr::new(10, 0, 0, 1)), u32::from(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(!either_unusual(ok, ok) && either_unusual(ok, odd) && either_unusual(odd, ok));
    }

    #[test]
    fn decrement_ttl_keeps_checksum_valid() {
        let mut b = packet();
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        p.decrement_ttl();
        assert_eq!(p.ttl(), 63);
        assert!(p.verify_checksum());
    }

    #[test]
    fn options_structure() {
        assert_eq!(check_options(&[]), Ok(()));
        assert_eq!(check_options(&[1, 1, 1, 0]), Ok(()));
        // Record route, length 7, pointer 4, one slot.
        assert_eq!(check_options(&[7, 7, 4, 0, 0, 0, 0, 0]), Ok(()));
        // Length byte missing, zero length, overrunning length.
        assert_eq!(check_options(&[1, 1, 1, 7]), Err(23));
        assert_eq!(check_options(&[7, 0, 0, 0]), Err(21));
        assert_eq!(check_options(&[7, 9, 4, 0]), Err(21));
    }

    #[test]
    fn header_with_options_parses() {
        let mut b = vec![0x46, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        b.extend_from_slice(&[1, 1, 1, 0]); // NOPs and EOL
        b.extend_from_slice(&[0; 4]);
        let c = checksum::checksum(&b[..24]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(Ipv4Repr::parse(&p).unwrap().payload_len, 4);
        b[20] = 7; // now a malformed option
        let c = checksum::update16(be16(&b, 10), 0x0101, 0x0701);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn later_fragments_carry_only_copied_options_rfc791_3_1() {
        let mut out = [0xaa; 40];
        // Router Alert (0x94, copied), NOP, Record Route (7, not copied), EOL.
        let opts = [0x94, 4, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(check_options(&opts), Ok(()));
        assert_eq!(copied_options(&opts, &mut out), 4);
        assert_eq!(out[..4], [0x94, 4, 0, 0]);
        // Security (0x82, length 11, copied): padded to 12.
        let sec = [0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(copied_options(&sec, &mut out), 12);
        assert_eq!(out[11], 0, "padded with End of Option List");
        assert_eq!(copied_options(&[7, 7, 4, 0, 0, 0, 0, 0], &mut out), 0);
    }

    #[test]
    fn martians() {
        assert!(is_martian_source(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(is_martian_source(Ipv4Addr::new(224, 0, 0, 1)));
        assert!(is_martian_source(Ipv4Addr::BROADCAST));
        assert!(is_martian_source(Ipv4Addr::new(0, 1, 2, 3)));
        assert!(is_martian_source(Ipv4Addr::UNSPECIFIED), "RFC 1812 §5.3.7: not forwarded");
        assert!(!is_martian_source(Ipv4Addr::new(10, 0, 1, 2)));
        assert!(is_martian_destination(Ipv4Addr::new(0, 0, 0, 1)));
        assert!(is_martian_destination(Ipv4Addr::new(240, 0, 0, 1)));
        assert!(!is_martian_destination(Ipv4Addr::BROADCAST));
        assert!(!is_martian_destination(Ipv4Addr::new(203, 0, 113, 2)));
    }
}

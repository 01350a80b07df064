//! IPv6 headers (RFC 8200) and their extension-header chains.
//!
//! [`Ipv6Packet`] is the fixed 40-byte header; [`walk_chain`] follows the
//! extension headers behind it to the upper-layer header, with Linux's
//! limits: at most [`MAX_EXT_HEADERS`] headers and [`MAX_OPTIONS`]
//! non-padding options per options header, so a crafted chain costs a
//! bounded amount of work. Nothing here allocates or panics.

use super::ip::protocol;
use super::{be16, be32, checksum, put16, Error, Result};
use std::net::Ipv6Addr;

/// Byte offsets of the header's fields.
pub mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// The smallest link MTU IPv6 allows (RFC 8200 §5): also the most an
/// ICMPv6 error may carry (RFC 4443 §2.4(c)).
pub const MIN_MTU: usize = 1280;
/// Most extension headers followed before a packet is dropped.
pub const MAX_EXT_HEADERS: usize = 8;
/// Most non-padding options in one Hop-by-Hop or Destination Options
/// header (Linux's `max_hbh_opts_number`/`max_dst_opts_number`).
pub const MAX_OPTIONS: usize = 8;

/// Next Header values (IANA "Assigned Internet Protocol Numbers").
pub mod nh {
    pub const HOP_BY_HOP: u8 = 0;
    pub const TCP: u8 = super::protocol::TCP;
    pub const UDP: u8 = super::protocol::UDP;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = super::protocol::ICMPV6;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

/// A view of an IPv6 packet; `new_checked` guarantees the fixed header and
/// the payload length it declares are in the buffer.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// A view with no checks: only for buffers known to hold a header.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// A view of a buffer holding the header and the declared payload.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if HEADER_LEN + usize::from(be16(b, field::PAYLOAD_LEN)) > b.len() {
            return Err(Error::Truncated);
        }
        Ok(Ipv6Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    pub fn traffic_class(&self) -> u8 {
        (be16(self.buffer.as_ref(), 0) >> 4) as u8
    }
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    pub fn src(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC])
    }
    pub fn dst(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST])
    }
    /// The payload (extension headers and upper layer), cut to the
    /// declared length.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(b.len());
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    pub fn set_ver_tc_flow(&mut self, tc: u8, flow: u32) {
        let v = 6u32 << 28 | u32::from(tc) << 20 | (flow & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_payload_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::PAYLOAD_LEN, v)
    }
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = v;
    }
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
    pub fn set_src(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }
    pub fn set_dst(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let end = (HEADER_LEN + usize::from(be16(b, field::PAYLOAD_LEN))).min(b.len());
        &mut b[HEADER_LEN..end]
    }
}

#[inline(always)]
fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    Ipv6Addr::from(o)
}

/// The header fields the gateway writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
}

impl Ipv6Repr {
    /// Parses a checked packet (version must be 6).
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Self> {
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Ipv6Repr {
            src: p.src(),
            dst: p.dst(),
            next_header: p.next_header(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
        })
    }

    /// Writes the fixed header (traffic class and flow label zero).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv6Packet<T>) {
        p.set_ver_tc_flow(0, 0);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src(self.src);
        p.set_dst(self.dst);
    }
}

/// The upper-layer pseudo-header sum (RFC 8200 §8.1), unfolded.
#[inline]
pub fn pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, upper_len: u32) -> u32 {
    let acc = checksum::sum(0, &src.octets());
    let acc = checksum::sum(acc, &dst.octets());
    checksum::sum(acc, &upper_len.to_be_bytes()) + u32::from(next_header)
}

/// The checksum of an upper-layer message `data` (its checksum field
/// zeroed) between `src` and `dst`.
pub fn upper_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, data: &[u8]) -> u16 {
    let acc = pseudo_header(src, dst, next_header, data.len() as u32);
    !checksum::fold(checksum::sum(acc, data))
}

/// True when `data` (the whole upper-layer message) verifies.
pub fn verify_upper_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, data: &[u8]) -> bool {
    let acc = pseudo_header(src, dst, next_header, data.len() as u32);
    checksum::fold(checksum::sum(acc, data)) == 0xffff
}

/// The fragment header (RFC 8200 §4.5).
pub mod frag {
    /// Its length: 8 bytes, no length field.
    pub const HEADER_LEN: usize = 8;
    /// Offsets within it.
    pub const NEXT_HEADER: usize = 0;
    pub const OFFSET_FLAGS: usize = 2;
    pub const IDENT: usize = 4;
}

/// Finds the fragment header of `ip` (a checked IPv6 packet) in its
/// unfragmentable part (Hop-by-Hop, Destination Options and Routing
/// headers may come before it): its offset from the start of the IPv6
/// header, and its fields.
pub fn find_fragment(ip: &[u8]) -> Option<(usize, Fragment)> {
    let mut next = *ip.get(field::NEXT_HEADER)?;
    let mut at = HEADER_LEN;
    for _ in 0..MAX_EXT_HEADERS {
        let hdr = ip.get(at..at + 8)?;
        match next {
            nh::FRAGMENT => {
                let off_flags = be16(hdr, frag::OFFSET_FLAGS);
                let f = Fragment { offset: off_flags >> 3, more: off_flags & 1 != 0, ident: be32(hdr, frag::IDENT) };
                return Some((at, f));
            }
            nh::HOP_BY_HOP | nh::DEST_OPTS | nh::ROUTING => {
                next = hdr[0];
                at += (usize::from(hdr[1]) + 1) * 8;
            }
            _ => return None,
        }
    }
    None
}

/// Writes a fragment header into `h` (its 8 bytes): the header that
/// follows it, the offset in bytes (a multiple of 8), M, identification.
pub fn write_fragment_header(h: &mut [u8], next: u8, offset: u16, more: bool, ident: u32) {
    if let Some(h) = h.get_mut(..frag::HEADER_LEN) {
        h[frag::NEXT_HEADER] = next;
        h[1] = 0;
        h[frag::OFFSET_FLAGS..frag::IDENT].copy_from_slice(&((offset & !7) | u16::from(more)).to_be_bytes());
        h[frag::IDENT..].copy_from_slice(&ident.to_be_bytes());
    }
}

/// The fragment header's fields.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Offset in 8-octet units.
    pub offset: u16,
    pub more: bool,
    pub ident: u32,
}

/// Where the extension-header chain of a packet leads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The upper-layer protocol (or 59, No Next Header).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    /// Offset of the Next Header byte that named `protocol` (the pointer
    /// of a Parameter Problem for an unrecognized one, RFC 8200 §4).
    pub nh_at: usize,
    /// The fragment header, if the packet is a fragment.
    pub fragment: Option<Fragment>,
}

/// Why a chain was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// A header runs past the payload.
    Truncated,
    /// More than [`MAX_EXT_HEADERS`] headers, or more than
    /// [`MAX_OPTIONS`] options in one header: a looping or abusive chain.
    TooLong,
    /// A Parameter Problem to answer (RFC 8200 §4): `code` 0 (erroneous
    /// field), 1 (unrecognized Next Header, or a Hop-by-Hop header not
    /// first) or 2 (unrecognized option); `pointer` is the offset of the
    /// offending byte from the start of the IPv6 header. `multicast_ok`:
    /// the error may be sent even if the destination was multicast
    /// (option action `10`, RFC 8200 §4.2).
    ParamProblem { code: u8, pointer: u32, multicast_ok: bool },
    /// An option whose action says to discard silently (action `01`), or
    /// action `11` towards a multicast destination.
    Discard,
}

/// True for the Next Header values of extension headers (RFC 8200 §4,
/// RFC 7045's list).
#[inline(always)]
pub fn is_extension(nh: u8) -> bool {
    matches!(
        nh,
        nh::HOP_BY_HOP | nh::ROUTING | nh::FRAGMENT | nh::DEST_OPTS | nh::AH | nh::MOBILITY | nh::HIP | nh::SHIM6
    )
}

/// Follows the extension headers of `ip` (a checked IPv6 packet, header
/// included) to the upper-layer header.
///
/// A transit router (`deliver` false) processes only the Hop-by-Hop
/// options (RFC 8200 §4.1); the destination (`deliver` true) also acts on
/// Destination Options and on a Routing header with segments left (no
/// routing type is supported: Parameter Problem code 0, as RFC 8200 §4.4
/// asks; type 0 is deprecated by RFC 5095). Every header is checked to
/// lie inside the payload either way, so a truncated chain is refused.
/// A fragment header ends the walk if its offset is not zero: the rest
/// is not in this fragment.
pub fn walk_chain(ip: &[u8], deliver: bool) -> core::result::Result<Chain, ChainError> {
    let Ok(p) = Ipv6Packet::new_checked(ip) else { return Err(ChainError::Truncated) };
    let end = HEADER_LEN + usize::from(p.payload_len());
    let multicast = ip.get(24) == Some(&0xff);
    let mut next = p.next_header();
    let mut next_at = field::NEXT_HEADER; // where `next` was read, for pointers
    let mut at = HEADER_LEN;
    let mut fragment = None;
    let mut count = 0;
    while is_extension(next) {
        if count == MAX_EXT_HEADERS {
            return Err(ChainError::TooLong);
        }
        if next == nh::HOP_BY_HOP && count != 0 {
            // RFC 8200 §4.1: Hop-by-Hop only immediately after the header.
            return Err(ChainError::ParamProblem { code: 1, pointer: next_at as u32, multicast_ok: false });
        }
        count += 1;
        let hdr = ip.get(at..end).filter(|h| h.len() >= 8).ok_or(ChainError::Truncated)?;
        let len = match next {
            nh::FRAGMENT => 8,
            nh::AH => (usize::from(hdr[1]) + 2) * 4,
            _ => (usize::from(hdr[1]) + 1) * 8,
        };
        let hdr = hdr.get(..len).ok_or(ChainError::Truncated)?;
        match next {
            nh::HOP_BY_HOP => options(hdr, at, multicast)?,
            nh::DEST_OPTS if deliver => options(hdr, at, multicast)?,
            nh::ROUTING if deliver && hdr[3] != 0 => {
                return Err(ChainError::ParamProblem { code: 0, pointer: (at + 2) as u32, multicast_ok: false });
            }
            nh::FRAGMENT => {
                let off_flags = be16(hdr, 2);
                let f = Fragment { offset: off_flags >> 3, more: off_flags & 1 != 0, ident: be32(hdr, 4) };
                fragment = Some(f);
                if f.offset != 0 {
                    return Ok(Chain { protocol: hdr[0], offset: at + len, nh_at: at, fragment });
                }
            }
            _ => {}
        }
        next = hdr[0];
        next_at = at;
        at += len;
    }
    Ok(Chain { protocol: next, offset: at, nh_at: next_at, fragment })
}

/// Checks the TLV options of one Hop-by-Hop or Destination Options header
/// `hdr` found at `base` (RFC 8200 §4.2).
fn options(hdr: &[u8], base: usize, multicast: bool) -> core::result::Result<(), ChainError> {
    let mut i = 2;
    let mut seen = 0;
    while i < hdr.len() {
        let t = hdr[i];
        if t == 0 {
            i += 1; // Pad1
            continue;
        }
        let len = usize::from(*hdr.get(i + 1).ok_or(ChainError::Truncated)?);
        if i + 2 + len > hdr.len() {
            return Err(ChainError::Truncated);
        }
        if t != 1 {
            seen += 1;
            if seen > MAX_OPTIONS {
                return Err(ChainError::TooLong);
            }
            // Known options: Router Alert (5, RFC 2711). Everything else is
            // unrecognized and handled by its two high-order bits.
            if t != 5 {
                let pointer = (base + i) as u32;
                match t >> 6 {
                    0 => {}
                    1 => return Err(ChainError::Discard),
                    2 => return Err(ChainError::ParamProblem { code: 2, pointer, multicast_ok: true }),
                    _ if multicast => return Err(ChainError::Discard),
                    _ => return Err(ChainError::ParamProblem { code: 2, pointer, multicast_ok: false }),
                }
            }
        }
        i += 2 + len;
    }
    Ok(())
}

/// True for a source a router must not accept (RFC 4291 §2.7: multicast
/// is never a source; RFC 4291 §2.5.3: loopback never leaves a node).
pub fn is_martian_source(a: &Ipv6Addr) -> bool {
    is_martian_source_bits(u128::from(*a))
}

/// [`is_martian_source`] of an address given as its 128 bits.
#[inline(always)]
pub fn is_martian_source_bits(a: u128) -> bool {
    is_multicast_bits(a) || a == 1
}

/// True for ff00::/8.
#[inline(always)]
pub fn is_multicast_bits(a: u128) -> bool {
    a >> 120 == 0xff
}

/// True for a destination never routed: unspecified or loopback.
pub fn is_martian_destination(a: &Ipv6Addr) -> bool {
    is_martian_destination_bits(u128::from(*a))
}

/// [`is_martian_destination`] of an address given as its 128 bits.
#[inline(always)]
pub fn is_martian_destination_bits(a: u128) -> bool {
    a <= 1
}

/// True for link-local unicast (fe80::/10), which a router never forwards
/// (RFC 4291 §2.5.6).
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    is_link_local_bits(u128::from(*a))
}

/// [`is_link_local`] of an address given as its 128 bits.
#[inline(always)]
pub fn is_link_local_bits(a: u128) -> bool {
    (a >> 112) as u16 & 0xffc0 == 0xfe80
}

/// The link-local address made from a MAC by modified EUI-64 (RFC 4291
/// Appendix A, RFC 4862 §5.3).
pub fn link_local_from_mac(mac: [u8; 6]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..16].copy_from_slice(&eui64(mac));
    Ipv6Addr::from(o)
}

/// The modified EUI-64 interface identifier of a MAC.
pub fn eui64(mac: [u8; 6]) -> [u8; 8] {
    [mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]
}

/// The solicited-node multicast address of `a` (RFC 4291 §2.7.1).
pub fn solicited_node(a: &Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), u16::from_be_bytes([o[14], o[15]]))
}

/// The Ethernet multicast address of an IPv6 multicast address (RFC 2464 §7).
pub fn multicast_mac(a: &Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// All-nodes link-local multicast (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers link-local multicast.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 header (from a Linux `ping6` capture, addresses changed)
    /// followed by `payload`.
    fn packet(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN + payload.len()];
        Ipv6Repr {
            src: "fd00:1::2".parse().unwrap(),
            dst: "2001:db8:1::2".parse().unwrap(),
            next_header: next,
            payload_len: payload.len(),
            hop_limit: 64,
        }
        .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
        b[HEADER_LEN..].copy_from_slice(payload);
        b
    }

    #[test]
    fn header_round_trip() {
        let b = packet(nh::UDP, &[0; 8]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let r = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(r.hop_limit, 64);
        assert_eq!(r.payload_len, 8);
        assert_eq!(p.version(), 6);
        assert_eq!(p.payload().len(), 8);
        assert_eq!(r.dst, "2001:db8:1::2".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn truncated_and_overlong_payload_are_refused() {
        assert_eq!(Ipv6Packet::new_checked(&[0x60u8; 39][..]).unwrap_err(), Error::Truncated);
        let mut b = packet(nh::UDP, &[0; 8]);
        b[5] = 9; // payload length 9 > 8 present
        assert_eq!(Ipv6Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn chain_without_extensions_reaches_upper_layer() {
        let b = packet(nh::TCP, &[0; 20]);
        assert_eq!(walk_chain(&b, true), Ok(Chain { protocol: nh::TCP, offset: 40, nh_at: 6, fragment: None }));
    }

    #[test]
    fn chain_through_hop_by_hop_dest_opts_and_fragment() {
        // HBH with PadN, DO with Router Alert-free PadN, then a first fragment.
        let mut pl = vec![nh::DEST_OPTS, 0, 1, 4, 0, 0, 0, 0];
        pl.extend_from_slice(&[nh::FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        pl.extend_from_slice(&[nh::UDP, 0, 0, 1, 0, 0, 0, 7]); // offset 0, M=1, ident 7
        pl.extend_from_slice(&[0; 8]);
        let b = packet(nh::HOP_BY_HOP, &pl);
        let c = walk_chain(&b, true).unwrap();
        assert_eq!(c.protocol, nh::UDP);
        assert_eq!(c.offset, 40 + 24);
        assert_eq!(c.fragment, Some(Fragment { offset: 0, more: true, ident: 7 }));
    }

    #[test]
    fn truncated_chain_is_refused() {
        // A Destination Options header claiming 16 bytes with 8 present.
        let b = packet(nh::DEST_OPTS, &[nh::UDP, 1, 1, 4, 0, 0, 0, 0]);
        assert_eq!(walk_chain(&b, false), Err(ChainError::Truncated));
        // A header that does not even have its first 8 bytes.
        let b = packet(nh::ROUTING, &[nh::UDP, 0, 0]);
        assert_eq!(walk_chain(&b, false), Err(ChainError::Truncated));
        // An option running past its header.
        let b = packet(nh::HOP_BY_HOP, &[nh::UDP, 0, 0x1e, 9, 0, 0, 0, 0]);
        assert_eq!(walk_chain(&b, false), Err(ChainError::Truncated));
    }

    #[test]
    fn looping_chain_stops_at_the_limit() {
        // Nine Destination Options headers, each pointing at the next.
        let mut pl = Vec::new();
        for _ in 0..9 {
            pl.extend_from_slice(&[nh::DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        }
        let b = packet(nh::DEST_OPTS, &pl);
        assert_eq!(walk_chain(&b, false), Err(ChainError::TooLong));
        // Eight are fine (the last says No Next Header).
        let mut pl = pl[..64].to_vec();
        pl[56] = nh::NO_NEXT;
        let b = packet(nh::DEST_OPTS, &pl);
        assert_eq!(walk_chain(&b, false).unwrap().protocol, nh::NO_NEXT);
    }

    #[test]
    fn too_many_options_are_refused() {
        // Nine Router Alert options (type 5, length 2) in one HBH header.
        let mut pl = vec![nh::UDP, 4];
        for _ in 0..9 {
            pl.extend_from_slice(&[5, 2, 0, 0]);
        }
        pl.extend_from_slice(&[1, 0]); // PadN to 40 bytes
        let b = packet(nh::HOP_BY_HOP, &pl);
        assert_eq!(walk_chain(&b, false), Err(ChainError::TooLong));
    }

    #[test]
    fn hop_by_hop_not_first_is_parameter_problem_rfc8200_4_1() {
        let b = packet(nh::DEST_OPTS, &[nh::HOP_BY_HOP, 0, 1, 4, 0, 0, 0, 0, nh::UDP, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(walk_chain(&b, false), Err(ChainError::ParamProblem { code: 1, pointer: 40, multicast_ok: false }));
    }

    #[test]
    fn unknown_option_actions_rfc8200_4_2() {
        let opt = |t: u8| packet(nh::HOP_BY_HOP, &[nh::UDP, 0, t, 0, 1, 2, 0, 0]);
        assert!(walk_chain(&opt(0x1e), false).is_ok(), "00: skip");
        assert_eq!(walk_chain(&opt(0x5e), false), Err(ChainError::Discard));
        assert_eq!(
            walk_chain(&opt(0x9e), false),
            Err(ChainError::ParamProblem { code: 2, pointer: 42, multicast_ok: true })
        );
        assert_eq!(
            walk_chain(&opt(0xde), false),
            Err(ChainError::ParamProblem { code: 2, pointer: 42, multicast_ok: false })
        );
        // Destination options are only acted on at the destination.
        let b = packet(nh::DEST_OPTS, &[nh::UDP, 0, 0x9e, 0, 1, 2, 0, 0]);
        assert!(walk_chain(&b, false).is_ok());
        assert!(matches!(walk_chain(&b, true), Err(ChainError::ParamProblem { code: 2, .. })));
    }

    #[test]
    fn routing_header_with_segments_left_is_refused_at_destination_rfc8200_4_4() {
        let b = packet(nh::ROUTING, &[nh::UDP, 0, 0, 1, 0, 0, 0, 0]);
        assert!(walk_chain(&b, false).is_ok(), "transit routers do not look");
        assert_eq!(walk_chain(&b, true), Err(ChainError::ParamProblem { code: 0, pointer: 42, multicast_ok: false }));
        let b = packet(nh::ROUTING, &[nh::UDP, 0, 0, 0, 0, 0, 0, 0]);
        assert!(walk_chain(&b, true).is_ok(), "segments left 0 is ignored");
    }

    #[test]
    fn addresses() {
        let mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
        assert_eq!(link_local_from_mac(mac), "fe80::ff:fe00:1".parse::<Ipv6Addr>().unwrap());
        let a: Ipv6Addr = "2001:db8::aabb:ccdd".parse().unwrap();
        assert_eq!(solicited_node(&a), "ff02::1:ffbb:ccdd".parse::<Ipv6Addr>().unwrap());
        assert_eq!(multicast_mac(&solicited_node(&a)), [0x33, 0x33, 0xff, 0xbb, 0xcc, 0xdd]);
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local(&"fec0::1".parse().unwrap()));
        assert!(is_martian_source(&"ff02::1".parse().unwrap()));
        assert!(is_martian_destination(&"::".parse().unwrap()));
    }

    #[test]
    fn upper_checksum_verifies() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = ("fe80::1".parse().unwrap(), "ff02::1".parse().unwrap());
        let mut msg = vec![0x86, 0, 0, 0, 1, 2, 3, 4];
        let c = upper_checksum(&s, &d, nh::ICMPV6, &msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(verify_upper_checksum(&s, &d, nh::ICMPV6, &msg));
        msg[5] ^= 1;
        assert!(!verify_upper_checksum(&s, &d, nh::ICMPV6, &msg));
    }
}

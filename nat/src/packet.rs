//! Reading a packet's flow and rewriting its addresses, ports and ICMP
//! identifiers in place, with every checksum updated incrementally (RFC
//! 1624) or, for ICMP errors (a slow path), recomputed.

use stack::wire::checksum::{self, update16, update32};
use stack::{DropReason, Plain4};

pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;

/// TCP flags the session state follows.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;
/// ICMP errors that quote the packet they are about (RFC 5508 §2):
/// destination unreachable, source quench, time exceeded, parameter problem.
const ERRORS: [u8; 4] = [3, 4, 11, 12];

/// What kind of message a flow's packet is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// TCP with its flags.
    Tcp(u8),
    Udp,
    /// ICMP echo request (`true`) or reply: the identifier is the "port".
    Echo(bool),
    /// An ICMP error: the flow is the quoted packet's, as its sender saw it.
    IcmpError,
}

/// A packet's transport endpoints. For an ICMP echo the requester's port
/// is the identifier and the responder's is 0; for an ICMP error they are
/// the quoted packet's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    pub proto: u8,
    pub src: u32,
    pub sport: u16,
    pub dst: u32,
    pub dport: u16,
    pub kind: Kind,
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

#[inline(always)]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

#[inline(always)]
fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(d) = b.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

#[inline(always)]
fn put32(b: &mut [u8], at: usize, v: u32) {
    if let Some(d) = b.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// The header length of the IPv4 packet at the start of `ip`.
#[inline(always)]
fn ihl(ip: &[u8]) -> usize {
    usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4
}

#[inline(always)]
pub fn is_fragment(ip: &[u8]) -> bool {
    be16(ip, 6).is_some_and(|f| f & 0x3fff != 0)
}

/// The packet's TTL.
#[inline(always)]
pub fn ttl(ip: &[u8]) -> u8 {
    ip.get(8).copied().unwrap_or(0)
}

/// Where a packet stands in its datagram.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Frag {
    /// Not fragmented.
    Whole,
    /// The first fragment (offset 0, more to come): it has the ports.
    First,
    /// A later fragment, `offset` in 8-byte units: no transport header.
    Later { offset: u16 },
}

#[inline(always)]
pub fn frag(ip: &[u8]) -> Frag {
    let f = be16(ip, 6).unwrap_or(0);
    match (f & 0x1fff, f & 0x2000 != 0) {
        (0, false) => Frag::Whole,
        (0, true) => Frag::First,
        (offset, _) => Frag::Later { offset },
    }
}

/// The fields that name a fragment's datagram (RFC 791): source,
/// destination, protocol and identification.
#[inline(always)]
pub fn datagram(ip: &[u8]) -> (u32, u32, u8, u16) {
    (be32(ip, 12).unwrap_or(0), be32(ip, 16).unwrap_or(0), ip.get(9).copied().unwrap_or(0), be16(ip, 4).unwrap_or(0))
}

/// The address at `end` of an IPv4 packet.
#[inline(always)]
pub fn addr(ip: &[u8], end: End) -> Option<u32> {
    be32(ip, if end == End::Src { 12 } else { 16 })
}

/// The flow of a whole TCP, UDP or echo packet as the router's fast path
/// read it (`p.whole`; [`flow`] reads the same from the bytes).
#[inline(always)]
pub fn flow_of(p: &Plain4) -> Flow {
    let kind = match p.proto {
        TCP => Kind::Tcp(p.flags),
        UDP => Kind::Udp,
        _ => Kind::Echo(p.flags != 0),
    };
    Flow { proto: p.proto, src: p.src, sport: p.sport, dst: p.dst, dport: p.dport, kind }
}

/// The flow of an IPv4 packet whose header the router already checked:
/// whole, or the first fragment. For an ICMP error the flow is the
/// quoted packet's (which must be a TCP, UDP or echo packet with its
/// ports).
pub fn flow(ip: &[u8]) -> Result<Flow, DropReason> {
    let first = match frag(ip) {
        Frag::Whole => false,
        Frag::First => true,
        Frag::Later { .. } => return Err(DropReason::NatFragment),
    };
    let hl = ihl(ip);
    let proto = ip.get(9).copied().unwrap_or(0);
    let src = be32(ip, 12).ok_or(DropReason::NatTruncated)?;
    let dst = be32(ip, 16).ok_or(DropReason::NatTruncated)?;
    let l4 = ip.get(hl..).ok_or(DropReason::NatTruncated)?;
    // A first fragment must hold the whole transport header, checksum
    // included, or it cannot be translated (RFC 1858 §3.1: tiny fragments).
    if first && l4.len() < if proto == TCP { 20 } else { 8 } {
        return Err(DropReason::NatFragment);
    }
    match proto {
        TCP => {
            let flags = *l4.get(13).ok_or(DropReason::NatTruncated)?;
            let (sport, dport) = (be16(l4, 0).unwrap_or(0), be16(l4, 2).unwrap_or(0));
            Ok(Flow { proto, src, sport, dst, dport, kind: Kind::Tcp(flags) })
        }
        UDP => {
            let (sport, dport) = (be16(l4, 0), be16(l4, 2));
            let (Some(sport), Some(dport), true) = (sport, dport, l4.len() >= 8) else {
                return Err(DropReason::NatTruncated);
            };
            Ok(Flow { proto, src, sport, dst, dport, kind: Kind::Udp })
        }
        ICMP => {
            let ty = *l4.first().ok_or(DropReason::NatTruncated)?;
            if l4.len() < 8 {
                return Err(DropReason::NatTruncated);
            }
            match ty {
                ECHO_REQUEST | ECHO_REPLY => Ok(echo_flow(src, dst, ty, be16(l4, 4).unwrap_or(0))),
                // An error's checksum is recomputed over the whole message,
                // which a fragment does not have.
                t if ERRORS.contains(&t) && first => Err(DropReason::NatFragment),
                t if ERRORS.contains(&t) => {
                    let inner = l4.get(8..).ok_or(DropReason::NatTruncated)?;
                    let q = quoted(inner).ok_or(DropReason::NatIcmpUnmapped)?;
                    Ok(Flow { kind: Kind::IcmpError, ..q })
                }
                _ => Err(DropReason::NatUnsupported),
            }
        }
        _ => Err(DropReason::NatUnsupported),
    }
}

/// The flow of the packet an ICMP error quotes: its IP header and at
/// least the first 8 bytes of its transport header (RFC 792).
fn quoted(inner: &[u8]) -> Option<Flow> {
    let hl = ihl(inner);
    if hl < 20 || inner.len() < hl + 8 || inner.first()? >> 4 != 4 || is_fragment(inner) {
        return None;
    }
    let proto = *inner.get(9)?;
    let (src, dst) = (be32(inner, 12)?, be32(inner, 16)?);
    let l4 = inner.get(hl..)?;
    match proto {
        TCP | UDP => Some(Flow { proto, src, sport: be16(l4, 0)?, dst, dport: be16(l4, 2)?, kind: Kind::Udp }),
        ICMP if matches!(*l4.first()?, ECHO_REQUEST | ECHO_REPLY) => {
            Some(echo_flow(src, dst, *l4.first()?, be16(l4, 4)?))
        }
        _ => None,
    }
}

/// An echo's flow: the identifier is the requester's "port", the other
/// end's is 0 (RFC 5508 §3.1: the identifier names the query's mapping).
/// A flow's key fields (protocol, source, source port, destination,
/// destination port, as [`flow`] gives them for TCP, UDP and ICMP echo)
/// read with no check beyond the bounds: a prefetch hint's, where a
/// wrong answer costs a wasted prefetch and nothing else.
#[inline(always)]
pub fn hint_tuple(ip: &[u8]) -> Option<(u8, u32, u16, u32, u16)> {
    let proto = *ip.get(9)?;
    let (src, dst) = (be32(ip, 12)?, be32(ip, 16)?);
    let l4 = ip.get(ihl(ip)..)?;
    let (sport, dport) = match proto {
        TCP | UDP => (be16(l4, 0)?, be16(l4, 2)?),
        ICMP => {
            let id = be16(l4, 4)?;
            if *l4.first()? == ECHO_REQUEST {
                (id, 0)
            } else {
                (0, id)
            }
        }
        _ => return None,
    };
    Some((proto, src, sport, dst, dport))
}

fn echo_flow(src: u32, dst: u32, ty: u8, id: u16) -> Flow {
    let (sport, dport) = if ty == ECHO_REQUEST { (id, 0) } else { (0, id) };
    Flow { proto: ICMP, src, sport, dst, dport, kind: Kind::Echo(ty == ECHO_REQUEST) }
}

/// Which end of a packet to rewrite.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum End {
    Src,
    Dst,
}

/// Rewrites one end of a TCP, UDP or ICMP echo packet to `addr:port`
/// (for echo, `port` is the identifier), updating the IP header checksum
/// and the transport checksum incrementally. A UDP checksum of zero
/// (none, RFC 768) stays zero.
#[inline]
pub fn rewrite(ip: &mut [u8], end: End, addr: u32, port: u16) {
    let hl = ihl(ip);
    let proto = ip.get(9).copied().unwrap_or(0);
    let at = if end == End::Src { 12 } else { 16 };
    let Some(old_addr) = be32(ip, at) else { return };
    put32(ip, at, addr);
    if let Some(c) = be16(ip, 10) {
        put16(ip, 10, update32(c, old_addr, addr));
    }
    let Some(l4) = ip.get_mut(hl..) else { return };
    rewrite_l4(l4, proto, end, old_addr, addr, port);
}

/// [`rewrite`] for a plain packet (a 20-byte header) that the router's
/// fast path read as `p` (`p.whole`): the old address and port are
/// `p`'s, every field sits where such a header puts it, and the
/// checksums are updated on the bytes as they sit, the address's change
/// reckoned once for both (RFC 1624; [`checksum::delta32`]). (A TCP
/// packet too short for its checksum field takes [`rewrite`], which
/// leaves that field as it is.)
#[inline(always)]
pub fn rewrite_plain(ip: &mut [u8], p: &Plain4, end: End, addr: u32, port: u16) {
    let src = end == End::Src;
    let (at, old) = if src { (12, p.src) } else { (16, p.dst) };
    let (old, addr) = (old.to_be(), addr.to_be());
    let d = checksum::delta32(old, addr);
    match p.proto {
        TCP => match ip.get_mut(..38).and_then(|x| <&mut [u8; 38]>::try_from(x).ok()) {
            Some(x) => {
                let old_port = if src { p.sport } else { p.dport };
                set_addr(x, at, addr, d);
                let port_at = if src { 20 } else { 22 };
                set_port(x, port_at, 36, old_port, port, d);
            }
            None => rewrite(ip, end, u32::from_be(addr), port),
        },
        UDP => {
            let Some(x) = ip.get_mut(..28).and_then(|x| <&mut [u8; 28]>::try_from(x).ok()) else { return };
            let old_port = if src { p.sport } else { p.dport };
            set_addr(x, at, addr, d);
            // A zero UDP checksum (none, RFC 768) stays zero; a computed
            // zero is sent as all ones.
            if u16::from_ne_bytes([x[26], x[27]]) == 0 {
                put16(x, if src { 20 } else { 22 }, port);
            } else {
                set_port(x, if src { 20 } else { 22 }, 26, old_port, port, d);
                if u16::from_ne_bytes([x[26], x[27]]) == 0 {
                    x[26..28].copy_from_slice(&[0xff, 0xff]);
                }
            }
        }
        _ => {
            let Some(x) = ip.get_mut(..28).and_then(|x| <&mut [u8; 28]>::try_from(x).ok()) else { return };
            // The echo's identifier, whichever end; ICMP's checksum does
            // not cover the addresses.
            let old_id = if p.flags != 0 { p.sport } else { p.dport };
            set_addr(x, at, addr, d);
            set_port(x, 24, 22, old_id, port, 0);
        }
    }
}

/// Writes `addr` (as it sits in the packet) at `at` of a 20-byte header
/// and updates its checksum by `d`.
#[inline(always)]
fn set_addr<const N: usize>(h: &mut [u8; N], at: usize, addr: u32, d: u32) {
    if let Some(f) = h.get_mut(at..at + 4) {
        f.copy_from_slice(&addr.to_ne_bytes());
    }
    if let Some(f) = h.get_mut(10..12) {
        let c = checksum::apply(u16::from_ne_bytes([f[0], f[1]]), d);
        f.copy_from_slice(&c.to_ne_bytes());
    }
}

/// Writes `port` over `old` at `at` and updates the transport checksum
/// at `sum_at` by the port's change and `d` (the address's, which the
/// TCP and UDP checksums cover through the pseudo-header).
#[inline(always)]
fn set_port<const N: usize>(x: &mut [u8; N], at: usize, sum_at: usize, old: u16, port: u16, d: u32) {
    let (old, port) = (old.to_be(), port.to_be());
    if let Some(f) = x.get_mut(at..at + 2) {
        f.copy_from_slice(&port.to_ne_bytes());
    }
    if let Some(f) = x.get_mut(sum_at..sum_at + 2) {
        let c = checksum::apply(u16::from_ne_bytes([f[0], f[1]]), d + checksum::delta16(old, port));
        f.copy_from_slice(&c.to_ne_bytes());
    }
}

/// The port (or echo identifier) at `end` of a packet whose transport
/// header is here: TCP, UDP or ICMP, unfragmented or the first
/// fragment. `None` for anything else.
#[inline]
pub fn port_of(ip: &[u8], end: End) -> Option<u16> {
    if be16(ip, 6)? & 0x1fff != 0 {
        return None;
    }
    let l4 = ip.get(ihl(ip)..)?;
    match *ip.get(9)? {
        TCP | UDP => be16(l4, if end == End::Src { 0 } else { 2 }),
        ICMP => be16(l4, 4),
        _ => None,
    }
}

/// Rewrites one end's address and keeps its port: through the transport
/// header where the packet has one ([`port_of`]), else (a later
/// fragment, another protocol) in the IP header alone, which is all such
/// a packet carries of it.
#[inline]
pub fn rewrite_addr(ip: &mut [u8], end: End, addr: u32) {
    match port_of(ip, end) {
        Some(port) => rewrite(ip, end, addr, port),
        None => {
            let at = if end == End::Src { 12 } else { 16 };
            let Some(old) = be32(ip, at) else { return };
            put32(ip, at, addr);
            if let Some(c) = be16(ip, 10) {
                put16(ip, 10, update32(c, old, addr));
            }
        }
    }
}

/// The transport half of [`rewrite`]: the port (or echo identifier) and
/// the checksum, which for TCP and UDP covers the address too.
fn rewrite_l4(l4: &mut [u8], proto: u8, end: End, old_addr: u32, addr: u32, port: u16) {
    let port_at = if end == End::Src { 0 } else { 2 };
    match proto {
        TCP | UDP => {
            let Some(old_port) = be16(l4, port_at) else { return };
            put16(l4, port_at, port);
            let sum_at = if proto == TCP { 16 } else { 6 };
            let Some(c) = be16(l4, sum_at) else { return };
            if proto == UDP && c == 0 {
                return;
            }
            let mut c = update16(update32(c, old_addr, addr), old_port, port);
            if proto == UDP && c == 0 {
                c = 0xffff; // RFC 768: a computed zero is sent as all ones
            }
            put16(l4, sum_at, c);
        }
        ICMP => {
            let Some(old_id) = be16(l4, 4) else { return };
            put16(l4, 4, port);
            if let Some(c) = be16(l4, 2) {
                put16(l4, 2, update16(c, old_id, port));
            }
        }
        _ => {}
    }
}

/// True when an ICMP message's checksum verifies (RFC 5508 REQ-3 asks a
/// NAT to drop errors that do not before translating them).
pub fn icmp_checksum_ok(ip: &[u8]) -> bool {
    ip.get(ihl(ip)..).is_some_and(|icmp| checksum::checksum(icmp) == 0)
}

/// Translates an ICMP error (RFC 5508 REQ-3, §4.1): the outer packet's
/// `outer` end becomes `outer_addr`, and the quoted packet's opposite
/// end (the one the error's sender saw as ours) becomes
/// `inner_addr:inner_port`. The quoted header's checksum and the outer
/// ICMP checksum are recomputed; the quoted transport checksum, where
/// quoted, is updated.
pub fn rewrite_icmp_error(ip: &mut [u8], outer: End, outer_addr: u32, inner_addr: u32, inner_port: u16) {
    let hl = ihl(ip);
    let at = if outer == End::Src { 12 } else { 16 };
    let Some(old) = be32(ip, at) else { return };
    put32(ip, at, outer_addr);
    if let Some(c) = be16(ip, 10) {
        put16(ip, 10, update32(c, old, outer_addr));
    }
    let Some(icmp) = ip.get_mut(hl..) else { return };
    // The quoted packet went the other way: an error towards the inside
    // quotes a packet from the inside, so its source is what we rewrite.
    let inner_end = if outer == End::Dst { End::Src } else { End::Dst };
    if let Some(inner) = icmp.get_mut(8..) {
        let ihl_in = ihl(inner);
        let proto = inner.get(9).copied().unwrap_or(0);
        let at = if inner_end == End::Src { 12 } else { 16 };
        if let Some(old_in) = be32(inner, at) {
            put32(inner, at, inner_addr);
            put16(inner, 10, 0);
            let c = inner.get(..ihl_in).map_or(0, checksum::checksum);
            put16(inner, 10, c);
            if let Some(l4) = inner.get_mut(ihl_in..) {
                rewrite_l4(l4, proto, inner_end, old_in, inner_addr, inner_port);
            }
        }
    }
    put16(icmp, 2, 0);
    let c = checksum::checksum(icmp);
    put16(icmp, 2, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::wire::checksum::checksum;

    /// An IPv4 packet with a correct header checksum.
    pub(crate) fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(l4);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn l4_sum_ok(p: &[u8]) -> bool {
        let l4 = &p[20..];
        let pseudo = checksum::pseudo_header_v4(
            std::net::Ipv4Addr::from(be32(p, 12).unwrap()),
            std::net::Ipv4Addr::from(be32(p, 16).unwrap()),
            p[9],
            l4.len() as u16,
        );
        !checksum::fold(checksum::sum(pseudo, l4)) == 0
    }

    pub(crate) fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&sport.to_be_bytes());
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        let mut p = ipv4(UDP, src, dst, &u);
        let pseudo = checksum::pseudo_header_v4(src.into(), dst.into(), UDP, u.len() as u16);
        let c = !checksum::fold(checksum::sum(pseudo, &p[20..]));
        p[26..28].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn rewriting_either_end_keeps_every_checksum_valid() {
        let mut p = udp([10, 0, 1, 2], 5000, [198, 51, 100, 7], 53, b"query");
        assert!(l4_sum_ok(&p));
        rewrite(&mut p, End::Src, u32::from_be_bytes([203, 0, 113, 1]), 61000);
        assert_eq!(&p[12..16], &[203, 0, 113, 1]);
        assert_eq!(be16(&p, 20), Some(61000));
        assert_eq!(checksum(&p[..20]), 0);
        assert!(l4_sum_ok(&p));
        rewrite(&mut p, End::Dst, u32::from_be_bytes([10, 9, 8, 7]), 1);
        assert_eq!(checksum(&p[..20]), 0);
        assert!(l4_sum_ok(&p));
    }

    #[test]
    fn hint_tuples_are_flow_keys_and_no_prefix_of_a_packet_panics() {
        let u = udp([10, 0, 0, 1], 1234, [192, 0, 2, 9], 53, b"hi");
        let echo = ipv4(ICMP, [10, 0, 0, 1], [192, 0, 2, 9], &[ECHO_REQUEST, 0, 0, 0, 0, 77, 0, 1]);
        let reply = ipv4(ICMP, [192, 0, 2, 9], [10, 0, 0, 1], &[ECHO_REPLY, 0, 0, 0, 0, 77, 0, 1]);
        for p in [&u, &echo, &reply] {
            let f = flow(p).unwrap();
            assert_eq!(hint_tuple(p), Some((f.proto, f.src, f.sport, f.dst, f.dport)));
            for n in 0..p.len() {
                let _ = hint_tuple(&p[..n]);
            }
        }
        assert_eq!(hint_tuple(&ipv4(47, [10, 0, 0, 1], [192, 0, 2, 9], &[0; 8])), None, "no ports to key on");
    }

    #[test]
    fn the_fast_paths_reading_is_the_flow_of_a_whole_tcp_udp_or_echo_packet_and_nothing_else() {
        let u = udp([10, 0, 0, 1], 1234, [192, 0, 2, 9], 53, b"hi");
        let mut t = ipv4(TCP, [10, 0, 0, 1], [192, 0, 2, 9], &[0; 20]);
        t[20..24].copy_from_slice(&[0x04, 0xd2, 0, 80]);
        t[33] = SYN | ACK;
        let echo = ipv4(ICMP, [10, 0, 0, 1], [192, 0, 2, 9], &[ECHO_REQUEST, 0, 0, 0, 0, 77, 0, 1]);
        let reply = ipv4(ICMP, [192, 0, 2, 9], [10, 0, 0, 1], &[ECHO_REPLY, 0, 0, 0, 0, 77, 0, 1]);
        let mut error = ipv4(ICMP, [192, 0, 2, 9], [10, 0, 0, 1], &[3, 1, 0, 0, 0, 0, 0, 0]);
        error.extend_from_slice(&u);
        let mut first = u.clone();
        first[6] = 0x20;
        let mut later = u.clone();
        later[7] = 0x10;
        let gre = ipv4(47, [10, 0, 0, 1], [192, 0, 2, 9], &[0; 8]);
        // The router reads a plain packet: a 20-byte header and what follows.
        let read = |q: &[u8]| {
            let p = Plain4::read(q[..20].try_into().unwrap(), &q[20..]);
            p.whole.then(|| flow_of(&p))
        };
        for p in [&u, &t, &echo, &reply, &error, &first, &later, &gre] {
            for n in 20..=p.len() {
                let q = &p[..n];
                let full = flow(q).ok().filter(|f| f.kind != Kind::IcmpError && !is_fragment(q));
                assert_eq!(read(q), full, "{q:?}");
            }
        }
        assert!(read(&t).is_some() && read(&u).is_some() && read(&echo).is_some() && read(&reply).is_some());
        assert_eq!(read(&error), None);
        assert_eq!(read(&first), None);
    }

    /// The fast path's rewrite writes the bytes the full path's does,
    /// for every kind of packet it reads whole, at either end: TCP (also
    /// one too short for its checksum field), UDP (with no checksum, and
    /// with one that the rewrite turns to zero), echo requests and replies.
    #[test]
    fn the_plain_rewrite_writes_what_rewrite_writes() {
        let mut t = ipv4(TCP, [10, 0, 0, 1], [192, 0, 2, 9], &[0; 20]);
        t[20..24].copy_from_slice(&[0x04, 0xd2, 0, 80]);
        t[33] = ACK;
        t[36..38].copy_from_slice(&[0x12, 0x34]);
        let short_tcp = t[..35].to_vec();
        let u = udp([10, 0, 0, 1], 1234, [192, 0, 2, 9], 53, b"hi");
        let mut no_sum = u.clone();
        no_sum[26..28].copy_from_slice(&[0, 0]);
        let echo = ipv4(ICMP, [10, 0, 0, 1], [192, 0, 2, 9], &[ECHO_REQUEST, 0, 0xab, 0xcd, 0, 77, 0, 1]);
        let reply = ipv4(ICMP, [192, 0, 2, 9], [10, 0, 0, 1], &[ECHO_REPLY, 0, 0xab, 0xcd, 0, 77, 0, 1]);
        let mut zero = 0;
        for p in [&t, &short_tcp, &u, &no_sum, &echo, &reply] {
            let plain = Plain4::read(p[..20].try_into().unwrap(), &p[20..]);
            assert!(plain.whole);
            for end in [End::Src, End::Dst] {
                for (addr, port) in [(0xcb00_7101, 1024), (0x0a00_0001, 0xffff), (0, 0), (0x6440_0007, 0x1234)] {
                    let (mut a, mut b) = (p.clone(), p.clone());
                    rewrite(&mut a, end, addr, port);
                    rewrite_plain(&mut b, &plain, end, addr, port);
                    assert_eq!(a, b, "{end:?} {addr:x}:{port} of {p:?}");
                    zero += usize::from(p == &u && a[26..28] == [0xff, 0xff]);
                }
            }
        }
        // A UDP checksum the rewrite would make zero is sent as all ones:
        // find a port that does it, and check both agree there too.
        let plain = Plain4::read(u[..20].try_into().unwrap(), &u[20..]);
        for port in 0..=u16::MAX {
            let mut a = u.clone();
            rewrite(&mut a, End::Src, 0xcb00_7101, port);
            if a[26..28] == [0xff, 0xff] {
                let mut b = u.clone();
                rewrite_plain(&mut b, &plain, End::Src, 0xcb00_7101, port);
                assert_eq!(a, b);
                zero += 1;
                break;
            }
        }
        assert!(zero > 0, "the all-ones case was met");
    }

    #[test]
    fn a_udp_packet_without_checksum_keeps_none() {
        let mut p = udp([10, 0, 1, 2], 5000, [198, 51, 100, 7], 53, b"x");
        p[26..28].copy_from_slice(&[0, 0]);
        rewrite(&mut p, End::Src, 0xcb00_7101, 1024);
        assert_eq!(&p[26..28], &[0, 0]);
    }

    #[test]
    fn flows_of_every_kind_and_refusals() {
        let p = udp([10, 0, 1, 2], 5000, [198, 51, 100, 7], 53, b"");
        let f = flow(&p).unwrap();
        assert_eq!((f.proto, f.sport, f.dport, f.kind), (UDP, 5000, 53, Kind::Udp));
        let echo = ipv4(ICMP, [10, 0, 1, 2], [1, 1, 1, 1], &[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
        assert_eq!(flow(&echo).unwrap().kind, Kind::Echo(true));
        assert_eq!((flow(&echo).unwrap().sport, flow(&echo).unwrap().dport), (0x1234, 0));
        // A first fragment has its ports; a later one has none.
        let mut frag = p.clone();
        frag[6] = 0x20; // MF
        assert_eq!(flow(&frag), Ok(f));
        frag[7] = 3; // offset 24
        assert_eq!(flow(&frag), Err(DropReason::NatFragment));
        assert_eq!(super::frag(&frag), Frag::Later { offset: 3 });
        let gre = ipv4(47, [10, 0, 1, 2], [1, 1, 1, 1], &[0; 8]);
        assert_eq!(flow(&gre), Err(DropReason::NatUnsupported));
        let short = ipv4(TCP, [10, 0, 1, 2], [1, 1, 1, 1], &[0; 10]);
        assert_eq!(flow(&short), Err(DropReason::NatTruncated));
        // An error quoting a UDP packet: the flow is the quoted one.
        let mut err = vec![11, 0, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&p[..28]);
        let c = checksum(&err);
        err[2..4].copy_from_slice(&c.to_be_bytes());
        let e = ipv4(ICMP, [192, 0, 2, 9], [10, 0, 1, 2], &err);
        let f = flow(&e).unwrap();
        assert_eq!((f.kind, f.src, f.sport, f.dport), (Kind::IcmpError, 0x0a00_0102, 5000, 53));
        assert!(icmp_checksum_ok(&e));
    }
}

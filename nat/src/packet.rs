//! Reading a packet's flow and rewriting its addresses, ports and ICMP
//! identifiers in place, with every checksum updated incrementally (RFC
//! 1624) or, for ICMP errors (a slow path), recomputed.

use stack::wire::checksum::{self, update16, update32};
use stack::wire::five_tuple::{echo_ports, is_echo};
use stack::wire::icmpv4::{self, types};
use stack::wire::ipv4::{self, field, ihl};
use stack::wire::{get_be16, get_be32, ne16, set_be16, set_be32, set_ne16, tcp, udp, FiveTuple};
use stack::DropReason;

pub use stack::wire::ip::protocol::{ICMP, TCP, UDP};
/// TCP flags the session state follows.
pub use stack::wire::tcp::flags::{ACK, FIN, RST, SYN};

/// Where the transport header of a packet whose IPv4 header has no
/// options starts, and the offsets `rewrite_plain` writes at from there.
const L4: usize = ipv4::HEADER_LEN;
const TCP_SUM: usize = L4 + tcp::field::CHECKSUM;
const UDP_SUM: usize = L4 + udp::field::CHECKSUM;
const ICMP_SUM: usize = L4 + icmpv4::field::CHECKSUM;
const ICMP_ID: usize = L4 + icmpv4::field::IDENT;

/// Where an end's address sits in the IPv4 header.
#[inline(always)]
fn addr_at(end: End) -> usize {
    if end == End::Src {
        field::SRC.start
    } else {
        field::DST.start
    }
}

/// Where an end's port sits in a TCP or UDP header (alike in both).
#[inline(always)]
fn port_at(end: End) -> usize {
    if end == End::Src {
        udp::field::SRC_PORT
    } else {
        udp::field::DST_PORT
    }
}

/// ICMP errors that quote the packet they are about (RFC 5508 §2).
const ERRORS: [u8; 4] = [types::DST_UNREACHABLE, types::SOURCE_QUENCH, types::TIME_EXCEEDED, types::PARAM_PROBLEM];

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
pub fn is_fragment(ip: &[u8]) -> bool {
    get_be16(ip, field::FLG_OFF).is_some_and(|f| f & ipv4::FRAGMENT_BITS != 0)
}

/// The packet's TTL.
#[inline(always)]
pub fn ttl(ip: &[u8]) -> u8 {
    ip.get(field::TTL).copied().unwrap_or(0)
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
    let f = get_be16(ip, field::FLG_OFF).unwrap_or(0);
    match (f & ipv4::OFFSET_MASK, f & ipv4::MORE_FRAGMENTS != 0) {
        (0, false) => Frag::Whole,
        (0, true) => Frag::First,
        (offset, _) => Frag::Later { offset },
    }
}

/// The fields that name a fragment's datagram (RFC 791): source,
/// destination, protocol and identification.
#[inline(always)]
pub fn datagram(ip: &[u8]) -> (u32, u32, u8, u16) {
    let (src, dst) = (get_be32(ip, field::SRC.start), get_be32(ip, field::DST.start));
    let (proto, id) = (ip.get(field::PROTOCOL).copied(), get_be16(ip, field::IDENT));
    (src.unwrap_or(0), dst.unwrap_or(0), proto.unwrap_or(0), id.unwrap_or(0))
}

/// The address at `end` of an IPv4 packet.
#[inline(always)]
pub fn addr(ip: &[u8], end: End) -> Option<u32> {
    get_be32(ip, addr_at(end))
}

/// The flow of a whole TCP, UDP or echo packet as the router's fast path
/// read it (`p.whole`; [`flow`] reads the same from the bytes).
#[inline(always)]
pub fn flow_of(p: &FiveTuple) -> Flow {
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
    let proto = ip.get(field::PROTOCOL).copied().unwrap_or(0);
    let src = get_be32(ip, field::SRC.start).ok_or(DropReason::NatTruncated)?;
    let dst = get_be32(ip, field::DST.start).ok_or(DropReason::NatTruncated)?;
    let l4 = ip.get(hl..).ok_or(DropReason::NatTruncated)?;
    // A first fragment must hold the whole transport header, checksum
    // included, or it cannot be translated (RFC 1858 §3.1: tiny fragments).
    if first && l4.len() < if proto == TCP { tcp::HEADER_LEN } else { udp::HEADER_LEN } {
        return Err(DropReason::NatFragment);
    }
    match proto {
        TCP => {
            let flags = *l4.get(tcp::field::FLAGS).ok_or(DropReason::NatTruncated)?;
            let (sport, dport) = (get_be16(l4, udp::field::SRC_PORT), get_be16(l4, udp::field::DST_PORT));
            let (sport, dport) = (sport.unwrap_or(0), dport.unwrap_or(0));
            Ok(Flow { proto, src, sport, dst, dport, kind: Kind::Tcp(flags) })
        }
        UDP => {
            let (sport, dport) = (get_be16(l4, udp::field::SRC_PORT), get_be16(l4, udp::field::DST_PORT));
            let (Some(sport), Some(dport), true) = (sport, dport, l4.len() >= udp::HEADER_LEN) else {
                return Err(DropReason::NatTruncated);
            };
            Ok(Flow { proto, src, sport, dst, dport, kind: Kind::Udp })
        }
        ICMP => {
            let ty = *l4.first().ok_or(DropReason::NatTruncated)?;
            if l4.len() < icmpv4::HEADER_LEN {
                return Err(DropReason::NatTruncated);
            }
            match ty {
                t if is_echo(t) => Ok(echo_flow(src, dst, ty, get_be16(l4, icmpv4::field::IDENT).unwrap_or(0))),
                // An error's checksum is recomputed over the whole message,
                // which a fragment does not have.
                t if ERRORS.contains(&t) && first => Err(DropReason::NatFragment),
                t if ERRORS.contains(&t) => {
                    let inner = l4.get(icmpv4::HEADER_LEN..).ok_or(DropReason::NatTruncated)?;
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
    if hl < ipv4::HEADER_LEN || inner.len() < hl + 8 || inner.first()? >> 4 != 4 || is_fragment(inner) {
        return None;
    }
    let proto = *inner.get(field::PROTOCOL)?;
    let (src, dst) = (get_be32(inner, field::SRC.start)?, get_be32(inner, field::DST.start)?);
    let l4 = inner.get(hl..)?;
    match proto {
        TCP | UDP => {
            let (sport, dport) = (get_be16(l4, udp::field::SRC_PORT)?, get_be16(l4, udp::field::DST_PORT)?);
            Some(Flow { proto, src, sport, dst, dport, kind: Kind::Udp })
        }
        ICMP if is_echo(*l4.first()?) => Some(echo_flow(src, dst, *l4.first()?, get_be16(l4, icmpv4::field::IDENT)?)),
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
    let t = FiveTuple::parse(ip).filter(|t| t.whole)?;
    Some((t.proto, t.src, t.sport, t.dst, t.dport))
}

fn echo_flow(src: u32, dst: u32, ty: u8, id: u16) -> Flow {
    let (sport, dport) = echo_ports(ty, id);
    Flow { proto: ICMP, src, sport, dst, dport, kind: Kind::Echo(ty == types::ECHO_REQUEST) }
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
    let (hl, proto) = (ihl(ip), ip.get(field::PROTOCOL).copied().unwrap_or(0));
    let Some(old_addr) = set_ip_addr(ip, addr_at(end), addr) else { return };
    let Some(l4) = ip.get_mut(hl..) else { return };
    rewrite_l4(l4, proto, end, old_addr, addr, port);
}

/// Writes `addr` at `at` of an IPv4 header and updates its checksum
/// (RFC 1624); the address it replaced, or `None` if the header is short.
#[inline(always)]
fn set_ip_addr(ip: &mut [u8], at: usize, addr: u32) -> Option<u32> {
    let old = get_be32(ip, at)?;
    set_be32(ip, at, addr);
    if let Some(c) = get_be16(ip, field::CHECKSUM) {
        set_be16(ip, field::CHECKSUM, update32(c, old, addr));
    }
    Some(old)
}

/// [`rewrite`] for a plain packet (a 20-byte header) that the router's
/// fast path read as `p` (`p.whole`): the old address and port are
/// `p`'s, every field sits where such a header puts it, and the
/// checksums are updated on the bytes as they sit, the address's change
/// reckoned once for both (RFC 1624; [`checksum::delta32`]). (A TCP
/// packet too short for its checksum field takes [`rewrite`], which
/// leaves that field as it is.)
#[inline(always)]
pub fn rewrite_plain(ip: &mut [u8], p: &FiveTuple, end: End, addr: u32, port: u16) {
    let src = end == End::Src;
    let (at, old) = if src { (field::SRC.start, p.src) } else { (field::DST.start, p.dst) };
    let (old, addr) = (old.to_be(), addr.to_be());
    let d = checksum::delta32(old, addr);
    match p.proto {
        TCP => match ip.get_mut(..TCP_SUM + 2).and_then(|x| <&mut [u8; TCP_SUM + 2]>::try_from(x).ok()) {
            Some(x) => {
                let old_port = if src { p.sport } else { p.dport };
                set_addr(x, at, addr, d);
                set_port(x, L4 + port_at(end), TCP_SUM, old_port, port, d);
            }
            None => rewrite(ip, end, u32::from_be(addr), port),
        },
        UDP => {
            let Some(x) = ip.get_mut(..UDP_SUM + 2).and_then(|x| <&mut [u8; UDP_SUM + 2]>::try_from(x).ok()) else {
                return;
            };
            let old_port = if src { p.sport } else { p.dport };
            set_addr(x, at, addr, d);
            // A zero UDP checksum (none, RFC 768) stays zero; a computed
            // zero is sent as all ones.
            if ne16(x, UDP_SUM) == 0 {
                set_be16(x, L4 + port_at(end), port);
            } else {
                set_port(x, L4 + port_at(end), UDP_SUM, old_port, port, d);
                if ne16(x, UDP_SUM) == 0 {
                    set_ne16(x, UDP_SUM, 0xffff);
                }
            }
        }
        _ => {
            let Some(x) = ip.get_mut(..ICMP_ID + 4).and_then(|x| <&mut [u8; ICMP_ID + 4]>::try_from(x).ok()) else {
                return;
            };
            // The echo's identifier, whichever end; ICMP's checksum does
            // not cover the addresses.
            let old_id = if p.flags != 0 { p.sport } else { p.dport };
            set_addr(x, at, addr, d);
            set_port(x, ICMP_ID, ICMP_SUM, old_id, port, 0);
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
    if let Some(f) = h.get_mut(field::CHECKSUM..field::CHECKSUM + 2) {
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
    if get_be16(ip, field::FLG_OFF)? & ipv4::OFFSET_MASK != 0 {
        return None;
    }
    let l4 = ip.get(ihl(ip)..)?;
    match *ip.get(field::PROTOCOL)? {
        TCP | UDP => get_be16(l4, port_at(end)),
        ICMP => get_be16(l4, icmpv4::field::IDENT),
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
            set_ip_addr(ip, addr_at(end), addr);
        }
    }
}

/// The transport half of [`rewrite`]: the port (or echo identifier) and
/// the checksum, which for TCP and UDP covers the address too.
fn rewrite_l4(l4: &mut [u8], proto: u8, end: End, old_addr: u32, addr: u32, port: u16) {
    let port_at = port_at(end);
    match proto {
        TCP | UDP => {
            let Some(old_port) = get_be16(l4, port_at) else { return };
            set_be16(l4, port_at, port);
            let sum_at = if proto == TCP { tcp::field::CHECKSUM } else { udp::field::CHECKSUM };
            let Some(c) = get_be16(l4, sum_at) else { return };
            if proto == UDP && c == 0 {
                return;
            }
            let mut c = update16(update32(c, old_addr, addr), old_port, port);
            if proto == UDP && c == 0 {
                c = 0xffff; // RFC 768: a computed zero is sent as all ones
            }
            set_be16(l4, sum_at, c);
        }
        ICMP => {
            let Some(old_id) = get_be16(l4, icmpv4::field::IDENT) else { return };
            set_be16(l4, icmpv4::field::IDENT, port);
            if let Some(c) = get_be16(l4, icmpv4::field::CHECKSUM) {
                set_be16(l4, icmpv4::field::CHECKSUM, update16(c, old_id, port));
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
    if set_ip_addr(ip, addr_at(outer), outer_addr).is_none() {
        return;
    }
    let Some(icmp) = ip.get_mut(hl..) else { return };
    // The quoted packet went the other way: an error towards the inside
    // quotes a packet from the inside, so its source is what we rewrite.
    let inner_end = if outer == End::Dst { End::Src } else { End::Dst };
    if let Some(inner) = icmp.get_mut(icmpv4::HEADER_LEN..) {
        let ihl_in = ihl(inner);
        let proto = inner.get(field::PROTOCOL).copied().unwrap_or(0);
        let at = addr_at(inner_end);
        if let Some(old_in) = get_be32(inner, at) {
            set_be32(inner, at, inner_addr);
            set_be16(inner, field::CHECKSUM, 0);
            let c = inner.get(..ihl_in).map_or(0, checksum::checksum);
            set_be16(inner, field::CHECKSUM, c);
            if let Some(l4) = inner.get_mut(ihl_in..) {
                rewrite_l4(l4, proto, inner_end, old_in, inner_addr, inner_port);
            }
        }
    }
    set_be16(icmp, icmpv4::field::CHECKSUM, 0);
    let c = checksum::checksum(icmp);
    set_be16(icmp, icmpv4::field::CHECKSUM, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::wire::checksum::checksum;
    use stack::wire::icmpv4::types::{ECHO_REPLY, ECHO_REQUEST};

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
            std::net::Ipv4Addr::from(get_be32(p, 12).unwrap()),
            std::net::Ipv4Addr::from(get_be32(p, 16).unwrap()),
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
        assert_eq!(get_be16(&p, 20), Some(61000));
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
            let p = FiveTuple::read(q[..20].try_into().unwrap(), &q[20..]);
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
            let plain = FiveTuple::read(p[..20].try_into().unwrap(), &p[20..]);
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
        let plain = FiveTuple::read(u[..20].try_into().unwrap(), &u[20..]);
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

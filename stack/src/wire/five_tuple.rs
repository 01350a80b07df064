//! An IPv4 packet's flow, read in one place for every stage that keys on
//! it (the fast path, the flow cache, the NAT): addresses, protocol, and
//! the transport endpoints: TCP's or UDP's ports, or an ICMP echo's
//! identifier as its requester's port (RFC 5508 §3.1).

use super::bytes::{be16, be32};
use super::icmpv4::{self, types};
use super::ip::protocol;
use super::{ipv4, tcp, udp};

/// An IPv4 packet's flow as read from its header and the bytes after it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FiveTuple {
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    /// The endpoints below were read: not a fragment (RFC 791: MF clear,
    /// offset 0), and TCP with at least its flags, UDP with its 8 bytes,
    /// or an ICMP echo request or reply with its 8.
    pub whole: bool,
    /// TCP's or UDP's ports; an echo's identifier ([`echo_ports`]).
    pub sport: u16,
    pub dport: u16,
    /// TCP: its flags. ICMP: 1 for an echo request. UDP: 0.
    pub flags: u8,
}

impl FiveTuple {
    /// Nothing read yet.
    pub const NONE: FiveTuple = FiveTuple { src: 0, dst: 0, proto: 0, whole: false, sport: 0, dport: 0, flags: 0 };

    /// Reads header `h` (20 bytes, no options) and `l4`, the bytes after
    /// it up to the total length.
    #[inline(always)]
    pub fn read(h: &[u8; ipv4::HEADER_LEN], l4: &[u8]) -> FiveTuple {
        use ipv4::field;
        let proto = h[field::PROTOCOL];
        let (src, dst) = (be32(h, field::SRC.start), be32(h, field::DST.start));
        let mut p = FiveTuple { src, dst, proto, whole: false, sport: 0, dport: 0, flags: 0 };
        let fragment = be16(h, field::FLG_OFF) & ipv4::FRAGMENT_BITS != 0;
        let Some(t) = l4.get(..8).and_then(|t| <&[u8; 8]>::try_from(t).ok()).filter(|_| !fragment) else { return p };
        let (a, b) = (be16(t, udp::field::SRC_PORT), be16(t, udp::field::DST_PORT));
        match proto {
            protocol::TCP => {
                if let Some(&flags) = l4.get(tcp::field::FLAGS) {
                    (p.sport, p.dport, p.flags, p.whole) = (a, b, flags, true);
                }
            }
            protocol::UDP => (p.sport, p.dport, p.whole) = (a, b, true),
            protocol::ICMP if is_echo(t[0]) => {
                (p.sport, p.dport) = echo_ports(t[0], be16(t, icmpv4::field::IDENT));
                (p.flags, p.whole) = (u8::from(t[0] == types::ECHO_REQUEST), true);
            }
            _ => {}
        }
        p
    }

    /// [`FiveTuple::read`] for any bytes: a header with options is
    /// stepped over by its IHL. `None` when there is no 20-byte header
    /// or the IHL runs past the bytes.
    #[inline(always)]
    pub fn parse(ip: &[u8]) -> Option<FiveTuple> {
        let h = <&[u8; ipv4::HEADER_LEN]>::try_from(ip.get(..ipv4::HEADER_LEN)?).ok()?;
        let l4 = ip.get(ipv4::ihl(ip).max(ipv4::HEADER_LEN)..)?;
        Some(FiveTuple::read(h, l4))
    }
}

/// True for an ICMP echo request or reply's type.
#[inline(always)]
pub fn is_echo(ty: u8) -> bool {
    ty == types::ECHO_REQUEST || ty == types::ECHO_REPLY
}

/// An echo's identifier as its requester's port: `(id, 0)` for a request,
/// `(0, id)` for a reply (RFC 5508 §3.1: the identifier names the query's
/// mapping).
#[inline(always)]
pub fn echo_ports(ty: u8, id: u16) -> (u16, u16) {
    if ty == types::ECHO_REQUEST {
        (id, 0)
    } else {
        (0, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain header of protocol `proto`, then `l4`.
    fn packet(proto: u8, flg_off: u16, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 192, 0, 2, 9];
        p[6..8].copy_from_slice(&flg_off.to_be_bytes());
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn reads_ports_flags_and_echo_identifiers_of_whole_packets_only() {
        let mut tcp = [0u8; 20];
        tcp[..4].copy_from_slice(&[0x04, 0xd2, 0, 80]);
        tcp[13] = 0x12;
        let t = FiveTuple::parse(&packet(protocol::TCP, 0, &tcp)).unwrap();
        assert_eq!(
            (t.src, t.dst, t.sport, t.dport, t.flags, t.whole),
            (0x0a00_0001, 0xc000_0209, 1234, 80, 0x12, true)
        );
        let echo = FiveTuple::parse(&packet(protocol::ICMP, 0, &[8, 0, 0, 0, 0, 77, 0, 1])).unwrap();
        assert_eq!((echo.sport, echo.dport, echo.flags, echo.whole), (77, 0, 1, true));
        let reply = FiveTuple::parse(&packet(protocol::ICMP, 0, &[0, 0, 0, 0, 0, 77, 0, 1])).unwrap();
        assert_eq!((reply.sport, reply.dport, reply.flags), (0, 77, 0));
        // A first fragment, an unreachable, a TCP header without its flags,
        // another protocol: addresses only.
        for p in [
            packet(protocol::UDP, 0x2000, &[0; 8]),
            packet(protocol::ICMP, 0, &[3, 1, 0, 0, 0, 0, 0, 0]),
            packet(protocol::TCP, 0, &tcp[..13]),
            packet(47, 0, &[0; 8]),
        ] {
            let f = FiveTuple::parse(&p).unwrap();
            assert!(!f.whole && f.sport == 0 && f.dport == 0 && f.src == 0x0a00_0001, "{p:?}");
        }
    }

    #[test]
    fn options_are_stepped_over_and_no_prefix_panics() {
        let mut p = packet(protocol::UDP, 0, &[1, 1, 1, 0, 0x04, 0xd2, 0, 53, 0, 8, 0, 0]);
        p[0] = 0x46;
        let f = FiveTuple::parse(&p).unwrap();
        assert_eq!((f.sport, f.dport, f.whole), (1234, 53, true));
        for n in 0..p.len() {
            let _ = FiveTuple::parse(&p[..n]);
        }
        assert_eq!(FiveTuple::parse(&p[..19]), None);
        assert_eq!(FiveTuple::parse(&p[..23]), None, "IHL past the bytes");
    }
}

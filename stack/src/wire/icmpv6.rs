//! ICMPv6 (RFC 4443) and the Neighbor Discovery messages and options
//! (RFC 4861 §4).
//!
//! [`Icmpv6Packet`] is the 4-byte header plus the message body; the ND
//! helpers read the options the gateway acts on (link-layer addresses)
//! and write the messages it sends (NS, NA, RA) into a caller's buffer.

use super::ipv6;
use super::{be16, be32, put16, put32, Error, MacAddr, Result};
use std::net::Ipv6Addr;

/// Length of the ICMPv6 header up to and including the 4-byte rest.
pub const HEADER_LEN: usize = 8;
/// Neighbor Solicitation/Advertisement without options.
pub const NS_LEN: usize = 24;
/// Router Solicitation without options.
pub const RS_LEN: usize = 8;
/// Router Advertisement without options.
pub const RA_LEN: usize = 16;
/// A Source/Target Link-Layer Address option for Ethernet.
pub const LLADDR_OPT_LEN: usize = 8;
/// A Prefix Information option.
pub const PREFIX_OPT_LEN: usize = 32;
/// An MTU option.
pub const MTU_OPT_LEN: usize = 8;

/// ICMPv6 message types.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Message {
    DstUnreachable,
    PacketTooBig,
    TimeExceeded,
    ParamProblem,
    EchoRequest,
    EchoReply,
    RouterSolicit,
    RouterAdvert,
    NeighborSolicit,
    NeighborAdvert,
    Redirect,
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Self {
        match v {
            1 => Message::DstUnreachable,
            2 => Message::PacketTooBig,
            3 => Message::TimeExceeded,
            4 => Message::ParamProblem,
            128 => Message::EchoRequest,
            129 => Message::EchoReply,
            133 => Message::RouterSolicit,
            134 => Message::RouterAdvert,
            135 => Message::NeighborSolicit,
            136 => Message::NeighborAdvert,
            137 => Message::Redirect,
            o => Message::Unknown(o),
        }
    }
}

impl From<Message> for u8 {
    fn from(m: Message) -> u8 {
        match m {
            Message::DstUnreachable => 1,
            Message::PacketTooBig => 2,
            Message::TimeExceeded => 3,
            Message::ParamProblem => 4,
            Message::EchoRequest => 128,
            Message::EchoReply => 129,
            Message::RouterSolicit => 133,
            Message::RouterAdvert => 134,
            Message::NeighborSolicit => 135,
            Message::NeighborAdvert => 136,
            Message::Redirect => 137,
            Message::Unknown(o) => o,
        }
    }
}

/// Error types are 0..=127 (RFC 4443 §2.1).
pub fn is_error_type(t: u8) -> bool {
    t < 128
}

/// Codes of Time Exceeded (RFC 4443 §3.3).
pub mod time_exceeded {
    pub const HOP_LIMIT: u8 = 0;
    pub const REASSEMBLY: u8 = 1;
}

/// Codes of Parameter Problem (RFC 4443 §3.4, RFC 7112 §5).
pub mod param_problem {
    pub const FIELD: u8 = 0;
    pub const NEXT_HEADER: u8 = 1;
    pub const OPTION: u8 = 2;
    pub const INCOMPLETE_CHAIN: u8 = 3;
}

/// Codes of Destination Unreachable (RFC 4443 §3.1).
pub mod unreachable {
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDRESS: u8 = 3;
    pub const PORT: u8 = 4;
    pub const REJECT_ROUTE: u8 = 6;
}

/// A view of an ICMPv6 message: `new_checked` guarantees the 8-byte header.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Icmpv6Packet { buffer })
    }
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[0])
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    /// The 4 bytes after the checksum (MTU, pointer, echo ident/seq, flags).
    pub fn rest(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }
    /// Bytes after the 8-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    /// The whole message.
    pub fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub fn set_msg_type(&mut self, m: Message) {
        self.buffer.as_mut()[0] = m.into();
    }
    pub fn set_code(&mut self, c: u8) {
        self.buffer.as_mut()[1] = c;
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), 2, v)
    }
    pub fn set_rest(&mut self, v: u32) {
        put32(self.buffer.as_mut(), 4, v)
    }
    /// Computes the checksum over the whole buffer between `src` and `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let c = ipv6::upper_checksum(src, dst, ipv6::nh::ICMPV6, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// The ND options the gateway reads (RFC 4861 §4.6).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NdOptions {
    pub source_lladdr: Option<MacAddr>,
    pub target_lladdr: Option<MacAddr>,
    pub mtu: Option<u32>,
}

/// Reads the options of an ND message. An option of length zero or one
/// running past the message makes the whole message invalid (RFC 4861
/// §4.6: "silently discard"). Unknown options are skipped (§4.6).
pub fn nd_options(mut opts: &[u8]) -> Result<NdOptions> {
    let mut out = NdOptions::default();
    while !opts.is_empty() {
        let (&t, len) = match opts {
            [t, l, ..] => (t, usize::from(*l) * 8),
            _ => return Err(Error::Truncated),
        };
        if len == 0 {
            return Err(Error::Malformed);
        }
        let opt = opts.get(..len).ok_or(Error::Truncated)?;
        let mac = || opt.get(2..8).map(|m| MacAddr([m[0], m[1], m[2], m[3], m[4], m[5]]));
        match t {
            1 => out.source_lladdr = mac(),
            2 => out.target_lladdr = mac(),
            5 if len >= 8 => out.mtu = Some(be32(opt, 4)),
            _ => {}
        }
        opts = &opts[len..];
    }
    Ok(out)
}

/// A Prefix Information option (RFC 4861 §4.6.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PrefixInfo {
    pub prefix: Ipv6Addr,
    pub len: u8,
    pub on_link: bool,
    pub autonomous: bool,
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
}

impl PrefixInfo {
    /// Writes the option into `b` (at least [`PREFIX_OPT_LEN`] bytes).
    pub fn emit(&self, b: &mut [u8]) {
        let Some(b) = b.get_mut(..PREFIX_OPT_LEN) else { return };
        b[0] = 3;
        b[1] = 4;
        b[2] = self.len;
        b[3] = u8::from(self.on_link) << 7 | u8::from(self.autonomous) << 6;
        put32(b, 4, self.valid_lifetime);
        put32(b, 8, self.preferred_lifetime);
        put32(b, 12, 0);
        b[16..32].copy_from_slice(&self.prefix.octets());
    }

    /// Every Prefix Information option in `opts` (for tests and tools).
    pub fn all(opts: &[u8]) -> Vec<PrefixInfo> {
        let mut out = Vec::new();
        let mut o = opts;
        while let [t, l, ..] = *o {
            let len = usize::from(l) * 8;
            let Some(opt) = o.get(..len).filter(|_| len > 0) else { break };
            if t == 3 && len == PREFIX_OPT_LEN {
                let mut p = [0u8; 16];
                p.copy_from_slice(&opt[16..32]);
                out.push(PrefixInfo {
                    prefix: Ipv6Addr::from(p),
                    len: opt[2],
                    on_link: opt[3] & 0x80 != 0,
                    autonomous: opt[3] & 0x40 != 0,
                    valid_lifetime: be32(opt, 4),
                    preferred_lifetime: be32(opt, 8),
                });
            }
            o = &o[len..];
        }
        out
    }
}

/// Writes a link-layer address option of type `t` (1 source, 2 target).
pub fn emit_lladdr(b: &mut [u8], t: u8, mac: MacAddr) {
    if let Some(b) = b.get_mut(..LLADDR_OPT_LEN) {
        b[0] = t;
        b[1] = 1;
        b[2..8].copy_from_slice(&mac.0);
    }
}

/// Neighbor Advertisement flags (RFC 4861 §4.4).
pub mod na_flags {
    pub const ROUTER: u32 = 0x8000_0000;
    pub const SOLICITED: u32 = 0x4000_0000;
    pub const OVERRIDE: u32 = 0x2000_0000;
}

/// Writes an NS or NA body (`msg` with `rest` flags, `target`) and one
/// link-layer option into `b` ([`NS_LEN`] + [`LLADDR_OPT_LEN`] bytes);
/// the caller fills the checksum.
pub fn emit_neighbor_msg(b: &mut [u8], msg: Message, rest: u32, target: &Ipv6Addr, lladdr: MacAddr) {
    let Some(b) = b.get_mut(..NS_LEN + LLADDR_OPT_LEN) else { return };
    b[0] = msg.into();
    b[1] = 0;
    put16(b, 2, 0);
    put32(b, 4, rest);
    b[8..24].copy_from_slice(&target.octets());
    let t = if msg == Message::NeighborAdvert { 2 } else { 1 };
    emit_lladdr(&mut b[24..], t, lladdr);
}

/// The fixed part of a Router Advertisement (RFC 4861 §4.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RaHeader {
    pub cur_hop_limit: u8,
    pub managed: bool,
    pub other: bool,
    pub router_lifetime: u16,
    pub reachable_time: u32,
    pub retrans_timer: u32,
}

impl RaHeader {
    /// Writes the 16-byte RA header into `b`.
    pub fn emit(&self, b: &mut [u8]) {
        let Some(b) = b.get_mut(..RA_LEN) else { return };
        b[0] = Message::RouterAdvert.into();
        b[1] = 0;
        put16(b, 2, 0);
        b[4] = self.cur_hop_limit;
        b[5] = u8::from(self.managed) << 7 | u8::from(self.other) << 6;
        put16(b, 6, self.router_lifetime);
        put32(b, 8, self.reachable_time);
        put32(b, 12, self.retrans_timer);
    }

    /// Reads the RA header from a message of at least [`RA_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Result<RaHeader> {
        if b.len() < RA_LEN {
            return Err(Error::Truncated);
        }
        Ok(RaHeader {
            cur_hop_limit: b[4],
            managed: b[5] & 0x80 != 0,
            other: b[5] & 0x40 != 0,
            router_lifetime: be16(b, 6),
            reachable_time: be32(b, 8),
            retrans_timer: be32(b, 12),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Neighbor Solicitation for fd00:1::1 from fd00:1::2 with a source
    /// link-layer option, as Linux sends it (captured in the lab).
    const NS: [u8; 32] = [
        0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x02,
    ];

    #[test]
    fn neighbor_solicitation_options() {
        let p = Icmpv6Packet::new_checked(&NS[..]).unwrap();
        assert_eq!(p.msg_type(), Message::NeighborSolicit);
        let o = nd_options(&NS[NS_LEN..]).unwrap();
        assert_eq!(o.source_lladdr, Some(MacAddr([2, 0, 0, 0, 1, 2])));
        assert_eq!(o.target_lladdr, None);
    }

    #[test]
    fn zero_length_or_truncated_options_invalidate_rfc4861_4_6() {
        assert_eq!(nd_options(&[1, 0, 0, 0, 0, 0, 0, 0]), Err(Error::Malformed));
        assert_eq!(nd_options(&[1, 2, 0, 0, 0, 0, 0, 0]), Err(Error::Truncated));
        assert_eq!(nd_options(&[1]), Err(Error::Truncated));
        assert_eq!(nd_options(&[]), Ok(NdOptions::default()));
        // Unknown options are skipped.
        let o = nd_options(&[99, 1, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 5, 0]).unwrap();
        assert_eq!(o.mtu, Some(1280));
    }

    #[test]
    fn neighbor_advert_round_trip_with_checksum() {
        let mut b = [0u8; NS_LEN + LLADDR_OPT_LEN];
        let target: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        emit_neighbor_msg(&mut b, Message::NeighborAdvert, na_flags::SOLICITED | na_flags::ROUTER, &target, mac);
        let (s, d): (Ipv6Addr, Ipv6Addr) = ("fd00:1::1".parse().unwrap(), "fd00:1::2".parse().unwrap());
        let mut p = Icmpv6Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum(&s, &d);
        assert!(ipv6::verify_upper_checksum(&s, &d, ipv6::nh::ICMPV6, &b));
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.rest(), na_flags::SOLICITED | na_flags::ROUTER);
        assert_eq!(nd_options(&b[NS_LEN..]).unwrap().target_lladdr, Some(mac));
    }

    #[test]
    fn router_advert_round_trip() {
        let h = RaHeader {
            cur_hop_limit: 64,
            managed: false,
            other: true,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 0,
        };
        let pi = PrefixInfo {
            prefix: "fd00:1::".parse().unwrap(),
            len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
        };
        let mut b = [0u8; RA_LEN + PREFIX_OPT_LEN];
        h.emit(&mut b);
        pi.emit(&mut b[RA_LEN..]);
        assert_eq!(RaHeader::parse(&b).unwrap(), h);
        assert_eq!(PrefixInfo::all(&b[RA_LEN..]), vec![pi]);
    }
}

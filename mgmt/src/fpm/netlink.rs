//! FPM framing and the rtnetlink messages inside it, as zebra's
//! `dplane_fpm_nl` sends them.
//!
//! An FPM frame (FRR's `fpm/fpm.h`) is a 4-byte header, version 1, type
//! 1 (netlink), a 16-bit big-endian length that counts the header, then
//! netlink messages (rtnetlink(7)) in the sender's byte order: routes
//! (`RTM_NEWROUTE`, `RTM_DELROUTE`, `struct rtmsg`) and nexthop objects
//! (`RTM_NEWNEXTHOP`, `RTM_DELNEXTHOP`, `struct nhmsg`), which routes name
//! by `RTA_NH_ID` when zebra uses nexthop groups. Nothing here panics on
//! any input: a bad frame header ends the stream, a bad message inside a
//! frame is one [`Message::Bad`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The FPM header's length.
pub const FPM_HEADER: usize = 4;
/// FPM version 1, message type 1: netlink.
const FPM_VERSION: u8 = 1;
const FPM_NETLINK: u8 = 1;

/// Netlink message types (linux/rtnetlink.h).
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWNEXTHOP: u16 = 104;
const RTM_DELNEXTHOP: u16 = 105;
const NLMSG_HEADER: usize = 16;
const RTMSG_LEN: usize = 12;
const NHMSG_LEN: usize = 8;

/// Route attributes (`enum rtattr_type_t`).
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_NH_ID: u16 = 30;
/// Nexthop attributes (linux/nexthop.h).
const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const NHA_BLACKHOLE: u16 = 4;
const NHA_OIF: u16 = 5;
const NHA_GATEWAY: u16 = 6;
/// An attribute type without its nested and byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Route types (`RTN_*`).
const RTN_UNICAST: u8 = 1;
const RTN_BLACKHOLE: u8 = 6;
const RTN_UNREACHABLE: u8 = 7;
const RTN_PROHIBIT: u8 = 8;
/// The main table: the only one a gateway without VRFs takes.
pub const RT_TABLE_MAIN: u32 = 254;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// Who made a route: the `rtm_protocol` zebra sets (its `zebra2proto`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `RTPROT_KERNEL` (2): zebra's connected routes.
    Kernel,
    /// `RTPROT_STATIC` (4) and FRR's staticd (`RTPROT_ZSTATIC`, 196).
    Static,
    Bgp,
    Isis,
    Ospf,
    Rip,
    Ripng,
    Nhrp,
    Eigrp,
    Ldp,
    Babel,
    Openfabric,
    Sharp,
    Pbr,
    Other(u8),
}

impl Protocol {
    pub fn from_rtprot(p: u8) -> Protocol {
        match p {
            2 => Protocol::Kernel,
            4 | 196 => Protocol::Static,
            42 => Protocol::Babel,
            186 => Protocol::Bgp,
            187 => Protocol::Isis,
            188 => Protocol::Ospf,
            189 => Protocol::Rip,
            190 => Protocol::Ripng,
            191 => Protocol::Nhrp,
            192 => Protocol::Eigrp,
            193 => Protocol::Ldp,
            194 => Protocol::Sharp,
            195 => Protocol::Pbr,
            197 => Protocol::Openfabric,
            p => Protocol::Other(p),
        }
    }

    /// The name the API and metrics use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Kernel => "kernel",
            Protocol::Static => "static",
            Protocol::Bgp => "bgp",
            Protocol::Isis => "isis",
            Protocol::Ospf => "ospf",
            Protocol::Rip => "rip",
            Protocol::Ripng => "ripng",
            Protocol::Nhrp => "nhrp",
            Protocol::Eigrp => "eigrp",
            Protocol::Ldp => "ldp",
            Protocol::Babel => "babel",
            Protocol::Openfabric => "openfabric",
            Protocol::Sharp => "sharp",
            Protocol::Pbr => "pbr",
            Protocol::Other(_) => "other",
        }
    }

    /// Every name [`Protocol::name`] gives.
    pub const NAMES: [&'static str; 15] = [
        "kernel",
        "static",
        "bgp",
        "isis",
        "ospf",
        "rip",
        "ripng",
        "nhrp",
        "eigrp",
        "ldp",
        "babel",
        "openfabric",
        "sharp",
        "pbr",
        "other",
    ];
}

/// One next hop: a gateway, or only an interface (on-link).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub gateway: Option<IpAddr>,
    /// The sender's interface index (0: none given).
    pub oif: u32,
    /// Relative weight, 1..=256.
    pub weight: u16,
}

/// Where a route sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Next hops carried in the route (one, or `RTA_MULTIPATH`).
    Hops(Vec<Hop>),
    /// A nexthop object (`RTA_NH_ID`), sent before the route.
    Object(u32),
    Blackhole,
    Unreachable,
    Prohibit,
}

/// A route as `RTM_NEWROUTE` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub len: u8,
    pub table: u32,
    pub protocol: Protocol,
    /// `RTA_PRIORITY` (zebra sends 20 for every route).
    pub metric: u32,
    pub target: Target,
}

/// A nexthop object as `RTM_NEWNEXTHOP` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    Hop(Hop),
    Blackhole,
    /// Other objects' ids, with weights 1..=256.
    Group(Vec<(u32, u16)>),
}

/// Why a netlink message was not taken.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Shorter than its headers, or an attribute runs past its end.
    Truncated,
    /// A family other than IPv4 and IPv6, or an address of the wrong length.
    Family,
    /// A prefix length longer than the address.
    Length,
    /// A message type this listener does not take (links, addresses,
    /// neighbors, MPLS).
    Type,
}

impl Bad {
    pub fn name(self) -> &'static str {
        match self {
            Bad::Truncated => "truncated",
            Bad::Family => "family",
            Bad::Length => "prefix_length",
            Bad::Type => "message_type",
        }
    }
}

/// One netlink message from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    NewRoute(Route),
    /// Withdrawn: prefix and table.
    DelRoute {
        dst: IpAddr,
        len: u8,
        table: u32,
    },
    NewObject {
        id: u32,
        object: Object,
    },
    DelObject(u32),
    Bad(Bad),
}

/// A broken FPM stream: after it, nothing more can be framed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("FPM version {0}, not 1")]
    Version(u8),
    #[error("FPM frame length {0}, shorter than its header")]
    Length(u16),
}

/// A whole frame: its length, and for a netlink frame its messages' bytes
/// (other frame types carry nothing for us: `None`).
pub type Frame<'a> = (usize, Option<&'a [u8]>);

/// The next whole frame at the start of `buf`; `Ok(None)` until all of
/// it is in.
pub fn frame(buf: &[u8]) -> Result<Option<Frame<'_>>, FrameError> {
    let Some(h) = buf.get(..FPM_HEADER) else { return Ok(None) };
    if h[0] != FPM_VERSION {
        return Err(FrameError::Version(h[0]));
    }
    let len = u16::from_be_bytes([h[2], h[3]]);
    if usize::from(len) < FPM_HEADER {
        return Err(FrameError::Length(len));
    }
    let Some(body) = buf.get(FPM_HEADER..usize::from(len)) else { return Ok(None) };
    Ok(Some((usize::from(len), (h[1] == FPM_NETLINK).then_some(body))))
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The netlink messages in `body` (header included; also what the kernel
/// answers a dump with, [`crate::punt::kernel`]). One whose length does
/// not fit ends them, as `Bad::Truncated`.
pub(crate) fn split(mut body: &[u8]) -> impl Iterator<Item = Result<&[u8], Bad>> {
    std::iter::from_fn(move || {
        if body.is_empty() {
            return None;
        }
        let len = u32_at(body, 0).map_or(0, |l| l as usize);
        if len < NLMSG_HEADER || len > body.len() {
            body = &[];
            return Some(Err(Bad::Truncated));
        }
        let (msg, rest) = body.split_at(len);
        // Messages are 4-byte aligned (NLMSG_ALIGN).
        body = rest.get((4 - len % 4) % 4..).unwrap_or_default();
        Some(Ok(msg))
    })
}

/// The netlink messages of a frame's body, each decoded.
pub fn messages(body: &[u8]) -> impl Iterator<Item = Message> + '_ {
    split(body).map(|m| m.map_or_else(Message::Bad, decode))
}

/// One netlink message (header included).
pub fn decode(msg: &[u8]) -> Message {
    let (Some(kind), Some(payload)) = (u16_at(msg, 4), msg.get(NLMSG_HEADER..)) else {
        return Message::Bad(Bad::Truncated);
    };
    let r = match kind {
        RTM_NEWROUTE | RTM_DELROUTE => route(payload, kind == RTM_NEWROUTE),
        RTM_NEWNEXTHOP | RTM_DELNEXTHOP => object(payload, kind == RTM_NEWNEXTHOP),
        _ => Err(Bad::Type),
    };
    r.unwrap_or_else(Message::Bad)
}

/// The attributes in `b`: (type without flags, value).
pub(crate) fn attrs(mut b: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), Bad>> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let (Some(len), Some(kind)) = (u16_at(b, 0).map(usize::from), u16_at(b, 2)) else { return None };
        let Some(value) = b.get(4..len).filter(|_| len >= 4) else {
            b = &[];
            return Some(Err(Bad::Truncated));
        };
        let value: &[u8] = value;
        b = b.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some(Ok((kind & NLA_TYPE_MASK, value)))
    })
}

/// An address attribute's value, of `family` (`AF_INET`, `AF_INET6`).
pub(crate) fn address(family: u8, v: &[u8]) -> Result<IpAddr, Bad> {
    match (family, v.len()) {
        (AF_INET, 4) => Ok(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).map_err(|_| Bad::Family)?))),
        (AF_INET6, 16) => Ok(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).map_err(|_| Bad::Family)?))),
        _ => Err(Bad::Family),
    }
}

fn route(p: &[u8], new: bool) -> Result<Message, Bad> {
    let h = p.get(..RTMSG_LEN).ok_or(Bad::Truncated)?;
    let (family, len, src_len, table, proto, rtype) = (h[0], h[1], h[2], h[4], h[5], h[7]);
    let max = match family {
        AF_INET => 32,
        AF_INET6 => 128,
        _ => return Err(Bad::Family),
    };
    if len > max {
        return Err(Bad::Length);
    }
    let unspecified = match family {
        AF_INET => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let (mut dst, mut table, mut metric) = (unspecified, u32::from(table), 0);
    let (mut gateway, mut oif, mut object, mut multipath) = (None, 0, None, None);
    for a in attrs(&p[RTMSG_LEN..]) {
        let (kind, v) = a?;
        match kind {
            RTA_DST => dst = address(family, v)?,
            RTA_TABLE => table = u32_at(v, 0).ok_or(Bad::Truncated)?,
            RTA_PRIORITY => metric = u32_at(v, 0).ok_or(Bad::Truncated)?,
            RTA_GATEWAY => gateway = Some(address(family, v)?),
            RTA_OIF => oif = u32_at(v, 0).ok_or(Bad::Truncated)?,
            RTA_NH_ID => object = Some(u32_at(v, 0).ok_or(Bad::Truncated)?),
            RTA_MULTIPATH => multipath = Some(hops(family, v)?),
            _ => {}
        }
    }
    if !new {
        return Ok(Message::DelRoute { dst, len, table });
    }
    let target = match rtype {
        RTN_BLACKHOLE => Target::Blackhole,
        RTN_UNREACHABLE => Target::Unreachable,
        RTN_PROHIBIT => Target::Prohibit,
        RTN_UNICAST => match (object, multipath) {
            (Some(id), _) => Target::Object(id),
            (None, Some(hops)) => Target::Hops(hops),
            (None, None) => Target::Hops(vec![Hop { gateway, oif, weight: 1 }]),
        },
        _ => return Err(Bad::Type),
    };
    // Source-specific routes (src_len) are not a gateway's: left for the
    // caller to refuse by their source length.
    let len = if src_len != 0 { u8::MAX } else { len };
    Ok(Message::NewRoute(Route { dst, len, table, protocol: Protocol::from_rtprot(proto), metric, target }))
}

/// `RTA_MULTIPATH`: `struct rtnexthop` (length, flags, hops = weight - 1,
/// ifindex) each followed by its attributes.
fn hops(family: u8, mut v: &[u8]) -> Result<Vec<Hop>, Bad> {
    let mut out = Vec::new();
    while v.len() >= 8 {
        let len = usize::from(u16_at(v, 0).ok_or(Bad::Truncated)?);
        let one = v.get(..len).filter(|_| len >= 8).ok_or(Bad::Truncated)?;
        let mut hop = Hop { gateway: None, oif: u32_at(one, 4).ok_or(Bad::Truncated)?, weight: u16::from(one[3]) + 1 };
        for a in attrs(&one[8..]) {
            let (kind, value) = a?;
            if kind == RTA_GATEWAY {
                hop.gateway = Some(address(family, value)?);
            }
        }
        out.push(hop);
        v = v.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(out)
}

fn object(p: &[u8], new: bool) -> Result<Message, Bad> {
    let h = p.get(..NHMSG_LEN).ok_or(Bad::Truncated)?;
    let family = h[0];
    let (mut id, mut gateway, mut oif, mut blackhole, mut group) = (None, None, 0, false, None);
    for a in attrs(&p[NHMSG_LEN..]) {
        let (kind, v) = a?;
        match kind {
            NHA_ID => id = Some(u32_at(v, 0).ok_or(Bad::Truncated)?),
            NHA_GATEWAY => gateway = Some(address(family, v)?),
            NHA_OIF => oif = u32_at(v, 0).ok_or(Bad::Truncated)?,
            NHA_BLACKHOLE => blackhole = true,
            // `struct nexthop_grp`: id, weight - 1, two reserved fields.
            NHA_GROUP => {
                group = Some(
                    v.chunks(8)
                        .map(|c| Some((u32_at(c, 0)?, u16::from(*c.get(4)?) + 1)))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(Bad::Truncated)?,
                )
            }
            _ => {}
        }
    }
    let id = id.ok_or(Bad::Truncated)?;
    if !new {
        return Ok(Message::DelObject(id));
    }
    let object = match (group, blackhole) {
        (Some(g), _) => Object::Group(g),
        (None, true) => Object::Blackhole,
        (None, false) => Object::Hop(Hop { gateway, oif, weight: 1 }),
    };
    Ok(Message::NewObject { id, object })
}

#[cfg(test)]
mod tests;

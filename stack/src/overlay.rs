//! Tunnels and VXLAN segments as the tables hold them: a tunnel
//! interface's ends and type, the keys its packets are matched on, a
//! bridge's VXLAN segment and its remote VTEPs, and the hash map the
//! dataplane looks them up in per packet.

use crate::wire::{ipv6, MacAddr};
use std::net::{IpAddr, Ipv4Addr};

/// How a tunnel wraps what it carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// GRE (RFC 2784), with an optional key (RFC 2890): IPv4 and IPv6
    /// inside, IPv4 or IPv6 outside.
    Gre { key: Option<u32> },
    /// IP in IP: IPv4 inside as protocol 4 (RFC 2003; RFC 2473 over
    /// IPv6), IPv6 inside as protocol 41 (RFC 4213's 6in4 over IPv4; RFC
    /// 2473 over IPv6).
    Ip,
}

impl TunnelKind {
    /// Bytes it adds in front of the inner packet, outer IP header
    /// included, with an outer header of `v6`.
    pub const fn overhead(self, v6: bool) -> usize {
        let ip = if v6 { ipv6::HEADER_LEN } else { 20 };
        match self {
            TunnelKind::Gre { key } => ip + crate::wire::gre::GreRepr::emitted_len(key),
            TunnelKind::Ip => ip,
        }
    }
}

/// A point-to-point tunnel an interface is the inside of. Both ends are
/// of one family (the outer header's).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// Our address, the outer source; one of an interface's.
    pub local: IpAddr,
    /// The far end's, the outer destination.
    pub remote: IpAddr,
    /// Outer TTL / hop limit.
    pub ttl: u8,
}

/// What a received tunnel packet is matched on to find its interface.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TunnelKey {
    /// Outer destination (our end) and source (the far end).
    pub local: IpAddr,
    pub remote: IpAddr,
    /// The outer protocol: GRE (47), IPv4 (4) or IPv6 (41) in IP.
    pub protocol: u8,
    /// The GRE key.
    pub key: Option<u32>,
}

impl Tunnel {
    /// The keys of the packets this tunnel takes: GRE's, or IP in IP's
    /// for each family the interface carries (`inner4`, `inner6`).
    pub fn keys(&self, inner4: bool, inner6: bool) -> impl Iterator<Item = TunnelKey> + '_ {
        let (local, remote) = (self.local, self.remote);
        let protocols: [Option<(u8, Option<u32>)>; 2] = match self.kind {
            TunnelKind::Gre { key } => [Some((crate::wire::ip::protocol::GRE, key)), None],
            TunnelKind::Ip => [
                inner4.then_some((crate::wire::ip::protocol::IPIP, None)),
                inner6.then_some((crate::wire::ip::protocol::IPV6, None)),
            ],
        };
        protocols.into_iter().flatten().map(move |(protocol, key)| TunnelKey { local, remote, protocol, key })
    }
}

/// A bridge's VXLAN segment (RFC 7348): its VNI, our VTEP address and
/// the UDP port; the remote VTEPs are members of the bridge.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Vxlan {
    pub vni: u32,
    pub local: Ipv4Addr,
    pub port: u16,
}

/// A remote VTEP as a frame from it enters its bridge.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VtepIn {
    pub bridge: u16,
    /// Its member of the bridge.
    pub member: u16,
    /// The one member unknown unicast from it may go to (`u16::MAX`: not
    /// exactly one).
    pub flood_to: u16,
    /// `flood_to`'s port, if it is untagged and not a VTEP
    /// ([`Tables::plain_port`](crate::Tables::plain_port)).
    pub flood_port: u16,
    /// The bridge's interface's MAC (zero: none).
    pub bvi_mac: MacAddr,
}

/// A map the dataplane looks up per packet, keyed by what the operator
/// configured (tunnel ends, VNIs): a multiply-rotate hash, as rustc's
/// FxHash, instead of SipHash's ~20 ns. Packets can only probe it: its
/// entries come from the config, so no sender can grow a bucket.
pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// The hasher of [`FastMap`].
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

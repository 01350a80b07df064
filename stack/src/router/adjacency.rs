//! The adjacency cache: each next hop's rewrite (MACs, egress port, MTU,
//! and through a tunnel its outer headers) as the full path's `output`
//! would write it, per worker, as VPP's
//! adjacencies and l3fwd's per-port destination MACs. An entry is valid
//! while neither the tables' generation nor the neighbor cache's changed
//! and the neighbor stays reachable ([`crate::neigh::Resolved`]). A
//! route's next hops have slots by index, a connected host's by hash.

use super::fast::V4_HEAD;
use super::Router;
use crate::buf::PacketBuf;
use crate::fib::RouteTarget;
use crate::hooks::Translator;
use crate::iface::{Tables, Tunnel, TunnelKind};
use crate::path_mtu::PathKey;
use crate::wire::ethernet::ethertype;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::gre::GreRepr;
use crate::wire::ip::protocol;
use crate::wire::{checksum, ipv4, put16};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Adjacency cache entries (direct-mapped by next hop).
pub(super) const ADJ_SLOTS: usize = 256;

/// How to send to one next hop: what the full path's `output` would
/// write, cached. (C layout: what every packet reads first, the outer
/// headers of a tunnel last.)
#[derive(Copy, Clone, Debug)]
#[repr(C)]
pub(super) struct Adjacency {
    /// The next hop, as [`AdjacencyKey::parts`] (tag 0 marks an empty entry).
    pub(super) tag: u8,
    pub(super) ifindex: u16,
    pub(super) ip: u128,
    /// Valid for this tables generation, this neighbor-cache generation,
    /// and before this time.
    pub(super) tables: u64,
    pub(super) neighbors: u64,
    pub(super) until: u64,
    /// The neighbor entry, for noting its use.
    pub(super) slot: u32,
    /// The egress interface and its port.
    pub(super) out: u16,
    pub(super) port: u16,
    pub(super) mtu: u16,
    /// Destination and source MAC.
    pub(super) macs: [u8; 12],
    /// Through a tunnel: `encap` has outer headers to write, and `path`
    /// names the path whose reported MTU may lower `mtu`.
    pub(super) wraps: bool,
    pub(super) path: PathKey,
    /// Through a tunnel: the outer headers to write before the packet.
    pub(super) encap: Encap,
}

/// A tunnel's frame head as the fast path writes it (IPv4 outside): the
/// Ethernet header, the outer IPv4 header and the GRE header if any,
/// with the IPv4 length, TOS, identification, flags and checksum still
/// to fill. Written whole, as one copy.
#[derive(Copy, Clone, Debug)]
pub(super) struct Encap {
    pub(super) head: [u8; ETH_LEN + ENCAP_MAX],
    /// The outer headers' length, after the Ethernet header (0: no tunnel).
    pub(super) len: u8,
    /// The one's complement sum of the IPv4 header's fixed 16-bit words
    /// (RFC 1071).
    pub(super) sum: u32,
}

/// Longest outer headers: IPv4 and GRE with a key.
pub(super) const ENCAP_MAX: usize = 28;

impl Encap {
    pub(super) const NONE: Encap = Encap { head: [0; ETH_LEN + ENCAP_MAX], len: 0, sum: 0 };

    /// The frame head of `tun` from `src` to `dst` for an inner packet of
    /// IPv6 (`v6`) or IPv4, sent with `macs` (destination, source).
    fn new(tun: &Tunnel, macs: &[u8; 12], src: Ipv4Addr, dst: Ipv4Addr, v6: bool) -> Encap {
        let mut head = [0u8; ETH_LEN + ENCAP_MAX];
        let (proto, gre_key) = match tun.kind {
            TunnelKind::Gre { key } => (protocol::GRE, Some(key)),
            TunnelKind::Ip => (if v6 { protocol::IPV6 } else { protocol::IPIP }, None),
        };
        head[..12].copy_from_slice(macs);
        put16(&mut head, 12, ethertype::IPV4);
        let ip = &mut head[ETH_LEN..];
        ip[0] = 0x45;
        ip[8] = tun.ttl;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&src.octets());
        ip[16..20].copy_from_slice(&dst.octets());
        let mut len = ipv4::HEADER_LEN;
        if let Some(key) = gre_key {
            let inner = if v6 { ethertype::IPV6 } else { ethertype::IPV4 };
            GreRepr::emit(&mut ip[len..], inner, key);
            len += GreRepr::emitted_len(key);
        }
        let sum = checksum::sum(0, &ip[..ipv4::HEADER_LEN]);
        Encap { head, len: len as u8, sum }
    }
}

/// A next hop as the adjacency cache knows it.
#[derive(Copy, Clone, Debug)]
pub(super) enum AdjacencyKey {
    /// A gateway: the index of a route's next hop in the family's FIB
    /// (4 or 6), which names it in this tables generation.
    Route(u8, u32),
    /// A host on a connected subnet: family, interface and address
    /// (IPv4 in the low 32 bits).
    Host(u8, u16, u128),
}

/// The cache slot of a next hop: a route's next hops by their index (a
/// table has few, numbered from 0; IPv6 ones from the middle of the
/// cache), a host by a hash.
#[inline(always)]
pub(super) fn adj_index(tag: u8, ifindex: u16, ip: u128) -> usize {
    if tag & 0x80 != 0 {
        let half = if tag & 0x7f == 6 { ADJ_SLOTS / 2 } else { 0 };
        return (ip as usize).wrapping_add(half) % ADJ_SLOTS;
    }
    let k = (ip as u64 ^ (ip >> 64) as u64 ^ u64::from(ifindex) << 48 ^ u64::from(tag) << 40)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (k >> 56) as usize % ADJ_SLOTS
}

impl Adjacency {
    pub(super) const EMPTY: Adjacency = Adjacency {
        tag: 0,
        ifindex: 0,
        ip: 0,
        tables: 0,
        neighbors: 0,
        until: 0,
        slot: 0,
        out: 0,
        port: 0,
        mtu: 0,
        macs: [0; 12],
        wraps: false,
        path: PathKey::NONE,
        encap: Encap::NONE,
    };
}

/// The last entry [`Router::adjacency`] found valid in this burst, by key,
/// with its MTU: a burst's frames mostly share their next hops, and a hit
/// spares the entry's checks and a tunnel's path MTU lookup. Forgotten at
/// each burst, when an entry is filled, and when a path MTU report is
/// taken (a frame of the burst may lower a tunnel's MTU; another
/// worker's report counts from the next burst); held to the neighbor
/// cache's generation (a frame of the burst may change a neighbor).
/// A route with one next hop also notes its FIB entry
/// ([`Fib::entry`](crate::fib::Fib::entry), or
/// [`Fib6::entry`](crate::fib6::Fib6::entry) with [`FIB6_ENTRY`] added),
/// which names the next hop without the route's target (the burst has
/// one table).
#[derive(Copy, Clone, Debug)]
pub(super) struct AdjMemo {
    /// The key's parts (tag 0: none).
    key: (u8, u16, u128),
    neighbors: u64,
    /// The entry's slot and MTU.
    hit: (u16, u16),
    /// The FIB entry whose one next hop `key` is (0: none).
    route: u32,
}

/// Marks an IPv6 FIB entry in the memo (the two tables' entries are
/// both below 2^31).
pub(super) const FIB6_ENTRY: u32 = 1 << 31;

impl AdjMemo {
    pub(super) const NONE: AdjMemo = AdjMemo { key: (0, 0, 0), neighbors: 0, hit: (0, 0), route: 0 };

    /// The adjacency slot and MTU of FIB entry `route` (not 0), if it is
    /// the one noted, under neighbor generation `neighbors`.
    #[inline(always)]
    pub(super) fn route(&self, route: u32, neighbors: u64) -> Option<(u16, u16)> {
        (route == self.route && route != 0 && neighbors == self.neighbors).then_some(self.hit)
    }
}

impl AdjacencyKey {
    /// The cache key: tag (family, plus 0x80 for a route's), interface,
    /// address or next-hop index.
    #[inline(always)]
    fn parts(self) -> (u8, u16, u128) {
        match self {
            AdjacencyKey::Route(f, n) => (f | 0x80, 0, u128::from(n)),
            AdjacencyKey::Host(f, i, ip) => (f, i, ip),
        }
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// The adjacency-cache entry towards a next hop, and its MTU: found
    /// valid, or made from the neighbor cache; `None` if the full path
    /// must decide (unresolved, stale, a VLAN or bridge interface, one that
    /// clamps the MSS, a tunnel with an IPv6 outside or several underlay
    /// next hops).
    /// `route`: the FIB entry whose one next hop `key` is, noted in the
    /// memo (0: none).
    #[inline(always)]
    pub(super) fn adjacency(&mut self, t: &Tables, key: AdjacencyKey, route: u32, now: u64) -> Option<(u16, u16)> {
        let (tag, ifindex, ip) = key.parts();
        let neighbors = self.neigh.generation();
        let m = &mut self.adj_memo;
        if m.key == (tag, ifindex, ip) && m.neighbors == neighbors {
            m.route = route;
            return Some(m.hit);
        }
        let i = adj_index(tag, ifindex, ip);
        let a = self.adj.get(i)?;
        if a.tag == tag
            && a.ip == ip
            && a.ifindex == ifindex
            && a.tables == t.generation
            && a.neighbors == neighbors
            && now < a.until
        {
            let hit = (i as u16, self.adjacency_mtu(a, now));
            self.adj_memo = AdjMemo { key: (tag, ifindex, ip), neighbors, hit, route };
            return Some(hit);
        }
        self.fill_adjacency(t, i, key, now)
    }

    /// An entry's MTU: a tunnel's lowered by its path's reported MTU, if
    /// any ([`crate::path_mtu`]).
    #[inline(always)]
    fn adjacency_mtu(&self, a: &Adjacency, now: u64) -> u16 {
        if a.wraps {
            self.path_mtus.cap(a.path, a.mtu, u16::from(a.encap.len), now)
        } else {
            a.mtu
        }
    }

    #[cold]
    pub(super) fn fill_adjacency(&mut self, t: &Tables, i: usize, key: AdjacencyKey, now: u64) -> Option<(u16, u16)> {
        let (out, addr) = match key {
            AdjacencyKey::Host(4, ifindex, ip) => (ifindex, IpAddr::V4(Ipv4Addr::from(ip as u32))),
            AdjacencyKey::Host(_, ifindex, ip) => (ifindex, IpAddr::V6(Ipv6Addr::from(ip))),
            AdjacencyKey::Route(4, n) => t.fib.nexthop_at(n).map(|h| (h.ifindex, IpAddr::V4(h.gateway)))?,
            AdjacencyKey::Route(_, n) => t.fib6.nexthop_at(n).map(|h| (h.ifindex, IpAddr::V6(h.gateway)))?,
        };
        let egress = t.iface(out)?;
        if egress.mss_clamp {
            return None;
        }
        // Into a tunnel (IPv4 outside, one underlay next hop): the
        // underlay's next hop and the outer ends.
        let (wire_if, hop, ends) = match egress.tunnel {
            None => (out, addr, None),
            Some(tun) => {
                let (IpAddr::V4(src), IpAddr::V4(dst)) = (tun.local, tun.remote) else { return None };
                let (wire_if, hop) = match t.fib.lookup(dst)? {
                    RouteTarget::Connected { ifindex } => (*ifindex, dst),
                    RouteTarget::Via { first, count: 1 } => {
                        t.fib.nexthop(*first, 1, 0).map(|h| (h.ifindex, h.gateway))?
                    }
                    _ => return None,
                };
                (wire_if, IpAddr::V4(hop), Some((tun, src, dst)))
            }
        };
        let wire = t.iface(wire_if)?;
        if wire.bridge.is_some() || wire.vlan.is_some() || wire.tunnel.is_some() || wire.mss_clamp {
            return None;
        }
        // The memo may name the slot this fill takes over.
        self.adj_memo = AdjMemo::NONE;
        let r = self.neigh.resolved(wire_if, hop, now)?;
        // Noted as used now: a burst notes each adjacency's neighbor once,
        // and this entry may have taken the place of one noted already.
        self.neigh.touch(r.slot, now);
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&r.mac.0);
        macs[6..].copy_from_slice(&wire.mac.0);
        let (tag, ifindex, ip) = key.parts();
        let (encap, path) = match ends {
            Some((tun, src, dst)) => (Encap::new(&tun, &macs, src, dst, tag & 0x7f == 6), PathKey::of_tunnel(&tun)),
            None => (Encap::NONE, PathKey::NONE),
        };
        *self.adj.get_mut(i)? = Adjacency {
            tag,
            ifindex,
            ip,
            tables: t.generation,
            neighbors: self.neigh.generation(),
            until: r.until,
            slot: r.slot,
            out,
            port: wire.port,
            mtu: egress.mtu,
            macs,
            wraps: encap.len != 0,
            path,
            encap,
        };
        let a = self.adj.get(i)?;
        Some((i as u16, self.adjacency_mtu(a, now)))
    }
}

/// Writes adjacency `a`'s frame head before the packet in `pkt` (its
/// Ethernet header's room first), then the outer IPv4 header's length,
/// the inner TOS / traffic class and DF, identification `ident`, and the
/// checksum from the stored sum. False if the buffer has no headroom for
/// them.
#[inline(always)]
pub(super) fn wrap<B: PacketBuf>(pkt: &mut B, a: &Adjacency, ident: u16) -> bool {
    let n = usize::from(a.encap.len);
    let d = pkt.data();
    let Some(&first) = d.get(ETH_LEN) else { return false };
    let (tos, df) = match first >> 4 {
        4 => (d.get(ETH_LEN + 1).copied().unwrap_or(0), d.get(ETH_LEN + 6).is_some_and(|f| f & 0x40 != 0)),
        _ => ((first & 0x0f) << 4 | d.get(ETH_LEN + 1).map_or(0, |b| b >> 4), false),
    };
    let total = (pkt.len() - ETH_LEN + n) as u16;
    if !pkt.prepend(n) {
        return false;
    }
    let d = pkt.data_mut();
    // One copy of a constant size per outer header length (a call to
    // memmove otherwise): IPv4, IPv4 and GRE, IPv4 and GRE with a key.
    let copied = match n {
        20 => put_head::<{ ETH_LEN + 20 }>(d, &a.encap.head),
        24 => put_head::<{ ETH_LEN + 24 }>(d, &a.encap.head),
        28 => put_head::<{ ETH_LEN + 28 }>(d, &a.encap.head),
        _ => false,
    };
    if !copied {
        return false;
    }
    let Some(h) = d.get_mut(ETH_LEN..V4_HEAD).and_then(|h| <&mut [u8; ipv4::HEADER_LEN]>::try_from(h).ok()) else {
        return false;
    };
    let flags: u16 = if df { ipv4::DONT_FRAGMENT } else { 0 };
    h[1] = tos;
    put16(h, 2, total);
    put16(h, 4, ident);
    put16(h, 6, flags);
    let sum = a.encap.sum + u32::from(tos) + u32::from(total) + u32::from(ident) + u32::from(flags);
    put16(h, ipv4::field::CHECKSUM, !checksum::fold(sum));
    true
}

/// Copies the first `N` bytes of `head` to the start of `d`; false if
/// `d` is shorter.
#[inline(always)]
fn put_head<const N: usize>(d: &mut [u8], head: &[u8; ETH_LEN + ENCAP_MAX]) -> bool {
    match (d.get_mut(..N), head.get(..N)) {
        (Some(d), Some(h)) => {
            d.copy_from_slice(h);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{adj_index, ADJ_SLOTS};

    /// A route's next hops have slots of their own, by index, IPv4 and
    /// IPv6 apart; any key has a slot in the cache.
    #[test]
    fn route_next_hops_take_the_cache_in_order() {
        assert_eq!(adj_index(0x84, 0, 0), 0);
        assert_eq!(adj_index(0x84, 0, 3), 3);
        assert_eq!(adj_index(0x86, 0, 0), ADJ_SLOTS / 2);
        assert_eq!(adj_index(0x86, 0, ADJ_SLOTS as u128 / 2), 0);
        for (tag, ip) in [(4, 0x0a00_0001), (6, u128::MAX), (0x84, u128::from(u32::MAX)), (0x86, u128::MAX)] {
            assert!(adj_index(tag, 7, ip) < ADJ_SLOTS);
        }
    }
}

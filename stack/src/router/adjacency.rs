//! The adjacency cache: each next hop's rewrite (MACs, egress port, MTU)
//! as the full path's `output` would write it, per worker, as VPP's
//! adjacencies and l3fwd's per-port destination MACs. An entry is valid
//! while neither the tables' generation nor the neighbor cache's changed
//! and the neighbor stays reachable ([`crate::neigh::Resolved`]). A
//! route's next hops have slots by index, a connected host's by hash.

use super::Router;
use crate::buf::PacketBuf;
use crate::hooks::Translator;
use crate::iface::Tables;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Adjacency cache entries (direct-mapped by next hop).
pub(super) const ADJ_SLOTS: usize = 256;

/// How to send to one next hop: what the full path's `output` would
/// write, cached.
#[derive(Copy, Clone, Debug)]
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
    };
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
    /// must decide (unresolved, stale, a VLAN, bridge or tunnel interface, or
    /// one that clamps the MSS).
    #[inline(always)]
    pub(super) fn adjacency(&mut self, t: &Tables, key: AdjacencyKey, now: u64) -> Option<(u16, u16)> {
        let (tag, ifindex, ip) = key.parts();
        let i = adj_index(tag, ifindex, ip);
        let neighbors = self.neigh.generation();
        let a = self.adj.get(i)?;
        if a.tag == tag
            && a.ip == ip
            && a.ifindex == ifindex
            && a.tables == t.generation
            && a.neighbors == neighbors
            && now < a.until
        {
            return Some((i as u16, a.mtu));
        }
        self.fill_adjacency(t, i, key, now)
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
        if egress.bridge.is_some() || egress.vlan.is_some() || egress.tunnel.is_some() || egress.mss_clamp {
            return None;
        }
        let r = self.neigh.resolved(out, addr, now)?;
        // Noted as used now: a burst notes each adjacency's neighbor once,
        // and this entry may have taken the place of one noted already.
        self.neigh.touch(r.slot, now);
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&r.mac.0);
        macs[6..].copy_from_slice(&egress.mac.0);
        let (tag, ifindex, ip) = key.parts();
        *self.adj.get_mut(i)? = Adjacency {
            tag,
            ifindex,
            ip,
            tables: t.generation,
            neighbors: self.neigh.generation(),
            until: r.until,
            slot: r.slot,
            out,
            port: egress.port,
            mtu: egress.mtu,
            macs,
        };
        Some((i as u16, egress.mtu))
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

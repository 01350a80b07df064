//! IPv4 forwarding table: longest-prefix match by DIR-24-8.
//!
//! The layout is DPDK `rte_lpm`'s (Gupta, Lin, McKeown, "Routing lookups in
//! hardware at memory access speeds", 1998): a 2^24-entry table indexed by
//! the top 24 bits, whose entries either hold a route or point to a group
//! of 256 entries for the last 8 bits. A lookup is one memory access for
//! prefixes up to /24 and two beyond.
//!
//! A `Fib` is immutable once built: the control plane builds a new one
//! from the whole route list ([`FibBuilder`]) and publishes it as a new
//! snapshot, so workers never see a half-updated table. Building paints
//! routes shortest prefix first, so a longer prefix overwrites the part of
//! a shorter one it covers: that is longest-prefix match by construction.
//!
//! Lookups never panic or allocate. Building allocates (control plane).

use std::net::Ipv4Addr;

/// Where a route sends a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RouteTarget {
    /// One of our own addresses, on interface `ifindex`: deliver locally.
    Local { ifindex: u16 },
    /// A directed broadcast address of a connected subnet.
    Broadcast { ifindex: u16 },
    /// A connected subnet: the destination itself is the next hop.
    Connected { ifindex: u16 },
    /// Via gateways: `count` equal-cost next hops starting at `first` in
    /// the next-hop table, chosen by flow hash.
    Via { first: u32, count: u16 },
    /// Answer with ICMP Host Unreachable.
    Unreachable,
    /// Drop silently.
    Blackhole,
}

/// A gateway next hop.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub ifindex: u16,
    pub gateway: Ipv4Addr,
}

/// A route as the builder takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: Ipv4Addr,
    pub len: u8,
    pub target: RouteTarget,
}

const EXT: u32 = 1 << 31;
const TBL24_SIZE: usize = 1 << 24;
/// Most groups of 256 entries a table may hold (routes longer than /24
/// sharing a /24 share a group): 2^20 groups is 1 GiB of tbl8.
pub const MAX_TBL8_GROUPS: usize = 1 << 20;

/// Errors building a FIB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FibError {
    /// Prefix length longer than the address (32 bits, or 128 for IPv6).
    BadLength(u8),
    /// Too many distinct /24s hold longer prefixes.
    TooManyGroups,
    /// Too many distinct targets (2^31).
    TooManyTargets,
    /// Two interfaces or bridge members claim one port and VLAN (0:
    /// untagged), or the port id is beyond [`crate::iface::MAX_PORTS`].
    Attach(u16, u16),
}

impl std::fmt::Display for FibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FibError::BadLength(l) => write!(f, "prefix length {l} is longer than the address"),
            FibError::TooManyGroups => write!(f, "more than {MAX_TBL8_GROUPS} /24s hold longer prefixes"),
            FibError::TooManyTargets => write!(f, "too many distinct route targets"),
            FibError::Attach(p, 0) => write!(f, "port {p} has two untagged users, or is out of range"),
            FibError::Attach(p, v) => write!(f, "VLAN {v} of port {p} has two users"),
        }
    }
}

impl std::error::Error for FibError {}

/// An immutable DIR-24-8 table.
pub struct Fib {
    /// Entry 0: no route; `EXT | g`: group g in `tbl8`; else target index + 1.
    tbl24: Box<[u32; TBL24_SIZE]>,
    tbl8: Vec<u32>,
    targets: Vec<RouteTarget>,
    nexthops: Vec<NextHop>,
    routes: Vec<Route>,
}

/// The index of the next hop a flow hash picks among `count` from
/// `first` (both FIBs, and the fast path's adjacency keys).
#[inline(always)]
pub fn pick(first: u32, count: u16, hash: u32) -> u32 {
    first + if count > 1 { hash % u32::from(count) } else { 0 }
}

impl Fib {
    /// Longest-prefix match for `dst`.
    #[inline(always)]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&RouteTarget> {
        let a = u32::from(dst);
        let mut e = self.tbl24[(a >> 8) as usize];
        if e & EXT != 0 {
            let i = ((e & !EXT) as usize) << 8 | (a & 0xff) as usize;
            e = *self.tbl8.get(i)?;
        }
        self.targets.get((e as usize).checked_sub(1)?)
    }

    /// The `Via` next hop a flow hash selects among `count` from `first`.
    #[inline(always)]
    pub fn nexthop(&self, first: u32, count: u16, hash: u32) -> Option<&NextHop> {
        self.nexthops.get(pick(first, count, hash) as usize)
    }

    /// The routes this table was built from, in insertion order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The next hop at index `i` (as [`RouteTarget::Via`] numbers them).
    #[inline]
    pub fn nexthop_at(&self, i: u32) -> Option<&NextHop> {
        self.nexthops.get(i as usize)
    }

    /// Next hops of a `Via` target.
    pub fn nexthops_of(&self, first: u32, count: u16) -> &[NextHop] {
        self.nexthops.get(first as usize..first as usize + usize::from(count)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Fib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib").field("routes", &self.routes.len()).finish()
    }
}

/// Collects routes, then builds a [`Fib`].
#[derive(Default, Debug)]
pub struct FibBuilder {
    routes: Vec<Route>,
    nexthops: Vec<NextHop>,
}

impl FibBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route to a non-gateway target (local, connected, ...).
    pub fn add(&mut self, prefix: Ipv4Addr, len: u8, target: RouteTarget) -> &mut Self {
        self.routes.push(Route { prefix: mask(prefix, len), len, target });
        self
    }

    /// Adds a route via one or more equal-cost gateways.
    pub fn add_via(&mut self, prefix: Ipv4Addr, len: u8, hops: &[NextHop]) -> &mut Self {
        let first = self.nexthops.len() as u32;
        self.nexthops.extend_from_slice(hops);
        let target = RouteTarget::Via { first, count: hops.len() as u16 };
        self.add(prefix, len, target)
    }

    /// Builds the table. Same-prefix duplicates: the last one added wins.
    pub fn build(self) -> Result<Fib, FibError> {
        let FibBuilder { routes, nexthops } = self;
        if let Some(r) = routes.iter().find(|r| r.len > 32) {
            return Err(FibError::BadLength(r.len));
        }
        if routes.len() >= (EXT as usize) - 1 {
            return Err(FibError::TooManyTargets);
        }
        let mut order: Vec<usize> = (0..routes.len()).collect();
        order.sort_by_key(|&i| routes[i].len); // stable: later duplicates win
        let tbl24: Box<[u32; TBL24_SIZE]> =
            vec![0u32; TBL24_SIZE].into_boxed_slice().try_into().map_err(|_| FibError::TooManyGroups)?;
        let mut fib =
            Fib { tbl24, tbl8: Vec::new(), targets: Vec::with_capacity(routes.len()), nexthops, routes: Vec::new() };
        for &i in &order {
            let r = &routes[i];
            let value = fib.targets.len() as u32 + 1;
            fib.targets.push(r.target);
            let a = u32::from(r.prefix);
            if r.len <= 24 {
                let start = (a >> 8) as usize;
                let n = 1usize << (24 - r.len);
                for e in &mut fib.tbl24[start..start + n] {
                    if *e & EXT != 0 {
                        // Only reachable with duplicates of shorter length
                        // painted after a longer prefix; never by sorting.
                        let g = (*e & !EXT) as usize;
                        fib.tbl8[g << 8..(g + 1) << 8].fill(value);
                    } else {
                        *e = value;
                    }
                }
            } else {
                let i24 = (a >> 8) as usize;
                let e = fib.tbl24[i24];
                let g = if e & EXT != 0 {
                    (e & !EXT) as usize
                } else {
                    let g = fib.tbl8.len() >> 8;
                    if g >= MAX_TBL8_GROUPS {
                        return Err(FibError::TooManyGroups);
                    }
                    fib.tbl8.extend(std::iter::repeat_n(e, 256));
                    fib.tbl24[i24] = EXT | g as u32;
                    g
                };
                let start = (g << 8) | (a & 0xff) as usize;
                let n = 1usize << (32 - r.len);
                fib.tbl8[start..start + n].fill(value);
            }
        }
        fib.routes = routes;
        Ok(fib)
    }
}

/// `a` with the host bits beyond `len` cleared.
pub fn mask(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    if len == 0 {
        return Ipv4Addr::UNSPECIFIED;
    }
    Ipv4Addr::from(u32::from(a) & (u32::MAX << (32 - u32::from(len.min(32)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn hop(g: &str) -> NextHop {
        NextHop { ifindex: 1, gateway: ip(g) }
    }

    #[test]
    fn longest_prefix_wins_whatever_the_insertion_order() {
        let mut b = FibBuilder::new();
        b.add(ip("10.1.2.3"), 32, RouteTarget::Local { ifindex: 9 });
        b.add(ip("10.1.2.0"), 28, RouteTarget::Connected { ifindex: 3 });
        b.add(ip("10.0.0.0"), 8, RouteTarget::Connected { ifindex: 1 });
        b.add(ip("10.1.0.0"), 16, RouteTarget::Connected { ifindex: 2 });
        b.add_via(ip("0.0.0.0"), 0, &[hop("192.0.2.1")]);
        let f = b.build().unwrap();
        assert_eq!(f.lookup(ip("10.1.2.3")), Some(&RouteTarget::Local { ifindex: 9 }));
        assert_eq!(f.lookup(ip("10.1.2.4")), Some(&RouteTarget::Connected { ifindex: 3 }));
        assert_eq!(f.lookup(ip("10.1.2.16")), Some(&RouteTarget::Connected { ifindex: 2 }));
        assert_eq!(f.lookup(ip("10.1.3.1")), Some(&RouteTarget::Connected { ifindex: 2 }));
        assert_eq!(f.lookup(ip("10.2.0.1")), Some(&RouteTarget::Connected { ifindex: 1 }));
        assert_eq!(f.lookup(ip("8.8.8.8")), Some(&RouteTarget::Via { first: 0, count: 1 }));
        assert_eq!(f.nexthop(0, 1, 12345), Some(&hop("192.0.2.1")));
    }

    #[test]
    fn no_route_without_default() {
        let mut b = FibBuilder::new();
        b.add(ip("192.168.0.0"), 24, RouteTarget::Connected { ifindex: 0 });
        let f = b.build().unwrap();
        assert_eq!(f.lookup(ip("192.168.1.1")), None);
        assert_eq!(f.lookup(ip("192.167.255.255")), None);
        assert!(f.lookup(ip("192.168.0.255")).is_some());
    }

    #[test]
    fn long_prefixes_share_a_group_and_fall_back() {
        let mut b = FibBuilder::new();
        b.add(ip("198.51.100.0"), 24, RouteTarget::Connected { ifindex: 1 });
        b.add(ip("198.51.100.128"), 25, RouteTarget::Connected { ifindex: 2 });
        b.add(ip("198.51.100.200"), 30, RouteTarget::Blackhole);
        let f = b.build().unwrap();
        assert_eq!(f.lookup(ip("198.51.100.1")), Some(&RouteTarget::Connected { ifindex: 1 }));
        assert_eq!(f.lookup(ip("198.51.100.129")), Some(&RouteTarget::Connected { ifindex: 2 }));
        assert_eq!(f.lookup(ip("198.51.100.203")), Some(&RouteTarget::Blackhole));
        assert_eq!(f.lookup(ip("198.51.100.204")), Some(&RouteTarget::Connected { ifindex: 2 }));
        assert_eq!(f.tbl8.len(), 256, "one group for one /24");
    }

    #[test]
    fn duplicate_prefix_last_wins() {
        let mut b = FibBuilder::new();
        b.add(ip("10.0.0.0"), 8, RouteTarget::Blackhole);
        b.add(ip("10.0.0.0"), 8, RouteTarget::Unreachable);
        assert_eq!(b.build().unwrap().lookup(ip("10.9.9.9")), Some(&RouteTarget::Unreachable));
    }

    #[test]
    fn ecmp_spreads_by_hash() {
        let mut b = FibBuilder::new();
        b.add_via(ip("0.0.0.0"), 0, &[hop("192.0.2.1"), hop("192.0.2.2"), hop("192.0.2.3")]);
        let f = b.build().unwrap();
        let Some(&RouteTarget::Via { first, count }) = f.lookup(ip("1.2.3.4")) else { panic!() };
        let mut seen = std::collections::HashSet::new();
        for h in 0..30u32 {
            seen.insert(f.nexthop(first, count, h).unwrap().gateway);
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(f.nexthops_of(first, count).len(), 3);
    }

    #[test]
    fn bad_length_rejected_and_host_bits_masked() {
        let mut b = FibBuilder::new();
        b.add(ip("10.0.0.0"), 33, RouteTarget::Blackhole);
        assert_eq!(b.build().unwrap_err(), FibError::BadLength(33));
        assert_eq!(mask(ip("10.1.2.3"), 8), ip("10.0.0.0"));
        assert_eq!(mask(ip("10.1.2.3"), 0), ip("0.0.0.0"));
        assert_eq!(mask(ip("10.1.2.3"), 32), ip("10.1.2.3"));
    }

    #[test]
    fn matches_linear_reference_on_random_tables() {
        // A tiny xorshift keeps the test deterministic without a crate.
        let mut s = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut b = FibBuilder::new();
        let mut routes = Vec::new();
        for i in 0..300 {
            let len = (next() % 33) as u8;
            let p = mask(Ipv4Addr::from((next() as u32) & 0x0fff_ffff | 0x0a00_0000), len);
            let t = RouteTarget::Connected { ifindex: i };
            b.add(p, len, t);
            routes.push((p, len, t));
        }
        let f = b.build().unwrap();
        for _ in 0..20000 {
            let a = Ipv4Addr::from((next() as u32) & 0x0fff_ffff | 0x0a00_0000);
            let want = routes
                .iter()
                .enumerate()
                .filter(|(_, (p, l, _))| mask(a, *l) == *p)
                .max_by_key(|(i, (_, l, _))| (*l, *i))
                .map(|(_, (_, _, t))| t);
            assert_eq!(f.lookup(a), want, "{a}");
        }
    }
}

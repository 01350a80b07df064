//! IPv4 forwarding table: longest-prefix match by DIR-24-8.
//!
//! The layout is DPDK `rte_lpm`'s (Gupta, Lin, McKeown, "Routing lookups in
//! hardware at memory access speeds", 1998): a 2^24-entry table indexed by
//! the top 24 bits, whose entries either hold a route or point to a group
//! of 256 entries for the last 8 bits. A lookup is one memory access for
//! prefixes up to /24 and two beyond.
//!
//! Workers only read a `Fib`: the control plane changes one that no
//! worker holds and publishes it in a new snapshot, so a worker never
//! sees a half-made change. A change costs what it covers, as in
//! `rte_lpm`: each entry also records the length of the route it holds
//! (control-plane arrays beside the tables), so an insert writes only
//! the entries no longer prefix holds, and a removal gives the entries
//! its route held to the longest shorter route covering it. A group of
//! 256 left with no longer prefix folds back into its /24 entry and is
//! used again. [`FibBuilder`] builds a whole table the same way.
//!
//! Lookups never panic or allocate. Changes allocate (control plane).

pub(crate) mod targets;

use std::collections::HashMap;
use std::net::Ipv4Addr;
pub use targets::Dest;
use targets::Targets;

/// Where a route sends a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
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
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct NextHop {
    pub ifindex: u16,
    pub gateway: Ipv4Addr,
}

/// A route as the builder takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: Ipv4Addr,
    pub len: u8,
    pub dest: Dest<NextHop>,
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

/// A DIR-24-8 table.
pub struct Fib {
    /// Entry 0: no route; `EXT | g`: group g in `tbl8`; else target index + 1.
    tbl24: Box<[u32; TBL24_SIZE]>,
    tbl8: Vec<u32>,
    /// Per entry (a group entry of tbl24 aside): the length + 1 of the
    /// route it holds, 0 for none. Read by changes only.
    depth24: Box<[u8; TBL24_SIZE]>,
    depth8: Vec<u8>,
    /// Groups no /24 uses.
    free_groups: Vec<u32>,
    targets: Targets<NextHop>,
    /// Every route: (prefix, length) to its target's index.
    rules: HashMap<(u32, u8), u32>,
}

/// The index of the next hop a flow hash picks among `count` from
/// `first` (both FIBs, and the fast path's adjacency keys).
#[inline(always)]
pub fn pick(first: u32, count: u16, hash: u32) -> u32 {
    first + if count > 1 { hash % u32::from(count) } else { 0 }
}

/// The first and last tbl24 (or group) index a prefix covers.
fn span(a: u32, len: u8) -> std::ops::Range<usize> {
    if len <= 24 {
        let start = (a >> 8) as usize;
        start..start + (1usize << (24 - len))
    } else {
        let start = (a & 0xff) as usize;
        start..start + (1usize << (32 - len))
    }
}

impl Fib {
    /// An empty table.
    pub fn new() -> Fib {
        let tbl24 = vec![0u32; TBL24_SIZE].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
        let depth24 = vec![0u8; TBL24_SIZE].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
        Fib {
            tbl24,
            tbl8: Vec::new(),
            depth24,
            depth8: Vec::new(),
            free_groups: Vec::new(),
            targets: Targets::new(),
            rules: HashMap::new(),
        }
    }

    /// Longest-prefix match for `dst`.
    #[inline(always)]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&RouteTarget> {
        self.target(self.entry(u32::from(dst)))
    }

    /// The longest-prefix match for `a` as the table holds it: its
    /// target's number, which stays the same target while the table is
    /// unchanged (0: no route).
    #[inline(always)]
    pub fn entry(&self, a: u32) -> u32 {
        let e = self.tbl24[(a >> 8) as usize];
        if e & EXT == 0 {
            return e;
        }
        let i = ((e & !EXT) as usize) << 8 | (a & 0xff) as usize;
        self.tbl8.get(i).copied().unwrap_or(0)
    }

    /// The target numbered `e` by [`Fib::entry`].
    #[inline(always)]
    pub fn target(&self, e: u32) -> Option<&RouteTarget> {
        self.targets.list.get((e as usize).checked_sub(1)?)
    }

    /// Adds the route `prefix/len` (host bits ignored), or replaces the
    /// one of that prefix. On an error the table is as it was.
    pub fn insert(&mut self, prefix: Ipv4Addr, len: u8, dest: Dest<NextHop>) -> Result<(), FibError> {
        if len > 32 {
            return Err(FibError::BadLength(len));
        }
        let a = u32::from(mask(prefix, len));
        // The group first: its allocation is all that can fail after the target.
        let group = if len > 24 { Some(self.group_of((a >> 8) as usize)?) } else { None };
        let t = match self.targets.take(dest) {
            Ok(t) => t,
            Err(e) => {
                if let Some(g) = group {
                    self.fold((a >> 8) as usize, g);
                }
                return Err(e);
            }
        };
        if let Some(old) = self.rules.insert((a, len), t) {
            self.targets.release(old);
        }
        let (value, depth) = (t + 1, len + 1);
        match group {
            None => {
                for i in span(a, len) {
                    let e = self.tbl24[i];
                    if e & EXT != 0 {
                        let g = (e & !EXT) as usize;
                        paint(
                            &mut self.tbl8[g << 8..(g + 1) << 8],
                            &mut self.depth8[g << 8..(g + 1) << 8],
                            value,
                            depth,
                        );
                    } else if self.depth24[i] <= depth {
                        self.tbl24[i] = value;
                        self.depth24[i] = depth;
                    }
                }
            }
            Some(g) => {
                let r = span(a, len);
                let base = g << 8;
                paint(
                    &mut self.tbl8[base + r.start..base + r.end],
                    &mut self.depth8[base + r.start..base + r.end],
                    value,
                    depth,
                );
            }
        }
        Ok(())
    }

    /// Removes the route `prefix/len`; false if there is none. Its
    /// addresses go to the longest shorter route that covers them.
    pub fn remove(&mut self, prefix: Ipv4Addr, len: u8) -> bool {
        if len > 32 {
            return false;
        }
        let a = u32::from(mask(prefix, len));
        let Some(t) = self.rules.remove(&(a, len)) else { return false };
        self.targets.release(t);
        // The covering route, if any: its value and depth.
        let (value, depth) = (0..len)
            .rev()
            .find_map(|l| {
                let p = u32::from(mask(Ipv4Addr::from(a), l));
                self.rules.get(&(p, l)).map(|&t| (t + 1, l + 1))
            })
            .unwrap_or((0, 0));
        let mine = len + 1;
        if len <= 24 {
            for i in span(a, len) {
                let e = self.tbl24[i];
                if e & EXT != 0 {
                    let g = (e & !EXT) as usize;
                    repaint(
                        &mut self.tbl8[g << 8..(g + 1) << 8],
                        &mut self.depth8[g << 8..(g + 1) << 8],
                        mine,
                        value,
                        depth,
                    );
                } else if self.depth24[i] == mine {
                    self.tbl24[i] = value;
                    self.depth24[i] = depth;
                }
            }
        } else {
            let i24 = (a >> 8) as usize;
            let e = self.tbl24[i24];
            if e & EXT != 0 {
                let g = (e & !EXT) as usize;
                let (r, base) = (span(a, len), g << 8);
                repaint(
                    &mut self.tbl8[base + r.start..base + r.end],
                    &mut self.depth8[base + r.start..base + r.end],
                    mine,
                    value,
                    depth,
                );
                self.fold(i24, g);
            }
        }
        true
    }

    /// The group of /24 `i24`, made from its entry if it has none.
    fn group_of(&mut self, i24: usize) -> Result<usize, FibError> {
        let e = self.tbl24[i24];
        if e & EXT != 0 {
            return Ok((e & !EXT) as usize);
        }
        let (value, depth) = (e, self.depth24[i24]);
        let g = match self.free_groups.pop() {
            Some(g) => g as usize,
            None => {
                let g = self.tbl8.len() >> 8;
                if g >= MAX_TBL8_GROUPS {
                    return Err(FibError::TooManyGroups);
                }
                self.tbl8.resize((g + 1) << 8, 0);
                self.depth8.resize((g + 1) << 8, 0);
                g
            }
        };
        self.tbl8[g << 8..(g + 1) << 8].fill(value);
        self.depth8[g << 8..(g + 1) << 8].fill(depth);
        self.tbl24[i24] = EXT | g as u32;
        Ok(g)
    }

    /// Folds group `g` back into /24 `i24` once no entry holds a longer
    /// prefix (all then hold the same /24-or-shorter route, or none).
    fn fold(&mut self, i24: usize, g: usize) {
        let depths = &self.depth8[g << 8..(g + 1) << 8];
        if depths.iter().all(|&d| d <= 25) {
            self.tbl24[i24] = self.tbl8[g << 8];
            self.depth24[i24] = depths[0];
            self.free_groups.push(g as u32);
        }
    }

    /// The `Via` next hop a flow hash selects among `count` from `first`.
    #[inline(always)]
    pub fn nexthop(&self, first: u32, count: u16, hash: u32) -> Option<&NextHop> {
        self.targets.nexthop(first, count, hash)
    }

    /// The next hop at index `i` (as [`RouteTarget::Via`] numbers them).
    #[inline]
    pub fn nexthop_at(&self, i: u32) -> Option<&NextHop> {
        self.targets.hops.get(i as usize)
    }

    /// Next hops of a `Via` target.
    pub fn nexthops_of(&self, first: u32, count: u16) -> &[NextHop] {
        self.targets.nexthops_of(first, count)
    }

    /// How many routes the table holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every route, in no order: prefix, length, target.
    pub fn routes(&self) -> impl Iterator<Item = (Ipv4Addr, u8, &RouteTarget)> + '_ {
        self.rules.iter().filter_map(|(&(p, l), &t)| Some((Ipv4Addr::from(p), l, self.targets.list.get(t as usize)?)))
    }

    /// Groups of 256 in use.
    pub fn groups(&self) -> usize {
        (self.tbl8.len() >> 8) - self.free_groups.len()
    }

    /// Bytes the table holds: the lookup tables, what changes read, the
    /// targets and the route index (the index's entries estimated).
    pub fn bytes(&self) -> usize {
        TBL24_SIZE * 5
            + self.tbl8.capacity() * 5
            + self.targets.bytes()
            + self.rules.capacity() * (std::mem::size_of::<((u32, u8), u32)>() + 1)
    }
}

impl Default for Fib {
    fn default() -> Self {
        Fib::new()
    }
}

/// Gives `value` to the entries held by a route no longer than `depth`.
fn paint(values: &mut [u32], depths: &mut [u8], value: u32, depth: u8) {
    for (v, d) in values.iter_mut().zip(depths.iter_mut()) {
        if *d <= depth {
            *v = value;
            *d = depth;
        }
    }
}

/// Gives the entries held at `mine` to (`value`, `depth`).
fn repaint(values: &mut [u32], depths: &mut [u8], mine: u8, value: u32, depth: u8) {
    for (v, d) in values.iter_mut().zip(depths.iter_mut()) {
        if *d == mine {
            *v = value;
            *d = depth;
        }
    }
}

impl std::fmt::Debug for Fib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib").field("routes", &self.rules.len()).field("targets", &self.targets.live()).finish()
    }
}

/// Collects routes, then builds a [`Fib`].
#[derive(Default, Debug)]
pub struct FibBuilder {
    routes: Vec<Route>,
}

impl FibBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route to a non-gateway target (local, connected, ...).
    pub fn add(&mut self, prefix: Ipv4Addr, len: u8, target: RouteTarget) -> &mut Self {
        self.routes.push(Route { prefix: mask(prefix, len), len, dest: Dest::Plain(target) });
        self
    }

    /// Adds a route via one or more equal-cost gateways.
    pub fn add_via(&mut self, prefix: Ipv4Addr, len: u8, hops: &[NextHop]) -> &mut Self {
        self.routes.push(Route { prefix: mask(prefix, len), len, dest: Dest::Via(hops.to_vec()) });
        self
    }

    /// Builds the table. Same-prefix duplicates: the last one added wins.
    pub fn build(self) -> Result<Fib, FibError> {
        let mut routes = self.routes;
        if let Some(r) = routes.iter().find(|r| r.len > 32) {
            return Err(FibError::BadLength(r.len));
        }
        // Shortest first, so each entry is written about once; stable, so
        // a later duplicate replaces an earlier one.
        routes.sort_by_key(|r| r.len);
        let mut fib = Fib::new();
        fib.rules.reserve(routes.len());
        for r in routes {
            fib.insert(r.prefix, r.len, r.dest)?;
        }
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

    /// Random inserts, replacements and removals, checked after each
    /// batch against a linear search of the routes that remain, and
    /// against a table built afresh from them.
    #[test]
    fn changes_match_a_linear_reference_and_a_fresh_build() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut f = Fib::new();
        let mut live: HashMap<(u32, u8), u16> = HashMap::new();
        for round in 0..40 {
            for _ in 0..50 {
                // Few distinct /16s, so prefixes nest, share groups and fold.
                let len = [0u8, 8, 16, 20, 24, 24, 25, 28, 30, 32][(next() % 10) as usize];
                let a = u32::from(mask(Ipv4Addr::from((next() as u32) & 0x0003_ffff | 0x0a00_0000), len));
                if next() % 3 == 0 {
                    assert_eq!(f.remove(Ipv4Addr::from(a), len), live.remove(&(a, len)).is_some());
                } else {
                    let ifindex = (next() % 4) as u16; // shared targets
                    let dest = if ifindex == 3 {
                        Dest::Via(vec![hop("192.0.2.1"), hop("192.0.2.2")])
                    } else {
                        Dest::Plain(RouteTarget::Connected { ifindex })
                    };
                    f.insert(Ipv4Addr::from(a), len, dest).unwrap();
                    live.insert((a, len), ifindex);
                }
            }
            let mut b = FibBuilder::new();
            for (&(a, l), &i) in &live {
                b.add(Ipv4Addr::from(a), l, RouteTarget::Connected { ifindex: i });
            }
            let fresh = b.build().unwrap();
            assert_eq!(f.len(), live.len());
            for _ in 0..2000 {
                let a = (next() as u32) & 0x0003_ffff | 0x0a00_0000;
                let want = live
                    .iter()
                    .filter(|(&(p, l), _)| u32::from(mask(Ipv4Addr::from(a), l)) == p)
                    .max_by_key(|(&(_, l), _)| l)
                    .map(|(_, &i)| i);
                let got = |f: &Fib| match f.lookup(Ipv4Addr::from(a)) {
                    Some(&RouteTarget::Connected { ifindex }) => Some(ifindex),
                    Some(&RouteTarget::Via { first, count }) => {
                        assert_eq!(f.nexthops_of(first, count), &[hop("192.0.2.1"), hop("192.0.2.2")]);
                        Some(3)
                    }
                    None => None,
                    t => panic!("{t:?}"),
                };
                assert_eq!(got(&f), want, "round {round}, {}", Ipv4Addr::from(a));
                assert_eq!(got(&fresh).map(|i| i.min(3)), want.map(|i| if i == 3 { 3 } else { i }));
            }
            assert!(f.groups() <= fresh.groups() + f.free_groups.len(), "groups leak");
        }
        // Everything removed: no group, no target, no entry left.
        for (a, l) in live.keys().copied().collect::<Vec<_>>() {
            assert!(f.remove(Ipv4Addr::from(a), l));
        }
        assert_eq!((f.len(), f.groups(), f.targets.live()), (0, 0, 0));
        assert!(f.tbl24.iter().all(|&e| e == 0) && f.depth24.iter().all(|&d| d == 0));
    }

    #[test]
    fn a_long_prefix_removed_folds_its_group_back() {
        let mut f = Fib::new();
        f.insert(ip("198.51.100.0"), 24, Dest::Plain(RouteTarget::Connected { ifindex: 1 })).unwrap();
        f.insert(ip("198.51.100.128"), 25, Dest::Plain(RouteTarget::Blackhole)).unwrap();
        assert_eq!(f.groups(), 1);
        assert!(f.remove(ip("198.51.100.128"), 25));
        assert_eq!(f.groups(), 0);
        assert_eq!(f.lookup(ip("198.51.100.200")), Some(&RouteTarget::Connected { ifindex: 1 }));
        // The freed group is the next one used.
        f.insert(ip("203.0.113.7"), 32, Dest::Plain(RouteTarget::Blackhole)).unwrap();
        assert_eq!((f.groups(), f.tbl8.len()), (1, 256));
        assert_eq!(f.lookup(ip("203.0.113.8")), None);
        assert!(!f.remove(ip("203.0.113.0"), 24), "no such route");
    }

    #[test]
    fn routes_through_one_gateway_share_one_next_hop() {
        let mut b = FibBuilder::new();
        for i in 0..1000u32 {
            b.add_via(Ipv4Addr::from(0x0b00_0000 + (i << 8)), 24, &[hop("192.0.2.1")]);
        }
        let f = b.build().unwrap();
        assert_eq!(f.targets.live(), 1);
        assert_eq!(f.nexthops_of(0, 1), &[hop("192.0.2.1")]);
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

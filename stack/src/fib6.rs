//! IPv6 forwarding table: longest-prefix match by one hash table per
//! prefix length, searched longest first (the scheme of VPP's
//! `ip6_fib` "bihash per length").
//!
//! A lookup costs one probe per distinct prefix length in the table
//! (a gateway typically has three to six: /128 for its addresses, /64 for
//! connected subnets, a few aggregates and the default route), each a
//! multiply, a mask and usually one cache line. As with [`crate::Fib`],
//! workers only read a `Fib6`: the control plane changes one no worker
//! holds, a route at a time (an insert or a removal touches its own
//! length's table only), and publishes it. Lookups never allocate or
//! panic; changes allocate.

use crate::fib::targets::Targets;
use crate::fib::{Dest, FibError, RouteTarget};
use std::net::Ipv6Addr;

/// An IPv6 gateway next hop. Link-local gateways (the usual case: routers
/// advertise their link-local address) are only meaningful with the
/// interface, which is why it is part of the next hop.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct NextHop6 {
    pub ifindex: u16,
    pub gateway: Ipv6Addr,
}

/// A route as the builder takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route6 {
    pub prefix: Ipv6Addr,
    pub len: u8,
    pub dest: Dest<NextHop6>,
}

/// Bits in a level's filter.
const FILTER_BITS: usize = 1 << 16;

/// The filter bit of an address: a hash of its first 32 bits.
#[inline(always)]
fn filter_bit(a: u128) -> usize {
    ((((a >> 96) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 48) as usize % FILTER_BITS
}

/// The routes of one prefix length.
struct Level {
    len: u8,
    mask: u128,
    /// Open addressing; `(prefix, target index + 1)`, 0 marks empty.
    slots: Box<[(u128, u32)]>,
    shift: u32,
    /// Routes held.
    count: usize,
    /// For prefixes of 32 bits or more: one bit per [`filter_bit`] of
    /// their first 32 bits, so most addresses skip a level that holds
    /// nothing under their /32 without hashing their whole prefix
    /// (a gateway's own /128s and connected /64s rarely share a /32 with
    /// the traffic it forwards). Empty for shorter prefixes: always
    /// probed. A removal leaves its bit set (a wasted probe, no wrong
    /// answer) until the level is resized.
    filter: Box<[u64]>,
}

impl Level {
    /// An empty level of `size` slots (a power of two).
    fn new(len: u8, size: usize) -> Level {
        Level {
            len,
            mask: mask_bits(len),
            slots: vec![(0u128, 0u32); size].into_boxed_slice(),
            shift: 64 - size.trailing_zeros(),
            count: 0,
            filter: if len >= 32 { vec![0u64; FILTER_BITS / 64].into_boxed_slice() } else { Box::new([]) },
        }
    }

    #[inline(always)]
    fn home(&self, key: u128) -> usize {
        let h = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> self.shift) as usize
    }

    #[inline(always)]
    fn get(&self, key: u128) -> Option<u32> {
        let m = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let &(k, v) = self.slots.get(i)?;
            if v == 0 {
                return None;
            }
            if k == key {
                return Some(v);
            }
            i = (i + 1) & m;
        }
    }

    /// Sets `key`'s value; returns the one it replaced.
    fn set(&mut self, key: u128, value: u32) -> Option<u32> {
        // At most half full, so probes stay short.
        if (self.count + 1) * 2 > self.slots.len() {
            self.resize(self.slots.len() * 2);
        }
        let bit = filter_bit(key);
        if let Some(w) = self.filter.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
        let m = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let slot = &mut self.slots[i];
            if slot.1 == 0 {
                *slot = (key, value);
                self.count += 1;
                return None;
            }
            if slot.0 == key {
                return Some(std::mem::replace(&mut slot.1, value));
            }
            i = (i + 1) & m;
        }
    }

    /// Takes `key` out (backward-shift deletion, so no tombstones);
    /// returns its value.
    fn take(&mut self, key: u128) -> Option<u32> {
        let m = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let (k, v) = self.slots[i];
            if v == 0 {
                return None;
            }
            if k == key {
                break;
            }
            i = (i + 1) & m;
        }
        let value = self.slots[i].1;
        self.slots[i] = (0, 0);
        self.count -= 1;
        // Move back each following entry whose home is not between the
        // hole and it (cyclically), closing the hole.
        let mut j = i;
        loop {
            j = (j + 1) & m;
            let (k, v) = self.slots[j];
            if v == 0 {
                break;
            }
            let h = self.home(k);
            let stays = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !stays {
                self.slots[i] = (k, v);
                self.slots[j] = (0, 0);
                i = j;
            }
        }
        Some(value)
    }

    fn resize(&mut self, size: usize) {
        let mut next = Level::new(self.len, size);
        for &(k, v) in self.slots.iter().filter(|s| s.1 != 0) {
            next.set(k, v);
        }
        *self = next;
    }
}

/// An IPv6 LPM table.
pub struct Fib6 {
    /// Longest prefix first.
    levels: Vec<Level>,
    targets: Targets<NextHop6>,
}

impl Fib6 {
    /// An empty table.
    pub fn empty() -> Fib6 {
        Fib6 { levels: Vec::new(), targets: Targets::new() }
    }

    /// Longest-prefix match for `dst`.
    #[inline]
    pub fn lookup(&self, dst: &Ipv6Addr) -> Option<&RouteTarget> {
        self.lookup_bits(u128::from(*dst))
    }

    /// [`Fib6::lookup`] of an address given as its 128 bits.
    #[inline(always)]
    pub fn lookup_bits(&self, a: u128) -> Option<&RouteTarget> {
        self.target(self.entry(a))
    }

    /// The longest-prefix match for `a` as the table holds it: its
    /// target's number, which stays the same target while the table is
    /// unchanged (0: no route; never above 2^31 - 1).
    #[inline(always)]
    pub fn entry(&self, a: u128) -> u32 {
        let bit = filter_bit(a);
        for l in &self.levels {
            if let Some(&w) = l.filter.get(bit / 64) {
                if w >> (bit % 64) & 1 == 0 {
                    continue;
                }
            }
            if let Some(v) = l.get(a & l.mask) {
                return v;
            }
        }
        0
    }

    /// The target numbered `e` by [`Fib6::entry`].
    #[inline(always)]
    pub fn target(&self, e: u32) -> Option<&RouteTarget> {
        self.targets.list.get((e as usize).checked_sub(1)?)
    }

    /// Adds the route `prefix/len` (host bits ignored), or replaces the
    /// one of that prefix.
    pub fn insert(&mut self, prefix: Ipv6Addr, len: u8, dest: Dest<NextHop6>) -> Result<(), FibError> {
        if len > 128 {
            return Err(FibError::BadLength(len));
        }
        let t = self.targets.take(dest)?;
        let at = match self.levels.binary_search_by(|l| len.cmp(&l.len)) {
            Ok(at) => at,
            Err(at) => {
                self.levels.insert(at, Level::new(len, 2));
                at
            }
        };
        if let Some(old) = self.levels[at].set(u128::from(prefix) & mask_bits(len), t + 1) {
            self.targets.release(old - 1);
        }
        Ok(())
    }

    /// Removes the route `prefix/len`; false if there is none.
    pub fn remove(&mut self, prefix: Ipv6Addr, len: u8) -> bool {
        let Ok(at) = self.levels.binary_search_by(|l| len.cmp(&l.len)) else { return false };
        let Some(v) = self.levels[at].take(u128::from(prefix) & mask_bits(len)) else { return false };
        self.targets.release(v - 1);
        let level = &mut self.levels[at];
        if level.count == 0 {
            self.levels.remove(at);
        } else if level.count * 8 < level.slots.len() && level.slots.len() > 16 {
            level.resize(level.slots.len() / 2);
        }
        true
    }

    /// The `Via` next hop a flow hash selects among `count` from `first`.
    #[inline(always)]
    pub fn nexthop(&self, first: u32, count: u16, hash: u32) -> Option<&NextHop6> {
        self.targets.nexthop(first, count, hash)
    }

    /// The next hop at index `i` (as [`RouteTarget::Via`] numbers them).
    #[inline]
    pub fn nexthop_at(&self, i: u32) -> Option<&NextHop6> {
        self.targets.hops.get(i as usize)
    }

    /// Next hops of a `Via` target.
    pub fn nexthops_of(&self, first: u32, count: u16) -> &[NextHop6] {
        self.targets.nexthops_of(first, count)
    }

    /// How many routes the table holds.
    pub fn len(&self) -> usize {
        self.levels.iter().map(|l| l.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Every route, in no order: prefix, length, target.
    pub fn routes(&self) -> impl Iterator<Item = (Ipv6Addr, u8, &RouteTarget)> + '_ {
        self.levels.iter().flat_map(move |l| {
            l.slots
                .iter()
                .filter(|s| s.1 != 0)
                .filter_map(move |&(k, v)| Some((Ipv6Addr::from(k), l.len, self.targets.list.get(v as usize - 1)?)))
        })
    }

    /// Bytes the table holds (slots, filters, targets).
    pub fn bytes(&self) -> usize {
        self.levels.iter().map(|l| l.slots.len() * 32 + l.filter.len() * 8).sum::<usize>() + self.targets.bytes()
    }
}

impl std::fmt::Debug for Fib6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib6").field("routes", &self.len()).field("lengths", &self.levels.len()).finish()
    }
}

/// Collects routes, then builds a [`Fib6`].
#[derive(Default, Debug)]
pub struct Fib6Builder {
    routes: Vec<Route6>,
}

impl Fib6Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route to a non-gateway target.
    pub fn add(&mut self, prefix: Ipv6Addr, len: u8, target: RouteTarget) -> &mut Self {
        self.routes.push(Route6 { prefix: mask6(prefix, len), len, dest: Dest::Plain(target) });
        self
    }

    /// Adds a route via one or more equal-cost gateways.
    pub fn add_via(&mut self, prefix: Ipv6Addr, len: u8, hops: &[NextHop6]) -> &mut Self {
        self.routes.push(Route6 { prefix: mask6(prefix, len), len, dest: Dest::Via(hops.to_vec()) });
        self
    }

    /// Builds the table. Same-prefix duplicates: the last one added wins.
    pub fn build(self) -> Result<Fib6, FibError> {
        if let Some(r) = self.routes.iter().find(|r| r.len > 128) {
            return Err(FibError::BadLength(r.len));
        }
        let mut fib = Fib6::empty();
        // Each level sized once for its routes.
        let mut per_len = [0usize; 129];
        for r in &self.routes {
            per_len[usize::from(r.len)] += 1;
        }
        for (len, &n) in per_len.iter().enumerate().rev().filter(|(_, &n)| n > 0) {
            fib.levels.push(Level::new(len as u8, (n * 2).next_power_of_two().max(2)));
        }
        for r in self.routes {
            fib.insert(r.prefix, r.len, r.dest)?;
        }
        debug_assert!(fib.levels.windows(2).all(|w| w[0].len > w[1].len));
        Ok(fib)
    }
}

fn mask_bits(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// `a` with the host bits beyond `len` cleared.
pub fn mask6(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(a) & mask_bits(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut b = Fib6Builder::new();
        b.add(ip("::"), 0, RouteTarget::Blackhole);
        b.add(ip("2001:db8::"), 32, RouteTarget::Unreachable);
        b.add(ip("2001:db8:1::"), 64, RouteTarget::Connected { ifindex: 1 });
        b.add(ip("2001:db8:1::1"), 128, RouteTarget::Local { ifindex: 1 });
        let f = b.build().unwrap();
        assert_eq!(f.lookup(&ip("2001:db8:1::1")), Some(&RouteTarget::Local { ifindex: 1 }));
        assert_eq!(f.lookup(&ip("2001:db8:1::7")), Some(&RouteTarget::Connected { ifindex: 1 }));
        assert_eq!(f.lookup(&ip("2001:db8:2::7")), Some(&RouteTarget::Unreachable));
        assert_eq!(f.lookup(&ip("3fff::1")), Some(&RouteTarget::Blackhole));
        assert_eq!(Fib6::empty().lookup(&ip("::1")), None);
    }

    #[test]
    fn later_duplicate_wins_and_masks_host_bits() {
        let mut b = Fib6Builder::new();
        b.add(ip("fd00:1::5"), 64, RouteTarget::Unreachable);
        b.add(ip("fd00:1::"), 64, RouteTarget::Connected { ifindex: 0 });
        let f = b.build().unwrap();
        assert_eq!(f.lookup(&ip("fd00:1::9")), Some(&RouteTarget::Connected { ifindex: 0 }));
        assert_eq!(f.routes().next().map(|r| r.0), Some(ip("fd00:1::")));
    }

    #[test]
    fn ecmp_next_hops() {
        let hops = [NextHop6 { ifindex: 1, gateway: ip("fe80::1") }, NextHop6 { ifindex: 2, gateway: ip("fe80::2") }];
        let mut b = Fib6Builder::new();
        b.add_via(ip("::"), 0, &hops);
        let f = b.build().unwrap();
        let Some(&RouteTarget::Via { first, count }) = f.lookup(&ip("2001:db8::1")) else { panic!() };
        assert_eq!(f.nexthops_of(first, count), &hops);
        assert_eq!(f.nexthop(first, count, 1).unwrap().ifindex, 2);
        assert_eq!(f.nexthop(first, count, 2).unwrap().ifindex, 1);
    }

    #[test]
    fn bad_length_is_refused() {
        let mut b = Fib6Builder::new();
        b.add(ip("::"), 129, RouteTarget::Blackhole);
        assert_eq!(b.build().unwrap_err(), FibError::BadLength(129));
    }

    /// Random inserts, replacements and removals against a linear
    /// reference; levels come and go, grow and shrink.
    #[test]
    fn changes_match_a_linear_reference() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut f = Fib6::empty();
        let mut live: std::collections::HashMap<(u128, u8), u16> = Default::default();
        for _ in 0..30 {
            for _ in 0..200 {
                let a = u128::from(rnd() & 0xffff_0000_0000_00ff) << 64 | u128::from(rnd() & 0x3f);
                let len = [0u8, 16, 32, 48, 64, 100, 128][(rnd() % 7) as usize];
                let p = a & mask_bits(len);
                if rnd() % 2 == 0 {
                    assert_eq!(f.remove(Ipv6Addr::from(p), len), live.remove(&(p, len)).is_some());
                } else {
                    let i = (rnd() % 5) as u16;
                    f.insert(Ipv6Addr::from(p), len, Dest::Plain(RouteTarget::Connected { ifindex: i })).unwrap();
                    live.insert((p, len), i);
                }
            }
            assert_eq!(f.len(), live.len());
            assert_eq!(f.routes().count(), live.len());
            for _ in 0..3000 {
                let probe = u128::from(rnd() & 0xffff_0000_0000_00ff) << 64 | u128::from(rnd() & 0x3f);
                let want = live
                    .iter()
                    .filter(|(&(p, l), _)| probe & mask_bits(l) == p)
                    .max_by_key(|(&(_, l), _)| l)
                    .map(|(_, &i)| RouteTarget::Connected { ifindex: i });
                assert_eq!(f.lookup_bits(probe).copied(), want);
            }
        }
        for (p, l) in live.keys().copied().collect::<Vec<_>>() {
            assert!(f.remove(Ipv6Addr::from(p), l));
        }
        assert!(f.is_empty() && f.targets.live() == 0);
    }

    #[test]
    fn matches_a_linear_reference_on_random_tables() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut b = Fib6Builder::new();
        let mut reference: Vec<(u128, u8, u16)> = Vec::new();
        for i in 0..2000u16 {
            // Few distinct top bits, so prefixes nest and overlap.
            let a = u128::from(rnd() & 0xffff_0000_0000_00ff) << 64 | u128::from(rnd() & 0xff);
            let len = [0u8, 16, 32, 48, 56, 64, 100, 128][(rnd() % 8) as usize];
            let a = Ipv6Addr::from(a);
            b.add(a, len, RouteTarget::Connected { ifindex: i });
            reference.retain(|&(p, l, _)| !(l == len && p == u128::from(mask6(a, len))));
            reference.push((u128::from(mask6(a, len)), len, i));
        }
        let f = b.build().unwrap();
        for _ in 0..20000 {
            let probe = u128::from(rnd() & 0xffff_0000_0000_00ff) << 64 | u128::from(rnd() & 0xff);
            let want = reference
                .iter()
                .filter(|&&(p, l, _)| probe & mask_bits(l) == p)
                .max_by_key(|&&(_, l, _)| l)
                .map(|&(_, _, i)| RouteTarget::Connected { ifindex: i });
            assert_eq!(f.lookup(&Ipv6Addr::from(probe)).copied(), want);
        }
    }
}

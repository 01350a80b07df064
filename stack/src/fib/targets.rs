//! Where routes send packets, shared by the routes that go the same way:
//! each distinct target (and list of equal-cost next hops) is kept once,
//! with the number of routes that use it, as `rte_lpm` keeps next-hop
//! ids apart from its rules. A full table has a million routes and a
//! handful of next-hop sets; the fast path's adjacency cache, keyed by
//! next-hop index, then holds one entry per gateway rather than one per
//! route. Both FIBs use it. Control plane only: lookups read `list` and
//! `hops` and nothing else.

use super::{FibError, RouteTarget};
use std::collections::HashMap;
use std::hash::Hash;

/// Where a route goes, as a FIB's `insert` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dest<H> {
    /// Anything but a gateway route (local, connected, unreachable, ...).
    Plain(RouteTarget),
    /// Via these equal-cost gateways (in order: a flow hash picks one).
    Via(Vec<H>),
}

/// Most distinct targets a FIB holds (values must stay clear of the
/// DIR-24-8 group bit).
const MAX_TARGETS: usize = (1 << 31) - 2;

/// The distinct targets of one FIB.
#[derive(Debug)]
pub(crate) struct Targets<H> {
    /// By index (a table entry holds index + 1).
    pub(crate) list: Vec<RouteTarget>,
    /// Gateways of `Via` targets, a run each.
    pub(crate) hops: Vec<H>,
    /// Routes using each target (0: free, listed in `free`).
    refs: Vec<u32>,
    free: Vec<u32>,
    index: HashMap<Dest<H>, u32>,
    /// Free runs of `hops`, by length.
    free_runs: HashMap<u16, Vec<u32>>,
    /// The target taken last: routes in a row usually go the same way
    /// (a comparison then spares hashing the next-hop list).
    last: Option<(Dest<H>, u32)>,
}

impl<H: Copy + Eq + Hash> Targets<H> {
    pub(crate) fn new() -> Self {
        Targets {
            list: Vec::new(),
            hops: Vec::new(),
            refs: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            free_runs: HashMap::new(),
            last: None,
        }
    }

    /// The index of `dest`, taken once more (made if new).
    pub(crate) fn take(&mut self, dest: Dest<H>) -> Result<u32, FibError> {
        if let Some((d, i)) = &self.last {
            if *d == dest {
                let i = *i;
                if let Some(r) = self.refs.get_mut(i as usize) {
                    *r += 1;
                }
                return Ok(i);
            }
        }
        if let Some(&i) = self.index.get(&dest) {
            if let Some(r) = self.refs.get_mut(i as usize) {
                *r += 1;
            }
            self.last = Some((dest, i));
            return Ok(i);
        }
        let target = match &dest {
            Dest::Plain(t) => *t,
            Dest::Via(hops) => {
                let count = u16::try_from(hops.len()).map_err(|_| FibError::TooManyTargets)?;
                let first = match self.free_runs.get_mut(&count).and_then(Vec::pop) {
                    Some(first) => {
                        let at = first as usize;
                        self.hops[at..at + hops.len()].copy_from_slice(hops);
                        first
                    }
                    None => {
                        let first = u32::try_from(self.hops.len()).map_err(|_| FibError::TooManyTargets)?;
                        self.hops.extend_from_slice(hops);
                        first
                    }
                };
                RouteTarget::Via { first, count }
            }
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.list[i as usize] = target;
                self.refs[i as usize] = 1;
                i
            }
            None => {
                if self.list.len() >= MAX_TARGETS {
                    return Err(FibError::TooManyTargets);
                }
                self.list.push(target);
                self.refs.push(1);
                (self.list.len() - 1) as u32
            }
        };
        self.index.insert(dest.clone(), i);
        self.last = Some((dest, i));
        Ok(i)
    }

    /// Gives back one use of target `i`; the last frees it.
    pub(crate) fn release(&mut self, i: u32) {
        let Some(r) = self.refs.get_mut(i as usize) else { return };
        *r = r.saturating_sub(1);
        if *r > 0 {
            return;
        }
        let dest = match self.list[i as usize] {
            RouteTarget::Via { first, count } => {
                self.free_runs.entry(count).or_default().push(first);
                let at = first as usize;
                Dest::Via(self.hops[at..at + usize::from(count)].to_vec())
            }
            t => Dest::Plain(t),
        };
        self.index.remove(&dest);
        self.free.push(i);
        if self.last.as_ref().is_some_and(|(_, l)| *l == i) {
            self.last = None;
        }
    }

    /// The `Via` next hop a flow hash picks among `count` from `first`.
    #[inline(always)]
    pub(crate) fn nexthop(&self, first: u32, count: u16, hash: u32) -> Option<&H> {
        self.hops.get(super::pick(first, count, hash) as usize)
    }

    /// The next hops of a `Via` target.
    pub(crate) fn nexthops_of(&self, first: u32, count: u16) -> &[H] {
        self.hops.get(first as usize..first as usize + usize::from(count)).unwrap_or(&[])
    }

    /// Distinct targets in use.
    pub(crate) fn live(&self) -> usize {
        self.index.len()
    }

    /// Bytes held (an estimate of the allocations), for reporting.
    pub(crate) fn bytes(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<RouteTarget>()
            + self.hops.capacity() * std::mem::size_of::<H>()
            + self.refs.capacity() * 4
            + self.index.capacity() * (std::mem::size_of::<Dest<H>>() + 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_targets_are_shared_and_freed_with_their_last_route() {
        let mut t: Targets<u32> = Targets::new();
        let a = t.take(Dest::Via(vec![1, 2])).unwrap();
        let b = t.take(Dest::Via(vec![1, 2])).unwrap();
        let c = t.take(Dest::Plain(RouteTarget::Blackhole)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(t.live(), 2);
        t.release(a);
        assert_eq!(t.live(), 2, "one route still uses it");
        t.release(b);
        assert_eq!(t.live(), 1);
        // The slot and the run of hops are used again.
        let d = t.take(Dest::Via(vec![7, 8])).unwrap();
        assert_eq!(d, a);
        assert_eq!(t.list[d as usize], RouteTarget::Via { first: 0, count: 2 });
        assert_eq!(&t.hops[..], &[7, 8]);
    }
}

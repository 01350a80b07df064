//! Path MTUs the underlay reported for tunnels: when a router between
//! our tunnel's ends cannot carry an outer packet, it answers our
//! address with Fragmentation Needed (RFC 1191) or Packet Too Big (RFC
//! 8201), quoting the outer header. That lowers the MTU of every tunnel
//! between those two ends (RFC 2003 §4, RFC 2473 §8, RFC 4213 §3.2),
//! for [`AGE_NS`]; the packets that no longer fit are answered to their
//! senders with the tunnel's new MTU, as any other too big for its way.
//!
//! An estimate is kept per outer path (our address, the far end's), so
//! the tunnels of one path share it, and only one that names a
//! configured tunnel is taken ([`crate::iface::Tables::tunnel`]). It is
//! never raised by a report, never below [`MIN_PMTU_V4`] (IPv4 outside;
//! a forged report cannot shrink packets to nothing) or IPv6's 1280.
//!
//! The table is fixed ([`SLOTS`] slots by a hash of the path), lock-free
//! and shared by the workers: each slot is one atomic word holding a
//! check of the path, the MTU and its expiry, so a reader sees a whole
//! estimate or none. Two paths on one slot take turns in it: one of
//! them is learned again from the underlay's next report.

use crate::overlay::{FastHasher, Tunnel};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Slots in the table.
pub const SLOTS: usize = 256;
/// How long an estimate holds, in nanoseconds: then the tunnel's own
/// MTU is tried again (RFC 1191 §6.3 and RFC 8201 §4 suggest 10 minutes).
pub const AGE_NS: u64 = 600_000_000_000;
/// The least outer path MTU taken from a report with an IPv4 outside
/// (Linux's `min_pmtu`); lower reports are taken as this.
pub const MIN_PMTU_V4: u16 = 552;
/// IPv6's minimum link MTU (RFC 8200 §5): reports below it are taken as it.
pub const MIN_PMTU_V6: u16 = 1280;

/// Expiry times are kept in units of 2^30 ns (about a second): a shift
/// away from the workers' clock.
const UNIT_SHIFT: u32 = 30;

/// The path a tunnel's outer packets take, as a slot and a check.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PathKey {
    slot: u16,
    check: u16,
}

impl PathKey {
    /// No path (its check is never a real key's, which is odd).
    pub const NONE: PathKey = PathKey { slot: 0, check: 0 };

    /// The key of the path from `local` to `remote`.
    pub fn of(local: IpAddr, remote: IpAddr) -> PathKey {
        let mut h = FastHasher::default();
        (local, remote).hash(&mut h);
        let v = h.finish();
        PathKey { slot: (v >> 56) as u16 % SLOTS as u16, check: (v >> 16) as u16 | 1 }
    }

    /// The key of a tunnel's outer path.
    pub fn of_tunnel(t: &Tunnel) -> PathKey {
        PathKey::of(t.local, t.remote)
    }
}

/// The shared estimates.
pub struct PathMtus {
    slots: Box<[AtomicU64]>,
}

impl Default for PathMtus {
    fn default() -> Self {
        PathMtus { slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect() }
    }
}

/// check (16 bits) | outer MTU (16) | expiry in units (32); 0 is empty.
fn pack(check: u16, mtu: u16, until: u64) -> u64 {
    u64::from(check) << 48 | u64::from(mtu) << 32 | (until >> UNIT_SHIFT).min(u64::from(u32::MAX))
}

impl PathMtus {
    /// The outer path MTU learned for `key` and still valid at `now`.
    #[inline]
    pub fn get(&self, key: PathKey, now: u64) -> Option<u16> {
        let v = self.slots.get(usize::from(key.slot))?.load(Relaxed);
        let (check, mtu, until) = ((v >> 48) as u16, (v >> 32) as u16, v & 0xffff_ffff);
        (check == key.check && now >> UNIT_SHIFT < until).then_some(mtu)
    }

    /// The MTU of a tunnel whose own (configured or derived) MTU is `mtu`
    /// and whose outer headers take `overhead` bytes: less if its path's
    /// estimate says so.
    #[inline]
    pub fn cap(&self, key: PathKey, mtu: u16, overhead: u16, now: u64) -> u16 {
        match self.get(key, now) {
            Some(outer) => mtu.min(outer.saturating_sub(overhead)),
            None => mtu,
        }
    }

    /// The MTU of tunnel `tun`, whose own (configured or derived) MTU is
    /// `mtu`: less if its path's estimate says so.
    #[inline]
    pub fn of_tunnel(&self, tun: &Tunnel, mtu: u16, now: u64) -> u16 {
        let overhead = tun.kind.overhead(tun.remote.is_ipv6()) as u16;
        self.cap(PathKey::of_tunnel(tun), mtu, overhead, now)
    }

    /// Takes a report of `reported` bytes for the path of `key` (an IPv6
    /// outside if `v6`): true if it lowered the estimate. A report at or
    /// above the estimate in force is ignored (RFC 1191 §6.3, RFC 8201
    /// §4); one below the family's floor is taken as the floor.
    pub fn report(&self, key: PathKey, reported: u32, v6: bool, now: u64) -> bool {
        let floor = if v6 { MIN_PMTU_V6 } else { MIN_PMTU_V4 };
        let mtu = reported.clamp(u32::from(floor), u32::from(u16::MAX)) as u16;
        if self.get(key, now).is_some_and(|held| mtu >= held) {
            return false;
        }
        let Some(slot) = self.slots.get(usize::from(key.slot)) else { return false };
        slot.store(pack(key.check, mtu, now + AGE_NS), Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn key() -> PathKey {
        PathKey::of("203.0.113.1".parse().unwrap(), "198.51.100.2".parse().unwrap())
    }

    #[test]
    fn a_report_lowers_the_path_and_every_tunnel_on_it_until_it_ages() {
        let p = PathMtus::default();
        let k = key();
        assert_eq!(p.cap(k, 1476, 24, 5 * S), 1476, "nothing learned yet");
        assert!(p.report(k, 1300, false, 5 * S));
        // GRE with a key (28 bytes) and IPIP (20) on the same path.
        assert_eq!((p.cap(k, 1472, 28, 6 * S), p.cap(k, 1480, 20, 6 * S)), (1272, 1280));
        // The tunnel's own MTU stays the bound when it is lower.
        assert_eq!(p.cap(k, 1200, 24, 6 * S), 1200);
        assert_eq!(p.get(k, 6 * S), Some(1300));
        // Ten minutes on, the tunnel's own MTU is tried again.
        assert_eq!(p.cap(k, 1476, 24, 5 * S + AGE_NS + 2 * S), 1476);
        assert_eq!(p.get(k, 5 * S + AGE_NS + 2 * S), None);
    }

    #[test]
    fn reports_only_lower_and_never_below_the_floor_rfc1191_rfc8201() {
        let p = PathMtus::default();
        let k = key();
        assert!(p.report(k, 1400, false, S));
        assert!(!p.report(k, 1450, false, 2 * S), "a larger report is ignored");
        assert!(!p.report(k, 1400, false, 2 * S), "so is the same one");
        assert_eq!(p.get(k, 2 * S), Some(1400));
        assert!(p.report(k, 68, false, 3 * S));
        assert_eq!(p.get(k, 3 * S), Some(MIN_PMTU_V4), "a forged tiny MTU goes no lower than the floor");
        let k6 = PathKey::of("2001:db8:1::1".parse().unwrap(), "2001:db8:9::2".parse().unwrap());
        assert!(p.report(k6, 1000, true, S));
        assert_eq!(p.get(k6, S), Some(MIN_PMTU_V6));
    }

    #[test]
    fn paths_are_apart_and_a_slot_taken_by_another_reads_as_none() {
        let p = PathMtus::default();
        let a = key();
        let b = PathKey::of("203.0.113.1".parse().unwrap(), "198.51.100.3".parse().unwrap());
        assert_ne!(a, b);
        assert!(p.report(a, 1300, false, S));
        assert_eq!(p.get(b, S), None);
        // Another path on a's slot replaces it; a reads as unknown.
        let c = PathKey { slot: a.slot, check: a.check ^ 2 };
        assert!(p.report(c, 1200, false, S));
        assert_eq!((p.get(a, S), p.get(c, S)), (None, Some(1200)));
    }
}

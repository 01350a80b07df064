//! The flow cache: the fast path's decision for an established IPv4 TCP
//! or UDP flow (next hop, MACs, translation, both checksum deltas),
//! remembered per worker under the ingress port and 5-tuple, so the
//! flow's next packets skip the rule checks, the session lookup, the FIB
//! and the adjacency. nftables' flowtable and OVS's exact-match cache.
//!
//! An entry is used only while what it copied holds: the tables', the
//! neighbor cache's and the translator's generations (a change starts a
//! new epoch), the neighbor's reachability (`until`), the packet passing
//! the fast path's checks (no SYN, FIN or RST, which move a session's
//! state), and the translator's entry, asked at each hit
//! ([`FastHooks::fast_refresh`](crate::FastHooks::fast_refresh)) or vouched for until a hold ends
//! ([`FastHooks::fast_hold`](crate::FastHooks::fast_hold): measured 6-8% more packets a second with a
//! million sessions). A hit does to the packet, byte for byte and counter
//! for counter, what the fast path would have done.
//!
//! The cache is direct-mapped on huge pages and never grows. One
//! fast-path packet in [`RouterConfig::flow_fill`] makes an entry, and
//! the cache rests while fewer than one lookup in 16 hits (far more flows
//! than slots). Nothing here allocates after `new` or panics.
//!
//! [`RouterConfig::flow_fill`]: crate::RouterConfig::flow_fill

use super::fast::{Ingress, Next, Plan, Tally, NO_PORT};
use super::Router;
use crate::buf::PacketBuf;
use crate::hooks::{EntryHandle, FastVerdict, Translator};
use crate::wire::checksum;
use crate::wire::ip::protocol;
use crate::wire::plain4 as at;
use crate::wire::FiveTuple;
use crate::wire::{be16, be32, ipv4, ne16, put16, put32, set_ne16, tcp, udp};
use hugeslice::HugeSlice;

/// Ethernet, a 20-byte IPv4 header and 8 bytes of the transport's (the
/// UDP header; TCP's ports): the bytes a hit reads and writes, but for
/// TCP's flags and checksum.
pub(super) const VIEW: usize = at::L4 + udp::HEADER_LEN;

/// What an entry does to the packet's addresses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Rewrite {
    /// Nothing (not translated).
    Untouched = 0,
    /// The source becomes `addr:port` (outbound).
    Source = 1,
    /// The destination becomes `addr:port` (inbound).
    Destination = 2,
}

/// One flow's decision, in one cache line.
#[derive(Copy, Clone, Debug)]
#[repr(C, align(64))]
pub(super) struct CachedFlow {
    /// The key ([`key`]); an empty slot's `k1` is 0 (no flow's
    /// protocol is).
    pub k0: u64,
    pub k1: u64,
    /// Valid before this time (the neighbor's reachability, and the
    /// translator's hold).
    pub until: u64,
    /// The cache epoch it was made in.
    pub epoch: u32,
    /// The translator's entry, asked at each hit ([`EntryHandle::NONE`]: none,
    /// or one the translator holds until `until`).
    pub entry: EntryHandle,
    /// The neighbor, to note its use.
    pub neigh: u32,
    /// The new address, as it sits in the packet.
    pub addr: u32,
    /// Checksum changes, folded: the IPv4 header's (the address and the
    /// TTL), and the transport's (the address and the port).
    pub ip_delta: u16,
    pub l4_delta: u16,
    /// The new port, as it sits in the packet.
    pub port: u16,
    /// Egress port and MTU.
    pub tx: u16,
    pub mtu: u16,
    /// Destination and source MAC.
    pub macs: [u8; 12],
    pub rewrite: Rewrite,
}

const _: () = assert!(std::mem::size_of::<CachedFlow>() == 64);

impl CachedFlow {
    const EMPTY: CachedFlow = CachedFlow {
        k0: 0,
        k1: 0,
        until: 0,
        epoch: 0,
        entry: EntryHandle::NONE,
        neigh: 0,
        addr: 0,
        ip_delta: 0,
        l4_delta: 0,
        port: 0,
        tx: 0,
        mtu: 0,
        macs: [0; 12],
        rewrite: Rewrite::Untouched,
    };
}

/// The key of the flow of frame `x` (Ethernet and a 20-byte IPv4 header
/// first) received on `port`: the addresses, the ports, the protocol
/// and the port, as they sit (no byte swaps).
#[inline(always)]
pub(super) fn key(x: &[u8; VIEW], port: u16) -> (u64, u64) {
    // The addresses, then the ports, each pair adjacent in the frame.
    let (a, p) = (at::SRC, at::SRC_PORT);
    let k0 = u64::from_ne_bytes([x[a], x[a + 1], x[a + 2], x[a + 3], x[a + 4], x[a + 5], x[a + 6], x[a + 7]]);
    let ports = u32::from_ne_bytes([x[p], x[p + 1], x[p + 2], x[p + 3]]);
    (k0, u64::from(ports) | u64::from(x[at::PROTOCOL]) << 32 | u64::from(port) << 40)
}

/// A worker's flow cache, on huge pages where the kernel gives them
/// (measured: on plain pages, the entry's load took 30% of the burst's
/// samples with a thousand flows over a 1 MiB cache: the flows' 4 KiB
/// pages outnumbered the TLB).
pub(super) struct FlowCache {
    slots: HugeSlice<CachedFlow>,
    /// `slots.len() - 1` (a power of two); unused when empty.
    mask: usize,
    /// The epoch entries must have been made in to be used.
    pub epoch: u32,
    /// The generations the epoch stands for: the tables', the neighbor
    /// cache's and the translator's.
    seen: [u64; 3],
    /// Fast-path packets that could have made an entry, and one in how
    /// many does.
    candidates: u32,
    fill: u32,
    /// The cache is used in this burst (looked up, and new entries may be
    /// made).
    pub filling: bool,
    /// Frames looked up and found in this accounting window, bursts
    /// left in it, and bursts left to rest.
    probes: u64,
    hits: u64,
    window: u32,
    resting: u32,
}

/// Bursts in an accounting window: long enough for a thousand flows to
/// come round several times (each is taken in at one packet in
/// `fill`).
const WINDOW: u32 = 256;
/// A window in which fewer than one lookup in `REST_BELOW` found its
/// flow (with at least `WINDOW` lookups) sends the cache to rest for
/// `REST` bursts (15 windows): with far more flows live than it holds,
/// it would only cost (measured: 9-18% more time a packet when each is
/// one of a million flows). Its entries stay good through the rest.
const REST_BELOW: u64 = 16;
const REST: u32 = 15 * WINDOW;

impl FlowCache {
    /// A cache of `entries` (rounded up to a power of two; 0: none),
    /// making an entry for one candidate packet in `fill`.
    pub fn new(entries: usize, fill: u32) -> FlowCache {
        let n = if entries == 0 { 0 } else { entries.next_power_of_two() };
        FlowCache {
            slots: HugeSlice::new(n, CachedFlow::EMPTY),
            mask: n.saturating_sub(1),
            epoch: 1,
            seen: [u64::MAX; 3],
            candidates: 0,
            fill: fill.max(1),
            filling: true,
            probes: 0,
            hits: 0,
            window: WINDOW,
            resting: 0,
        }
    }

    /// Whether the cache is used in the next burst: not when `off` (the
    /// translator is idle, or makes sessions: their packets miss, and the
    /// lookups' loads compete with the new sessions' for memory; measured
    /// ~10% fewer new sessions a second), nor while it rests.
    #[inline(always)]
    pub fn start_burst(&mut self, off: bool) {
        self.filling = !off && self.resting == 0 && self.is_on();
    }

    /// Takes in a burst's lookups and hits (every burst's: one that did
    /// not use the cache counts towards a rest's end only), and sends the
    /// cache to rest at the end of a window in which it did not pay.
    #[inline(always)]
    pub fn end_burst(&mut self, probes: u64, hits: u64) {
        if self.resting > 0 {
            self.resting -= 1;
            return;
        }
        if !self.filling {
            return;
        }
        self.probes += probes;
        self.hits += hits;
        self.window -= 1;
        if self.window == 0 {
            self.end_window();
        }
    }

    #[cold]
    fn end_window(&mut self) {
        if self.probes >= u64::from(WINDOW) && self.hits * REST_BELOW < self.probes {
            self.resting = REST;
        }
        (self.probes, self.hits, self.window) = (0, 0, WINDOW);
    }

    /// True when the cache holds anything at all.
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        !self.slots.is_empty()
    }

    /// Starts a new epoch if any of the generations changed.
    #[inline(always)]
    pub fn sync(&mut self, generations: [u64; 3]) {
        // (Compared one by one: as arrays, the compiler stored the three
        // and read them back as one wider load, which waited on the
        // stores: 8% of the burst's samples.)
        let [a, b, c] = generations;
        let [x, y, z] = self.seen;
        if a != x || b != y || c != z {
            self.seen = generations;
            self.next_epoch();
        }
    }

    /// As [`FlowCache::sync`], for the neighbor cache's generation alone.
    #[inline(always)]
    pub fn sync_neighbors(&mut self, generation: u64) {
        if generation != self.seen[1] {
            self.seen[1] = generation;
            self.next_epoch();
        }
    }

    #[cold]
    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Every epoch number is used up: an entry of the last epoch
            // 1 must not come back.
            self.slots.fill(CachedFlow::EMPTY);
            self.epoch = 1;
        }
    }

    #[inline(always)]
    fn slot(&self, k0: u64, k1: u64) -> usize {
        let h = (k0 ^ k1.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 32) as usize & self.mask
    }

    /// The entry for key `(k0, k1)`, if it is there and of this epoch.
    #[inline(always)]
    pub fn get(&self, k0: u64, k1: u64) -> Option<&CachedFlow> {
        let f = self.slots.get(self.slot(k0, k1))?;
        (f.k0 == k0 && f.k1 == k1 && f.epoch == self.epoch).then_some(f)
    }

    /// Starts bringing in the slot of the flow of frame `d` (any bytes)
    /// from `port`, for a lookup soon.
    #[inline(always)]
    pub fn prefetch(&self, d: &[u8], port: u16) {
        if let Some(x) = d.get(..VIEW).and_then(|x| <&[u8; VIEW]>::try_from(x).ok()) {
            let (k0, k1) = key(x, port);
            if let Some(f) = self.slots.get(self.slot(k0, k1)) {
                prefetch::prefetch(f);
            }
        }
    }

    /// True for the candidate packets that make an entry: one in `fill`.
    #[inline(always)]
    pub fn due(&mut self) -> bool {
        if !self.filling {
            return false;
        }
        self.candidates += 1;
        if self.candidates < self.fill {
            return false;
        }
        self.candidates = 0;
        true
    }

    /// Keeps `f` (its key and epoch set), in place of what its slot held.
    #[inline(always)]
    pub fn put(&mut self, f: CachedFlow) {
        let i = self.slot(f.k0, f.k1);
        if let Some(s) = self.slots.get_mut(i) {
            *s = f;
        }
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// A frame of a flow the cache holds ([`flow_cache`]): checked as `decide`
    /// and `decide4` would check it, its translator entry refreshed,
    /// rewritten as the entry says and trimmed. `None` (a miss, or a
    /// packet the entry is not for) changes nothing. The key is looked up
    /// first, so that a miss costs little more than a hash and a load.
    #[inline(always)]
    pub(super) fn flow_hit(
        &mut self,
        ing: Ingress,
        port: u16,
        pkt: &mut B,
        tally: &mut Tally,
        now: u64,
    ) -> Option<Plan> {
        let d = pkt.data_mut();
        let frame = d.len();
        // TCP's flags (a TCP entry's packets are at least 54 bytes).
        let flags = d.get(at::TCP_FLAGS).copied().unwrap_or(0);
        let (x, rest) = d.split_at_mut_checked(VIEW)?;
        let x = <&mut [u8; VIEW]>::try_from(x).ok()?;
        let (k0, k1) = key(x, port);
        let f = self.flows.get(k0, k1)?;
        // Unicast to us from a unicast source, untagged IPv4 without options.
        if !x.first_chunk::<16>().is_some_and(|head| ing.v4.matches(head)) {
            return None;
        }
        let h = <&[u8; ipv4::HEADER_LEN]>::try_from(&x[at::IP..at::L4]).ok()?;
        let tl = usize::from(be16(x, at::LENGTH));
        if tl < 20 || tl > frame - at::IP || x[at::TTL] <= 1 || !checksum::header_ok(h) {
            return None;
        }
        // Whole (RFC 791: not a fragment), with the transport header the
        // entry rewrites, and no TCP flag that moves a session's state.
        let fits = match x[at::PROTOCOL] {
            protocol::UDP => tl >= 28,
            protocol::TCP => tl >= 40 && flags & (tcp::flags::SYN | tcp::flags::FIN | tcp::flags::RST) == 0,
            _ => false,
        };
        if !fits || be16(x, at::FLG_OFF) & ipv4::FRAGMENT_BITS != 0 || now >= f.until || tl > usize::from(f.mtu) {
            return None;
        }
        let is_tcp = x[at::PROTOCOL] == protocol::TCP;
        if f.entry != EntryHandle::NONE {
            let p = FiveTuple {
                src: be32(x, at::SRC),
                dst: be32(x, at::DST),
                proto: x[at::PROTOCOL],
                whole: true,
                sport: be16(x, at::SRC_PORT),
                dport: be16(x, at::DST_PORT),
                flags: if is_tcp { flags } else { 0 },
            };
            let (addr, to) = (u32::from_be(f.addr), u16::from_be(f.port));
            if !self.nat.fast_refresh(f.entry, &p, f.rewrite == Rewrite::Source, addr, to, now) {
                return None;
            }
        } else if f.rewrite != Rewrite::Untouched {
            // Held: the translator's entry is good until `f.until`.
            tally.held += 1;
        }
        x[..12].copy_from_slice(&f.macs);
        x[at::TTL] = x[at::TTL].wrapping_sub(1);
        let sum = checksum::apply_folded(ne16(x, at::CHECKSUM), f.ip_delta);
        set_ne16(x, at::CHECKSUM, sum);
        if f.rewrite != Rewrite::Untouched {
            let (addr_at, port_at) =
                if f.rewrite == Rewrite::Source { (at::SRC, at::SRC_PORT) } else { (at::DST, at::DST_PORT) };
            if let Some(a) = x.get_mut(addr_at..addr_at + 4) {
                a.copy_from_slice(&f.addr.to_ne_bytes());
            }
            set_ne16(x, port_at, f.port);
            // TCP's checksum (past the view); UDP's, where a zero (none,
            // RFC 768) stays zero and a computed zero is sent as all ones.
            let sum = if is_tcp { rest.get_mut(at::TCP_CHECKSUM - VIEW..) } else { x.get_mut(at::UDP_CHECKSUM..) };
            if let Some(s) = sum {
                let c = ne16(s, 0);
                if is_tcp || c != 0 {
                    let c = checksum::apply_folded(c, f.l4_delta);
                    set_ne16(s, 0, if c == 0 && !is_tcp { 0xffff } else { c });
                }
            }
        }
        let len = at::IP + tl;
        let plan = Plan { next: Next::CacheHit, len: len as u16, to: f.tx, slot: f.neigh, port: NO_PORT };
        pkt.truncate(len);
        Some(plan)
    }

    /// Makes the cache's entry for the flow of a packet read as `plain`
    /// from `port`, which the fast path just forwarded through
    /// adjacency `adj` after the translator's answers `pre` and `post`.
    #[cold]
    pub(super) fn remember_flow(
        &mut self,
        port: u16,
        plain: &FiveTuple,
        pre: FastVerdict,
        post: FastVerdict,
        adj: u16,
        now: u64,
    ) {
        let Some(a) = self.adj.get(usize::from(adj)) else { return };
        let be = |a: u32| u32::from_ne_bytes(a.to_be_bytes());
        let be16 = |p: u16| u16::from_ne_bytes(p.to_be_bytes());
        // The TTL's word going down by one, whatever the TTL was.
        let ttl = checksum::delta16(u16::from_ne_bytes([2, 0]), u16::from_ne_bytes([1, 0]));
        let (rewrite, (entry, addr, to), (old, old_port)) = match (pre, post) {
            (_, FastVerdict::Rewrite { entry, addr, port }) => {
                (Rewrite::Source, (entry, addr, port), (plain.src, plain.sport))
            }
            (FastVerdict::Rewrite { entry, addr, port }, _) => {
                (Rewrite::Destination, (entry, addr, port), (plain.dst, plain.dport))
            }
            _ => (Rewrite::Untouched, (EntryHandle::NONE, 0, 0), (0, 0)),
        };
        let d = checksum::delta32(be(old), be(addr));
        let (ip_delta, l4_delta) = if rewrite == Rewrite::Untouched {
            (checksum::fold(ttl), 0)
        } else {
            (checksum::fold(d + ttl), checksum::fold(d + checksum::delta16(be16(old_port), be16(to))))
        };
        let mut x = [0u8; VIEW];
        x[at::PROTOCOL] = plain.proto;
        put32(&mut x, at::SRC, plain.src);
        put32(&mut x, at::DST, plain.dst);
        put16(&mut x, at::SRC_PORT, plain.sport);
        put16(&mut x, at::DST_PORT, plain.dport);
        let (k0, k1) = key(&x, port);
        // A flow the translator holds goes unrefreshed (its entry
        // unnamed) until the hold ends.
        let hold =
            if entry == EntryHandle::NONE { 0 } else { self.nat.fast_hold(entry, rewrite == Rewrite::Source, now) };
        let (entry, until) =
            if hold > 0 { (EntryHandle::NONE, a.until.min(now.saturating_add(hold))) } else { (entry, a.until) };
        self.flows.put(CachedFlow {
            k0,
            k1,
            until,
            epoch: self.flows.epoch,
            entry,
            neigh: a.slot,
            addr: be(addr),
            ip_delta,
            l4_delta,
            port: be16(to),
            tx: a.port,
            mtu: a.mtu,
            macs: a.macs,
            rewrite,
        });
    }
}

/// A packet the flow cache may take an entry for: a whole UDP packet, or
/// a whole TCP segment with its 20-byte header and none of SYN, FIN and
/// RST (`tl`: the IPv4 total length).
#[inline(always)]
pub(super) fn cacheable(p: &FiveTuple, tl: usize) -> bool {
    p.whole
        && match p.proto {
            protocol::UDP => tl >= 28,
            protocol::TCP => tl >= 40 && p.flags & (tcp::flags::SYN | tcp::flags::FIN | tcp::flags::RST) == 0,
            _ => false,
        }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_found_by_its_key_in_its_epoch_only() {
        let mut c = FlowCache::new(1000, 1);
        assert_eq!(c.slots.len(), 1024);
        let f = CachedFlow { k0: 7, k1: 17 << 32, epoch: c.epoch, ..CachedFlow::EMPTY };
        c.put(f);
        assert!(c.get(7, 17 << 32).is_some());
        assert!(c.get(8, 17 << 32).is_none() && c.get(7, 6 << 32).is_none());
        c.sync([1, 2, 3]);
        assert!(c.get(7, 17 << 32).is_none(), "a new epoch forgets");
        c.sync([1, 2, 3]);
        c.put(CachedFlow { epoch: c.epoch, ..f });
        c.sync_neighbors(2);
        assert!(c.get(7, 17 << 32).is_some(), "the same generations keep the epoch");
        c.sync_neighbors(4);
        assert!(c.get(7, 17 << 32).is_none());
    }

    #[test]
    fn epochs_wrap_by_emptying_the_cache() {
        let mut c = FlowCache::new(16, 1);
        c.epoch = u32::MAX;
        c.put(CachedFlow { k0: 1, k1: 6 << 32, epoch: 1, ..CachedFlow::EMPTY });
        c.sync([0, 0, 0]);
        assert_eq!(c.epoch, 1);
        assert!(c.get(1, 6 << 32).is_none(), "an entry of the old epoch 1 is gone");
    }

    #[test]
    fn a_window_of_misses_rests_the_cache_and_it_comes_back() {
        let mut c = FlowCache::new(16, 1);
        let burst = |c: &mut FlowCache, probes, hits| {
            c.start_burst(false);
            let on = c.filling;
            c.end_burst(if on { probes } else { 0 }, if on { hits } else { 0 });
            on
        };
        // A window with one hit in ten keeps it; one in twenty does not.
        assert!((0..WINDOW).all(|_| burst(&mut c, 10, 1)));
        assert!((0..WINDOW).all(|_| burst(&mut c, 20, 1)));
        assert!(!burst(&mut c, 32, 32), "resting");
        assert_eq!((1..REST).filter(|_| burst(&mut c, 32, 32)).count(), 0);
        assert!(burst(&mut c, 32, 32), "back after the rest");
        // Bursts while sessions are being made leave it off, and count.
        c.start_burst(true);
        assert!(!c.filling);
    }

    #[test]
    fn one_candidate_in_fill_makes_an_entry_and_none_are_kept_without_slots() {
        let mut c = FlowCache::new(16, 4);
        let due: Vec<bool> = (0..8).map(|_| c.due()).collect();
        assert_eq!(due, [false, false, false, true, false, false, false, true]);
        let mut off = FlowCache::new(0, 1);
        assert!(!off.is_on());
        off.put(CachedFlow { k0: 1, k1: 6 << 32, epoch: off.epoch, ..CachedFlow::EMPTY });
        assert!(off.get(1, 6 << 32).is_none());
    }
}

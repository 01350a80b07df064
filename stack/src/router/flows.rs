//! The flow cache: what the fast path decided for an IPv4 flow's
//! packet (the next hop's rewrite and the translation), remembered per
//! worker, so the flow's next packets are checked, refreshed and
//! rewritten without the lookups that decided it: the translator's
//! checks of its rules, its session lookup, the FIB and the adjacency.
//! It is nftables' flowtable and Open vSwitch's exact-match cache, for
//! this router.
//!
//! A flow is an ingress port and an IPv4 5-tuple, TCP or UDP. An entry
//! is a copy of a decision, good while nothing it rests on changed:
//!
//! - the tables (routes, interfaces), the neighbor cache and the
//!   translator's rules ([`Translator::generation`]): any change of
//!   their generations starts a new cache epoch, and entries of an
//!   older one are not used (the epoch is looked at once a burst, and
//!   the neighbor cache's after every frame the full path took, the one
//!   thing that changes it within a burst);
//! - the neighbor stays reachable: the adjacency's `until`;
//! - the packet: it must pass every check the fast path makes of it
//!   (the cache keys on what those checks read, and repeats the rest),
//!   fit the egress MTU, and carry no TCP SYN, FIN or RST (those change
//!   the session's state: such segments take the fast path);
//! - the translator's entry still holds the flow with the same
//!   translation: asked of the translator for each packet
//!   ([`Translator::fast_refresh`]), which refreshes it as the fast path
//!   would (the session's line is read for that anyway); or, for a flow
//!   the translator holds ([`Translator::fast_hold`]: NAT44 sessions, for
//!   a second by default), vouched for by it until the hold ends, so a
//!   hit reads nothing of the translator's (measured: 6-8% more packets
//!   a second with a million sessions live). The packet after the hold
//!   takes the fast path, which refreshes the session and makes the
//!   entry anew.
//!
//! What a hit does is what the fast path would have done to the
//! packet, byte for byte and counter for counter: the checksum changes
//! are worked out when the entry is made (RFC 1624 eqn. 3, the TTL's
//! folded into the header's), so a hit only adds them.
//!
//! The cache is direct-mapped and never grows; a new entry takes its
//! slot's place. Entries are made for one fast-path packet in
//! [`RouterConfig::flow_fill`], so that when far more flows are live
//! than it holds (a carrier-grade NAT's millions), it does not spend a
//! line's write on every packet of flows it will forget before their
//! next one, and long flows still get in after a few packets (OVS's
//! `emc-insert-inv-prob`).
//!
//! Nothing here allocates after `new`, and nothing panics.
//!
//! [`Translator::generation`]: crate::Translator::generation
//! [`Translator::fast_refresh`]: crate::Translator::fast_refresh
//! [`Translator::fast_hold`]: crate::Translator::fast_hold
//! [`RouterConfig::flow_fill`]: crate::RouterConfig::flow_fill

use hugeslice::HugeSlice;

/// Ethernet, a 20-byte IPv4 header and 8 bytes of the transport's (the
/// UDP header; TCP's ports): the bytes a hit reads and writes, but for
/// TCP's flags and checksum.
pub(super) const VIEW: usize = 14 + 20 + 8;

/// What an entry does to the packet's translation.
pub(super) const UNTOUCHED: u8 = 0;
/// The source becomes `addr:port` (outbound).
pub(super) const SOURCE: u8 = 1;
/// The destination becomes `addr:port` (inbound).
pub(super) const DESTINATION: u8 = 2;

/// The translator's entry of an untranslated flow.
pub(super) const NO_ENTRY: u32 = u32::MAX;

/// One flow's decision, in one cache line.
#[derive(Copy, Clone, Debug)]
#[repr(C, align(64))]
pub(super) struct Flow {
    /// The key ([`key`]); an empty slot's `k1` is 0 (no flow's
    /// protocol is).
    pub k0: u64,
    pub k1: u64,
    /// Valid before this time (the neighbor's reachability, and the
    /// translator's hold).
    pub until: u64,
    /// The cache epoch it was made in.
    pub epoch: u32,
    /// The translator's entry, asked at each hit ([`NO_ENTRY`]: none,
    /// or one the translator holds until `until`).
    pub entry: u32,
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
    /// [`UNTOUCHED`], [`SOURCE`] or [`DESTINATION`].
    pub what: u8,
}

const _: () = assert!(std::mem::size_of::<Flow>() == 64);

impl Flow {
    const EMPTY: Flow = Flow {
        k0: 0,
        k1: 0,
        until: 0,
        epoch: 0,
        entry: NO_ENTRY,
        neigh: 0,
        addr: 0,
        ip_delta: 0,
        l4_delta: 0,
        port: 0,
        tx: 0,
        mtu: 0,
        macs: [0; 12],
        what: UNTOUCHED,
    };
}

/// The key of the flow of frame `x` (Ethernet and a 20-byte IPv4 header
/// first) received on `port`: the addresses, the ports, the protocol
/// and the port, as they sit (no byte swaps).
#[inline(always)]
pub(super) fn key(x: &[u8; VIEW], port: u16) -> (u64, u64) {
    let k0 = u64::from_ne_bytes([x[26], x[27], x[28], x[29], x[30], x[31], x[32], x[33]]);
    let ports = u32::from_ne_bytes([x[34], x[35], x[36], x[37]]);
    (k0, u64::from(ports) | u64::from(x[23]) << 32 | u64::from(port) << 40)
}

/// A worker's flow cache, on huge pages where the kernel gives them
/// (measured: on plain pages, the entry's load took 30% of the burst's
/// samples with a thousand flows over a 1 MiB cache: the flows' 4 KiB
/// pages outnumbered the TLB).
pub(super) struct FlowCache {
    slots: HugeSlice<Flow>,
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
            slots: HugeSlice::new(n, Flow::EMPTY),
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
            self.slots.fill(Flow::EMPTY);
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
    pub fn get(&self, k0: u64, k1: u64) -> Option<&Flow> {
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
    pub fn put(&mut self, f: Flow) {
        let i = self.slot(f.k0, f.k1);
        if let Some(s) = self.slots.get_mut(i) {
            *s = f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_found_by_its_key_in_its_epoch_only() {
        let mut c = FlowCache::new(1000, 1);
        assert_eq!(c.slots.len(), 1024);
        let f = Flow { k0: 7, k1: 17 << 32, epoch: c.epoch, ..Flow::EMPTY };
        c.put(f);
        assert!(c.get(7, 17 << 32).is_some());
        assert!(c.get(8, 17 << 32).is_none() && c.get(7, 6 << 32).is_none());
        c.sync([1, 2, 3]);
        assert!(c.get(7, 17 << 32).is_none(), "a new epoch forgets");
        c.sync([1, 2, 3]);
        c.put(Flow { epoch: c.epoch, ..f });
        c.sync_neighbors(2);
        assert!(c.get(7, 17 << 32).is_some(), "the same generations keep the epoch");
        c.sync_neighbors(4);
        assert!(c.get(7, 17 << 32).is_none());
    }

    #[test]
    fn epochs_wrap_by_emptying_the_cache() {
        let mut c = FlowCache::new(16, 1);
        c.epoch = u32::MAX;
        c.put(Flow { k0: 1, k1: 6 << 32, epoch: 1, ..Flow::EMPTY });
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
        off.put(Flow { k0: 1, k1: 6 << 32, epoch: off.epoch, ..Flow::EMPTY });
        assert!(off.get(1, 6 << 32).is_none());
    }
}

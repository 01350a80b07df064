//! The fast path: the common case of each family in one tight pass, as
//! VPP's `ip4-input → ip4-lookup → ip4-rewrite` and DPDK's l3fwd do.
//!
//! [`Router::process_burst`] takes each frame of a burst in order. A
//! plainly transit frame (routed: unicast to us, IPv4 without options or
//! IPv6 without extension headers, through a next hop in the adjacency
//! cache; switched: untagged, between learned stations of a bridge) is
//! checked, rewritten and sent here, every check before the first write;
//! any other frame goes untouched to [`Router::process`], so it meets the
//! same rules and counters as ever. One frame is finished before the next
//! (deciding the whole burst first measured slower). Tunnels are carried
//! too: a next hop through a tunnel (IPv4 outside) is an adjacency with
//! outer headers to write ([`adjacency::wrap`](super::adjacency)), and a
//! tunnel or VXLAN packet for us is unwrapped and its inside decided on
//! (`fast_unwrap.rs`).
//!
//! With NAT rules, each IPv4 packet is read once ([`FiveTuple`]) for the
//! translator's fast hooks: [`FastHooks::fast_pre`](crate::FastHooks::fast_pre) before routing
//! (changes nothing), [`FastHooks::fast_post`](crate::FastHooks::fast_post) after every other check
//! (translates, or makes a new outbound flow's session). While the
//! translator makes sessions it is also handed prefetch hints [`AHEAD`]
//! and [`NEARER`] frames early, so a new flow's cache misses overlap. A
//! burst no rule could touch ([`Hooks::is_idle`](crate::Hooks::is_idle)) runs a loop
//! compiled without the translator (measured 5% more IPv6 packets).

use super::adjacency::{AdjacencyKey, ADJ_SLOTS, FIB6_ENTRY};
use super::flow_cache::cacheable;
use super::io::Burst;
use super::{Io, Router, Translator};
use crate::buf::PacketBuf;
use crate::fib::{pick, RouteTarget};
use crate::hooks::FastVerdict;
use crate::iface::{Attach, Tables};
use crate::wire::ethernet::{self, ethertype, HEADER_LEN as ETH};
use crate::wire::ipv4::{self, field as ip4f, Ipv4Packet};
use crate::wire::ipv6::{self, field as ip6f};
use crate::wire::FiveTuple;
use crate::wire::{be16, be32, checksum, get_be16, put16};

/// How many frames ahead of the one being processed the translator is
/// asked to prefetch ([`BurstHints::prefetch`](crate::BurstHints::prefetch)): far enough that a cache
/// miss (~100 ns) is over when the frame's turn comes.
const AHEAD: usize = 6;
/// How many frames ahead the second hint comes
/// ([`BurstHints::prefetch_more`](crate::BurstHints::prefetch_more)), once the first's read is in.
const NEARER: usize = 3;

/// How many frames ahead the flow cache's slot is fetched (measured:
/// all a burst's at once, 3% fewer packets a second than this; the
/// session's line fetched too, two frames ahead, 7% fewer).
const FLOW_AHEAD: usize = 4;

/// Ethernet + IPv4 header without options.
pub(super) const V4_HEAD: usize = ETH + ipv4::HEADER_LEN;
/// Ethernet + IPv6 header.
const V6_HEAD: usize = ETH + ipv6::HEADER_LEN;

/// The IPv6 address at `at` in `h`, as a number.
#[inline(always)]
fn addr6(h: &[u8; ipv6::HEADER_LEN], at: usize) -> u128 {
    let mut a = [0u8; 16];
    if let Some(b) = h.get(at..at + 16) {
        a.copy_from_slice(b);
    }
    u128::from_be_bytes(a)
}

/// False for most global unicast: true for an address that starts with
/// 16 zero bits or lies in fe80::/10 or above, where every address the
/// fast path's source and destination checks refuse lies (unspecified,
/// loopback, link-local, multicast). One test of each address spares
/// global unicast the rest.
#[inline(always)]
fn unusual6(a: u128) -> bool {
    ((a >> 112) as u16).wrapping_sub(1) >= 0xfe7f
}

/// What the fast path knows about a port for untagged frames (from the
/// tables, refreshed when their generation changes).
#[derive(Copy, Clone, Debug)]
pub(super) struct Ingress {
    /// The interface's MAC, or the bridge's BVI MAC (none: zero, which
    /// no frame is sent to).
    pub(super) mac: [u8; 6],
    /// The bridge member the port's untagged frames belong to (`NONE`:
    /// not a member), and its bridge.
    pub(super) member: u16,
    pub(super) bridge: u16,
    /// The one other member of a two-member bridge, where unknown
    /// unicast is flooded without a copy (`NONE`: more members).
    pub(super) flood_to: u16,
    /// `flood_to`'s port if it is untagged and not a VTEP ([`NO_PORT`]:
    /// none, or not plain).
    pub(super) flood_port: u16,
    /// The IPv4 frames a layer-3 interface takes (none: the port's
    /// untagged frames are not a layer-3 interface's), and the IPv6
    /// frames if it has IPv6, each told in one test.
    pub(super) v4: V4Frame,
    pub(super) v6: V6Frame,
}

impl Ingress {
    pub(super) const NONE: u16 = u16::MAX;
    pub(super) const OFF: Ingress = Ingress {
        mac: [0; 6],
        member: Self::NONE,
        bridge: 0,
        flood_to: Self::NONE,
        flood_port: NO_PORT,
        v4: V4Frame::NONE,
        v6: V6Frame::NONE,
    };
}

/// Which bits of a frame's first 16 bytes [`V4Frame`] compares: the
/// destination MAC, the source's group bit, the EtherType, IPv4's version
/// and header length.
#[rustfmt::skip]
const V4_FRAME_MASK: [u8; 16] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0,
];

/// Which bits [`V6Frame`] compares: as [`V4_FRAME_MASK`], with IPv6's
/// version (the high half of the first byte after the EtherType).
#[rustfmt::skip]
const V6_FRAME_MASK: [u8; 16] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff, 0xf0, 0,
];

/// The frames whose IPv4 header `decide4` reads: unicast to the
/// interface's MAC from a unicast source, IPv4 without options.
pub(super) type V4Frame = HeadTest<{ u128::from_ne_bytes(V4_FRAME_MASK) }>;
/// The frames whose IPv6 header `decide6` reads: unicast to the
/// interface's MAC from a unicast source, IPv6.
pub(super) type V6Frame = HeadTest<{ u128::from_ne_bytes(V6_FRAME_MASK) }>;

/// A frame's first 16 bytes under the constant mask `MASK`, as one
/// word: one test where `decide` would test four fields; a frame that
/// fails it goes the full way.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct HeadTest<const MASK: u128> {
    want: u128,
}

impl<const MASK: u128> HeadTest<MASK> {
    /// Matches no frame (bits the mask clears are set).
    pub(super) const NONE: Self = HeadTest { want: u128::MAX };

    /// Frames to `mac` of `ethertype` whose next byte is `first`.
    fn new(mac: [u8; 6], ethertype: u16, first: u8) -> Self {
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&mac);
        put16(&mut b, ethernet::field::ETHERTYPE, ethertype);
        b[ETH] = first;
        HeadTest { want: u128::from_ne_bytes(b) & MASK }
    }

    /// True if a frame starting with `h` matches.
    #[inline(always)]
    pub(super) fn matches(&self, h: &[u8; 16]) -> bool {
        u128::from_ne_bytes(*h) & MASK == self.want
    }
}

impl V4Frame {
    /// IPv4 frames to `mac`.
    pub(super) fn v4(mac: [u8; 6]) -> V4Frame {
        HeadTest::new(mac, ethertype::IPV4, 0x45)
    }
}

impl V6Frame {
    /// IPv6 frames to `mac`.
    pub(super) fn v6(mac: [u8; 6]) -> V6Frame {
        HeadTest::new(mac, ethertype::IPV6, 0x60)
    }
}

/// What the fast path decided for one frame (small: no copy of the
/// rewrite, which stays in the adjacency cache).
#[derive(Copy, Clone)]
pub(super) struct Plan {
    pub(super) next: Next,
    /// Routed or stopped: the frame length to keep (Ethernet padding goes).
    pub(super) len: u16,
    /// Routed: the port to send on; switched: the member.
    pub(super) to: u16,
    /// Routed: the next hop's neighbor-cache slot, to note as used;
    /// switched: the MAC table slot of the source, to refresh.
    pub(super) slot: u32,
    /// Flooded to the one other member, untagged and not a VTEP: its
    /// port, which spares reading the member (else [`NO_PORT`]).
    pub(super) port: u16,
}

/// No port: a [`Plan`] whose frame goes where its kind says (what
/// [`Tables::plain_port`] answers for a member that is not plain).
pub(super) const NO_PORT: u16 = u16::MAX;

/// Where the fast path sends a frame it decided. The kinds a burst
/// counts are below [`Tally::KINDS`]; the routed ones are 4 to 6, told
/// by one mask ([`Next::is_routed`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Next {
    /// The full path ([`Router::process`]), untouched.
    Slow = 0,
    /// Switched to the member the destination was learned on.
    Switch = 1,
    /// Unknown unicast, flooded to the one other member.
    Flood = 2,
    /// Dropped or refused by the translator as it made the flow's entry
    /// ([`FastHooks::fast_post`](crate::FastHooks::fast_post)).
    Stop = 3,
    /// Routed (rewritten, trimmed) by `decide4`, by the flow cache, or by
    /// `decide6`: `to` is the egress port, `slot` the neighbor's cache
    /// slot.
    Route4 = 4,
    CacheHit = 5,
    Route6 = 6,
    /// Unwrapped from tunnel interface `to`; the full path takes the
    /// inner packet as received on it.
    Inner = 8,
    /// Unwrapped from VXLAN; the full path switches the frame as received
    /// on bridge member `to` (a remote VTEP).
    Bridge = 9,
}

impl Next {
    /// Route4, CacheHit or Route6, in one test (7 is no kind).
    #[inline(always)]
    fn is_routed(self) -> bool {
        self as u8 & !3 == 4
    }
}

impl Plan {
    pub(super) const SLOW: Plan = Plan { next: Next::Slow, len: 0, to: 0, slot: 0, port: NO_PORT };
}

/// What a burst's fast frames add to the counters, and the adjacency
/// whose neighbor was last noted as used (once a burst is enough: the
/// burst has one time).
pub(super) struct Tally {
    /// Frames sent, by their plan's kind (`Next as usize`): one
    /// increment where a test per counter would be.
    pub(super) sent: [u64; Tally::KINDS],
    /// Frames looked up in the flow cache.
    pub(super) probes: u64,
    /// Hits of flows the translator holds ([`FastHooks::fast_hold`](crate::FastHooks::fast_hold)):
    /// translated without asking it.
    pub(super) held: u64,
    /// The neighbor (its cache slot) last noted as used.
    pub(super) touched: u32,
    /// The MAC table slot of the source last refreshed.
    pub(super) seen: u32,
}

impl Tally {
    /// Kinds of [`Next`] counted: those below 8.
    const KINDS: usize = 8;
    const NEW: Tally = Tally { sent: [0; Tally::KINDS], probes: 0, held: 0, touched: u32::MAX, seen: u32::MAX };

    /// Counts a frame sent by a plan of kind `next`.
    #[inline(always)]
    fn count(&mut self, next: Next) {
        // (Every kind counted is below KINDS.)
        self.sent[usize::from(next as u8) % Tally::KINDS] += 1;
    }

    /// Frames sent by plans of kind `next`.
    fn of(&self, next: Next) -> u64 {
        self.sent[usize::from(next as u8) % Tally::KINDS]
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Processes a burst received on `port`, in order: each frame by the
    /// fast path if it can carry it, otherwise by [`Router::process`].
    /// Every slot is emptied.
    pub fn process_burst(&mut self, t: &Tables, port: u16, burst: &mut [Option<B>], now: u64, io: &mut impl Io<B>) {
        let cx = &mut Burst { t, now, io };
        self.adj_memo = super::adjacency::AdjMemo::NONE;
        if self.fast_generation != cx.t.generation {
            self.refresh_ingress(cx.t);
        }
        let Some(ing) = self.ingress.get(usize::from(port)).copied() else {
            for pkt in burst.iter_mut().filter_map(Option::take) {
                self.receive(cx, pkt);
            }
            return;
        };
        let idle = self.nat.is_idle();
        if !idle && self.flows.is_on() {
            self.flows.sync([cx.t.generation, self.neigh.generation(), self.nat.generation()]);
        }
        // Prefetch hints only while the translator asks for them.
        let ahead = !idle && self.nat.lookahead();
        // (The cache serves translators only: an idle one's bursts run
        // without it.)
        self.flows.start_burst(idle || ahead);
        let mut tally = Tally::NEW;
        if ahead {
            for (i, pkt) in burst.iter().enumerate().take(AHEAD) {
                self.prefetch_nat(pkt.as_ref(), i);
            }
            for i in 0..AHEAD - NEARER {
                self.nat.prefetch_more(i);
            }
            for i in 0..burst.len() {
                self.prefetch_nat(burst.get(i + AHEAD).and_then(Option::as_ref), i + AHEAD);
                self.nat.prefetch_more(i + AHEAD - NEARER);
                self.nat.next_frame(i);
                if let Some(slot) = burst.get_mut(i) {
                    self.frame::<false>(cx, ing, port, slot, &mut tally);
                }
            }
        } else if idle {
            // Without the translator's code (see the module doc).
            for slot in burst.iter_mut() {
                self.frame::<true>(cx, ing, port, slot, &mut tally);
            }
        } else {
            // (A loop of its own: the hints' code in it, even unused,
            // measured ~3% off the steady rate.)
            if self.flows.filling {
                // The flow cache's slots a few frames ahead.
                for pkt in burst.iter().take(FLOW_AHEAD).flatten() {
                    self.flows.prefetch(pkt.data(), port);
                }
                for i in 0..burst.len() {
                    if let Some(Some(pkt)) = burst.get(i + FLOW_AHEAD) {
                        self.flows.prefetch(pkt.data(), port);
                    }
                    if let Some(slot) = burst.get_mut(i) {
                        self.frame::<false>(cx, ing, port, slot, &mut tally);
                    }
                }
            } else {
                for slot in burst.iter_mut() {
                    self.frame::<false>(cx, ing, port, slot, &mut tally);
                }
            }
        }
        let c = &mut self.counters;
        let (hits, switched, flooded) = (tally.of(Next::CacheHit), tally.of(Next::Switch), tally.of(Next::Flood));
        let routed = tally.of(Next::Route4) + hits + tally.of(Next::Route6);
        let fast = routed + switched + flooded;
        c.rx += fast;
        c.fast_path += fast;
        c.forwarded += routed;
        c.forwarded6 += tally.of(Next::Route6);
        c.l2_forwarded += switched;
        c.l2_flooded += flooded;
        c.flow_hits += hits;
        if tally.held > 0 {
            self.nat.fast_translated(tally.held);
        }
        self.flows.end_burst(tally.probes, hits);
        // Frames switched to remote VXLAN VTEPs.
        self.send_vteps(cx);
    }

    /// One frame of the burst: by the fast path if it can carry it,
    /// otherwise by [`Router::process`]. `IDLE`: the translator is idle
    /// this burst.
    #[inline(always)]
    fn frame<const IDLE: bool>(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ing: Ingress,
        port: u16,
        slot: &mut Option<B>,
        tally: &mut Tally,
    ) {
        let Some(mut pkt) = slot.take() else { return };
        // What the translator answered for a `Next::Stop` plan.
        let mut verdict = FastVerdict::Untouched;
        let cached = if !IDLE && self.flows.filling {
            tally.probes += 1;
            self.flow_hit(ing, port, &mut pkt, tally, cx.now)
        } else {
            None
        };
        let plan = match cached {
            Some(plan) => plan,
            None => self.decide::<IDLE>(cx.t, ing, port, &mut pkt, &mut verdict, cx.now),
        };
        // (Tests, not a jump table: routed frames are the rule.)
        if plan.next.is_routed() {
            // `to` is the egress port, `slot` the neighbor.
            self.note_neighbor(tally, plan.slot, cx.now);
            tally.count(plan.next);
            cx.io.send_to(plan.to, pkt);
        } else if plan.next == Next::Slow {
            pkt.set_port(port);
            self.receive(cx, pkt);
        } else if plan.next == Next::Inner || plan.next == Next::Bridge {
            self.continue_unwrapped(cx, pkt, port, plan);
        } else if plan.next == Next::Stop {
            self.stop(cx, pkt, port, plan, verdict);
        } else {
            self.send_switched(cx, pkt, plan, tally);
        }
        // The full path may have changed a neighbor under the cache.
        if !IDLE && matches!(plan.next, Next::Slow | Next::Stop | Next::Inner | Next::Bridge) {
            self.flows.sync_neighbors(self.neigh.generation());
        }
    }

    /// The translator's first hint about the frame at burst place `at`
    /// ([`BurstHints::prefetch`](crate::BurstHints::prefetch)): an untagged IPv4 frame's packet, or
    /// nothing.
    #[inline(always)]
    fn prefetch_nat(&mut self, pkt: Option<&B>, at: usize) {
        let d = pkt.map_or(&[][..], PacketBuf::data);
        let ip = match get_be16(d, ethernet::field::ETHERTYPE) {
            Some(ethertype::IPV4) => d.get(ETH..).unwrap_or_default(),
            _ => &[],
        };
        self.nat.prefetch(ip, at);
    }

    fn refresh_ingress(&mut self, t: &Tables) {
        self.fast_generation = t.generation;
        for (port, e) in self.ingress.iter_mut().enumerate() {
            *e = match t.ingress(port as u16) {
                Attach::Iface(i) => match t.iface(i) {
                    // MSS clamping is the full path's.
                    Some(ifc) if ifc.mss_clamp => Ingress::OFF,
                    Some(ifc) => {
                        let mac = ifc.mac.0;
                        let v6 = if ifc.ipv6() { V6Frame::v6(mac) } else { V6Frame::NONE };
                        Ingress { mac, v4: V4Frame::v4(mac), v6, ..Ingress::OFF }
                    }
                    None => Ingress::OFF,
                },
                Attach::Member(m) => {
                    let bridge = t.members.get(usize::from(m)).map(|x| x.bridge);
                    match bridge.and_then(|b| Some((b, t.bridges.get(usize::from(b))?))) {
                        Some((b, br)) => {
                            let mac = br.bvi.and_then(|i| t.iface(i)).map_or([0; 6], |ifc| ifc.mac.0);
                            let mut others = br.members.iter().filter(|&&x| x != m);
                            let flood_to = match (others.next(), others.next()) {
                                (Some(&o), None) => o,
                                _ => Ingress::NONE,
                            };
                            let flood_port = t.plain_port(flood_to);
                            Ingress { mac, member: m, bridge: b, flood_to, flood_port, ..Ingress::OFF }
                        }
                        None => Ingress::OFF,
                    }
                }
                Attach::None => Ingress::OFF,
            };
        }
    }

    /// The fast path's plan for a frame: forward it (how; a routed frame
    /// is rewritten here, once every check has passed), or leave it to
    /// the full path, untouched.
    #[inline(always)]
    fn decide<const IDLE: bool>(
        &mut self,
        t: &Tables,
        ing: Ingress,
        port: u16,
        pkt: &mut B,
        verdict: &mut FastVerdict,
        now: u64,
    ) -> Plan {
        // (A runt shorter than 16 bytes goes the full way.)
        let Some(head) = pkt.data().get(..16).and_then(|h| <&[u8; 16]>::try_from(h).ok()) else { return Plan::SLOW };
        let [eth @ .., _, _] = head;
        if ing.member != Ingress::NONE {
            return self.decide_l2(ing, eth);
        }
        // A frame that fails both tests is not unicast to us from a unicast
        // source, or not IPv4 without options or IPv6: the full path's.
        if ing.v4.matches(head) {
            match self.vxlan_fast::<IDLE>(t, pkt) {
                Some(plan) => plan,
                None => self.decide4::<IDLE>(t, port, pkt, verdict, now, false),
            }
        } else if ing.v6.matches(head) {
            self.decide6(t, pkt, verdict, now)
        } else {
            Plan::SLOW
        }
    }

    /// A bridge member's untagged frame: the checks and lookups of
    /// `bridge_input` for a known source on its member (a refresh) and a
    /// unicast destination that is not the BVI: learned on another
    /// member, or unknown in a two-member bridge.
    #[inline(always)]
    pub(super) fn decide_l2(&self, ing: Ingress, eth: &[u8; ETH]) -> Plan {
        let tagged = matches!(be16(eth, ethernet::field::ETHERTYPE), ethertype::VLAN | ethertype::QINQ);
        if tagged || eth[6] & 1 != 0 || eth[0] & 1 != 0 || eth[..6] == ing.mac {
            return Plan::SLOW;
        }
        let (src, dst) = self.macs.frame(ing.bridge, eth);
        let Some((slot, member)) = src else { return Plan::SLOW };
        if member != ing.member {
            return Plan::SLOW;
        }
        match dst {
            Some(out) if out != ing.member => Plan { next: Next::Switch, len: 0, to: out, slot, port: NO_PORT },
            None if ing.flood_to != Ingress::NONE => {
                Plan { next: Next::Flood, len: 0, to: ing.flood_to, slot, port: ing.flood_port }
            }
            _ => Plan::SLOW,
        }
    }

    /// IPv4: the checks of `ipv4_input`, `route4` and `forward` (RFC 1812
    /// §5.2.2, §5.3.1, §5.3.7) for a header without options; unless the
    /// translator is idle (`IDLE`), the hooks too ([`FastHooks::fast_pre`](crate::FastHooks::fast_pre)
    /// before routing, [`FastHooks::fast_post`](crate::FastHooks::fast_post) after, which translates
    /// the packet if it goes on, or answers `verdict` to stop it). A
    /// routed frame is trimmed and rewritten here. `nested`: the packet
    /// came out of a tunnel (`unwrap4`), so no [`V4Frame`] test has seen
    /// it; else `decide` has tested its version and header length.
    #[inline(always)]
    pub(super) fn decide4<const IDLE: bool>(
        &mut self,
        t: &Tables,
        port: u16,
        pkt: &mut B,
        verdict: &mut FastVerdict,
        now: u64,
        nested: bool,
    ) -> Plan {
        let d = pkt.data();
        let Some(h) = d.get(ETH..V4_HEAD).and_then(|h| <&[u8; ipv4::HEADER_LEN]>::try_from(h).ok()) else {
            return Plan::SLOW;
        };
        let tl = usize::from(be16(h, ip4f::LENGTH));
        if (nested && h[ip4f::VER_IHL] != 0x45)
            || tl < 20
            || tl > d.len() - ETH
            || h[ip4f::TTL] <= 1
            || !checksum::header_ok(h)
        {
            return Plan::SLOW;
        }
        // (Stricter than `ipv4_input`'s checks: a few addresses they
        // take go the full way too.)
        let (src, mut dst) = (be32(h, ip4f::SRC.start), be32(h, ip4f::DST.start));
        if ipv4::either_unusual(src, dst) {
            return Plan::SLOW;
        }
        let (mut plain, mut pre) = (FiveTuple::NONE, FastVerdict::Untouched);
        if !IDLE {
            plain = FiveTuple::read(h, d.get(V4_HEAD..ETH + tl).unwrap_or_default());
            pre = self.nat.fast_pre(&plain);
            match pre {
                FastVerdict::Untouched => {}
                // Routed as translated.
                FastVerdict::Rewrite { addr, .. } => dst = addr,
                _ => return Plan::SLOW,
            }
        }
        // Tunnel and VXLAN packets for us, unwrapped here (an address
        // once found ours is known without the FIB).
        let ours = !nested && matches!(pre, FastVerdict::Untouched);
        if ours && self.unwrap_memo.is_local(t, dst) {
            return self.unwrap4::<IDLE>(t, port, pkt, verdict, now, tl);
        }
        let entry = t.fib.entry(dst);
        // A route to the last route's one next hop spares the rest.
        let hit = match self.adj_memo.route(entry, self.neigh.generation()) {
            Some(hit) => Some(hit),
            None => {
                let (key, route) = match t.fib.target(entry) {
                    Some(&RouteTarget::Connected { ifindex }) => (AdjacencyKey::Host(4, ifindex, u128::from(dst)), 0),
                    // ECMP hashes the translated packet: only the full path has it.
                    Some(&RouteTarget::Via { count, .. })
                        if count > 1 && !IDLE && !matches!(pre, FastVerdict::Untouched) =>
                    {
                        return Plan::SLOW
                    }
                    Some(&RouteTarget::Via { first, count: 1 }) => (AdjacencyKey::Route(4, first), entry),
                    Some(&RouteTarget::Via { first, count }) => {
                        let hash = d.get(ETH..ETH + tl).map_or(0, super::ip4::flow_hash);
                        (AdjacencyKey::Route(4, pick(first, count, hash)), 0)
                    }
                    Some(&RouteTarget::Local { .. }) if ours => {
                        self.unwrap_memo.note_local(t, dst);
                        return self.unwrap4::<IDLE>(t, port, pkt, verdict, now, tl);
                    }
                    _ => return Plan::SLOW,
                };
                self.adjacency(t, key, route, now)
            }
        };
        let Some((adj, mtu)) = hit else { return Plan::SLOW };
        if tl > usize::from(mtu) {
            return Plan::SLOW;
        }
        let len = ETH + tl;
        let Some(d) = pkt.data_mut().get_mut(..len) else { return Plan::SLOW };
        let mut post = FastVerdict::Untouched;
        if !IDLE {
            let out = self.adj.get(usize::from(adj)).map_or(u16::MAX, |a| a.out);
            let ip = d.get_mut(ETH..).unwrap_or_default();
            post = self.nat.fast_post(out, ip, &plain, pre, now);
            match post {
                FastVerdict::Untouched | FastVerdict::Rewrite { .. } => {}
                v @ (FastVerdict::Drop(_) | FastVerdict::Refuse(_)) => {
                    *verdict = v;
                    return Plan { next: Next::Stop, len: len as u16, to: 0, slot: 0, port: NO_PORT };
                }
                // (An unwrapped packet goes the full way.)
                v @ FastVerdict::Handoff { .. } if !nested => {
                    *verdict = v;
                    return Plan { next: Next::Stop, len: len as u16, to: 0, slot: 0, port: NO_PORT };
                }
                FastVerdict::New | FastVerdict::Slow | FastVerdict::Handoff { .. } => return Plan::SLOW,
            }
        }
        // (Always in range: `adjacency` names entries of the cache.)
        let a = &self.adj[usize::from(adj) % ADJ_SLOTS];
        let (wraps, to, slot) = (a.wraps, a.port, a.slot);
        if let Some(h) = d.get_mut(..V4_HEAD) {
            // Through a tunnel, the outer frame head takes the Ethernet
            // header's place.
            if !wraps {
                h[..12].copy_from_slice(&a.macs);
            }
            // The checksum updated incrementally (RFC 1624), as RFC 1812
            // §5.3.1 allows (after translation, as the full path does).
            if let Some(ip) = h.get_mut(ETH..) {
                Ipv4Packet::new_unchecked(ip).decrement_ttl();
            }
        }
        pkt.truncate(len);
        if wraps {
            return self.wrap(pkt, adj, len, verdict);
        }
        if !IDLE && !nested && self.flows.is_on() && cacheable(&plain, tl) && self.flows.due() {
            self.remember_flow(port, &plain, pre, post, adj, now);
        }
        Plan { next: Next::Route4, len: len as u16, to, slot, port: NO_PORT }
    }

    /// A routed frame whose next hop is through a tunnel: its outer
    /// headers written before it (`len`: the frame so far).
    #[inline(always)]
    fn wrap(&mut self, pkt: &mut B, adj: u16, len: usize, verdict: &mut FastVerdict) -> Plan {
        let ident = self.next_ident();
        let a = &self.adj[usize::from(adj) % ADJ_SLOTS];
        if !super::adjacency::wrap(pkt, a, ident) {
            *verdict = FastVerdict::Drop(crate::drop::DropReason::NoHeadroom);
            return Plan { next: Next::Stop, len: len as u16, to: 0, slot: 0, port: NO_PORT };
        }
        self.counters.encapsulated += 1;
        let len = (len + usize::from(a.encap.len)) as u16;
        Plan { next: Next::Route4, len, to: a.port, slot: a.slot, port: NO_PORT }
    }

    /// Notes the neighbor in cache slot `neigh` as used now, once a
    /// burst (the burst has one time).
    #[inline(always)]
    fn note_neighbor(&mut self, tally: &mut Tally, neigh: u32, now: u64) {
        if tally.touched != neigh {
            tally.touched = neigh;
            self.neigh.touch(neigh, now);
        }
    }

    /// IPv6: the checks of `ipv6_input` and `forward6` (RFC 8200, RFC
    /// 4291 §2.5.6) for a packet without extension headers. A routed
    /// frame is trimmed and rewritten here.
    #[inline(always)]
    pub(super) fn decide6(&mut self, t: &Tables, pkt: &mut B, verdict: &mut FastVerdict, now: u64) -> Plan {
        let d = pkt.data();
        let Some(h) = d.get(ETH..V6_HEAD).and_then(|h| <&[u8; ipv6::HEADER_LEN]>::try_from(h).ok()) else {
            return Plan::SLOW;
        };
        let len = ipv6::HEADER_LEN + usize::from(be16(h, ip6f::PAYLOAD_LEN));
        if h[0] >> 4 != 6 || len > d.len() - ETH || ipv6::is_extension(h[ip6f::NEXT_HEADER]) || h[ip6f::HOP_LIMIT] <= 1
        {
            return Plan::SLOW;
        }
        let (src, dst) = (addr6(h, ip6f::SRC.start), addr6(h, ip6f::DST.start));
        if (unusual6(src) || unusual6(dst))
            && (ipv6::is_martian_source_bits(src)
                || ipv6::is_link_local_bits(src)
                || ipv6::is_multicast_bits(dst)
                || ipv6::is_martian_destination_bits(dst)
                || ipv6::is_link_local_bits(dst))
        {
            return Plan::SLOW;
        }
        let entry = t.fib6.entry(dst);
        // (As in `decide4`.)
        let hit = match self.adj_memo.route(entry | FIB6_ENTRY, self.neigh.generation()) {
            Some(hit) => Some(hit),
            None => {
                let (key, route) = match t.fib6.target(entry) {
                    Some(&RouteTarget::Connected { ifindex }) => (AdjacencyKey::Host(6, ifindex, dst), 0),
                    Some(&RouteTarget::Via { first, count: 1 }) => (AdjacencyKey::Route(6, first), entry | FIB6_ENTRY),
                    Some(&RouteTarget::Via { first, count }) => {
                        let hash = d.get(ETH..).map_or(0, super::ip6::flow_hash6);
                        (AdjacencyKey::Route(6, pick(first, count, hash)), 0)
                    }
                    _ => return Plan::SLOW,
                };
                self.adjacency(t, key, route, now)
            }
        };
        let adj = match hit {
            Some((adj, mtu)) if len <= usize::from(mtu) => adj,
            _ => return Plan::SLOW,
        };
        let h = pkt.data_mut().get_mut(..V6_HEAD).and_then(|h| <&mut [u8; V6_HEAD]>::try_from(h).ok());
        let a = &self.adj[usize::from(adj) % ADJ_SLOTS];
        let wraps = a.wraps;
        if let Some(h) = h {
            // (Through a tunnel, as in `decide4`.)
            if !wraps {
                h[..12].copy_from_slice(&a.macs);
            }
            h[ETH + ip6f::HOP_LIMIT] = h[ETH + ip6f::HOP_LIMIT].wrapping_sub(1);
        }
        pkt.truncate(ETH + len);
        if wraps {
            return match self.wrap(pkt, adj, ETH + len, verdict) {
                p if p.next == Next::Route4 => Plan { next: Next::Route6, ..p },
                p => p,
            };
        }
        Plan { next: Next::Route6, len: (ETH + len) as u16, to: a.port, slot: a.slot, port: NO_PORT }
    }

    /// A frame the translator dropped or refused (`verdict`) as it made
    /// its flow's entry, or one whose flow another worker holds: counted
    /// and answered, or handed over untouched, as the full path would
    /// have (the hook's verdict comes at the same point of it).
    #[inline(never)]
    fn stop(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B, port: u16, plan: Plan, verdict: FastVerdict) {
        pkt.set_port(port);
        pkt.truncate(usize::from(plan.len));
        if let FastVerdict::Handoff { worker, tag } = verdict {
            self.counters.rx += 1;
            return self.handoff(cx, pkt, worker, tag);
        }
        // (Plans are stopped for these only.)
        let (FastVerdict::Refuse(r) | FastVerdict::Drop(r)) = verdict else {
            return self.receive(cx, pkt);
        };
        self.counters.rx += 1;
        if let FastVerdict::Refuse(_) = verdict {
            self.refuse(cx, pkt, r);
        } else {
            self.drop(r);
        }
    }

    /// Switches a frame as planned: refreshes its source's entry, sends
    /// it on the member (with its tag, if the member is tagged).
    #[inline(always)]
    fn send_switched(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, plan: Plan, tally: &mut Tally) {
        // Once a burst per station (the burst has one time).
        if tally.seen != plan.slot {
            tally.seen = plan.slot;
            self.macs.refresh(plan.slot, cx.now);
        }
        tally.count(plan.next);
        // A plain member's port: a flood's plan carries it.
        let port = if plan.port != NO_PORT { plan.port } else { cx.t.plain_port(plan.to) };
        if port != NO_PORT {
            cx.io.send_to(port, pkt);
        } else {
            super::bridge::send_member(cx.t, &mut self.counters, &mut self.vteps, plan.to, pkt, cx.io);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{unusual6, V4Frame, V6Frame, ETH};
    use crate::wire::ethernet::{ethertype, field::ETHERTYPE};
    use crate::wire::{be16, ipv6};

    /// `V4Frame` and `V6Frame` match exactly the frames whose fields pass
    /// the tests they stand for: each bit of the first 16 bytes flipped in
    /// turn.
    #[test]
    fn frame_tests_match_what_the_field_tests_take() {
        let mac = [0x02, 0, 0, 0, 0, 0x01];
        let frame = |ethertype: u16, first: u8| {
            let mut f = [0u8; 16];
            f[..6].copy_from_slice(&mac);
            f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
            f[ETHERTYPE..ETHERTYPE + 2].copy_from_slice(&ethertype.to_be_bytes());
            f[ETH] = first;
            f
        };
        let to_us = |f: &[u8; 16], ethertype: u16| f[..6] == mac && f[6] & 1 == 0 && be16(f, ETHERTYPE) == ethertype;
        let (v4, v6) = (V4Frame::v4(mac), V6Frame::v6(mac));
        let (f4, f6) = (frame(ethertype::IPV4, 0x45), frame(ethertype::IPV6, 0x6a));
        for (f, base) in [(f4, true), (f6, false)] {
            for i in 0..16 {
                for bit in 0..8 {
                    let mut g = f;
                    g[i] ^= 1 << bit;
                    let ipv4 = to_us(&g, ethertype::IPV4) && g[ETH] == 0x45;
                    let ipv6 = to_us(&g, ethertype::IPV6) && g[ETH] >> 4 == 6;
                    assert_eq!(v4.matches(&g), ipv4, "v4 {base} byte {i} bit {bit}");
                    assert_eq!(v6.matches(&g), ipv6, "v6 {base} byte {i} bit {bit}");
                    assert!(!V4Frame::NONE.matches(&g) && !V6Frame::NONE.matches(&g));
                }
            }
        }
        assert!(v4.matches(&f4) && !v6.matches(&f4) && v6.matches(&f6) && !v4.matches(&f6));
        assert!(!V4Frame::NONE.matches(&[0xff; 16]) && !V6Frame::NONE.matches(&[0xff; 16]));
    }

    /// Every address the IPv6 checks refuse is `unusual6`, whatever its
    /// first 16 bits and the rest.
    #[test]
    fn every_address_the_v6_checks_refuse_is_unusual() {
        let refused = |a: u128| {
            ipv6::is_martian_source_bits(a)
                || ipv6::is_link_local_bits(a)
                || ipv6::is_multicast_bits(a)
                || ipv6::is_martian_destination_bits(a)
        };
        for top in 0..=u16::MAX {
            for low in [0u128, 1, 0xffff, u128::MAX >> 16] {
                let a = u128::from(top) << 112 | low;
                assert!(!refused(a) || unusual6(a), "{a:x}");
            }
        }
        assert!(!unusual6(0x2001_0db8 << 96));
        assert!(unusual6(0xfe80 << 112) && unusual6(0xff02 << 112 | 1) && unusual6(1) && unusual6(0));
    }
}

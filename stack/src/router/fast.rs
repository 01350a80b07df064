//! The fast path: the common case of each family carried in one tight
//! pass, as VPP's `ip4-input → ip4-lookup → ip4-rewrite` and DPDK's
//! l3fwd do.
//!
//! [`Router::process_burst`] runs a received burst in order, one frame
//! after the other. Each frame that is plainly transit traffic (routed:
//! unicast to our MAC, an IPv4 header without options or an IPv6 header
//! without extension headers, valid, not for us, through a next hop
//! whose MAC this worker knows; switched: untagged, from a source
//! learned on its member, to a unicast station learned on another
//! member or unknown in a two-member bridge) is checked, rewritten and
//! sent here; every other frame, and every frame whose packet any check
//! doubts, goes the full way ([`Router::process`]) untouched, so it
//! meets exactly the rules and counters it would have met anyway. The
//! fast path only ever takes a packet the full path would have
//! forwarded the same way: all checks come before the first write.
//!
//! One frame is finished before the next is looked at: deciding a
//! whole batch first and acting after (as l3fwd's SSE path does) was
//! measured slower here (the plans written and read back cost more than
//! the overlap won), and it would let a frame of the full path change
//! neighbors or MACs under decisions already made.
//!
//! Two things make it fast besides the straight line. The next hop's
//! rewrite (MACs, port, MTU) comes from an adjacency cache (VPP's
//! adjacency, l3fwd's per-port destination MAC) filled from the
//! neighbor cache and valid while neither the tables' generation nor
//! the neighbor cache's changed, and while the neighbor would stay
//! reachable ([`crate::neigh::Resolved`]). And the translator is asked
//! once per burst whether it could touch any packet at all
//! ([`Translator::is_idle`]); if not, the burst runs a loop compiled
//! without the translator's code (measured: 5% more IPv6 packets a
//! second; with the hooks inlined, the profile showed routing's values
//! spilled to the stack). If it could, each IPv4 packet is read once
//! ([`Plain4`]) and its translation looked up without a change before
//! routing ([`Translator::fast_pre`]), then found and done once the
//! egress is known ([`Translator::fast_post`], after every other check
//! of the fast path): a packet of an established session, or one no
//! rule concerns, stays on the fast path and is translated just before
//! its TTL is decremented, as the hooks would have done. An outbound
//! packet of a new flow stays too: unless `fast_pre` found a
//! translation (a hairpin), `fast_post` may make the flow's session
//! exactly as the hook would have at that point of the full path, or
//! refuse it (counted, answered with ICMP) as the hook would have. A
//! routed frame is rewritten where it is decided (the translation is
//! done where it is found, with no findings kept for later), and only
//! sent after. Anything else
//! the translator must decide (a new inbound flow, an ICMP error, a
//! fragment, a hairpin, another worker's packet) goes the full way.
//!
//! While the translator is making sessions ([`Translator::lookahead`]),
//! it is also handed each frame [`AHEAD`] frames before its turn
//! ([`Translator::prefetch`]: start reading the index slots its lookups
//! begin at), again [`NEARER`] frames before
//! ([`Translator::prefetch_more`]: the entries those slots lead to), so
//! a new flow's chain of cache misses overlaps with the frames before it
//! instead of adding up; and told when its turn comes
//! ([`Translator::next_frame`]), so its lookups can take the hashes the
//! hints made. (The slots a new flow's outside keys go in are known only
//! once its port is: those the translator writes a few flows later,
//! when their lines are in, rather than hint at.) Established traffic
//! alone goes without: its tables are in cache, and the hints would
//! only cost.

use super::flows::{self, Flow, DESTINATION, NO_ENTRY, SOURCE, UNTOUCHED};
use super::{Io, Router, Translator};
use crate::buf::PacketBuf;
use crate::fib::{pick, RouteTarget};
use crate::iface::{Attach, Tables};
use crate::translate::{FastNat, Plain4};
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::{be16, be32, MacAddr};
use crate::wire::{checksum, ipv6};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Adjacency cache entries (direct-mapped by next hop).
pub(super) const ADJ_SLOTS: usize = 256;

/// How many frames ahead of the one being processed the translator is
/// asked to prefetch ([`Translator::prefetch`]): far enough that a cache
/// miss (~100 ns) is over when the frame's turn comes.
const AHEAD: usize = 6;
/// How many frames ahead the second hint comes
/// ([`Translator::prefetch_more`]), once the first's read is in.
const NEARER: usize = 3;

/// How many frames ahead the flow cache's slot is fetched (measured:
/// all a burst's at once, 3% fewer packets a second than this; the
/// session's line fetched too, two frames ahead, 7% fewer).
const FLOW_AHEAD: usize = 4;

/// Ethernet + IPv4 header without options.
const V4_HEAD: usize = 14 + 20;
/// Ethernet + IPv6 header.
const V6_HEAD: usize = 14 + 40;

/// How to send to one next hop: what the full path's `output` would
/// write, cached.
#[derive(Copy, Clone, Debug)]
pub(super) struct Adjacency {
    /// The next hop, as [`NextHop::parts`] (tag 0 marks an empty entry).
    tag: u8,
    ifindex: u16,
    ip: u128,
    /// Valid for this tables generation, this neighbor-cache generation,
    /// and before this time.
    tables: u64,
    neighbors: u64,
    until: u64,
    /// The neighbor entry, for noting its use.
    slot: u32,
    /// The egress interface and its port.
    out: u16,
    port: u16,
    mtu: u16,
    /// Destination and source MAC.
    macs: [u8; 12],
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

/// A next hop as the adjacency cache knows it.
#[derive(Copy, Clone, Debug)]
enum NextHop {
    /// A gateway: the index of a route's next hop in the family's FIB
    /// (4 or 6), which names it in this tables generation.
    Route(u8, u32),
    /// A host on a connected subnet: family, interface and address
    /// (IPv4 in the low 32 bits).
    Host(u8, u16, u128),
}

impl NextHop {
    /// The cache key: tag (family, plus 0x80 for a route's), interface,
    /// address or next-hop index.
    #[inline(always)]
    fn parts(self) -> (u8, u16, u128) {
        match self {
            NextHop::Route(f, n) => (f | 0x80, 0, u128::from(n)),
            NextHop::Host(f, i, ip) => (f, i, ip),
        }
    }
}

/// The cache slot of a next hop: a route's next hops by their index (a
/// table has few, numbered from 0; IPv6 ones from the middle of the
/// cache), a host by a hash.
#[inline(always)]
fn adj_index(tag: u8, ifindex: u16, ip: u128) -> usize {
    if tag & 0x80 != 0 {
        let half = if tag & 0x7f == 6 { ADJ_SLOTS / 2 } else { 0 };
        return (ip as usize).wrapping_add(half) % ADJ_SLOTS;
    }
    let k = (ip as u64 ^ (ip >> 64) as u64 ^ u64::from(ifindex) << 48 ^ u64::from(tag) << 40)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (k >> 56) as usize % ADJ_SLOTS
}

/// The IPv6 address at `at` in `h`, as a number.
#[inline(always)]
fn addr6(h: &[u8; 40], at: usize) -> u128 {
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
    /// A layer-3 interface takes the port's untagged frames.
    l3: bool,
    /// It has IPv6.
    v6: bool,
    /// The interface's MAC, or the bridge's BVI MAC (none: zero, which
    /// no frame is sent to).
    mac: [u8; 6],
    /// The bridge member the port's untagged frames belong to (`NONE`:
    /// not a member), and its bridge.
    member: u16,
    bridge: u16,
    /// The one other member of a two-member bridge, where unknown
    /// unicast is flooded without a copy (`NONE`: more members).
    flood_to: u16,
}

impl Ingress {
    pub(super) const NONE: u16 = u16::MAX;
    pub(super) const OFF: Ingress =
        Ingress { l3: false, v6: false, mac: [0; 6], member: Self::NONE, bridge: 0, flood_to: Self::NONE };
}

/// What the fast path decided for one frame (small: no copy of the
/// rewrite, which stays in the adjacency cache).
#[derive(Copy, Clone)]
struct Plan {
    /// What to do: [`SLOW`], [`ROUTE4`], [`ROUTE6`], [`SWITCH`], [`FLOOD`],
    /// [`STOP`].
    kind: u8,
    /// Routed or stopped: the frame length to keep (Ethernet padding goes).
    len: u16,
    /// Routed: the adjacency; switched: the member to send on.
    to: u16,
    /// Switched: the MAC table slot of the source, to refresh.
    slot: u32,
}

/// The full path.
const SLOW: u8 = 0;
const ROUTE4: u8 = 4;
const ROUTE6: u8 = 6;
/// Switched to the member the destination was learned on.
const SWITCH: u8 = 1;
/// Unknown unicast, flooded to the one other member.
const FLOOD: u8 = 2;
/// Dropped or refused by the translator as it made the flow's entry
/// ([`Translator::fast_post`]).
const STOP: u8 = 3;
/// Routed by the flow cache (rewritten, trimmed): `to` is the egress
/// port, `slot` the neighbor's cache slot.
const HIT: u8 = 5;

impl Plan {
    const SLOW: Plan = Plan { kind: SLOW, len: 0, to: 0, slot: 0 };
}

/// What a burst's fast frames add to the counters, and the adjacency
/// whose neighbor was last noted as used (once a burst is enough: the
/// burst has one time).
struct Tally {
    routed: u64,
    routed6: u64,
    switched: u64,
    flooded: u64,
    /// Frames looked up in the flow cache, and those it carried (a
    /// subset of `routed`).
    probes: u64,
    hits: u64,
    /// Hits of flows the translator holds ([`Translator::fast_hold`]):
    /// translated without asking it.
    held: u64,
    /// The neighbor (its cache slot) last noted as used.
    touched: u32,
}

impl Tally {
    const NEW: Tally =
        Tally { routed: 0, routed6: 0, switched: 0, flooded: 0, probes: 0, hits: 0, held: 0, touched: u32::MAX };
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Processes a burst received on `port`, in order: each frame by the
    /// fast path if it can carry it, otherwise by [`Router::process`].
    /// Every slot is emptied.
    pub fn process_burst(&mut self, t: &Tables, port: u16, burst: &mut [Option<B>], now: u64, io: &mut impl Io<B>) {
        if self.fast_generation != t.generation {
            self.refresh_ingress(t);
        }
        let Some(ing) = self.ingress.get(usize::from(port)).copied() else {
            for pkt in burst.iter_mut().filter_map(Option::take) {
                self.process(t, pkt, now, io);
            }
            return;
        };
        let idle = self.nat.is_idle();
        if !idle && self.flows.is_on() {
            self.flows.sync([t.generation, self.neigh.generation(), self.nat.generation()]);
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
                    self.frame::<false>(t, ing, port, slot, &mut tally, now, io);
                }
            }
        } else if idle {
            // Without the translator's code (see the module doc).
            for slot in burst.iter_mut() {
                self.frame::<true>(t, ing, port, slot, &mut tally, now, io);
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
                        self.frame::<false>(t, ing, port, slot, &mut tally, now, io);
                    }
                }
            } else {
                for slot in burst.iter_mut() {
                    self.frame::<false>(t, ing, port, slot, &mut tally, now, io);
                }
            }
        }
        let c = &mut self.counters;
        let fast = tally.routed + tally.switched + tally.flooded;
        c.rx += fast;
        c.fast_path += fast;
        c.forwarded += tally.routed;
        c.forwarded6 += tally.routed6;
        c.l2_forwarded += tally.switched;
        c.l2_flooded += tally.flooded;
        c.flow_hits += tally.hits;
        if tally.held > 0 {
            self.nat.fast_translated(tally.held);
        }
        self.flows.end_burst(tally.probes, tally.hits);
    }

    /// One frame of the burst: by the fast path if it can carry it,
    /// otherwise by [`Router::process`]. `IDLE`: the translator is idle
    /// this burst.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn frame<const IDLE: bool>(
        &mut self,
        t: &Tables,
        ing: Ingress,
        port: u16,
        slot: &mut Option<B>,
        tally: &mut Tally,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        let Some(mut pkt) = slot.take() else { return };
        // What the translator answered for a STOP plan.
        let mut verdict = FastNat::Untouched;
        let cached = if !IDLE && self.flows.filling {
            tally.probes += 1;
            self.flow_hit(ing, port, &mut pkt, tally, now)
        } else {
            None
        };
        let plan = match cached {
            Some(plan) => plan,
            None => self.decide::<IDLE>(t, ing, port, &mut pkt, &mut verdict, now),
        };
        // (Tests, not a jump table: routed frames are the rule.)
        if !IDLE && plan.kind == HIT {
            // `to` is the egress port, `slot` the neighbor.
            self.note_neighbor(tally, plan.slot, now);
            tally.routed += 1;
            tally.hits += 1;
            io.send_to(plan.to, pkt);
        } else if plan.kind == ROUTE4 || plan.kind == ROUTE6 {
            self.send_routed(pkt, plan, tally, now, io);
        } else if plan.kind == SLOW {
            pkt.set_port(port);
            self.process(t, pkt, now, io);
        } else if !IDLE && plan.kind == STOP {
            self.stop(t, pkt, port, plan, verdict, now, io);
        } else {
            self.send_switched(t, pkt, plan, tally, now, io);
        }
        // The full path may have changed a neighbor under the cache.
        if !IDLE && (plan.kind == SLOW || plan.kind == STOP) {
            self.flows.sync_neighbors(self.neigh.generation());
        }
    }

    /// The translator's first hint about the frame at burst place `at`
    /// ([`Translator::prefetch`]): an untagged IPv4 frame's packet, or
    /// nothing.
    #[inline(always)]
    fn prefetch_nat(&mut self, pkt: Option<&B>, at: usize) {
        let d = pkt.map_or(&[][..], PacketBuf::data);
        let ip = match (d.get(12), d.get(13)) {
            (Some(0x08), Some(0x00)) => d.get(14..).unwrap_or_default(),
            _ => &[],
        };
        self.nat.prefetch(ip, at);
    }

    fn refresh_ingress(&mut self, t: &Tables) {
        self.fast_generation = t.generation;
        for (port, e) in self.ingress.iter_mut().enumerate() {
            *e = match t.ingress(port as u16) {
                Attach::Iface(i) => match t.iface(i) {
                    Some(ifc) => Ingress { l3: true, v6: ifc.ipv6(), mac: ifc.mac.0, ..Ingress::OFF },
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
                            Ingress { mac, member: m, bridge: b, flood_to, ..Ingress::OFF }
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
        verdict: &mut FastNat,
        now: u64,
    ) -> Plan {
        let d = pkt.data();
        let Some(eth) = d.get(..14).and_then(|e| <&[u8; 14]>::try_from(e).ok()) else { return Plan::SLOW };
        if ing.member != Ingress::NONE {
            return self.decide_l2(ing, eth);
        }
        // Unicast to us from a unicast source.
        if !ing.l3 || eth[..6] != ing.mac || eth[6] & 1 != 0 {
            return Plan::SLOW;
        }
        match (eth[12], eth[13]) {
            (0x08, 0x00) => self.decide4::<IDLE>(t, port, pkt, verdict, now),
            (0x86, 0xdd) if ing.v6 => self.decide6(t, pkt, now),
            _ => Plan::SLOW,
        }
    }

    /// A bridge member's untagged frame: the checks and lookups of
    /// `bridge_input` for a known source on its member (a refresh) and a
    /// unicast destination that is not the BVI: learned on another
    /// member, or unknown in a two-member bridge.
    #[inline(always)]
    fn decide_l2(&self, ing: Ingress, eth: &[u8; 14]) -> Plan {
        let (mut dst, mut src) = ([0u8; 6], [0u8; 6]);
        dst.copy_from_slice(&eth[..6]);
        src.copy_from_slice(&eth[6..12]);
        let tagged = matches!((eth[12], eth[13]), (0x81, 0x00) | (0x88, 0xa8));
        if tagged || src[0] & 1 != 0 || dst[0] & 1 != 0 || dst == ing.mac {
            return Plan::SLOW;
        }
        let Some((slot, member)) = self.macs.entry(ing.bridge, MacAddr(src)) else { return Plan::SLOW };
        if member != ing.member {
            return Plan::SLOW;
        }
        match self.macs.lookup(ing.bridge, MacAddr(dst)) {
            Some(out) if out != ing.member => Plan { kind: SWITCH, len: 0, to: out, slot },
            None if ing.flood_to != Ingress::NONE => Plan { kind: FLOOD, len: 0, to: ing.flood_to, slot },
            _ => Plan::SLOW,
        }
    }

    /// IPv4: the checks of `ipv4_input`, `route4` and `forward` (RFC 1812
    /// §5.2.2, §5.3.1, §5.3.7) for a header without options; unless the
    /// translator is idle (`IDLE`), the hooks too ([`Translator::fast_pre`]
    /// before routing, [`Translator::fast_post`] after, which translates
    /// the packet if it goes on, or answers `verdict` to stop it). A
    /// routed frame is trimmed and rewritten here.
    #[inline(always)]
    fn decide4<const IDLE: bool>(
        &mut self,
        t: &Tables,
        port: u16,
        pkt: &mut B,
        verdict: &mut FastNat,
        now: u64,
    ) -> Plan {
        let d = pkt.data();
        let Some(h) = d.get(14..V4_HEAD).and_then(|h| <&[u8; 20]>::try_from(h).ok()) else { return Plan::SLOW };
        let tl = usize::from(be16(h, 2));
        if h[0] != 0x45 || tl < 20 || tl > d.len() - 14 || h[8] <= 1 || !checksum::header_ok(h) {
            return Plan::SLOW;
        }
        // (Stricter than `ipv4_input`'s checks: a few addresses they
        // take go the full way too.)
        let (src, mut dst) = (be32(h, 12), be32(h, 16));
        if ipv4::is_unusual(src) || ipv4::is_unusual(dst) {
            return Plan::SLOW;
        }
        let (mut plain, mut pre) = (Plain4::NONE, FastNat::Untouched);
        if !IDLE {
            plain = Plain4::read(h, d.get(V4_HEAD..14 + tl).unwrap_or_default());
            pre = self.nat.fast_pre(&plain);
            match pre {
                FastNat::Untouched => {}
                // Routed as translated.
                FastNat::Rewrite { addr, .. } => dst = addr,
                _ => return Plan::SLOW,
            }
        }
        let key = match t.fib.lookup(Ipv4Addr::from(dst)) {
            Some(&RouteTarget::Connected { ifindex }) => NextHop::Host(4, ifindex, u128::from(dst)),
            // ECMP hashes the translated packet: only the full path has it.
            Some(&RouteTarget::Via { count, .. }) if count > 1 && !IDLE && !matches!(pre, FastNat::Untouched) => {
                return Plan::SLOW
            }
            Some(&RouteTarget::Via { first, count }) => {
                let hash = if count > 1 { d.get(14..14 + tl).map_or(0, super::flow_hash) } else { 0 };
                NextHop::Route(4, pick(first, count, hash))
            }
            _ => return Plan::SLOW,
        };
        let Some((adj, mtu)) = self.adjacency(t, key, now) else { return Plan::SLOW };
        if tl > usize::from(mtu) {
            return Plan::SLOW;
        }
        let len = 14 + tl;
        let Some(d) = pkt.data_mut().get_mut(..len) else { return Plan::SLOW };
        let mut post = FastNat::Untouched;
        if !IDLE {
            let out = self.adj.get(usize::from(adj)).map_or(u16::MAX, |a| a.out);
            let ip = d.get_mut(14..).unwrap_or_default();
            post = self.nat.fast_post(out, ip, &plain, pre, now);
            match post {
                FastNat::Untouched | FastNat::Rewrite { .. } => {}
                v @ (FastNat::Drop(_) | FastNat::Refuse(_)) => {
                    *verdict = v;
                    return Plan { kind: STOP, len: len as u16, to: 0, slot: 0 };
                }
                FastNat::New | FastNat::Slow => return Plan::SLOW,
            }
        }
        if let (Some(a), Some(h)) = (self.adj.get(usize::from(adj)), d.get_mut(..V4_HEAD)) {
            h[..12].copy_from_slice(&a.macs);
            // The checksum updated incrementally (RFC 1624), as RFC 1812
            // §5.3.1 allows (after translation, as the full path does).
            if let Some(ip) = h.get_mut(14..) {
                Ipv4Packet::new_unchecked(ip).decrement_ttl();
            }
        }
        pkt.truncate(len);
        if !IDLE && self.flows.is_on() && cacheable(&plain, tl) && self.flows.due() {
            self.remember(port, &plain, pre, post, adj, now);
        }
        Plan { kind: ROUTE4, len: len as u16, to: adj, slot: 0 }
    }

    /// A frame of a flow the cache holds ([`flows`]): checked as `decide`
    /// and `decide4` would check it, its translator entry refreshed,
    /// rewritten as the entry says and trimmed. `None` (a miss, or a
    /// packet the entry is not for) changes nothing. The key is looked up
    /// first, so that a miss costs little more than a hash and a load.
    #[inline(always)]
    fn flow_hit(&mut self, ing: Ingress, port: u16, pkt: &mut B, tally: &mut Tally, now: u64) -> Option<Plan> {
        let d = pkt.data_mut();
        let frame = d.len();
        // TCP's flags (a TCP entry's packets are at least 54 bytes).
        let flags = d.get(47).copied().unwrap_or(0);
        let (x, rest) = d.split_at_mut_checked(flows::VIEW)?;
        let x = <&mut [u8; flows::VIEW]>::try_from(x).ok()?;
        let (k0, k1) = flows::key(x, port);
        let f = self.flows.get(k0, k1)?;
        // Unicast to us from a unicast source, untagged IPv4.
        if !ing.l3 || x[..6] != ing.mac || x[6] & 1 != 0 || x[12] != 0x08 || x[13] != 0x00 {
            return None;
        }
        let h = <&[u8; 20]>::try_from(&x[14..V4_HEAD]).ok()?;
        let tl = usize::from(be16(h, 2));
        if h[0] != 0x45 || tl < 20 || tl > frame - 14 || h[8] <= 1 || !checksum::header_ok(h) {
            return None;
        }
        // Whole (RFC 791: not a fragment), with the transport header the
        // entry rewrites, and no TCP flag that moves a session's state.
        let fits = match h[9] {
            UDP => tl >= 28,
            TCP => tl >= 40 && flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0,
            _ => false,
        };
        if !fits || be16(h, 6) & 0x3fff != 0 || now >= f.until || tl > usize::from(f.mtu) {
            return None;
        }
        let tcp = x[23] == TCP;
        if f.entry != NO_ENTRY {
            let p = Plain4 {
                src: be32(x, 26),
                dst: be32(x, 30),
                proto: x[23],
                whole: true,
                sport: be16(x, 34),
                dport: be16(x, 36),
                flags: if tcp { flags } else { 0 },
            };
            let (addr, to) = (u32::from_be(f.addr), u16::from_be(f.port));
            if !self.nat.fast_refresh(f.entry, &p, f.what == SOURCE, addr, to, now) {
                return None;
            }
        } else if f.what != UNTOUCHED {
            // Held: the translator's entry is good until `f.until`.
            tally.held += 1;
        }
        x[..12].copy_from_slice(&f.macs);
        x[22] = x[22].wrapping_sub(1);
        put_ne16(x, 24, checksum::apply(ne16(x, 24), u32::from(f.ip_delta)));
        if f.what != UNTOUCHED {
            let (at, port_at) = if f.what == SOURCE { (26, 34) } else { (30, 36) };
            if let Some(a) = x.get_mut(at..at + 4) {
                a.copy_from_slice(&f.addr.to_ne_bytes());
            }
            put_ne16(x, port_at, f.port);
            // TCP's checksum (at 50: 8 bytes past the view); UDP's, where a
            // zero (none, RFC 768) stays zero and a computed zero is sent
            // as all ones.
            let sum = if tcp { rest.get_mut(8..10) } else { x.get_mut(40..42) };
            if let Some(s) = sum {
                let c = u16::from_ne_bytes([s[0], s[1]]);
                if tcp || c != 0 {
                    let c = checksum::apply(c, u32::from(f.l4_delta));
                    s.copy_from_slice(&(if c == 0 && !tcp { 0xffff } else { c }).to_ne_bytes());
                }
            }
        }
        let plan = Plan { kind: HIT, len: (14 + tl) as u16, to: f.tx, slot: f.neigh };
        pkt.truncate(14 + tl);
        Some(plan)
    }

    /// Makes the cache's entry for the flow of a packet read as `plain`
    /// from `port`, which the fast path just forwarded through
    /// adjacency `adj` after the translator's answers `pre` and `post`.
    #[cold]
    fn remember(&mut self, port: u16, plain: &Plain4, pre: FastNat, post: FastNat, adj: u16, now: u64) {
        let Some(a) = self.adj.get(usize::from(adj)) else { return };
        let be = |a: u32| u32::from_ne_bytes(a.to_be_bytes());
        let be16 = |p: u16| u16::from_ne_bytes(p.to_be_bytes());
        // The TTL's word going down by one, whatever the TTL was.
        let ttl = checksum::delta16(u16::from_ne_bytes([2, 0]), u16::from_ne_bytes([1, 0]));
        let (what, (entry, addr, to), (old, old_port)) = match (pre, post) {
            (_, FastNat::Rewrite { entry, addr, port }) => (SOURCE, (entry, addr, port), (plain.src, plain.sport)),
            (FastNat::Rewrite { entry, addr, port }, _) => (DESTINATION, (entry, addr, port), (plain.dst, plain.dport)),
            _ => (UNTOUCHED, (NO_ENTRY, 0, 0), (0, 0)),
        };
        let d = checksum::delta32(be(old), be(addr));
        let (ip_delta, l4_delta) = if what == UNTOUCHED {
            (checksum::fold(ttl), 0)
        } else {
            (checksum::fold(d + ttl), checksum::fold(d + checksum::delta16(be16(old_port), be16(to))))
        };
        let mut x = [0u8; flows::VIEW];
        x[23] = plain.proto;
        x[26..30].copy_from_slice(&plain.src.to_be_bytes());
        x[30..34].copy_from_slice(&plain.dst.to_be_bytes());
        x[34..36].copy_from_slice(&plain.sport.to_be_bytes());
        x[36..38].copy_from_slice(&plain.dport.to_be_bytes());
        let (k0, k1) = flows::key(&x, port);
        // A flow the translator holds goes unrefreshed (its entry
        // unnamed) until the hold ends.
        let hold = if entry == NO_ENTRY { 0 } else { self.nat.fast_hold(entry, what == SOURCE, now) };
        let (entry, until) =
            if hold > 0 { (NO_ENTRY, a.until.min(now.saturating_add(hold))) } else { (entry, a.until) };
        self.flows.put(Flow {
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
            what,
        });
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
    fn decide6(&mut self, t: &Tables, pkt: &mut B, now: u64) -> Plan {
        let d = pkt.data();
        let Some(h) = d.get(14..V6_HEAD).and_then(|h| <&[u8; 40]>::try_from(h).ok()) else { return Plan::SLOW };
        let len = 40 + usize::from(be16(h, 4));
        if h[0] >> 4 != 6 || len > d.len() - 14 || ipv6::is_extension(h[6]) || h[7] <= 1 {
            return Plan::SLOW;
        }
        let (src, dst) = (addr6(h, 8), addr6(h, 24));
        if (unusual6(src) || unusual6(dst))
            && (ipv6::is_martian_source_bits(src)
                || ipv6::is_link_local_bits(src)
                || ipv6::is_multicast_bits(dst)
                || ipv6::is_martian_destination_bits(dst)
                || ipv6::is_link_local_bits(dst))
        {
            return Plan::SLOW;
        }
        let key = match t.fib6.lookup_bits(dst) {
            Some(&RouteTarget::Connected { ifindex }) => NextHop::Host(6, ifindex, dst),
            Some(&RouteTarget::Via { first, count }) => {
                let hash = if count > 1 { d.get(14..).map_or(0, super::ip6::flow_hash6) } else { 0 };
                NextHop::Route(6, pick(first, count, hash))
            }
            _ => return Plan::SLOW,
        };
        let adj = match self.adjacency(t, key, now) {
            Some((adj, mtu)) if len <= usize::from(mtu) => adj,
            _ => return Plan::SLOW,
        };
        let h = pkt.data_mut().get_mut(..V6_HEAD).and_then(|h| <&mut [u8; V6_HEAD]>::try_from(h).ok());
        if let (Some(a), Some(h)) = (self.adj.get(usize::from(adj)), h) {
            h[..12].copy_from_slice(&a.macs);
            h[21] = h[21].wrapping_sub(1);
        }
        pkt.truncate(14 + len);
        Plan { kind: ROUTE6, len: (14 + len) as u16, to: adj, slot: 0 }
    }

    /// Sends a routed frame (rewritten by `decide4` or `decide6`) to its
    /// next hop, noting the neighbor's use once a burst.
    #[inline(always)]
    fn send_routed(&mut self, pkt: B, plan: Plan, tally: &mut Tally, now: u64, io: &mut impl Io<B>) {
        // Always in range: plans name entries of the cache.
        let rw = &self.adj[usize::from(plan.to) % ADJ_SLOTS];
        if plan.kind == ROUTE6 {
            tally.routed6 += 1;
        }
        let (neigh, tx) = (rw.slot, rw.port);
        self.note_neighbor(tally, neigh, now);
        tally.routed += 1;
        io.send_to(tx, pkt);
    }

    /// A frame the translator dropped or refused (`verdict`) as it made
    /// its flow's entry: counted and answered as the full path would
    /// have (the hook's verdict comes at the same point of it).
    #[cold]
    #[allow(clippy::too_many_arguments)]
    fn stop(&mut self, t: &Tables, mut pkt: B, port: u16, plan: Plan, verdict: FastNat, now: u64, io: &mut impl Io<B>) {
        pkt.set_port(port);
        pkt.truncate(usize::from(plan.len));
        // (Plans are stopped for the first two only.)
        let (FastNat::Refuse(r) | FastNat::Drop(r)) = verdict else { return self.process(t, pkt, now, io) };
        self.counters.rx += 1;
        if let FastNat::Refuse(_) = verdict {
            self.refuse(t, pkt, r, now, io);
        } else {
            self.drop(r);
        }
    }

    /// Switches a frame as planned: refreshes its source's entry, sends
    /// it on the member (with its tag, if the member is tagged).
    #[inline(always)]
    fn send_switched(&mut self, t: &Tables, pkt: B, plan: Plan, tally: &mut Tally, now: u64, io: &mut impl Io<B>) {
        self.macs.refresh(plan.slot, now);
        if plan.kind == SWITCH {
            tally.switched += 1;
        } else {
            tally.flooded += 1;
        }
        match t.members.get(usize::from(plan.to)) {
            Some(m) if m.vlan.is_none() => io.send_to(m.port, pkt),
            _ => super::l2::send_member(t, &mut self.counters, plan.to, pkt, io),
        }
    }

    /// The adjacency-cache entry towards a next hop, and its MTU: found
    /// valid, or made from the neighbor cache; `None` if the full path
    /// must decide (unresolved, stale, a VLAN or bridge interface).
    #[inline(always)]
    fn adjacency(&mut self, t: &Tables, key: NextHop, now: u64) -> Option<(u16, u16)> {
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
    fn fill_adjacency(&mut self, t: &Tables, i: usize, key: NextHop, now: u64) -> Option<(u16, u16)> {
        let (out, addr) = match key {
            NextHop::Host(4, ifindex, ip) => (ifindex, IpAddr::V4(Ipv4Addr::from(ip as u32))),
            NextHop::Host(_, ifindex, ip) => (ifindex, IpAddr::V6(Ipv6Addr::from(ip))),
            NextHop::Route(4, n) => t.fib.nexthop_at(n).map(|h| (h.ifindex, IpAddr::V4(h.gateway)))?,
            NextHop::Route(_, n) => t.fib6.nexthop_at(n).map(|h| (h.ifindex, IpAddr::V6(h.gateway)))?,
        };
        let egress = t.iface(out)?;
        if egress.bridge.is_some() || egress.vlan.is_some() {
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

const UDP: u8 = 17;
const TCP: u8 = 6;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;

/// A packet the flow cache may take an entry for: a whole UDP packet, or
/// a whole TCP segment with its 20-byte header and none of SYN, FIN and
/// RST (`tl`: the IPv4 total length).
#[inline(always)]
fn cacheable(p: &Plain4, tl: usize) -> bool {
    p.whole
        && match p.proto {
            UDP => tl >= 28,
            TCP => tl >= 40 && p.flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0,
            _ => false,
        }
}

/// The 16 bits at `at`, as they sit.
#[inline(always)]
fn ne16(x: &[u8; flows::VIEW], at: usize) -> u16 {
    match x.get(at..at + 2) {
        Some(&[a, b]) => u16::from_ne_bytes([a, b]),
        _ => 0,
    }
}

#[inline(always)]
fn put_ne16(x: &mut [u8; flows::VIEW], at: usize, v: u16) {
    if let Some(f) = x.get_mut(at..at + 2) {
        f.copy_from_slice(&v.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::{adj_index, unusual6, ADJ_SLOTS};
    use crate::wire::ipv6;

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

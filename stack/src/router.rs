//! The per-worker dual-stack router: Ethernet in, verdicts out.
//!
//! [`Router::process`] takes one received frame and carries it to the end:
//! sent (forwarded, or answered locally), queued for ARP, or dropped with a
//! counted [`DropReason`]. [`Router::poll`] runs the timers. Everything the
//! router needs from the outside (buffers, transmission, telling other
//! workers about neighbors) goes through [`Io`], which the dataplane
//! implements over DPDK and tests implement over `Vec`s.
//!
//! Behaviour follows RFC 1812: header validation with silent drops
//! (§5.2.2), TTL (§5.3.1), the ICMP errors of §5.2.7 with the limits of
//! §4.3.2.7, source and destination checks (§5.3.7), no forwarding of
//! link-layer broadcasts (§5.3.4). IPv6 (RFC 8200, 4443, 4861) lives in
//! `ip6`. Nothing here allocates or panics.

use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::fib::RouteTarget;
use crate::icmp::{self, RateLimiter};
use crate::iface::{Interface, Tables};
use crate::l2::{MacTable, MAX_BRIDGES};
use crate::neigh::{Event, Learn, Lookup, NeighborCache, NeighborConfig};
use crate::translate::{NoNat, Translator, Verdict};
use crate::wire::arp::{self, ArpPacket, ArpRepr, Operation};
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::icmpv4::{self, Icmpv4Packet, Icmpv4Repr, Message};
use crate::wire::ipv4::{self, Ipv4Packet, Protocol};
use crate::wire::tcp::{self, TcpPacket};
use crate::wire::{be16, be32, MacAddr};
use std::net::{IpAddr, Ipv4Addr};

mod fast;
mod flows;
mod ip6;
mod l2;
pub use ip6::MAX_RA_PREFIXES;
use l2::transmit;

/// What the router needs from the worker around it.
pub trait Io<B: PacketBuf> {
    /// A fresh, empty buffer (for ARP requests), if the pool has one.
    fn alloc(&mut self) -> Option<B>;
    /// Sends `pkt` on port `pkt.port()`.
    fn send(&mut self, pkt: B);
    /// Sends `pkt` on `port` (whatever its own port field says: the fast
    /// path knows the port and need not write it).
    #[inline(always)]
    fn send_to(&mut self, port: u16, mut pkt: B) {
        pkt.set_port(port);
        self.send(pkt);
    }
    /// A neighbor was learned from the wire; other workers may want it.
    /// `confirmed`: it was a reply to us, which proves reachability (RFC
    /// 4861 §7.3.1's rule, applied to ARP), so peers may confirm their
    /// entries with it too: replies to one worker's probe often arrive on
    /// another worker's queue.
    fn neighbor_learned(&mut self, _ifindex: u16, _ip: IpAddr, _mac: MacAddr, _confirmed: bool) {}
    /// Hands `pkt` to worker `worker`, which owns its NAT state
    /// ([`Verdict::Handoff`]); gives it back if that cannot be done.
    fn handoff(&mut self, pkt: B, _worker: u16, _tag: u8) -> Result<(), B> {
        Err(pkt)
    }
}

/// How often [`Router::poll`] scans the neighbor table, in nanoseconds.
pub const POLL_INTERVAL: u64 = 10_000_000;
/// Most timer events handled per scan step (bounds the stack arrays).
const POLL_BUDGET: usize = 32;
/// Largest per-neighbor queue the router supports (fits the neighbor poll budget, `POLL_BUDGET`).
pub const MAX_NEIGHBOR_QUEUE: usize = 16;
/// How long a packet the translator asked to hold ([`Verdict::Hold`])
/// waits, in nanoseconds.
pub const HOLD_NS: u64 = 1_000_000_000;

/// Router settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    pub neighbor: NeighborConfig,
    /// ICMP errors per second per worker (0: never send errors).
    pub icmp_rate: u32,
    /// ICMP error burst.
    pub icmp_burst: u32,
    /// Most MAC addresses the worker's MAC table holds over all bridges
    /// (each bridge also has its own bound).
    pub mac_capacity: usize,
    /// Most packets held for the translator ([`Verdict::Hold`]: NAT
    /// fragments that came before their first).
    pub nat_hold: usize,
    /// Flows the fast path's flow cache holds (rounded up to a power of
    /// two, 64 bytes each; 0: no cache). See the `flows` module.
    pub flow_cache: usize,
    /// The flow cache makes an entry for one fast-path packet of an
    /// uncached flow in this many (1: every one).
    pub flow_fill: u32,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            neighbor: NeighborConfig::default(),
            icmp_rate: 1000,
            icmp_burst: 50,
            mac_capacity: 16384,
            nat_hold: 64,
            flow_cache: 16384,
            flow_fill: 8,
        }
    }
}

/// Where a held packet goes on: back into the translator's stage.
#[derive(Copy, Clone, Debug)]
enum Stage {
    /// Inbound translation, then routing.
    Pre { l2_multicast: bool },
    /// Outbound translation towards `out` and next hop `nh`, then output.
    Post { out: u16, nh: Ipv4Addr },
}

struct Held<B> {
    pkt: B,
    stage: Stage,
    since: u64,
}

/// Per-worker counters. Written by the owning worker only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to `process`.
    pub rx: u64,
    /// Packets that passed the forwarding checks and went to output (sent,
    /// or queued for ARP and sent when it resolves).
    pub forwarded: u64,
    /// Packets for our own addresses that we answered or consumed.
    pub local: u64,
    /// ICMP errors sent.
    pub icmp_errors: u64,
    /// ICMP errors suppressed by the rate limit.
    pub icmp_rate_limited: u64,
    /// ARP requests sent (broadcast and unicast probes).
    pub arp_requests: u64,
    /// ARP replies sent.
    pub arp_replies: u64,
    /// IPv6 packets forwarded (a subset of `forwarded`).
    pub forwarded6: u64,
    /// IPv6 packets for our addresses answered or consumed (a subset of `local`).
    pub local6: u64,
    /// ICMPv6 errors sent (a subset of `icmp_errors`).
    pub icmp6_errors: u64,
    /// Neighbor Solicitations sent.
    pub nd_solicits: u64,
    /// Neighbor Advertisements sent.
    pub nd_adverts: u64,
    /// Router Advertisements sent.
    pub router_adverts: u64,
    /// Bridged frames sent to the one member their destination was
    /// learned on.
    pub l2_forwarded: u64,
    /// Bridged frames flooded (broadcast, multicast, unknown unicast).
    pub l2_flooded: u64,
    /// MAC addresses learned.
    pub mac_learned: u64,
    /// Learned addresses seen on another member (station moves).
    pub mac_moves: u64,
    /// Source addresses not learned because the bridge's table was full
    /// (frames towards them are flooded).
    pub mac_learn_full: u64,
    /// MAC entries removed by aging.
    pub mac_aged: u64,
    /// Packets handed to the worker that owns their NAT state.
    pub handed_off: u64,
    /// Packets the fast path carried ([`Router::process_burst`]; also
    /// counted as received and forwarded or switched).
    pub fast_path: u64,
    /// Packets the fast path's flow cache carried (a subset of
    /// `fast_path`).
    pub flow_hits: u64,
    /// Drops, indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::COUNT],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            rx: 0,
            forwarded: 0,
            local: 0,
            icmp_errors: 0,
            icmp_rate_limited: 0,
            arp_requests: 0,
            arp_replies: 0,
            forwarded6: 0,
            local6: 0,
            icmp6_errors: 0,
            nd_solicits: 0,
            nd_adverts: 0,
            router_adverts: 0,
            l2_forwarded: 0,
            l2_flooded: 0,
            mac_learned: 0,
            mac_moves: 0,
            mac_learn_full: 0,
            mac_aged: 0,
            handed_off: 0,
            fast_path: 0,
            flow_hits: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl Counters {
    /// The drop count for one reason.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops.get(r.index()).copied().unwrap_or(0)
    }
}

/// One worker's router: its neighbor cache, MAC table, rate limiters,
/// Router Advertisement timers and counters.
pub struct Router<B, N = NoNat> {
    /// Address translation (NAT44), or [`NoNat`].
    nat: N,
    neigh: NeighborCache<B>,
    macs: MacTable,
    /// Each bridge's `flush_epoch` as last seen.
    mac_epochs: Box<[u64; MAX_BRIDGES]>,
    bridge_layout: u64,
    icmp_limit: RateLimiter,
    icmp6_limit: RateLimiter,
    ra: ip6::RaTimers,
    ident: u16,
    static_generation: u64,
    neighbor_epoch: u64,
    next_poll: u64,
    /// Packets held for the translator, and a spare of the same room to
    /// replay them from (neither ever grows).
    held: Vec<Held<B>>,
    replay: Vec<Held<B>>,
    hold_cap: usize,
    replaying: bool,
    /// The fast path's next-hop rewrites ([`fast`]).
    adj: Box<[fast::Adjacency; fast::ADJ_SLOTS]>,
    /// Each port's layer-3 interface as the fast path needs it, for
    /// tables generation `fast_generation`.
    ingress: Box<[fast::Ingress; crate::iface::MAX_PORTS]>,
    fast_generation: u64,
    /// The flow cache ([`flows`]), used while the translator is not idle.
    flows: flows::FlowCache,
    pub counters: Counters,
}

impl<B: PacketBuf> Router<B, NoNat> {
    /// A router without address translation.
    pub fn new(cfg: RouterConfig) -> Self {
        Router::with_translator(cfg, NoNat)
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// A router that translates addresses with `nat`.
    pub fn with_translator(cfg: RouterConfig, nat: N) -> Self {
        Router {
            nat,
            neigh: NeighborCache::new(cfg.neighbor),
            macs: MacTable::new(cfg.mac_capacity),
            mac_epochs: Box::new([0; MAX_BRIDGES]),
            bridge_layout: 0,
            icmp_limit: RateLimiter::new(cfg.icmp_rate, cfg.icmp_burst),
            icmp6_limit: RateLimiter::new(cfg.icmp_rate, cfg.icmp_burst),
            ra: ip6::RaTimers::default(),
            ident: 0,
            static_generation: u64::MAX,
            neighbor_epoch: 0,
            next_poll: 0,
            held: Vec::with_capacity(cfg.nat_hold),
            replay: Vec::with_capacity(cfg.nat_hold),
            hold_cap: cfg.nat_hold,
            replaying: false,
            adj: Box::new([fast::Adjacency::EMPTY; fast::ADJ_SLOTS]),
            ingress: Box::new([fast::Ingress::OFF; crate::iface::MAX_PORTS]),
            fast_generation: u64::MAX,
            flows: flows::FlowCache::new(cfg.flow_cache, cfg.flow_fill),
            counters: Counters::default(),
        }
    }

    /// Makes this router send the periodic Router Advertisements (one
    /// worker per gateway does: the first). Every router still answers
    /// the Router Solicitations it receives.
    pub fn set_announcer(&mut self, on: bool) {
        self.ra.announcer = on;
    }

    /// The translator (its sessions and counters).
    pub fn translator(&self) -> &N {
        &self.nat
    }

    /// The translator, to run its timers and take new rules.
    pub fn translator_mut(&mut self) -> &mut N {
        &mut self.nat
    }

    /// The neighbor cache (for the control plane's view and tests).
    pub fn neighbors(&self) -> &NeighborCache<B> {
        &self.neigh
    }

    #[inline(always)]
    fn drop(&mut self, r: DropReason) {
        if let Some(c) = self.counters.drops.get_mut(r.index()) {
            *c += 1;
        }
    }

    /// Brings static neighbors in line with a new snapshot. Cheap when the
    /// generation has not changed; call once per burst.
    pub fn sync(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        if t.generation == self.static_generation {
            return;
        }
        self.static_generation = t.generation;
        self.icmp_limit.set(t.settings.icmp_rate, t.settings.icmp_burst);
        self.icmp6_limit.set(t.settings.icmp_rate, t.settings.icmp_burst);
        self.neigh.set_timers(&t.settings.neighbor);
        self.sync_bridges(t);
        if t.neighbor_epoch != self.neighbor_epoch {
            self.neighbor_epoch = t.neighbor_epoch;
            let lost = self.neigh.flush_dynamic() as u64;
            if let Some(c) = self.counters.drops.get_mut(DropReason::NeighborFlushed.index()) {
                *c += lost;
            }
        }
        let statics = &t.static_neighbors;
        self.neigh.retain_static(|i, ip| statics.iter().any(|s| s.ifindex == i && s.ip == ip));
        for s in statics {
            let Some(ifc) = t.iface(s.ifindex) else { continue };
            let (macs, c) = (&self.macs, &mut self.counters);
            self.neigh.set_static(s.ifindex, s.ip, s.mac, now, |p, mac| send_resolved(t, macs, c, ifc, p, mac, io));
        }
    }

    /// Runs timers: ARP and ND retries, resolution failures, aging, Router
    /// Advertisements. Cheap to call every loop: the table is scanned at
    /// most every [`POLL_INTERVAL`].
    pub fn poll(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        if now < self.next_poll {
            return;
        }
        self.next_poll = now + POLL_INTERVAL;
        self.expire_held(now);
        self.router_adverts_due(t, now, io);
        self.age_macs(t, now);
        loop {
            // The cache hands events to a closure that cannot also borrow
            // the router, so they land in fixed arrays first.
            let mut probes = [(0u16, IpAddr::V4(Ipv4Addr::UNSPECIFIED), None::<MacAddr>); POLL_BUDGET];
            let mut failed: [Option<B>; POLL_BUDGET] = std::array::from_fn(|_| None);
            let (mut np, mut nf) = (0, 0);
            let complete = self.neigh.poll(now, POLL_BUDGET, |e| match e {
                Event::Probe { ifindex, ip, mac } => {
                    if let Some(p) = probes.get_mut(np) {
                        *p = (ifindex, ip, mac);
                        np += 1;
                    }
                }
                Event::Unresolved(pkt) => {
                    if let Some(f) = failed.get_mut(nf) {
                        *f = Some(pkt);
                        nf += 1;
                    }
                }
            });
            for &(ifindex, ip, mac) in probes.iter().take(np) {
                self.solicit(t, ifindex, ip, mac, io);
            }
            for pkt in failed.iter_mut().take(nf).filter_map(Option::take) {
                if ip_version(&pkt) == 6 {
                    // RFC 4861 §7.2.2: Address Unreachable for each.
                    self.unresolved6(t, pkt, now, io);
                    continue;
                }
                // Already forwarded once (TTL decremented); RFC 1812
                // §5.2.7.1 still asks for Host Unreachable.
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::HOST);
                self.icmp_error(t, pkt, DropReason::NeighborUnresolved, m, c, 0, now, io);
            }
            if complete {
                return;
            }
        }
    }

    /// Learns a neighbor another worker saw (update only, never create);
    /// a `confirmed` one (a reply to us) makes the entry reachable.
    #[allow(clippy::too_many_arguments)]
    pub fn learn_remote(
        &mut self,
        t: &Tables,
        ifindex: u16,
        ip: IpAddr,
        mac: MacAddr,
        confirmed: bool,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        let Some(ifc) = t.iface(ifindex) else { return };
        let how = if confirmed { Learn::Reply } else { Learn::Other };
        let (macs, c) = (&self.macs, &mut self.counters);
        self.neigh.learn(ifindex, ip, mac, how, now, |p, m| send_resolved(t, macs, c, ifc, p, m, io));
    }

    /// Learns a neighbor from a packet it sent (packets waiting for it
    /// leave), and tells the other workers when this cache took it, or
    /// when it was a reply to us:
    /// the request may have come from another worker, whose queue the
    /// reply did not land on (peers only update, never create).
    #[allow(clippy::too_many_arguments)]
    fn learn_and_share(
        &mut self,
        t: &Tables,
        ifc: &Interface,
        ifindex: u16,
        ip: IpAddr,
        mac: MacAddr,
        how: Learn,
        now: u64,
        io: &mut impl Io<B>,
    ) -> bool {
        let (macs, c) = (&self.macs, &mut self.counters);
        let learned = self.neigh.learn(ifindex, ip, mac, how, now, |p, m| send_resolved(t, macs, c, ifc, p, m, io));
        if learned || how == Learn::Reply {
            io.neighbor_learned(ifindex, ip, mac, how == Learn::Reply);
        }
        learned
    }

    /// Processes one received frame to the end.
    #[inline]
    pub fn process(&mut self, t: &Tables, pkt: B, now: u64, io: &mut impl Io<B>) {
        self.counters.rx += 1;
        self.l2_input(t, pkt, now, io);
    }

    /// Runs a frame another worker handed over ([`Verdict::Handoff`])
    /// through the router, as [`Router::process`] but not counted as
    /// received again; the translator is told `tag`.
    pub fn process_handed(&mut self, t: &Tables, pkt: B, tag: u8, now: u64, io: &mut impl Io<B>) {
        self.nat.set_handed(Some(tag));
        self.l2_input(t, pkt, now, io);
        self.nat.set_handed(None);
    }

    /// Lets held packets go if the translator says they may (it learned
    /// a fragment's translation from another worker); call between bursts.
    pub fn release_translated(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        if self.nat.take_release() {
            self.release_held(t, now, io);
        }
    }

    fn handoff(&mut self, pkt: B, worker: u16, tag: u8, io: &mut impl Io<B>) {
        match io.handoff(pkt, worker, tag) {
            Ok(()) => self.counters.handed_off += 1,
            Err(pkt) => {
                drop(pkt);
                self.drop(DropReason::NatHandoffFull);
            }
        }
    }

    /// Layer-3 input on interface `ifindex` (the frame is untagged).
    #[inline]
    fn l3_input(&mut self, t: &Tables, ifindex: u16, pkt: B, now: u64, io: &mut impl Io<B>) {
        let Ok(eth) = EthernetFrame::new_checked(pkt.data()) else {
            return self.drop(DropReason::EthTruncated);
        };
        let Some(ifc) = t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
        let dst = eth.dst();
        if dst != ifc.mac && !dst.is_multicast() {
            return self.drop(DropReason::EthNotForUs);
        }
        if eth.src().is_multicast() {
            return self.drop(DropReason::EthBadSource);
        }
        match eth.ethertype() {
            EtherType::Ipv4 => self.ipv4_input(t, pkt, dst.is_multicast(), now, io),
            EtherType::Arp => self.arp_input(t, ifindex, ifc, pkt, now, io),
            EtherType::Ipv6 if ifc.ipv6() => self.ipv6_input(t, ifindex, pkt, dst.is_multicast(), now, io),
            EtherType::Vlan | EtherType::QinQ => self.drop(DropReason::VlanNotConfigured),
            EtherType::Ipv6 => self.drop(DropReason::Ipv6Disabled),
            EtherType::Unknown(_) => self.drop(DropReason::EthUnknownType),
        }
    }

    fn arp_input(&mut self, t: &Tables, ifindex: u16, ifc: &Interface, mut pkt: B, now: u64, io: &mut impl Io<B>) {
        let Some(repr) = pkt
            .data()
            .get(ETH_LEN..)
            .and_then(|b| ArpPacket::new_checked(b).ok())
            .and_then(|p| ArpRepr::parse(&p).ok())
        else {
            return self.drop(DropReason::ArpMalformed);
        };
        // Our own address, or one NAT answers for (proxy ARP).
        let for_us = ifc.has_addr(repr.target_ip) || ifc.proxies(repr.target_ip);
        let mut learned = false;
        // A sender of 0.0.0.0 is an address probe (RFC 5227): answer, learn nothing.
        if !repr.sender_ip.is_unspecified() && repr.sender_hw.is_unicast() && !ifc.has_addr(repr.sender_ip) {
            let how = match (repr.operation, for_us) {
                (Operation::Reply, true) => Learn::Reply,
                (Operation::Request, true) => Learn::RequestToUs,
                _ => Learn::Other,
            };
            let sender = IpAddr::V4(repr.sender_ip);
            learned = self.learn_and_share(t, ifc, ifindex, sender, repr.sender_hw, how, now, io);
        }
        if repr.operation == Operation::Request && for_us {
            // Answer in place (RFC 826: swap, fill in our hardware address).
            pkt.truncate(ETH_LEN + arp::PACKET_LEN);
            let data = pkt.data_mut();
            if let Ok(mut eth) = EthernetFrame::new_checked(&mut *data) {
                eth.set_dst(repr.sender_hw);
                eth.set_src(ifc.mac);
            }
            let reply = ArpRepr {
                operation: Operation::Reply,
                sender_hw: ifc.mac,
                sender_ip: repr.target_ip,
                target_hw: repr.sender_hw,
                target_ip: repr.sender_ip,
            };
            if let Some(Ok(mut a)) = data.get_mut(ETH_LEN..).map(ArpPacket::new_checked) {
                reply.emit(&mut a);
            }
            self.counters.arp_replies += 1;
            self.counters.local += 1;
            transmit(t, &self.macs, &mut self.counters, ifc, pkt, io);
        } else if for_us || learned {
            self.counters.local += 1;
        } else {
            self.drop(DropReason::ArpNotForUs);
        }
    }

    #[inline]
    fn ipv4_input(&mut self, t: &Tables, mut pkt: B, l2_multicast: bool, now: u64, io: &mut impl Io<B>) {
        // RFC 1812 §5.2.2, each failure its own counter.
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        if ip.len() < ipv4::HEADER_LEN {
            return self.drop(DropReason::Ipv4Truncated);
        }
        let p = Ipv4Packet::new_unchecked(ip);
        if p.version() != 4 {
            return self.drop(DropReason::Ipv4BadVersion);
        }
        let hl = p.header_len();
        if hl < ipv4::HEADER_LEN || hl > ip.len() {
            return self.drop(DropReason::Ipv4BadHeaderLength);
        }
        let tl = usize::from(p.total_len());
        if tl < hl || tl > ip.len() {
            return self.drop(DropReason::Ipv4BadTotalLength);
        }
        if !p.verify_checksum() {
            return self.drop(DropReason::Ipv4BadChecksum);
        }
        let (src, dst) = (p.src(), p.dst());
        if ipv4::is_martian_source(src) {
            return self.drop(DropReason::Ipv4MartianSource);
        }
        let bad_option = if hl > ipv4::HEADER_LEN { ipv4::check_options(p.options()).err() } else { None };
        pkt.truncate(ETH_LEN + tl); // drop Ethernet padding
        if let Some(pointer) = bad_option {
            // RFC 1812 §5.2.5 / RFC 792: Parameter Problem pointing at the byte.
            let rest = u32::from(pointer) << 24;
            return self.icmp_error(t, pkt, DropReason::Ipv4BadOptions, Message::ParamProblem, 0, rest, now, io);
        }
        if dst.is_broadcast() || dst.is_multicast() {
            return self.drop(DropReason::Ipv4Broadcast);
        }
        if ipv4::is_martian_destination(dst) {
            return self.drop(DropReason::Ipv4MartianDestination);
        }
        self.translate_in(t, pkt, l2_multicast, now, io);
    }

    /// Inbound translation, which may rewrite the destination; then
    /// routing of that one.
    #[inline]
    fn translate_in(&mut self, t: &Tables, mut pkt: B, l2_multicast: bool, now: u64, io: &mut impl Io<B>) {
        let dst = match pkt.data_mut().get_mut(ETH_LEN..) {
            Some(ip) => match self.nat.prerouting(t, ip, now) {
                Verdict::Pass => Ipv4Packet::new_unchecked(&*ip).dst(),
                Verdict::Drop(r) => return self.drop(r),
                Verdict::Refuse(r) => return self.refuse(t, pkt, r, now, io),
                Verdict::Hold => return self.hold(pkt, Stage::Pre { l2_multicast }, now),
                Verdict::Handoff { worker, tag } => return self.handoff(pkt, worker, tag, io),
                Verdict::Expire => {
                    let (m, c) = (Message::TimeExceeded, 0);
                    return self.icmp_error(t, pkt, DropReason::TtlExpired, m, c, 0, now, io);
                }
            },
            None => return self.drop(DropReason::Ipv4Truncated),
        };
        let release = self.nat.take_release();
        self.route4(t, pkt, dst, l2_multicast, now, io);
        if release {
            self.release_held(t, now, io);
        }
    }

    #[inline]
    fn route4(&mut self, t: &Tables, pkt: B, dst: Ipv4Addr, l2_multicast: bool, now: u64, io: &mut impl Io<B>) {
        match t.fib.lookup(dst) {
            Some(&RouteTarget::Local { .. }) => self.local_input(t, pkt, now, io),
            Some(&RouteTarget::Connected { ifindex: out }) => self.forward(t, pkt, out, dst, l2_multicast, now, io),
            Some(&RouteTarget::Via { first, count }) => {
                let hash = if count > 1 { pkt.data().get(ETH_LEN..).map_or(0, flow_hash) } else { 0 };
                match t.fib.nexthop(first, count, hash) {
                    Some(nh) => self.forward(t, pkt, nh.ifindex, nh.gateway, l2_multicast, now, io),
                    None => self.drop(DropReason::NoRoute),
                }
            }
            Some(&RouteTarget::Broadcast { .. }) => self.drop(DropReason::Ipv4Broadcast),
            Some(&RouteTarget::Blackhole) => self.drop(DropReason::RouteBlackhole),
            Some(&RouteTarget::Unreachable) if !l2_multicast => {
                let code = icmpv4::unreachable::HOST;
                self.icmp_error(t, pkt, DropReason::RouteUnreachable, Message::DstUnreachable, code, 0, now, io)
            }
            None if !l2_multicast => {
                let code = icmpv4::unreachable::NET;
                self.icmp_error(t, pkt, DropReason::NoRoute, Message::DstUnreachable, code, 0, now, io)
            }
            Some(&RouteTarget::Unreachable) | None => self.drop(DropReason::Ipv4L2Broadcast),
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn forward(
        &mut self,
        t: &Tables,
        mut pkt: B,
        out: u16,
        nh: Ipv4Addr,
        l2_multicast: bool,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        if l2_multicast {
            return self.drop(DropReason::Ipv4L2Broadcast);
        }
        let Some(egress) = t.iface(out) else { return self.drop(DropReason::NoRoute) };
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(&mut *ip);
        if p.ttl() <= 1 {
            let (m, c) = (Message::TimeExceeded, 0);
            return self.icmp_error(t, pkt, DropReason::TtlExpired, m, c, 0, now, io);
        }
        if p.total_len() > egress.mtu {
            if p.dont_frag() {
                let (m, c, mtu) = (Message::DstUnreachable, icmpv4::unreachable::FRAG_NEEDED, u32::from(egress.mtu));
                return self.icmp_error(t, pkt, DropReason::FragmentationNeeded, m, c, mtu, now, io);
            }
            return self.drop(DropReason::FragmentationUnsupported);
        }
        self.translate_out(t, egress, pkt, out, nh, now, io);
    }

    /// Outbound translation, then the TTL and output: the last steps of
    /// forwarding, where a held packet comes back.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn translate_out(
        &mut self,
        t: &Tables,
        egress: &Interface,
        mut pkt: B,
        out: u16,
        nh: Ipv4Addr,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        match self.nat.postrouting(t, out, &mut *ip, now) {
            Verdict::Pass => {}
            Verdict::Drop(r) => return self.drop(r),
            Verdict::Refuse(r) => return self.refuse(t, pkt, r, now, io),
            Verdict::Hold => return self.hold(pkt, Stage::Post { out, nh }, now),
            Verdict::Handoff { worker, tag } => return self.handoff(pkt, worker, tag, io),
            // The TTL was checked before: nothing expires here.
            Verdict::Expire => return self.drop(DropReason::TtlExpired),
        }
        let release = self.nat.take_release();
        Ipv4Packet::new_unchecked(ip).decrement_ttl();
        self.counters.forwarded += 1;
        self.output(t, egress, out, IpAddr::V4(nh), pkt, now, io);
        if release {
            self.release_held(t, now, io);
        }
    }

    /// Holds a packet for the translator (bounded: a full queue drops).
    fn hold(&mut self, pkt: B, stage: Stage, now: u64) {
        if self.held.len() >= self.hold_cap.min(self.held.capacity()) {
            drop(pkt);
            return self.drop(DropReason::NatFragmentHoldFull);
        }
        self.held.push(Held { pkt, stage, since: now });
    }

    /// Asks the translator again about every held packet; those it still
    /// holds keep their original time.
    fn release_held(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        if self.replaying || self.held.is_empty() {
            return; // the outer replay goes on
        }
        self.replaying = true;
        std::mem::swap(&mut self.held, &mut self.replay);
        let mut replay = std::mem::take(&mut self.replay);
        for h in replay.drain(..) {
            let before = self.held.len();
            match h.stage {
                Stage::Pre { l2_multicast } => self.translate_in(t, h.pkt, l2_multicast, now, io),
                Stage::Post { out, nh } => match t.iface(out) {
                    Some(egress) => self.translate_out(t, egress, h.pkt, out, nh, now, io),
                    None => self.drop(DropReason::NoRoute),
                },
            }
            if self.held.len() > before {
                if let Some(again) = self.held.last_mut() {
                    again.since = h.since;
                }
            }
        }
        self.replay = replay;
        self.replaying = false;
    }

    /// Drops held packets older than [`HOLD_NS`].
    fn expire_held(&mut self, now: u64) {
        let mut i = 0;
        while let Some(h) = self.held.get(i) {
            if now.saturating_sub(h.since) >= HOLD_NS {
                drop(self.held.swap_remove(i));
                self.drop(DropReason::NatFragmentTimeout);
            } else {
                i += 1;
            }
        }
    }

    /// Sends an IP packet (Ethernet header still to write) to neighbor
    /// `nh` on `egress`, resolving it first (ARP or NDP) if needed.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn output(&mut self, t: &Tables, egress: &Interface, out: u16, nh: IpAddr, pkt: B, now: u64, io: &mut impl Io<B>) {
        match self.neigh.lookup(out, nh, now) {
            Lookup::Hit { mac, probe } => {
                send_resolved(t, &self.macs, &mut self.counters, egress, pkt, mac, io);
                if probe {
                    self.solicit(t, out, nh, Some(mac), io);
                }
            }
            Lookup::Miss => match self.neigh.enqueue(out, nh, pkt, now) {
                Ok(true) => self.solicit(t, out, nh, None, io),
                Ok(false) => {}
                Err((reason, _pkt)) => self.drop(reason),
            },
        }
    }

    /// Asks for a neighbor's MAC: an ARP request or a Neighbor
    /// Solicitation, broadcast/multicast or unicast to `unicast`.
    fn solicit(&mut self, t: &Tables, ifindex: u16, ip: IpAddr, unicast: Option<MacAddr>, io: &mut impl Io<B>) {
        match ip {
            IpAddr::V4(a) => self.send_arp_request(t, ifindex, a, unicast, io),
            IpAddr::V6(a) => self.send_neighbor_solicit(t, ifindex, &a, unicast, io),
        }
    }

    /// Routes a packet the router itself originates (echo reply, ICMP
    /// error, RST) towards `dst`; no TTL decrement.
    fn route_own(&mut self, t: &Tables, pkt: B, dst: Ipv4Addr, now: u64, io: &mut impl Io<B>) {
        let (out, nh) = match t.fib.lookup(dst) {
            Some(&RouteTarget::Connected { ifindex }) => (ifindex, dst),
            Some(&RouteTarget::Via { first, count }) => {
                let hash = pkt.data().get(ETH_LEN..).map(flow_hash).unwrap_or(0);
                match t.fib.nexthop(first, count, hash) {
                    Some(h) => (h.ifindex, h.gateway),
                    None => return self.drop(DropReason::NoRoute),
                }
            }
            _ => return self.drop(DropReason::NoRoute),
        };
        match t.iface(out) {
            Some(egress) => self.output(t, egress, out, IpAddr::V4(nh), pkt, now, io),
            None => self.drop(DropReason::NoRoute),
        }
    }

    fn local_input(&mut self, t: &Tables, mut pkt: B, now: u64, io: &mut impl Io<B>) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(ip);
        if p.is_fragment() {
            return self.drop(DropReason::LocalFragment);
        }
        let (src, dst, hl) = (p.src(), p.dst(), p.header_len());
        match p.protocol() {
            Protocol::Icmp => {
                let Some(Ok(icmp)) = ip.get(hl..).map(Icmpv4Packet::new_checked) else {
                    return self.drop(DropReason::IcmpMalformed);
                };
                match Icmpv4Repr::parse(&icmp) {
                    Ok(Icmpv4Repr::EchoRequest { .. }) => {}
                    Ok(_) => return self.drop(DropReason::IcmpIgnored),
                    Err(_) => return self.drop(DropReason::IcmpMalformed),
                }
                // Echo reply in place (RFC 792): swap addresses, type 0.
                let ident = self.next_ident();
                let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
                let mut p = Ipv4Packet::new_unchecked(&mut *ip);
                p.set_src(dst);
                p.set_dst(src);
                p.set_ttl(64);
                p.set_ident(ident);
                p.set_flags_offset(false, false, 0);
                p.fill_checksum();
                if let Some(Ok(mut icmp)) = ip.get_mut(hl..).map(Icmpv4Packet::new_checked) {
                    let c = crate::wire::checksum::update16(icmp.checksum(), 0x0800, 0x0000);
                    icmp.set_msg_type(Message::EchoReply);
                    icmp.set_checksum(c);
                }
                self.counters.local += 1;
                self.route_own(t, pkt, src, now, io);
            }
            Protocol::Udp => {
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PORT);
                self.icmp_error(t, pkt, DropReason::LocalPortUnreachable, m, c, 0, now, io)
            }
            Protocol::Tcp => self.tcp_reset(t, pkt, now, io),
            Protocol::Unknown(_) => {
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PROTOCOL);
                self.icmp_error(t, pkt, DropReason::LocalProtocolUnreachable, m, c, 0, now, io)
            }
        }
    }

    /// Answers a segment to a closed port with RST (RFC 9293 §3.10.7.1).
    fn tcp_reset(&mut self, t: &Tables, mut pkt: B, now: u64, io: &mut impl Io<B>) {
        self.drop(DropReason::LocalTcpClosed);
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv4Packet::new_unchecked(ip);
        let (src, dst, hl) = (p.src(), p.dst(), p.header_len());
        let Some(Ok(seg)) = ip.get(hl..usize::from(p.total_len())).map(TcpPacket::new_checked) else { return };
        if !seg.verify_checksum(src, dst) {
            return;
        }
        let Some((seq, ack, flags)) = tcp::rst_for(&seg) else { return };
        let (sport, dport) = (seg.src_port(), seg.dst_port());
        let ident = self.next_ident();
        pkt.truncate(ETH_LEN + hl + tcp::HEADER_LEN);
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
        if let Some(Ok(mut s)) = ip.get_mut(hl..).map(TcpPacket::new_checked) {
            s.set_ports(dport, sport);
            s.set_seq(seq);
            s.set_ack(ack);
            s.set_header_len_flags(tcp::HEADER_LEN, flags);
            s.set_window(0);
            s.set_urgent(0);
            s.fill_checksum(dst, src);
        }
        let mut p = Ipv4Packet::new_unchecked(&mut *ip);
        p.set_total_len((hl + tcp::HEADER_LEN) as u16);
        p.set_src(dst);
        p.set_dst(src);
        p.set_ttl(64);
        p.set_ident(ident);
        p.set_flags_offset(true, false, 0);
        p.fill_checksum();
        self.route_own(t, pkt, src, now, io);
    }

    /// A packet translation refused for lack of resources: counted, and
    /// answered with Destination Unreachable, communication
    /// administratively prohibited (RFC 5508 REQ-8).
    fn refuse(&mut self, t: &Tables, pkt: B, reason: DropReason, now: u64, io: &mut impl Io<B>) {
        let code = icmpv4::unreachable::ADMIN_PROHIBITED;
        self.icmp_error(t, pkt, reason, Message::DstUnreachable, code, 0, now, io)
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }

    /// Counts `reason`, then answers with an ICMP error if RFC 1812
    /// §4.3.2.7 and the rate limit allow.
    #[allow(clippy::too_many_arguments)]
    fn icmp_error(
        &mut self,
        t: &Tables,
        pkt: B,
        reason: DropReason,
        msg: Message,
        code: u8,
        rest: u32,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        self.drop(reason);
        if let Some((pkt, dst)) = self.build_icmp_error(t, pkt, msg, code, rest, now) {
            self.route_own(t, pkt, dst, now, io);
        }
    }

    /// Builds the error if allowed, returning it with its destination, or
    /// `None` when it is suppressed (the packet is then dropped).
    fn build_icmp_error(
        &mut self,
        t: &Tables,
        mut pkt: B,
        msg: Message,
        code: u8,
        rest: u32,
        now: u64,
    ) -> Option<(B, Ipv4Addr)> {
        let data = pkt.data();
        let l2_multicast = data.first().is_some_and(|b| b & 1 != 0);
        let ip = Ipv4Packet::new_checked(data.get(ETH_LEN..)?).ok()?;
        if !icmp::error_allowed(l2_multicast, &ip) {
            return None;
        }
        let orig_src = ip.src();
        // RFC 1812 §4.3.2.4: the source is an address of the interface the
        // error leaves by.
        let out = match t.fib.lookup(orig_src)? {
            RouteTarget::Connected { ifindex } => *ifindex,
            RouteTarget::Via { first, count } => t.fib.nexthop(*first, *count, 0)?.ifindex,
            _ => return None,
        };
        let src = t.iface(out)?.source_for(orig_src)?;
        if !self.icmp_limit.allow(now) {
            self.counters.icmp_rate_limited += 1;
            return None;
        }
        let ident = self.next_ident();
        if !icmp::build_error(&mut pkt, src, ident, Icmpv4Repr::Error { msg, code, rest }) {
            self.drop(DropReason::NoHeadroom);
            return None;
        }
        self.counters.icmp_errors += 1;
        Some((pkt, orig_src))
    }

    fn send_arp_request(
        &mut self,
        t: &Tables,
        ifindex: u16,
        target: Ipv4Addr,
        unicast: Option<MacAddr>,
        io: &mut impl Io<B>,
    ) {
        let Some(ifc) = t.iface(ifindex) else { return };
        let Some(src_ip) = ifc.source_for(target) else { return };
        let Some(mut pkt) = io.alloc() else { return self.drop(DropReason::BufferExhausted) };
        if !pkt.append(ETH_LEN + arp::PACKET_LEN) {
            return self.drop(DropReason::BufferExhausted);
        }
        let data = pkt.data_mut();
        if let Ok(mut eth) = EthernetFrame::new_checked(&mut *data) {
            eth.set_dst(unicast.unwrap_or(MacAddr::BROADCAST));
            eth.set_src(ifc.mac);
            eth.set_ethertype(EtherType::Arp);
        }
        let req = ArpRepr {
            operation: Operation::Request,
            sender_hw: ifc.mac,
            sender_ip: src_ip,
            target_hw: MacAddr::ZERO,
            target_ip: target,
        };
        if let Some(Ok(mut a)) = data.get_mut(ETH_LEN..).map(ArpPacket::new_checked) {
            req.emit(&mut a);
        }
        self.counters.arp_requests += 1;
        transmit(t, &self.macs, &mut self.counters, ifc, pkt, io);
    }
}

/// The IP version of the datagram behind the Ethernet header (0 if none).
#[inline(always)]
fn ip_version<B: PacketBuf>(pkt: &B) -> u8 {
    pkt.data().get(ETH_LEN).map_or(0, |b| b >> 4)
}

/// Writes the Ethernet header for a resolved next hop and sends. The
/// EtherType follows the datagram's version, so packets of both families
/// can wait in one neighbor queue.
#[inline(always)]
fn send_resolved<B: PacketBuf>(
    t: &Tables,
    macs: &MacTable,
    c: &mut Counters,
    egress: &Interface,
    mut pkt: B,
    mac: MacAddr,
    io: &mut impl Io<B>,
) {
    let ethertype = if ip_version(&pkt) == 6 { EtherType::Ipv6 } else { EtherType::Ipv4 };
    if let Ok(mut eth) = EthernetFrame::new_checked(pkt.data_mut()) {
        eth.set_dst(mac);
        eth.set_src(egress.mac);
        eth.set_ethertype(ethertype);
    }
    transmit(t, macs, c, egress, pkt, io);
}

/// Flow hash for ECMP: addresses, protocol and, for the first fragment of
/// TCP/UDP, the ports, so one flow keeps one path.
#[inline(always)]
fn flow_hash(ip: &[u8]) -> u32 {
    if ip.len() < ipv4::HEADER_LEN {
        return 0;
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let mut h = u64::from(be32(ip, 12)) << 32 | u64::from(be32(ip, 16));
    h ^= u64::from(ip[9]);
    let first_frag = be16(ip, 6) & 0x1fff == 0;
    if first_frag && (ip[9] == 6 || ip[9] == 17) && ip.len() >= hl + 4 {
        h ^= u64::from(be32(ip, hl)) << 8;
    }
    let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as u32 ^ h as u32
}

#[cfg(test)]
mod tests;

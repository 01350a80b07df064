//! The per-worker dual-stack router: Ethernet in, verdicts out.
//!
//! [`Router::process_burst`] takes a received burst; each frame goes by
//! the fast path if it can, else by [`Router::process`], the full path,
//! to its end: sent, queued for a neighbor, handed to another worker, or
//! dropped with a counted [`DropReason`]. [`Router::poll`] runs the
//! timers. What the router needs from the worker around it goes through
//! [`Io`]. One file per stage:
//!
//! | stage | file |
//! |---|---|
//! | burst, fast path | `fast.rs`, `flow_cache.rs`, `adjacency.rs`, `fast_unwrap.rs` |
//! | (port, VLAN) → bridge or layer 3; the way every frame leaves | `bridge.rs` |
//! | layer-3 demux | `l3_input` below |
//! | ARP | `arp.rs` |
//! | IPv4 input, NAT hooks, FIB, forwarding | `ip4.rs` |
//! | IPv4 local delivery | `local.rs` |
//! | reassembly of datagrams for the gateway | `reassemble.rs` |
//! | IPv4 fragmentation, IPv6 source fragmentation | `fragment.rs` |
//! | tunnels: wrapping and unwrapping | `tunnel.rs` |
//! | TCP MSS clamping | `mss.rs` |
//! | VXLAN: bridges across an IPv4 underlay | `vxlan.rs` |
//! | ICMP errors | `icmp_error.rs` |
//! | packets held for the translator | `hold.rs` |
//! | next-hop resolution and output | `output.rs` |
//! | the punt path to the kernel, and back | `punt.rs` |
//! | IPv6, Neighbor Discovery, Router Advertisements | `ip6.rs`, `nd.rs`, `ra.rs` |
//!
//! Behaviour follows RFC 1812 for IPv4 and RFC 8200, 4443 and 4861 for
//! IPv6. Nothing here allocates or panics on the per-packet path.

use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::{NoNat, Translator};
use crate::icmp::RateLimiter;
use crate::iface::Tables;
use crate::mac_table::{MacTable, MAX_BRIDGES};
use crate::neigh::{Event, NeighborCache};
use crate::reassembly::{Reassembly, MAX_FRAGMENTS};
use crate::settings::RouterConfig;
use crate::udp::UdpSockets;
use crate::wire::ethernet::{EtherType, EthernetFrame};
use crate::wire::icmpv4::{self, Message};
use crate::wire::MacAddr;
use crate::Secret;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};

mod adjacency;
mod arp;
mod bridge;
mod counters;
mod fast;
mod fast_unwrap;
mod flow_cache;
mod fragment;
mod hold;
mod icmp_error;
mod io;
mod ip4;
mod ip6;
mod local;
mod mss;
mod nd;
mod options;
mod output;
mod punt;
mod ra;
mod reassemble;
mod tcp;
pub use tcp::HANDOFF_TCP;
mod tunnel;
mod tunnel_error;
mod udp;
mod vxlan;

use bridge::L2;
pub use counters::{Counter, Counters, Scope};
use hold::Held;
pub use hold::HOLD_NS;
use io::Burst;
pub use io::{Io, NeighborNews};
use output::{ip_version, send_resolved};
pub use ra::MAX_RA_PREFIXES;
pub use udp::Outgoing;

/// How often [`Router::poll`] scans the neighbor table, in nanoseconds.
pub const POLL_INTERVAL: u64 = 10_000_000;
/// Most timer events handled per scan step (bounds the stack arrays).
const POLL_BUDGET: usize = 32;

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
    icmp_dest: crate::icmp::PerDestination,
    ra: ra::RaTimers,
    ident: u16,
    static_generation: u64,
    neighbor_epoch: u64,
    next_poll: u64,
    /// Packets dropped so far (wrapping), so a step can tell whether the
    /// packet it handed on was dropped.
    dropped: u64,
    /// Packets held for the translator, and a spare of the same room to
    /// replay them from (neither ever grows).
    held: Vec<Held<B>>,
    replay: Vec<Held<B>>,
    hold_cap: usize,
    replaying: bool,
    /// The fast path's next-hop rewrites ([`fast`]).
    adj: Box<[adjacency::Adjacency; adjacency::ADJ_SLOTS]>,
    /// Each port's layer-3 interface as the fast path needs it, for
    /// tables generation `fast_generation`.
    ingress: Box<[fast::Ingress; crate::iface::MAX_PORTS]>,
    fast_generation: u64,
    /// The flow cache ([`flow_cache`]), used while the translator is not idle.
    flows: flow_cache::FlowCache,
    /// Fragments of datagrams for the gateway ([`reassemble`]), and the
    /// room a whole one is taken into.
    frags: Reassembly<B>,
    pieces: Box<[Option<B>; MAX_FRAGMENTS]>,
    /// The identification of the gateway's own IPv6 fragments.
    ident6: u32,
    /// A packet is being wrapped, or unwrapped ([`tunnel`]): a second,
    /// nested, is refused.
    encapsulating: bool,
    decapsulating: bool,
    /// The layer-3 interface the packet being handled came in on.
    rx_if: u16,
    /// Frames for remote VXLAN VTEPs, to wrap and route ([`vxlan`]).
    vteps: bridge::VtepQueue<B>,
    vteps_spare: bridge::VtepQueue<B>,
    /// The fast path's last tunnel and VTEP ([`fast_unwrap`]).
    unwrap_memo: fast_unwrap::UnwrapMemo,
    /// This burst's last valid adjacency ([`adjacency::AdjMemo`]).
    adj_memo: adjacency::AdjMemo,
    /// UDP sockets on our addresses, and the built-in services on them.
    udp: UdpSockets<B>,
    services: udp::Services,
    /// TCP connections on our addresses ([`tcp`]), and the counts their
    /// segments and timers made since the counters last took them.
    tcp: crate::tcp::TcpTable<B>,
    tcp_counts: crate::tcp::ConnCounts,
    /// This worker among the others, for who owns a TCP connection.
    place: crate::tcp::Place,
    /// Unix time less `now`, in ms, for IPv4 timestamps ([`options`]);
    /// None until the wall clock is first read.
    wall_offset_ms: Option<i64>,
    /// What this worker may hand to the kernel ([`punt`]), and the
    /// conversations the kernel holds (shared by the workers).
    punt_limit: punt::PuntLimiter,
    conversations: std::sync::Arc<crate::conversations::Conversations>,
    /// The tunnels' path MTUs the underlay reported (shared by the
    /// workers; [`crate::path_mtu`]).
    path_mtus: std::sync::Arc<crate::path_mtu::PathMtus>,
    /// While a tunnel packet is routed: its path's reported MTU (else
    /// `u16::MAX`), which the outer packet is cut to fit.
    outer_mtu: u16,
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
            icmp_dest: crate::icmp::PerDestination::new(cfg.icmp_per_destination_rate, cfg.icmp_per_destination_burst),
            ra: ra::RaTimers::default(),
            ident: 0,
            static_generation: u64::MAX,
            neighbor_epoch: 0,
            next_poll: 0,
            dropped: 0,
            held: Vec::with_capacity(cfg.nat_hold),
            replay: Vec::with_capacity(cfg.nat_hold),
            hold_cap: cfg.nat_hold,
            replaying: false,
            adj: Box::new([adjacency::Adjacency::EMPTY; adjacency::ADJ_SLOTS]),
            ingress: Box::new([fast::Ingress::OFF; crate::iface::MAX_PORTS]),
            fast_generation: u64::MAX,
            flows: flow_cache::FlowCache::new(cfg.flow_cache, cfg.flow_fill),
            frags: Reassembly::new(cfg.reassembly),
            pieces: Box::new(std::array::from_fn(|_| None)),
            ident6: Secret::default().hash_one(0u8) as u32,
            encapsulating: false,
            decapsulating: false,
            rx_if: 0,
            vteps: Vec::with_capacity(bridge::VTEP_QUEUE),
            vteps_spare: Vec::with_capacity(bridge::VTEP_QUEUE),
            unwrap_memo: fast_unwrap::UnwrapMemo::EMPTY,
            adj_memo: adjacency::AdjMemo::NONE,
            udp: UdpSockets::default(),
            services: udp::Services::default(),
            tcp: crate::tcp::TcpTable::new(cfg.tcp),
            tcp_counts: crate::tcp::ConnCounts::default(),
            place: crate::tcp::Place::default(),
            wall_offset_ms: None,
            punt_limit: punt::PuntLimiter::new(cfg.punt),
            conversations: Default::default(),
            path_mtus: Default::default(),
            outer_mtu: u16::MAX,
            counters: Counters::default(),
        }
    }

    /// Tells this router which worker it is, of how many, and the seed
    /// every worker hashes a TCP connection's ends with: a segment for a
    /// connection another worker owns is handed to it.
    pub fn set_place(&mut self, place: crate::tcp::Place) {
        self.place = place;
    }

    /// Shares the table of the kernel twin's conversations with the other
    /// workers (one table per gateway: the worker that sends the kernel's
    /// frames notes them, every worker reads it).
    pub fn set_conversations(&mut self, c: std::sync::Arc<crate::conversations::Conversations>) {
        self.conversations = c;
    }

    /// Shares the tunnels' path MTU estimates with the other workers (one
    /// table per gateway: whichever worker the underlay's report reaches
    /// lowers the tunnels' MTU for all of them).
    pub fn set_path_mtus(&mut self, p: std::sync::Arc<crate::path_mtu::PathMtus>) {
        self.path_mtus = p;
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

    /// The reassembly table (its occupancy, for metrics).
    pub fn reassembly(&self) -> &Reassembly<B> {
        &self.frags
    }

    /// The neighbor cache (for the control plane's view and tests).
    pub fn neighbors(&self) -> &NeighborCache<B> {
        &self.neigh
    }

    /// The ways out of layer 2, borrowed together.
    #[inline(always)]
    fn l2(&mut self) -> L2<'_, B> {
        L2 { macs: &self.macs, counters: &mut self.counters, vteps: &mut self.vteps }
    }

    #[inline(always)]
    /// Drops the packet being handled, counted under `r`.
    fn drop(&mut self, r: DropReason) {
        self.dropped = self.dropped.wrapping_add(1);
        self.drop_n(r, 1);
    }

    fn drop_n(&mut self, r: DropReason, n: u64) {
        if let Some(c) = self.counters.drops.get_mut(r.index()) {
            *c += n;
        }
    }

    /// Counts `n` frames the caller dropped before the router saw them
    /// (the worker's checks on what a port handed over).
    pub fn count_dropped(&mut self, r: DropReason, n: u64) {
        self.drop_n(r, n);
        self.counters.rx += n;
    }

    /// Counts `n` packets that waited on neighbor entries evicted for new
    /// ones, and the cache's eviction counts.
    fn neighbor_evicted(&mut self, n: u64) {
        if n > 0 {
            self.drop_n(DropReason::NeighborEvicted, n);
        }
        self.note_neighbor_evictions();
    }

    /// Copies the neighbor cache's eviction counts into the counters.
    fn note_neighbor_evictions(&mut self) {
        let (incomplete, unconfirmed) = self.neigh.evictions();
        self.counters.neighbor_incomplete_evicted = incomplete;
        self.counters.neighbor_unconfirmed_evicted = unconfirmed;
    }

    /// Brings static neighbors in line with a new snapshot. Cheap when the
    /// generation has not changed; call once per burst.
    pub fn sync(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        let cx = &mut Burst { t, now, io };
        if cx.t.generation == self.static_generation {
            return;
        }
        self.static_generation = cx.t.generation;
        self.icmp_limit.set(cx.t.settings.icmp_rate, cx.t.settings.icmp_burst);
        self.icmp6_limit.set(cx.t.settings.icmp_rate, cx.t.settings.icmp_burst);
        let s = &cx.t.settings;
        self.icmp_dest.set(s.icmp_per_destination_rate, s.icmp_per_destination_burst);
        self.neigh.set_timers(&cx.t.settings.neighbor);
        self.sync_punt(cx.t);
        self.sync_bridges(cx.t);
        if cx.t.neighbor_epoch != self.neighbor_epoch {
            self.neighbor_epoch = cx.t.neighbor_epoch;
            let lost = self.neigh.flush_dynamic() as u64;
            if let Some(c) = self.counters.drops.get_mut(DropReason::NeighborFlushed.index()) {
                *c += lost;
            }
        }
        let statics = &cx.t.static_neighbors;
        self.neigh.retain_static(|i, ip| statics.iter().any(|s| s.ifindex == i && s.ip == ip));
        for s in statics {
            let Some(ifc) = cx.t.iface(s.ifindex) else { continue };
            let l2 = &mut L2 { macs: &self.macs, counters: &mut self.counters, vteps: &mut self.vteps };
            self.neigh.set_static(s.ifindex, s.ip, s.mac, cx.now, |p, mac| send_resolved(cx.t, l2, ifc, p, mac, cx.io));
        }
        self.send_vteps(cx);
    }

    /// Runs timers: ARP and ND retries, resolution failures, aging, Router
    /// Advertisements. Cheap to call every loop: the table is scanned at
    /// most every [`POLL_INTERVAL`].
    pub fn poll(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        let cx = &mut Burst { t, now, io };
        self.tcp_timers(cx);
        if cx.now < self.next_poll {
            return;
        }
        self.next_poll = cx.now + POLL_INTERVAL;
        self.read_wall_clock(cx.now);
        self.expire_held(cx.now);
        self.expire_fragments(cx, POLL_BUDGET);
        self.router_adverts_due(cx);
        self.age_macs(cx.t, cx.now);
        loop {
            // The cache hands events to a closure that cannot also borrow
            // the router, so they land in fixed arrays first.
            let mut probes = [(0u16, IpAddr::V4(Ipv4Addr::UNSPECIFIED), None::<MacAddr>); POLL_BUDGET];
            let mut failed: [Option<B>; POLL_BUDGET] = std::array::from_fn(|_| None);
            let (mut np, mut nf) = (0, 0);
            let complete = self.neigh.poll(cx.now, POLL_BUDGET, |e| match e {
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
                self.solicit(cx, ifindex, ip, mac);
            }
            for pkt in failed.iter_mut().take(nf).filter_map(Option::take) {
                if ip_version(&pkt) == 6 {
                    // RFC 4861 §7.2.2: Address Unreachable for each.
                    self.unresolved6(cx, pkt);
                    continue;
                }
                // Already forwarded once (TTL decremented); RFC 1812
                // §5.2.7.1 still asks for Host Unreachable.
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::HOST);
                self.icmp_error(cx, pkt, DropReason::NeighborUnresolved, m, c, 0);
            }
            if complete {
                return self.send_vteps(cx);
            }
        }
    }

    /// Processes one received frame to the end.
    #[inline]
    pub fn process(&mut self, t: &Tables, pkt: B, now: u64, io: &mut impl Io<B>) {
        self.receive(&mut Burst { t, now, io }, pkt);
    }

    /// The full path for a received frame: counted, then layer 2.
    pub(super) fn receive(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B) {
        self.counters.rx += 1;
        self.l2_input(cx, pkt);
        self.send_vteps(cx);
    }

    /// Runs a frame another worker handed over ([`Verdict::Handoff`](crate::Verdict::Handoff))
    /// through the router, as [`Router::process`] but not counted as
    /// received again; the translator is told `tag`.
    pub fn process_handed(&mut self, t: &Tables, pkt: B, tag: u8, now: u64, io: &mut impl Io<B>) {
        let cx = &mut Burst { t, now, io };
        self.nat.set_handed(Some(tag));
        self.l2_input(cx, pkt);
        self.nat.set_handed(None);
        self.send_vteps(cx);
    }

    /// Runs frames another worker handed over with tag 0 (the receiver
    /// owns their state), all received on `port`, as a burst: by the
    /// fast path where it can carry them, as [`Router::process_burst`],
    /// but not counted as received again. Every slot is emptied.
    pub fn process_handed_burst(
        &mut self,
        t: &Tables,
        port: u16,
        burst: &mut [Option<B>],
        now: u64,
        io: &mut impl Io<B>,
    ) {
        self.nat.set_handed(Some(0));
        let rx = self.counters.rx;
        self.process_burst(t, port, burst, now, io);
        self.counters.rx = rx;
        self.nat.set_handed(None);
    }

    pub(super) fn handoff(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, worker: u16, tag: u8) {
        match cx.io.handoff(pkt, worker, tag) {
            Ok(()) => self.counters.handed_off += 1,
            Err(pkt) => {
                drop(pkt);
                self.drop(DropReason::NatHandoffFull);
            }
        }
    }

    /// Layer-3 input on interface `ifindex` (the frame is untagged).
    #[inline]
    fn l3_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B) {
        let Ok(eth) = EthernetFrame::new_checked(pkt.data()) else {
            return self.drop(DropReason::EthTruncated);
        };
        let Some(ifc) = cx.t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
        self.rx_if = ifindex;
        let dst = eth.dst();
        if dst != ifc.mac && !dst.is_multicast() {
            return self.drop(DropReason::EthNotForUs);
        }
        if eth.src().is_multicast() {
            return self.drop(DropReason::EthBadSource);
        }
        match eth.ethertype() {
            EtherType::Ipv4 => self.ipv4_input(cx, pkt, dst.is_multicast()),
            EtherType::Arp => self.arp_input(cx, ifindex, ifc, pkt),
            EtherType::Ipv6 if ifc.ipv6() => self.ipv6_input(cx, ifindex, pkt, dst.is_multicast()),
            EtherType::Vlan | EtherType::QinQ => self.drop(DropReason::VlanNotConfigured),
            EtherType::Ipv6 => self.drop(DropReason::Ipv6Disabled),
            EtherType::Unknown(_) => self.drop(DropReason::EthUnknownType),
        }
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }
}

#[cfg(test)]
mod tests;

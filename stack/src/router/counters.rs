//! The router's per-worker counters, written by the owning worker only.

use crate::drop::DropReason;

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
    /// Packets the fast path carried ([`Router::process_burst`](crate::Router::process_burst); also
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

//! The router's settings: table sizes, ICMP rate limits, neighbor timers.
//! Part of every [`crate::Tables`] snapshot, so a change reaches the
//! workers with the next snapshot.

use crate::neigh::NeighborConfig;
use crate::reassembly::ReassemblyConfig;
use crate::tcp::TcpConfig;

/// Largest per-neighbor queue the router supports (fits the neighbor poll budget, `POLL_BUDGET`).
pub const MAX_NEIGHBOR_QUEUE: usize = 16;

/// Router settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    pub neighbor: NeighborConfig,
    /// ICMP errors per second per worker (0: never send errors).
    pub icmp_rate: u32,
    /// ICMP error burst.
    pub icmp_burst: u32,
    /// ICMP errors per second to any one destination (0: none), and the
    /// burst: a noisy source spends its own budget, not everyone's.
    /// Fragmentation Needed and Packet Too Big are held to this only,
    /// never to the worker-wide rate, so no one can starve another's
    /// Path MTU Discovery (as Linux does).
    pub icmp_per_destination_rate: u32,
    pub icmp_per_destination_burst: u32,
    /// Most MAC addresses the worker's MAC table holds over all bridges
    /// (each bridge also has its own bound).
    pub mac_capacity: usize,
    /// Most packets held for the translator ([`Verdict::Hold`](crate::Verdict::Hold): NAT
    /// fragments that came before their first).
    pub nat_hold: usize,
    /// Flows the fast path's flow cache holds (rounded up to a power of
    /// two, 64 bytes each; 0: no cache). See `router::flow_cache`.
    pub flow_cache: usize,
    /// The flow cache makes an entry for one fast-path packet of an
    /// uncached flow in this many (1: every one).
    pub flow_fill: u32,
    /// Bounds of the reassembly of datagrams addressed to the gateway.
    pub reassembly: ReassemblyConfig,
    /// The gateway's own TCP: its table's bounds and its timers.
    pub tcp: TcpConfig,
    /// What becomes of IPv4 packets with options.
    pub ipv4_options: OptionsPolicy,
    /// Bounds of the punt path to the kernel (`router::punt`).
    pub punt: PuntLimits,
}

/// How fast a worker hands packets to the kernel: per source address
/// and per interface, in packets per second with a burst. A flooding
/// source spends its own budget first; the interface's bounds what many
/// sources can do together there. The kernel's own conversations have a
/// budget of `rate` and `burst` of their own.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PuntLimits {
    pub rate: u32,
    pub burst: u32,
    pub source_rate: u32,
    pub source_burst: u32,
}

impl Default for PuntLimits {
    fn default() -> Self {
        PuntLimits { rate: 10_000, burst: 1_000, source_rate: 1_000, source_burst: 200 }
    }
}

/// What the router does with IPv4 options (RFC 1812 §5.2.4, RFC 7126).
/// Source routes are refused under either (RFC 7126 §4.3, §4.4).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum OptionsPolicy {
    /// Record Route and Timestamp are filled in, in forwarded packets and
    /// in echo replies (RFC 1812 §5.3.13, RFC 1122 §3.2.2.6); other
    /// options are carried.
    #[default]
    Process,
    /// Every packet with an option other than padding is dropped.
    Drop,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            neighbor: NeighborConfig::default(),
            icmp_rate: 1000,
            icmp_burst: 50,
            icmp_per_destination_rate: 20,
            icmp_per_destination_burst: 10,
            mac_capacity: 16384,
            nat_hold: 64,
            flow_cache: 16384,
            flow_fill: 8,
            reassembly: ReassemblyConfig::default(),
            tcp: TcpConfig::default(),
            ipv4_options: OptionsPolicy::Process,
            punt: PuntLimits::default(),
        }
    }
}

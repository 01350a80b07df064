//! The `arp`, `icmp`, `fast_path` and `reassembly` sections: neighbor
//! cache sizes and timers, ICMP error rate limits, the fast path's flow
//! cache, and the bounds of reassembly.

use super::*;

/// Neighbor cache tunables (per worker), for ARP and NDP entries alike:
/// one table holds both, so `capacity` bounds them together. IPv6
/// entries also wait 5 s in DELAY before their first unicast probe
/// (RFC 4861 §7.3.3).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArpConf {
    /// Most entries per worker; when full, idle entries are evicted, and
    /// if none can be, packets to a new neighbor are dropped and counted
    /// (`neighbor_table_full`).
    #[serde(default = "default_arp_capacity")]
    pub capacity: usize,
    /// Packets held per unresolved neighbor (1..=16).
    #[serde(default = "default_queue")]
    pub queue_len: usize,
    /// Requests (ARP) or solicitations (NDP, MAX_MULTICAST_SOLICIT)
    /// before a neighbor is declared unreachable.
    #[serde(default = "default_probes")]
    pub max_probes: u8,
    /// Milliseconds between requests.
    #[serde(default = "default_retry")]
    pub retry_ms: u64,
    /// Seconds a reply keeps an entry reachable before it is re-probed on use.
    #[serde(default = "default_reachable")]
    pub reachable_s: u64,
    /// Seconds an unused entry lives.
    #[serde(default = "default_gc")]
    pub gc_s: u64,
    /// Most entries per interface waiting for a reply (at least 1;
    /// `capacity` bounds them too). A
    /// new one over the bound evicts the interface's oldest waiting entry
    /// (`gateway_neighbor_incomplete_evicted_total`), never a resolved
    /// one, so a scan of a connected subnet cannot crowd out known hosts
    /// (RFC 6583).
    #[serde(default = "default_incomplete_limit")]
    pub incomplete_limit: usize,
    /// Most entries per interface learned from a request to the gateway
    /// and not yet confirmed by a reply (at least 1); over it, the
    /// interface's oldest such entry is evicted
    /// (`gateway_neighbor_unconfirmed_evicted_total`).
    #[serde(default = "default_unconfirmed_limit")]
    pub unconfirmed_limit: usize,
    /// New resolutions (first ARP request or Neighbor Solicitation for a
    /// neighbor) per second per interface, in bursts of a tenth of that;
    /// packets to a new neighbor over it are dropped
    /// (`neighbor_solicit_limited`). At least 1.
    #[serde(default = "default_solicit_rate")]
    pub solicit_rate: u32,
}

fn default_incomplete_limit() -> usize {
    256
}

fn default_unconfirmed_limit() -> usize {
    512
}

fn default_solicit_rate() -> u32 {
    1000
}

fn default_arp_capacity() -> usize {
    4096
}

fn default_queue() -> usize {
    8
}

fn default_probes() -> u8 {
    3
}

fn default_retry() -> u64 {
    1000
}

fn default_reachable() -> u64 {
    30
}

fn default_gc() -> u64 {
    600
}

impl Default for ArpConf {
    fn default() -> Self {
        ArpConf {
            capacity: default_arp_capacity(),
            queue_len: default_queue(),
            max_probes: default_probes(),
            retry_ms: default_retry(),
            reachable_s: default_reachable(),
            gc_s: default_gc(),
            incomplete_limit: default_incomplete_limit(),
            unconfirmed_limit: default_unconfirmed_limit(),
            solicit_rate: default_solicit_rate(),
        }
    }
}

/// ICMP error generation: a token bucket per worker, and one per
/// destination within it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IcmpConf {
    /// Errors per second per worker; 0 sends none.
    #[serde(default = "default_icmp_rate")]
    pub rate: u32,
    /// Burst size.
    #[serde(default = "default_icmp_burst")]
    pub burst: u32,
    /// Errors per second to any one destination (0: none), so one noisy
    /// source spends its own budget, not everyone's. Fragmentation
    /// Needed and Packet Too Big are held to this alone, never to `rate`,
    /// so no one can starve another's Path MTU Discovery.
    #[serde(default = "default_icmp_per_destination_rate")]
    pub per_destination_rate: u32,
    /// Burst size per destination.
    #[serde(default = "default_icmp_per_destination_burst")]
    pub per_destination_burst: u32,
}

fn default_icmp_per_destination_rate() -> u32 {
    20
}

fn default_icmp_per_destination_burst() -> u32 {
    10
}

fn default_icmp_rate() -> u32 {
    1000
}

fn default_icmp_burst() -> u32 {
    50
}

impl Default for IcmpConf {
    fn default() -> Self {
        IcmpConf {
            rate: default_icmp_rate(),
            burst: default_icmp_burst(),
            per_destination_rate: default_icmp_per_destination_rate(),
            per_destination_burst: default_icmp_per_destination_burst(),
        }
    }
}

/// IPv4 handling a router is expected to let operators choose (RFC 7126).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ipv4Conf {
    /// What becomes of packets with IPv4 options, forwarded or for the
    /// gateway. Source-routed packets are dropped under either (counted
    /// as `ipv4_source_route`).
    #[serde(default)]
    pub options: Ipv4Options,
}

impl Ipv4Conf {
    pub(super) fn is_default(&self) -> bool {
        *self == Ipv4Conf::default()
    }
}

/// The policy for IPv4 options.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ipv4Options {
    /// Record Route and Timestamp are filled in as RFC 791 says, in
    /// forwarded packets and in echo replies; other options are carried.
    #[default]
    Process,
    /// Packets with any option but padding are dropped
    /// (`ipv4_options_refused`), as many operators do.
    Drop,
}

impl From<Ipv4Options> for stack::OptionsPolicy {
    fn from(o: Ipv4Options) -> Self {
        match o {
            Ipv4Options::Process => stack::OptionsPolicy::Process,
            Ipv4Options::Drop => stack::OptionsPolicy::Drop,
        }
    }
}

/// The fast path's flow cache (`stack::router::flows`): each worker
/// remembers what it decided for an established TCP or UDP flow (the
/// next hop and the NAT translation), so the flow's later packets skip
/// the lookups, until anything the decision rests on changes (routes,
/// neighbors, NAT rules, the session). Used while NAT is configured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FastPathConf {
    /// Flows each worker's cache holds (0..=4194304, rounded up to a
    /// power of two; 64 bytes each, taken at start; 0: no cache). A new
    /// flow takes the place of the one in its slot.
    #[serde(default = "default_flow_cache")]
    pub flow_cache: usize,
    /// The cache takes a flow in at one of its uncached fast-path packets
    /// in this many (1..=1024): with far more flows live than it holds,
    /// it spends no write on flows it would forget before their next
    /// packet, and long flows still get in after a few packets.
    #[serde(default = "default_flow_fill")]
    pub flow_fill: u32,
}

fn default_flow_cache() -> usize {
    16384
}

fn default_flow_fill() -> u32 {
    8
}

impl Default for FastPathConf {
    fn default() -> Self {
        FastPathConf { flow_cache: default_flow_cache(), flow_fill: default_flow_fill() }
    }
}

impl FastPathConf {
    pub(super) fn is_default(&self) -> bool {
        *self == FastPathConf::default()
    }
}

/// Reassembly of fragmented datagrams addressed to the gateway (per
/// worker; see `docs/fragments.md`). Transit fragments are forwarded as
/// they are and never held. When the contexts or the buffers are all
/// taken, the oldest datagram in progress is dropped for the new one
/// (`reassembly_evicted`), so fragments that never complete cannot
/// block those that do.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassemblyConf {
    /// Datagrams in progress at once (1..=32768).
    #[serde(default = "default_reasm_contexts")]
    pub contexts: usize,
    /// Fragments one datagram may come in (2..=128); more drop it
    /// (`reassembly_too_many_fragments`).
    #[serde(default = "default_reasm_fragments")]
    pub fragments: usize,
    /// Fragments held over all datagrams (1..=32768); they are packet
    /// buffers of the pool (`dpdk.mbufs`), so keep this well below it.
    #[serde(default = "default_reasm_buffers")]
    pub buffers: usize,
    /// Datagrams one source address may have in progress (1..=contexts),
    /// and the same share of the buffers; past it, its own oldest
    /// datagram is dropped (`reassembly_source_limit`), so one flooding
    /// address cannot push out anyone else's.
    #[serde(default = "default_reasm_per_source")]
    pub per_source: usize,
    /// Milliseconds a datagram may take to come together (100..=120000);
    /// then its fragments are dropped (`reassembly_timeout`) and the
    /// sender gets Time Exceeded if its first fragment came.
    #[serde(default = "default_reasm_timeout")]
    pub timeout_ms: u64,
}

fn default_reasm_contexts() -> usize {
    256
}

fn default_reasm_fragments() -> usize {
    64
}

fn default_reasm_buffers() -> usize {
    1024
}

fn default_reasm_per_source() -> usize {
    32
}

fn default_reasm_timeout() -> u64 {
    30_000
}

impl Default for ReassemblyConf {
    fn default() -> Self {
        ReassemblyConf {
            contexts: default_reasm_contexts(),
            fragments: default_reasm_fragments(),
            buffers: default_reasm_buffers(),
            per_source: default_reasm_per_source(),
            timeout_ms: default_reasm_timeout(),
        }
    }
}

impl ReassemblyConf {
    pub fn is_default(&self) -> bool {
        *self == ReassemblyConf::default()
    }
}

impl Config {
    /// Table sizes and timers in range (`arp`, `l2`, `fast_path`).
    pub(super) fn validate_limits(&self, errs: &mut Vec<ConfigError>) {
        let a = &self.arp;
        if !(1..=16_000_000).contains(&a.capacity) {
            errs.push(err("arp.capacity", format!("{} is outside 1..=16000000", a.capacity)));
        }
        if !(1..=stack::settings::MAX_NEIGHBOR_QUEUE).contains(&a.queue_len) {
            errs.push(err(
                "arp.queue_len",
                format!("{} is outside 1..={}", a.queue_len, stack::settings::MAX_NEIGHBOR_QUEUE),
            ));
        }
        if a.max_probes == 0 {
            errs.push(err("arp.max_probes", "at least one request must be sent"));
        }
        if a.retry_ms == 0 {
            errs.push(err("arp.retry_ms", "must be above 0"));
        }
        if a.reachable_s == 0 {
            errs.push(err("arp.reachable_s", "must be above 0"));
        }
        if a.gc_s < a.reachable_s {
            errs.push(err("arp.gc_s", "must be at least arp.reachable_s"));
        }
        for (field, v) in [("arp.incomplete_limit", a.incomplete_limit), ("arp.unconfirmed_limit", a.unconfirmed_limit)]
        {
            if !(1..=16_000_000).contains(&v) {
                errs.push(err(field, format!("{v} is outside 1..=16000000")));
            }
        }
        if a.solicit_rate == 0 {
            errs.push(err("arp.solicit_rate", "must be above 0, or no neighbor could ever be resolved"));
        }
        if !(1..=16_000_000).contains(&self.l2.mac_capacity) {
            errs.push(err("l2.mac_capacity", format!("{} is outside 1..=16000000", self.l2.mac_capacity)));
        }
        if self.fast_path.flow_cache > 1 << 22 {
            errs.push(err("fast_path.flow_cache", format!("{} is outside 0..=4194304", self.fast_path.flow_cache)));
        }
        if !(1..=1024).contains(&self.fast_path.flow_fill) {
            errs.push(err("fast_path.flow_fill", format!("{} is outside 1..=1024", self.fast_path.flow_fill)));
        }
        let r = &self.reassembly;
        let max = stack::reassembly::MAX_ENTRIES;
        if !(1..=max).contains(&r.contexts) {
            errs.push(err("reassembly.contexts", format!("{} is outside 1..={max}", r.contexts)));
        }
        if !(2..=stack::reassembly::MAX_FRAGMENTS).contains(&r.fragments) {
            let m = stack::reassembly::MAX_FRAGMENTS;
            errs.push(err("reassembly.fragments", format!("{} is outside 2..={m}", r.fragments)));
        }
        if !(1..=max).contains(&r.buffers) {
            errs.push(err("reassembly.buffers", format!("{} is outside 1..={max}", r.buffers)));
        }
        if !(1..=r.contexts.max(1)).contains(&r.per_source) {
            errs.push(err(
                "reassembly.per_source",
                format!("{} is outside 1..={} (reassembly.contexts)", r.per_source, r.contexts),
            ));
        }
        if !(100..=120_000).contains(&r.timeout_ms) {
            errs.push(err("reassembly.timeout_ms", format!("{} is outside 100..=120000", r.timeout_ms)));
        }
    }
}

//! The gateway's configuration: one YAML file.
//!
//! Every struct rejects unknown fields; [`Config::validate`] returns every
//! problem at once, each naming its field by path (`interfaces[1].ipv4[0]`).

use serde::{Deserialize, Serialize};
use stack::wire::ipv6::is_link_local;
use stack::wire::MacAddr;
use stack::{IpCidr, Ipv4Cidr, Ipv6Cidr};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use utoipa::ToSchema;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// DPDK environment settings.
    #[serde(default)]
    pub dpdk: Dpdk,
    /// Worker threads.
    #[serde(default)]
    pub workers: Workers,
    /// Network ports, by PCI address or DPDK virtual device.
    pub ports: Vec<PortConf>,
    /// Layer-3 interfaces: on a port (untagged), on one VLAN of a port,
    /// or on a bridge (its routed interface).
    #[serde(default)]
    pub interfaces: Vec<InterfaceConf>,
    /// Bridge domains: ports and VLANs switched together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<BridgeConf>,
    /// Static routes, IPv4 and IPv6.
    #[serde(default)]
    pub routes: Vec<RouteConf>,
    /// Static neighbor entries (ARP for IPv4, NDP for IPv6).
    #[serde(default)]
    pub neighbors: Vec<NeighborConf>,
    /// Neighbor cache tunables, for ARP and NDP entries alike.
    #[serde(default)]
    pub arp: ArpConf,
    /// ICMP error generation.
    #[serde(default)]
    pub icmp: IcmpConf,
    /// MAC table sizing, for all bridges.
    #[serde(default)]
    pub l2: L2Conf,
    /// The workers' fast path: its flow cache.
    #[serde(default, skip_serializing_if = "FastPathConf::is_default")]
    pub fast_path: FastPathConf,
    /// Source NAT (NAT44): rules, filtering, timeouts and bounds.
    #[serde(default, skip_serializing_if = "NatConf::is_default")]
    pub nat: NatConf,
    /// Management listener (`/healthz`, `/metrics`).
    #[serde(default)]
    pub management: Management,
}

/// DPDK environment settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dpdk {
    /// Extra EAL arguments, e.g. `["--no-huge", "-m", "512"]`. The gateway
    /// adds `--vdev`/`-a` for each port, and `-l 0` unless a core list is given.
    #[serde(default)]
    pub eal_args: Vec<String>,
    /// Mbufs in the packet pool (2^n - 1 is most memory-efficient).
    #[serde(default = "default_mbufs")]
    pub mbufs: u32,
}

fn default_mbufs() -> u32 {
    16383
}

impl Default for Dpdk {
    fn default() -> Self {
        Dpdk { eal_args: vec![], mbufs: default_mbufs() }
    }
}

/// Worker threads.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Workers {
    /// CPU cores to run workers on, one worker per core.
    #[serde(default = "default_cores")]
    pub cores: Vec<usize>,
    /// Microseconds a worker sleeps after 1024 empty polls in a row; 0
    /// (the default) polls without pause, as a production gateway should.
    #[serde(default)]
    pub idle_sleep_us: u32,
}

fn default_cores() -> Vec<usize> {
    vec![1]
}

impl Default for Workers {
    fn default() -> Self {
        Workers { cores: default_cores(), idle_sleep_us: 0 }
    }
}

/// A network port.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortConf {
    /// Name that interfaces refer to.
    pub name: String,
    /// PCI address of a DPDK-bound NIC, e.g. `0000:01:00.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci: Option<String>,
    /// DPDK virtual device string, e.g. `net_af_packet0,iface=veth0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdev: Option<String>,
    /// MAC address to use instead of the device's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Receive frames for any MAC (the gateway still only routes its own).
    #[serde(default)]
    pub promiscuous: bool,
    /// RX descriptors per queue.
    #[serde(default = "default_desc")]
    pub rx_desc: u16,
    /// TX descriptors per queue.
    #[serde(default = "default_desc")]
    pub tx_desc: u16,
}

fn default_desc() -> u16 {
    1024
}

impl PortConf {
    /// The DPDK device name: the PCI address, or the vdev string up to its first comma.
    pub fn device(&self) -> String {
        match (&self.pci, &self.vdev) {
            (Some(p), _) => p.clone(),
            (None, Some(v)) => v.split(',').next().unwrap_or_default().to_string(),
            (None, None) => String::new(),
        }
    }
}

/// A layer-3 interface: on a port, on a VLAN of a port (a sub-interface,
/// conventionally named `PORT.VID`), or on a bridge (`bridge:` instead of
/// `port:`; the gateway's address then lives on the bridge, and hosts on
/// any member reach it).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceConf {
    /// Name for logs and the API.
    pub name: String,
    /// The port's name (give this or `bridge`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub port: String,
    /// 802.1Q VLAN id (1..=4094): the interface takes the frames tagged
    /// with it on `port` and tags what it sends. Without it, the
    /// interface takes the port's untagged frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// The bridge this interface is the routed interface (BVI) of (give
    /// this or `port`). Its MAC is the first member port's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// IP MTU in bytes (68..=9000).
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// IPv4 addresses as `ADDRESS/LENGTH`; the first is the primary.
    #[serde(default)]
    pub ipv4: Vec<String>,
    /// IPv6 addresses as `ADDRESS/LENGTH` (global or unique-local, e.g.
    /// `fd00:1::1/64`). Any IPv6 address turns IPv6 on here; the interface
    /// then also gets a link-local address, fe80::/64 from the port's MAC
    /// by modified EUI-64 (RFC 4291 §2.5.6), which neighbors use as their
    /// next hop when they learn routes from our advertisements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6: Vec<String>,
    /// Send Router Advertisements here (RFC 4861 §6), so hosts configure
    /// an address (SLAAC) and a default route from them. Needs IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ra: Option<RaConf>,
}

/// A bridge domain (IEEE 802.1Q transparent bridging, without spanning
/// tree: do not close loops between members).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeConf {
    /// Name for the API; an interface with `bridge: NAME` routes for it.
    pub name: String,
    /// Member ports and VLANs. Each (port, VLAN) belongs to one bridge
    /// or one interface.
    #[serde(default)]
    pub members: Vec<MemberConf>,
    /// Most MAC addresses learned on this bridge, per worker
    /// (1..=1000000). At the bound, new stations are not learned: frames
    /// to them are flooded, and `gateway_mac_learn_full_total` counts it.
    #[serde(default = "default_mac_limit")]
    pub mac_limit: u32,
    /// Seconds a learned address lives without a frame from it (10..=1000000;
    /// IEEE 802.1Q's default is 300).
    #[serde(default = "default_aging")]
    pub aging_s: u32,
}

/// A bridge member: a port's untagged frames (access), or one VLAN of a
/// port (trunk: the tag is popped on the way in and pushed on the way out).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberConf {
    /// The port's name. It must be `promiscuous: true`: a bridge receives
    /// frames for every station.
    pub port: String,
    /// 802.1Q VLAN id (1..=4094) for a trunk member; none for access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

fn default_mac_limit() -> u32 {
    4096
}
fn default_aging() -> u32 {
    300
}

/// MAC table sizing.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct L2Conf {
    /// Most MAC addresses per worker over all bridges (1..=16000000); the
    /// memory is taken at start. When it is full, no bridge learns more.
    #[serde(default = "default_mac_capacity")]
    pub mac_capacity: usize,
}

fn default_mac_capacity() -> usize {
    65536
}

impl Default for L2Conf {
    fn default() -> Self {
        L2Conf { mac_capacity: default_mac_capacity() }
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
    fn is_default(&self) -> bool {
        *self == FastPathConf::default()
    }
}

/// NAT44 (crate `nat`): source NAT of inside prefixes leaving through an
/// outside interface, port forwards and static 1:1 mappings, after RFC
/// 4787, 5382, 5508, 6888 and 7857.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatConf {
    /// Source NAT rules, first match wins.
    #[serde(default)]
    pub rules: Vec<NatRuleConf>,
    /// Port forwards (destination NAT), with hairpinning: inside hosts
    /// reach a forwarded service by its outside address too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwards: Vec<NatForwardConf>,
    /// Static 1:1 mappings: one outside address stands for one inside
    /// host, every port and protocol, both ways, statelessly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statics: Vec<NatStaticConf>,
    /// Which inbound packets a mapping lets in: `endpoint-independent`
    /// (any outside host, the default, RFC 4787 REQ-8) or
    /// `address-dependent` (only hosts the inside endpoint sent to).
    #[serde(default = "default_filtering")]
    pub filtering: String,
    /// Outside ports (and ICMP identifiers) handed out, `[low, high]`
    /// (1..=65535). An inside port inside the range is kept if free.
    #[serde(default = "default_nat_ports")]
    pub port_range: [u16; 2],
    /// Idle timeouts.
    #[serde(default)]
    pub timeouts: NatTimeoutsConf,
    /// Most sessions per worker (1..=16000000; default 262144); the
    /// memory is taken at start (at most 128 bytes a session, its mapping,
    /// index and timer room and a quarter of a subscriber's included).
    /// Restart-only.
    #[serde(default = "default_nat_sessions")]
    pub max_sessions: usize,
    /// Most subscribers (inside addresses holding mappings) per worker;
    /// 0 (the default): a quarter of `max_sessions`. Past it a new
    /// subscriber's flow is refused like a full table (`nat_session_limit`,
    /// ICMP 3/13). At most `max_sessions`. Restart-only.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_subscribers: usize,
    /// Fragmented datagrams in flight whose translation each worker
    /// remembers from the first fragment, for the later ones (RFC 4787
    /// REQ-14; 16..=1048576, rounded up to a power of two; default 1024;
    /// 32 bytes each). Restart-only.
    #[serde(default = "default_fragment_records")]
    pub fragment_records: usize,
    /// Later fragments each worker holds while their first fragment has
    /// not come (out of order; 0..=4096, default 64, 1 s at most each;
    /// past it they are dropped and counted, so fragments never crowd
    /// out whole packets, RFC 4787 REQ-14a). Restart-only.
    #[serde(default = "default_fragment_hold")]
    pub fragment_hold: usize,
    /// Most sessions one inside address holds (RFC 6888 REQ-4).
    #[serde(default = "default_subscriber_sessions")]
    pub subscriber_sessions: u32,
    /// Most outside ports one inside address holds (RFC 6888 REQ-5).
    /// With port blocks, rounded up to whole blocks.
    #[serde(default = "default_subscriber_ports")]
    pub subscriber_ports: u32,
    /// Port-block allocation: each subscriber is given blocks of this
    /// many consecutive outside ports (every protocol) and its mappings
    /// take ports from them, so the log has one record per block instead
    /// of one per mapping. 0 (the default): ports one at a time. Else
    /// 8..=4096, and at most the port range's size. A block left empty
    /// goes back, except the subscriber's last, which goes with it.
    /// Changing it ends every session.
    #[serde(default, skip_serializing_if = "is_default")]
    pub port_block: u16,
    /// Where port-block (or, without blocks, mapping) records go. Absent:
    /// nothing is logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<NatLogConf>,
}

/// The NAT log: one line per port block given or taken back (or per
/// mapping made or ended, without blocks), with the subscriber, the
/// outside address, the ports and the time; never a destination (RFC
/// 6888 REQ-12). At least one of `file` and `syslog`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatLogConf {
    /// Appended to (absolute path); reopened when it is moved or removed
    /// (log rotation needs no signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A syslog receiver: a Unix datagram socket's absolute path
    /// (`/dev/log`) or `ADDRESS:PORT` over UDP (`192.0.2.10:514`). RFC 5424
    /// messages, facility local0, severity info, app name `gatewayd`,
    /// message id `nat44`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog: Option<String>,
}

/// For `skip_serializing_if`: the field holds its default (0, off).
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// One source NAT rule.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatRuleConf {
    /// Inside prefix, e.g. `10.0.1.0/24`: sources translated.
    pub inside: String,
    /// The interface (by name) whose outbound packets are translated.
    pub outside_interface: String,
    /// Outside addresses, each an address or a prefix (`100.64.0.0/26`
    /// stands for its 64 addresses); at most 1024 over all rules. Empty:
    /// the outside interface's first IPv4 address (masquerade). Each
    /// inside address keeps one of them ("paired" pooling, RFC 4787
    /// REQ-2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pool: Vec<String>,
}

/// A port forward: `protocol` packets to `outside` go to `inside`; the
/// inside server's replies leave from `outside`. Admits any remote
/// (filtering does not apply); the outside port is never handed out to
/// a dynamic mapping. A forward added or removed ends no other session,
/// unless it brings a new outside address.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatForwardConf {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Outside endpoint, `ADDRESS:PORT` (`203.0.113.1:8080`). The address
    /// is the gateway's (an interface or pool address) or routed to it.
    pub outside: String,
    /// Inside endpoint, `ADDRESS:PORT` (`10.0.1.2:80`).
    pub inside: String,
}

/// A static 1:1 mapping: packets to `outside` go to `inside` (ports kept),
/// and packets from `inside` leaving through `outside_interface` come
/// from `outside`. Every protocol, fragments included; no state.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatStaticConf {
    /// Outside address (not an interface's own address, a pool address or
    /// a forward's). In an interface's subnet the gateway answers ARP for
    /// it there (proxy ARP); otherwise route it to the gateway upstream.
    pub outside: String,
    /// Inside host's address.
    pub inside: String,
    /// The interface (by name) whose outbound packets from `inside` are
    /// translated.
    pub outside_interface: String,
}

/// NAT idle timeouts, in seconds; each at least its RFC's minimum.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatTimeoutsConf {
    /// UDP (RFC 4787 REQ-5: at least 120; default 300).
    #[serde(default = "default_udp_timeout")]
    pub udp_s: u32,
    /// Established TCP (RFC 5382 REQ-5: at least 7440).
    #[serde(default = "default_tcp_established")]
    pub tcp_established_s: u32,
    /// TCP opening, closing or reset (RFC 5382 REQ-5, RFC 7857: at least 240).
    #[serde(default = "default_tcp_transitory")]
    pub tcp_transitory_s: u32,
    /// ICMP query (RFC 5508 REQ-1: at least 60).
    #[serde(default = "default_icmp_timeout")]
    pub icmp_s: u32,
}

fn default_filtering() -> String {
    "endpoint-independent".into()
}
fn default_nat_ports() -> [u16; 2] {
    [1024, 65535]
}
fn default_nat_sessions() -> usize {
    1 << 18
}
fn default_fragment_records() -> usize {
    1024
}
fn default_fragment_hold() -> usize {
    64
}
fn default_subscriber_sessions() -> u32 {
    16384
}
fn default_subscriber_ports() -> u32 {
    8192
}
fn default_udp_timeout() -> u32 {
    300
}
fn default_tcp_established() -> u32 {
    7440
}
fn default_tcp_transitory() -> u32 {
    240
}
fn default_icmp_timeout() -> u32 {
    60
}

impl Default for NatTimeoutsConf {
    fn default() -> Self {
        NatTimeoutsConf {
            udp_s: default_udp_timeout(),
            tcp_established_s: default_tcp_established(),
            tcp_transitory_s: default_tcp_transitory(),
            icmp_s: default_icmp_timeout(),
        }
    }
}

impl Default for NatConf {
    fn default() -> Self {
        NatConf {
            rules: Vec::new(),
            forwards: Vec::new(),
            statics: Vec::new(),
            filtering: default_filtering(),
            port_range: default_nat_ports(),
            timeouts: NatTimeoutsConf::default(),
            max_sessions: default_nat_sessions(),
            max_subscribers: 0,
            fragment_records: default_fragment_records(),
            fragment_hold: default_fragment_hold(),
            subscriber_sessions: default_subscriber_sessions(),
            subscriber_ports: default_subscriber_ports(),
            port_block: 0,
            log: None,
        }
    }
}

impl NatConf {
    fn is_default(&self) -> bool {
        *self == NatConf::default()
    }
}

/// Router Advertisement settings (RFC 4861 §6.2.1).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaConf {
    /// Seconds between unsolicited advertisements (MaxRtrAdvInterval,
    /// 4..=1800). The first three after start come at most 16 s apart;
    /// solicitations are answered at once (at most one every 3 s).
    #[serde(default = "default_ra_interval")]
    pub interval_s: u32,
    /// Seconds hosts may use the gateway as default router (0..=9000,
    /// at least `interval_s` unless 0; 0: not a default router).
    #[serde(default = "default_ra_lifetime")]
    pub router_lifetime_s: u32,
    /// Hop limit hosts should use for their packets (0: unspecified).
    #[serde(default = "default_ra_hop_limit")]
    pub hop_limit: u8,
    /// Managed flag: addresses come from DHCPv6.
    #[serde(default)]
    pub managed: bool,
    /// Other-configuration flag: other settings come from DHCPv6.
    #[serde(default)]
    pub other: bool,
    /// Advertise the interface's MTU in an MTU option.
    #[serde(default = "default_true")]
    pub advertise_mtu: bool,
    /// Prefixes to advertise. Empty (the default): the prefix of every
    /// IPv6 address of the interface, autonomous if it is a /64.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<RaPrefixConf>,
}

/// One advertised prefix (RFC 4861 §4.6.2).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaPrefixConf {
    /// `PREFIX/LENGTH`, e.g. `fd00:1::/64`.
    pub prefix: String,
    /// Seconds addresses from it stay valid (default 2592000, 30 days).
    #[serde(default = "default_valid_lifetime")]
    pub valid_lifetime_s: u32,
    /// Seconds they stay preferred (default 604800, 7 days; at most the valid lifetime).
    #[serde(default = "default_preferred_lifetime")]
    pub preferred_lifetime_s: u32,
    /// Hosts may form addresses in it by SLAAC (RFC 4862; needs a /64).
    #[serde(default = "default_true")]
    pub autonomous: bool,
    /// The prefix is on this link: hosts reach its addresses directly.
    #[serde(default = "default_true")]
    pub on_link: bool,
}

fn default_ra_interval() -> u32 {
    600
}
fn default_ra_lifetime() -> u32 {
    1800
}
fn default_ra_hop_limit() -> u8 {
    64
}
fn default_true() -> bool {
    true
}
fn default_valid_lifetime() -> u32 {
    2_592_000
}
fn default_preferred_lifetime() -> u32 {
    604_800
}

impl Default for RaConf {
    fn default() -> Self {
        RaConf {
            interval_s: default_ra_interval(),
            router_lifetime_s: default_ra_lifetime(),
            hop_limit: default_ra_hop_limit(),
            managed: false,
            other: false,
            advertise_mtu: true,
            prefixes: vec![],
        }
    }
}

fn default_mtu() -> u16 {
    1500
}

/// What a route does.
#[derive(Copy, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    /// Forward via the gateways in `via`.
    #[default]
    Unicast,
    /// Answer ICMP Host Unreachable.
    Unreachable,
    /// Drop silently.
    Blackhole,
}

/// A static route, IPv4 or IPv6.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConf {
    /// Destination prefix, `ADDRESS/LENGTH` (`10.9.0.0/16`, `2001:db8:2::/48`).
    pub dst: String,
    /// Gateways of the destination's family; more than one makes an ECMP
    /// route. An IPv4 or global IPv6 gateway must be in a connected subnet;
    /// a link-local IPv6 gateway names its interface: `fe80::1%wan`.
    #[serde(default)]
    pub via: Vec<String>,
    /// Route type (default `unicast`).
    #[serde(default, rename = "type")]
    pub kind: RouteType,
}

/// A static neighbor entry (ARP or NDP).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeighborConf {
    /// The interface's name.
    pub interface: String,
    /// Neighbor IPv4 or IPv6 address.
    pub ip: String,
    /// Its MAC address.
    pub mac: String,
}

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
        }
    }
}

/// ICMP error generation (per worker token bucket).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IcmpConf {
    /// Errors per second per worker; 0 sends none.
    #[serde(default = "default_icmp_rate")]
    pub rate: u32,
    /// Burst size.
    #[serde(default = "default_icmp_burst")]
    pub burst: u32,
}

fn default_icmp_rate() -> u32 {
    1000
}
fn default_icmp_burst() -> u32 {
    50
}

impl Default for IcmpConf {
    fn default() -> Self {
        IcmpConf { rate: default_icmp_rate(), burst: default_icmp_burst() }
    }
}

/// The management listener: the REST API, `/metrics` and `/healthz`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Management {
    /// `ADDRESS:PORT` to listen on. Default `127.0.0.1:8080`: only local
    /// processes reach the API unless you say otherwise.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// API tokens. Every endpoint but `/healthz` needs one, sent as
    /// `Authorization: Bearer TOKEN`; with no tokens, nothing but
    /// `/healthz` answers. `gatewayd token add` creates one.
    #[serde(default)]
    pub tokens: Vec<TokenConf>,
    /// Append-only audit log of every change (JSON lines). Default: empty,
    /// meaning `gatewayd-audit.jsonl` beside the config file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audit_log: String,
    /// Largest request body the API accepts, in bytes (1024..=67108864).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_body() -> usize {
    1 << 20
}

impl Default for Management {
    fn default() -> Self {
        Management {
            listen: default_listen(),
            tokens: vec![],
            audit_log: String::new(),
            max_body_bytes: default_max_body(),
        }
    }
}

/// What a token may do.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything: GET endpoints and `/metrics`.
    Readonly,
    /// Read and change everything.
    Admin,
}

/// An API token. Only the token's SHA-256 is stored: the token itself is
/// 32 random bytes shown once, when it is made.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenConf {
    /// Name recorded in the audit log.
    pub name: String,
    pub role: Role,
    /// Lower-case hex SHA-256 of the token (64 characters).
    pub sha256: String,
}

/// One problem with a config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, ToSchema)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// Path of the offending field, e.g. `routes[2].via[0]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Makes a [`ConfigError`].
pub fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

/// Most ports, as the dataplane's port table.
pub const MAX_PORTS: usize = stack::iface::MAX_PORTS;
/// Most members of one bridge (a flood makes one copy per member).
pub const MAX_MEMBERS: usize = 64;

impl Config {
    /// Parses YAML text (syntax and unknown fields only).
    pub fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        serde_yaml::from_str(text).map_err(|e| {
            let field = e.location().map(|l| format!("line {} column {}", l.line(), l.column())).unwrap_or_default();
            vec![err(field, e.to_string())]
        })
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let text = std::fs::read_to_string(path).map_err(|e| vec![err(path.display().to_string(), e.to_string())])?;
        let c = Config::parse(&text)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks meaning; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errs = Vec::new();
        // Online CPUs, not this thread's affinity: once EAL runs, the main
        // thread is pinned to one core, and changes are validated there.
        // SAFETY: sysconf has no preconditions.
        let cpus = usize::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).unwrap_or(1).max(1);
        if self.workers.cores.is_empty() {
            errs.push(err("workers.cores", "at least one core is needed"));
        }
        let mut seen_cores = HashSet::new();
        for (i, &c) in self.workers.cores.iter().enumerate() {
            if c >= cpus {
                errs.push(err(
                    format!("workers.cores[{i}]"),
                    format!("core {c} does not exist (this machine has {cpus})"),
                ));
            }
            if !seen_cores.insert(c) {
                errs.push(err(format!("workers.cores[{i}]"), format!("core {c} is listed twice")));
            }
        }
        if self.dpdk.mbufs < 1023 {
            errs.push(err("dpdk.mbufs", "at least 1023 mbufs are needed"));
        }
        if self.ports.is_empty() {
            errs.push(err("ports", "at least one port is needed"));
        }
        if self.ports.len() > MAX_PORTS {
            errs.push(err("ports", format!("at most {MAX_PORTS} ports")));
        }
        let mut port_names = HashSet::new();
        let mut devices = HashSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            let f = |s: &str| format!("ports[{i}].{s}");
            if p.name.is_empty() {
                errs.push(err(f("name"), "must not be empty"));
            } else if !port_names.insert(p.name.as_str()) {
                errs.push(err(f("name"), format!("port name '{}' is used twice", p.name)));
            }
            match (&p.pci, &p.vdev) {
                (Some(_), Some(_)) => errs.push(err(f("pci"), "give either pci or vdev, not both")),
                (None, None) => errs.push(err(f("vdev"), "give either pci (a NIC) or vdev (a virtual device)")),
                (Some(pci), None) if !is_pci_address(pci) => {
                    errs.push(err(f("pci"), format!("'{pci}' is not a PCI address like 0000:01:00.0")))
                }
                (None, Some(v)) if v.is_empty() || v.starts_with(',') => {
                    errs.push(err(f("vdev"), "must start with a driver name, e.g. net_af_packet0,iface=veth0"))
                }
                _ => {}
            }
            if !p.device().is_empty() && !devices.insert(p.device()) {
                errs.push(err(f("vdev"), format!("device '{}' is used by two ports", p.device())));
            }
            if let Some(m) = &p.mac {
                match m.parse::<MacAddr>() {
                    Ok(mac) if mac.is_multicast() || mac == MacAddr::ZERO => {
                        errs.push(err(f("mac"), format!("'{m}' is not a unicast MAC address")))
                    }
                    Ok(_) => {}
                    Err(_) => errs.push(err(f("mac"), format!("'{m}' is not a MAC address like 02:00:00:00:00:01"))),
                }
            }
            for (name, v) in [("rx_desc", p.rx_desc), ("tx_desc", p.tx_desc)] {
                if !(64..=16384).contains(&v) {
                    errs.push(err(f(name), format!("{v} is outside 64..=16384")));
                }
            }
        }
        if self.interfaces.len() > stack::iface::MAX_IFACES {
            errs.push(err("interfaces", format!("at most {} interfaces", stack::iface::MAX_IFACES)));
        }
        let mut if_names = HashSet::new();
        let mut bvis = HashSet::new();
        // Each (port, VLAN) has one user: an interface or a bridge member.
        let mut attached: HashMap<(String, Option<u16>), String> = HashMap::new();
        self.validate_bridges(&mut attached, &mut errs);
        let mut subnets: Vec<(usize, usize, Ipv4Cidr)> = Vec::new();
        let mut addrs = HashSet::new();
        let mut subnets6: Vec<(usize, usize, Ipv6Cidr)> = Vec::new();
        let mut addrs6 = HashSet::new();
        for (i, ifc) in self.interfaces.iter().enumerate() {
            let f = |s: &str| format!("interfaces[{i}].{s}");
            if ifc.name.is_empty() {
                errs.push(err(f("name"), "must not be empty"));
            } else if !if_names.insert(ifc.name.as_str()) {
                errs.push(err(f("name"), format!("interface name '{}' is used twice", ifc.name)));
            }
            match (&ifc.bridge, ifc.port.is_empty()) {
                (Some(_), false) => errs.push(err(f("bridge"), "give either port or bridge, not both")),
                (None, true) => errs.push(err(f("port"), "give the port (or the bridge) this interface is on")),
                (Some(b), true) => {
                    if !self.bridges.iter().any(|x| x.name == *b) {
                        errs.push(err(f("bridge"), format!("no bridge is named '{b}'")));
                    } else if !bvis.insert(b.as_str()) {
                        errs.push(err(f("bridge"), format!("bridge '{b}' already has an interface")));
                    }
                    if ifc.vlan.is_some() {
                        errs.push(err(f("vlan"), "a bridge's interface takes no VLAN (put VLANs on the members)"));
                    }
                }
                (None, false) => {
                    if !port_names.contains(ifc.port.as_str()) {
                        errs.push(err(f("port"), format!("no port is named '{}'", ifc.port)));
                    } else {
                        claim(
                            &mut attached,
                            &ifc.port,
                            ifc.vlan,
                            f(if ifc.vlan.is_some() { "vlan" } else { "port" }),
                            &mut errs,
                        );
                    }
                }
            }
            if let Some(v) = ifc.vlan.filter(|v| !(1..=4094).contains(v)) {
                errs.push(err(f("vlan"), format!("{v} is outside 1..=4094")));
            }
            if !(68..=9000).contains(&ifc.mtu) {
                errs.push(err(f("mtu"), format!("{} is outside 68..=9000 (RFC 791 minimum 68)", ifc.mtu)));
            }
            for (j, a) in ifc.ipv4.iter().enumerate() {
                let field = format!("interfaces[{i}].ipv4[{j}]");
                match a.parse::<Ipv4Cidr>() {
                    Ok(c) => {
                        if c.addr.is_unspecified()
                            || c.addr.is_multicast()
                            || c.addr.is_broadcast()
                            || c.addr.is_loopback()
                            || c.broadcast() == Some(c.addr)
                            || (c.len < 31 && c.addr == c.network())
                        {
                            errs.push(err(field.clone(), format!("{a} is not a usable host address")));
                        }
                        if !addrs.insert(c.addr) {
                            errs.push(err(field.clone(), format!("{} is configured twice", c.addr)));
                        }
                        // Named on both sides, so the field a change added is named too.
                        if let Some((other, j2, s)) =
                            subnets.iter().find(|(k, _, s)| *k != i && (s.contains(c.addr) || c.contains(s.addr)))
                        {
                            errs.push(err(
                                format!("interfaces[{other}].ipv4[{j2}]"),
                                format!("{}/{} overlaps {a} of interfaces[{i}]", s.addr, s.len),
                            ));
                            errs.push(err(field, format!("{a} overlaps a subnet of interfaces[{other}]")));
                        }
                        subnets.push((i, j, c));
                    }
                    Err(m) => errs.push(err(field, m)),
                }
            }
            for (j, a) in ifc.ipv6.iter().enumerate() {
                let field = format!("interfaces[{i}].ipv6[{j}]");
                match a.parse::<Ipv6Cidr>() {
                    Ok(c) => {
                        if c.addr.is_unspecified()
                            || c.addr.is_multicast()
                            || c.addr.is_loopback()
                            || is_link_local(&c.addr)
                            || c.len == 0
                        {
                            errs.push(err(
                                field.clone(),
                                format!("{a} is not a usable global or unique-local address (link-local ones are made from the MAC)"),
                            ));
                        }
                        if !addrs6.insert(c.addr) {
                            errs.push(err(field.clone(), format!("{} is configured twice", c.addr)));
                        }
                        if let Some((other, j2, s)) =
                            subnets6.iter().find(|(k, _, s)| *k != i && (s.contains(&c.addr) || c.contains(&s.addr)))
                        {
                            errs.push(err(
                                format!("interfaces[{other}].ipv6[{j2}]"),
                                format!("{s} overlaps {a} of interfaces[{i}]"),
                            ));
                            errs.push(err(field, format!("{a} overlaps a prefix of interfaces[{other}]")));
                        }
                        subnets6.push((i, j, c));
                    }
                    Err(m) => errs.push(err(field, m)),
                }
            }
            if !ifc.ipv6.is_empty() && (68..1280).contains(&ifc.mtu) {
                errs.push(err(f("mtu"), format!("{} is below 1280, the least IPv6 allows (RFC 8200 §5)", ifc.mtu)));
            }
            if let Some(ra) = &ifc.ra {
                validate_ra(ra, &format!("interfaces[{i}].ra"), !ifc.ipv6.is_empty(), &mut errs);
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            let f = |s: &str| format!("routes[{i}].{s}");
            let v6 = match r.dst.parse::<IpCidr>() {
                Ok(c) => matches!(c, IpCidr::V6(_)),
                Err(m) => {
                    errs.push(err(f("dst"), m));
                    r.dst.contains(':')
                }
            };
            match r.kind {
                RouteType::Unicast if r.via.is_empty() => {
                    errs.push(err(f("via"), "a unicast route needs at least one gateway"))
                }
                RouteType::Unreachable | RouteType::Blackhole if !r.via.is_empty() => {
                    errs.push(err(f("via"), "unreachable and blackhole routes take no gateway"))
                }
                _ => {}
            }
            for (j, g) in r.via.iter().enumerate() {
                let field = format!("routes[{i}].via[{j}]");
                if v6 {
                    if let Err(m) = self.ipv6_gateway(g, &subnets6, &addrs6) {
                        errs.push(err(field, m));
                    }
                    continue;
                }
                match g.parse::<Ipv4Addr>() {
                    Ok(a) if addrs.contains(&a) => errs.push(err(field, format!("{a} is one of our own addresses"))),
                    Ok(a) if !subnets.iter().any(|(_, _, s)| s.contains(a)) => {
                        errs.push(err(field, format!("{a} is not in a connected subnet of any interface")))
                    }
                    Ok(_) => {}
                    Err(_) if g.contains(':') => {
                        errs.push(err(field, format!("'{g}' is IPv6: an IPv4 route needs IPv4 gateways")))
                    }
                    Err(_) => errs.push(err(field, format!("'{g}' is not an IPv4 address"))),
                }
            }
        }
        for (i, n) in self.neighbors.iter().enumerate() {
            let f = |s: &str| format!("neighbors[{i}].{s}");
            if !if_names.contains(n.interface.as_str()) {
                errs.push(err(f("interface"), format!("no interface is named '{}'", n.interface)));
            }
            match n.ip.parse::<IpAddr>() {
                Ok(IpAddr::V6(a)) if a.is_multicast() || a.is_unspecified() => {
                    errs.push(err(f("ip"), format!("{a} is not a unicast address")))
                }
                Ok(IpAddr::V6(_)) if !self.interfaces.iter().any(|i| i.name == n.interface && !i.ipv6.is_empty()) => {
                    errs.push(err(f("ip"), format!("interface '{}' has no IPv6", n.interface)))
                }
                Ok(_) => {}
                Err(_) => errs.push(err(f("ip"), format!("'{}' is not an IPv4 or IPv6 address", n.ip))),
            }
            match n.mac.parse::<MacAddr>() {
                Ok(m) if m.is_unicast() && m != MacAddr::ZERO => {}
                _ => errs.push(err(f("mac"), format!("'{}' is not a unicast MAC address", n.mac))),
            }
        }
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
        if !(1..=16_000_000).contains(&self.l2.mac_capacity) {
            errs.push(err("l2.mac_capacity", format!("{} is outside 1..=16000000", self.l2.mac_capacity)));
        }
        if self.fast_path.flow_cache > 1 << 22 {
            errs.push(err("fast_path.flow_cache", format!("{} is outside 0..=4194304", self.fast_path.flow_cache)));
        }
        if !(1..=1024).contains(&self.fast_path.flow_fill) {
            errs.push(err("fast_path.flow_fill", format!("{} is outside 1..=1024", self.fast_path.flow_fill)));
        }
        if self.management.listen.parse::<SocketAddr>().is_err() {
            errs.push(err("management.listen", format!("'{}' is not ADDRESS:PORT", self.management.listen)));
        }
        let mut token_names = HashSet::new();
        let mut hashes = HashSet::new();
        for (i, t) in self.management.tokens.iter().enumerate() {
            let f = |s: &str| format!("management.tokens[{i}].{s}");
            if t.name.is_empty() || !t.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                errs.push(err(f("name"), "must be non-empty letters, digits, '-', '_' or '.'"));
            } else if !token_names.insert(t.name.as_str()) {
                errs.push(err(f("name"), format!("token name '{}' is used twice", t.name)));
            }
            if t.sha256.len() != 64 || !t.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
                errs.push(err(f("sha256"), "must be 64 lower-case hex digits (a SHA-256)"));
            } else if !hashes.insert(t.sha256.as_str()) {
                errs.push(err(f("sha256"), "two tokens have the same hash"));
            }
        }
        self.validate_nat(&mut errs);
        if !(1024..=64 << 20).contains(&self.management.max_body_bytes) {
            errs.push(err(
                "management.max_body_bytes",
                format!("{} is outside 1024..=67108864", self.management.max_body_bytes),
            ));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// The fields that differ between `self` (running) and `new` but can
    /// only change with a restart. Live: interfaces, routes, neighbors and
    /// tokens, ICMP rate limits and ARP timers; everything that sizes or
    /// binds resources is not.
    pub fn restart_only_changes(&self, new: &Config) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        let mut check = |field: &str, same: bool| {
            if !same {
                errs.push(err(field, "cannot change while running: edit the config file and restart gatewayd"));
            }
        };
        check("dpdk", self.dpdk == new.dpdk);
        check("workers", self.workers == new.workers);
        check("ports", self.ports == new.ports);
        check("arp.capacity", self.arp.capacity == new.arp.capacity);
        check("arp.queue_len", self.arp.queue_len == new.arp.queue_len);
        check("l2.mac_capacity", self.l2.mac_capacity == new.l2.mac_capacity);
        check("fast_path", self.fast_path == new.fast_path);
        check("nat.max_sessions", self.nat.max_sessions == new.nat.max_sessions);
        check("nat.max_subscribers", self.nat.max_subscribers == new.nat.max_subscribers);
        check("nat.fragment_records", self.nat.fragment_records == new.nat.fragment_records);
        check("nat.fragment_hold", self.nat.fragment_hold == new.nat.fragment_hold);
        check("management.listen", self.management.listen == new.management.listen);
        check("management.audit_log", self.management.audit_log == new.management.audit_log);
        check("management.max_body_bytes", self.management.max_body_bytes == new.management.max_body_bytes);
        errs
    }

    /// YAML text of this config (comments are not kept).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }

    /// EAL arguments: the configured ones, a core list if none is given
    /// (the main thread on core 0; workers are registered threads), and
    /// one device argument per port.
    pub fn eal_args(&self) -> Vec<String> {
        let mut args = self.dpdk.eal_args.clone();
        if !args.iter().any(|a| a == "-l" || a == "-c" || a == "--lcores" || a.starts_with("--lcores=")) {
            args.extend(["-l".to_string(), "0".to_string()]);
        }
        for p in &self.ports {
            match (&p.pci, &p.vdev) {
                (Some(pci), _) => args.extend(["-a".to_string(), pci.clone()]),
                (None, Some(v)) => args.extend(["--vdev".to_string(), v.clone()]),
                _ => {}
            }
        }
        args
    }
}

/// Records that `field` uses (port, vlan); a second user is an error.
fn claim(
    attached: &mut HashMap<(String, Option<u16>), String>,
    port: &str,
    vlan: Option<u16>,
    field: String,
    errs: &mut Vec<ConfigError>,
) {
    let what = vlan.map_or(format!("port '{port}' (untagged)"), |v| format!("VLAN {v} of port '{port}'"));
    match attached.get(&(port.to_string(), vlan)) {
        Some(other) => errs.push(err(field, format!("{what} is already used by {other}"))),
        None => {
            attached.insert((port.to_string(), vlan), field);
        }
    }
}

impl Config {
    /// Checks the bridges and claims their members' (port, VLAN)s.
    fn validate_bridges(&self, attached: &mut HashMap<(String, Option<u16>), String>, errs: &mut Vec<ConfigError>) {
        if self.bridges.len() > stack::mac_table::MAX_BRIDGES {
            errs.push(err("bridges", format!("at most {} bridges", stack::mac_table::MAX_BRIDGES)));
        }
        let mut names = HashSet::new();
        for (i, b) in self.bridges.iter().enumerate() {
            let f = |s: &str| format!("bridges[{i}].{s}");
            if b.name.is_empty() {
                errs.push(err(f("name"), "must not be empty"));
            } else if !names.insert(b.name.as_str()) {
                errs.push(err(f("name"), format!("bridge name '{}' is used twice", b.name)));
            }
            if b.members.len() > MAX_MEMBERS {
                errs.push(err(f("members"), format!("at most {MAX_MEMBERS} members")));
            }
            if !(1..=1_000_000).contains(&b.mac_limit) {
                errs.push(err(f("mac_limit"), format!("{} is outside 1..=1000000", b.mac_limit)));
            }
            if !(10..=1_000_000).contains(&b.aging_s) {
                errs.push(err(f("aging_s"), format!("{} is outside 10..=1000000", b.aging_s)));
            }
            for (j, m) in b.members.iter().enumerate() {
                let g = |s: &str| format!("bridges[{i}].members[{j}].{s}");
                match self.ports.iter().find(|p| p.name == m.port) {
                    None => errs.push(err(g("port"), format!("no port is named '{}'", m.port))),
                    Some(p) if !p.promiscuous => errs.push(err(
                        g("port"),
                        format!("port '{}' must be promiscuous: true to be a bridge member", m.port),
                    )),
                    Some(_) => {}
                }
                match m.vlan {
                    Some(v) if !(1..=4094).contains(&v) => {
                        errs.push(err(g("vlan"), format!("{v} is outside 1..=4094")))
                    }
                    _ => claim(attached, &m.port, m.vlan, g(if m.vlan.is_some() { "vlan" } else { "port" }), errs),
                }
            }
        }
    }

    /// Checks an IPv6 gateway: global in a connected prefix, or
    /// link-local with `%interface` naming an IPv6 interface.
    fn ipv6_gateway(
        &self,
        g: &str,
        subnets6: &[(usize, usize, Ipv6Cidr)],
        own: &HashSet<Ipv6Addr>,
    ) -> Result<(), String> {
        let (a, scope) = match g.split_once('%') {
            Some((a, s)) => (a, Some(s)),
            None => (g, None),
        };
        let a: Ipv6Addr = a.parse().map_err(|_| match g.parse::<Ipv4Addr>() {
            Ok(_) => format!("'{g}' is IPv4: an IPv6 route needs IPv6 gateways"),
            Err(_) => format!("'{g}' is not an IPv6 address"),
        })?;
        if own.contains(&a) {
            return Err(format!("{a} is one of our own addresses"));
        }
        if is_link_local(&a) {
            let Some(name) = scope else {
                return Err(format!("link-local gateway {a} needs its interface: {a}%NAME"));
            };
            return match self.interfaces.iter().find(|i| i.name == name) {
                Some(i) if !i.ipv6.is_empty() => Ok(()),
                Some(_) => Err(format!("interface '{name}' has no IPv6")),
                None => Err(format!("no interface is named '{name}'")),
            };
        }
        if scope.is_some() {
            return Err(format!("only link-local gateways take %INTERFACE; {a} is global"));
        }
        if !subnets6.iter().any(|(_, _, s)| s.contains(&a)) {
            return Err(format!("{a} is not in a connected prefix of any interface"));
        }
        Ok(())
    }
}

impl Config {
    fn validate_nat(&self, errs: &mut Vec<ConfigError>) {
        let n = &self.nat;
        if !matches!(n.filtering.as_str(), "endpoint-independent" | "address-dependent") {
            errs.push(err("nat.filtering", "must be endpoint-independent or address-dependent"));
        }
        let [lo, hi] = n.port_range;
        if lo == 0 || lo > hi {
            errs.push(err("nat.port_range", format!("[{lo}, {hi}] is not a range within 1..=65535")));
        }
        if !(1..=16_000_000).contains(&n.max_sessions) {
            errs.push(err("nat.max_sessions", format!("{} is outside 1..=16000000", n.max_sessions)));
        }
        if n.max_subscribers > n.max_sessions {
            errs.push(err("nat.max_subscribers", format!("{} is more than max_sessions", n.max_subscribers)));
        }
        if !(16..=1 << 20).contains(&n.fragment_records) {
            errs.push(err("nat.fragment_records", format!("{} is outside 16..=1048576", n.fragment_records)));
        }
        if n.fragment_hold > 4096 {
            errs.push(err("nat.fragment_hold", format!("{} is more than 4096", n.fragment_hold)));
        }
        if n.subscriber_sessions == 0 {
            errs.push(err("nat.subscriber_sessions", "must be at least 1"));
        }
        if n.subscriber_ports == 0 {
            errs.push(err("nat.subscriber_ports", "must be at least 1"));
        }
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        if n.port_block != 0 && !(8..=4096).contains(&n.port_block) {
            errs.push(err("nat.port_block", format!("{} is neither 0 nor within 8..=4096", n.port_block)));
        } else if u32::from(n.port_block) > span {
            errs.push(err(
                "nat.port_block",
                format!("{} is more than the {span} ports of nat.port_range", n.port_block),
            ));
        }
        if let Some(log) = &n.log {
            if log.file.is_none() && log.syslog.is_none() {
                errs.push(err("nat.log", "names neither a file nor a syslog receiver"));
            }
            if log.file.as_ref().is_some_and(|f| !f.starts_with('/')) {
                errs.push(err("nat.log.file", "must be an absolute path"));
            }
            if let Some(s) = &log.syslog {
                if !s.starts_with('/') && s.parse::<std::net::SocketAddr>().is_err() {
                    errs.push(err(
                        "nat.log.syslog",
                        format!("'{s}' is neither an absolute socket path nor ADDRESS:PORT"),
                    ));
                }
            }
        }
        let t = &n.timeouts;
        for (field, v, min, rfc) in [
            ("udp_s", t.udp_s, 120, "RFC 4787 REQ-5"),
            ("tcp_established_s", t.tcp_established_s, 7440, "RFC 5382 REQ-5"),
            ("tcp_transitory_s", t.tcp_transitory_s, 240, "RFC 5382 REQ-5"),
            ("icmp_s", t.icmp_s, 60, "RFC 5508 REQ-1"),
        ] {
            if v < min || v > 86400 {
                errs.push(err(format!("nat.timeouts.{field}"), format!("{v} is outside {min}..=86400 ({rfc})")));
            }
        }
        // Each worker hands out its own slice of the port range.
        let workers = self.workers.cores.len().max(1) as u32;
        let per_worker = (u32::from(hi.saturating_sub(lo)) + 1) / workers;
        if lo != 0 && lo <= hi && per_worker < u32::from(n.port_block).max(64) {
            errs.push(err(
                "nat.port_range",
                format!(
                    "gives each of the {workers} workers {per_worker} ports; each needs at least {}",
                    u32::from(n.port_block).max(64)
                ),
            ));
        }
        for (i, r) in n.rules.iter().enumerate() {
            let f = |s: &str| format!("nat.rules[{i}].{s}");
            if r.inside.parse::<Ipv4Cidr>().is_err() {
                errs.push(err(f("inside"), format!("'{}' is not an IPv4 prefix (a.b.c.d/len)", r.inside)));
            }
            match self.interfaces.iter().find(|x| x.name == r.outside_interface) {
                None => errs.push(err(f("outside_interface"), format!("no interface named '{}'", r.outside_interface))),
                Some(x) if r.pool.is_empty() && !x.ipv4.iter().any(|a| a.parse::<Ipv4Cidr>().is_ok()) => {
                    errs.push(err(
                        f("pool"),
                        format!("empty, and interface '{}' has no IPv4 address to masquerade as", r.outside_interface),
                    ))
                }
                Some(_) => {}
            }
            for (j, a) in r.pool.iter().enumerate() {
                if pool_addresses(a).is_none() {
                    errs.push(err(
                        format!("nat.rules[{i}].pool[{j}]"),
                        format!("'{a}' is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/len, len 22..=32)"),
                    ));
                }
            }
        }
        let total: usize =
            n.rules.iter().flat_map(|r| r.pool.iter()).filter_map(|a| pool_addresses(a)).map(|v| v.len()).sum();
        if total > MAX_POOL_ADDRESSES {
            errs.push(err("nat.rules", format!("the pools hold {total} addresses; at most {MAX_POOL_ADDRESSES}")));
        }
        let endpoint = |s: &str| s.parse::<std::net::SocketAddrV4>().ok().filter(|e| e.port() != 0);
        let mut outside_seen = Vec::new();
        let mut inside_seen = Vec::new();
        for (i, fw) in n.forwards.iter().enumerate() {
            let f = |s: &str| format!("nat.forwards[{i}].{s}");
            if !matches!(fw.protocol.as_str(), "tcp" | "udp") {
                errs.push(err(f("protocol"), format!("'{}' is not tcp or udp", fw.protocol)));
            }
            for (field, text, seen) in
                [("outside", &fw.outside, &mut outside_seen), ("inside", &fw.inside, &mut inside_seen)]
            {
                match endpoint(text) {
                    None => errs.push(err(f(field), format!("'{text}' is not ADDRESS:PORT (IPv4, port 1..=65535)"))),
                    Some(e) if seen.contains(&(fw.protocol.clone(), e)) => {
                        errs.push(err(f(field), format!("{} {e} is already in another forward", fw.protocol)))
                    }
                    Some(e) => seen.push((fw.protocol.clone(), e)),
                }
            }
        }
        let own: Vec<Ipv4Addr> = self
            .interfaces
            .iter()
            .flat_map(|x| x.ipv4.iter().filter_map(|a| a.parse::<Ipv4Cidr>().ok().map(|c| c.addr)))
            .collect();
        let pools: Vec<Ipv4Addr> =
            n.rules.iter().flat_map(|r| r.pool.iter().filter_map(|a| pool_addresses(a))).flatten().collect();
        let mut statics_seen: Vec<Ipv4Addr> = Vec::new();
        for (i, st) in n.statics.iter().enumerate() {
            let f = |s: &str| format!("nat.statics[{i}].{s}");
            match st.outside.parse::<Ipv4Addr>() {
                Err(_) => errs.push(err(f("outside"), format!("'{}' is not an IPv4 address", st.outside))),
                Ok(a) if own.contains(&a) => {
                    errs.push(err(f("outside"), format!("{a} is an interface's own address; use a forward")))
                }
                Ok(a) if pools.contains(&a) || outside_seen.iter().any(|(_, e)| *e.ip() == a) => {
                    errs.push(err(f("outside"), format!("{a} is already a pool or forward address")))
                }
                Ok(a) if statics_seen.contains(&a) => {
                    errs.push(err(f("outside"), format!("{a} is already in another static mapping")))
                }
                Ok(a) => statics_seen.push(a),
            }
            match st.inside.parse::<Ipv4Addr>() {
                Err(_) => errs.push(err(f("inside"), format!("'{}' is not an IPv4 address", st.inside))),
                Ok(a) if n.statics.iter().take(i).any(|o| o.inside.parse() == Ok(a)) => {
                    errs.push(err(f("inside"), format!("{a} is already in another static mapping")))
                }
                Ok(_) => {}
            }
            if !self.interfaces.iter().any(|x| x.name == st.outside_interface) {
                errs.push(err(f("outside_interface"), format!("no interface named '{}'", st.outside_interface)));
            }
        }
    }
}

/// Most NAT pool addresses over all rules (each costs 24 KiB of port
/// bitmaps per worker).
pub const MAX_POOL_ADDRESSES: usize = 1024;

/// The addresses a pool entry stands for: one address, or every address
/// of a prefix of length 22..=32. `None` if it is neither.
pub fn pool_addresses(entry: &str) -> Option<Vec<Ipv4Addr>> {
    if let Ok(a) = entry.parse::<Ipv4Addr>() {
        return Some(vec![a]);
    }
    let c: Ipv4Cidr = entry.parse().ok()?;
    if c.len < 22 {
        return None;
    }
    let base = u32::from(c.addr) & (u32::MAX << (32 - u32::from(c.len)));
    Some((0..1u32 << (32 - u32::from(c.len))).map(|i| Ipv4Addr::from(base + i)).collect())
}

fn validate_ra(ra: &RaConf, at: &str, has_ipv6: bool, errs: &mut Vec<ConfigError>) {
    if !has_ipv6 {
        errs.push(err(at, "Router Advertisements need IPv6 on the interface: give it an ipv6 address"));
    }
    if !(4..=1800).contains(&ra.interval_s) {
        errs.push(err(format!("{at}.interval_s"), format!("{} is outside 4..=1800 (RFC 4861 §6.2.1)", ra.interval_s)));
    }
    let l = ra.router_lifetime_s;
    if l != 0 && !(ra.interval_s..=9000).contains(&l) {
        errs.push(err(
            format!("{at}.router_lifetime_s"),
            format!("{l} must be 0 or between interval_s ({}) and 9000 (RFC 4861 §6.2.1)", ra.interval_s),
        ));
    }
    if ra.prefixes.len() > stack::router::MAX_RA_PREFIXES {
        errs.push(err(format!("{at}.prefixes"), format!("at most {} prefixes", stack::router::MAX_RA_PREFIXES)));
    }
    for (k, p) in ra.prefixes.iter().enumerate() {
        let f = |s: &str| format!("{at}.prefixes[{k}].{s}");
        match p.prefix.parse::<Ipv6Cidr>() {
            Ok(c) if p.autonomous && c.len != 64 => errs.push(err(
                f("autonomous"),
                format!("SLAAC needs a /64 prefix (RFC 4862 §5.5.3); {} is /{}", p.prefix, c.len),
            )),
            Ok(c) if is_link_local(&c.addr) || c.addr.is_multicast() => {
                errs.push(err(f("prefix"), format!("{} is not advertisable (link-local or multicast)", p.prefix)))
            }
            Ok(_) => {}
            Err(m) => errs.push(err(f("prefix"), m)),
        }
        if p.preferred_lifetime_s > p.valid_lifetime_s {
            errs.push(err(f("preferred_lifetime_s"), "must not exceed valid_lifetime_s (RFC 4861 §4.6.2)"));
        }
    }
}

fn is_pci_address(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let mut parts = s.split(':');
    let (Some(d), Some(b), Some(rest), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some((dev, func)) = rest.split_once('.') else { return false };
    hex(d, 4) && hex(b, 2) && hex(dev, 2) && func.len() == 1 && func.chars().all(|c| ('0'..='7').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = include_str!("../../deploy/lab/gateway.yaml");

    fn fields(text: &str) -> Vec<String> {
        match Config::parse(text) {
            Ok(c) => c.validate().err().unwrap_or_default().into_iter().map(|e| e.field).collect(),
            Err(e) => e.into_iter().map(|e| e.message).collect(),
        }
    }

    #[test]
    fn lab_config_is_valid() {
        let c = Config::parse(LAB).unwrap();
        c.validate().unwrap();
        let args = c.eal_args();
        assert!(args.windows(2).any(|w| w[0] == "--vdev" && w[1].starts_with("net_af_packet0,iface=")));
        assert_eq!(c.ports[0].device(), "net_af_packet0");
    }

    #[test]
    fn unknown_fields_are_errors() {
        let e = fields("ports: []\nbogus: 1\n");
        assert!(e[0].contains("unknown field `bogus`"), "{e:?}");
        let e = fields("ports:\n  - name: a\n    vdev: net_null0\n    speed: 10\n");
        assert!(e[0].contains("unknown field `speed`"), "{e:?}");
    }

    #[test]
    fn every_error_is_reported_at_once_with_its_field() {
        let text = r#"
workers: { cores: [0, 0, 999] }
ports:
  - { name: lan, vdev: "net_null0" }
  - { name: lan, pci: "01:00.0", mac: "ff:ff:ff:ff:ff:ff" }
  - { name: x }
interfaces:
  - { name: a, port: lan, ipv4: ["10.0.0.1/24", "10.0.0.0/8"], mtu: 20 }
  - { name: a, port: nope, ipv4: ["10.0.0.300/24"] }
routes:
  - { dst: "0.0.0.0/0", via: ["192.0.2.1"] }
  - { dst: "10.9.0.0/33" }
  - { dst: "10.8.0.0/16", type: blackhole, via: ["10.0.0.2"] }
neighbors:
  - { interface: zz, ip: "1.2.3", mac: "01:00:5e:00:00:01" }
arp: { queue_len: 99 }
fast_path: { flow_cache: 8388608, flow_fill: 0 }
management: { listen: "localhost" }
"#;
        let got = fields(text);
        for want in [
            "workers.cores[1]",
            "workers.cores[2]",
            "ports[1].name",
            "ports[1].pci",
            "ports[1].mac",
            "ports[2].vdev",
            "interfaces[0].mtu",
            "interfaces[0].ipv4[1]",
            "interfaces[1].name",
            "interfaces[1].port",
            "interfaces[1].ipv4[0]",
            "routes[0].via[0]",
            "routes[1].dst",
            "routes[1].via",
            "routes[2].via",
            "neighbors[0].interface",
            "neighbors[0].ip",
            "neighbors[0].mac",
            "arp.queue_len",
            "fast_path.flow_cache",
            "fast_path.flow_fill",
            "management.listen",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
    }

    #[test]
    fn bridge_and_vlan_fields_are_validated_by_name() {
        let text = r#"
ports:
  - { name: p1, vdev: "net_null0", promiscuous: true }
  - { name: p2, vdev: "net_null1" }
  - { name: trunk, vdev: "net_null2", promiscuous: true }
bridges:
  - { name: br0, members: [{ port: p1 }, { port: p2 }, { port: trunk, vlan: 100 }, { port: nope }], mac_limit: 0 }
  - { name: br0, members: [{ port: trunk, vlan: 100 }, { port: trunk, vlan: 5000 }], aging_s: 1 }
interfaces:
  - { name: br0, bridge: br0, ipv4: ["10.0.10.1/24"] }
  - { name: again, bridge: br0, port: p1, vlan: 7 }
  - { name: trunk.200, port: trunk, vlan: 200, ipv4: ["10.0.200.1/24"] }
  - { name: dup, port: trunk, vlan: 200 }
  - { name: p1, port: p1 }
  - { name: nowhere }
  - { name: ghost, bridge: br9 }
  - { name: zero, port: trunk, vlan: 0 }
"#;
        let got = fields(text);
        for want in [
            "bridges[0].members[1].port",
            "bridges[0].members[3].port",
            "bridges[0].mac_limit",
            "bridges[1].name",
            "bridges[1].members[0].vlan",
            "bridges[1].members[1].vlan",
            "bridges[1].aging_s",
            "interfaces[1].bridge",
            "interfaces[3].vlan",
            "interfaces[4].port",
            "interfaces[5].port",
            "interfaces[6].bridge",
            "interfaces[7].vlan",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
        assert!(!got.iter().any(|g| g == "interfaces[0].bridge" || g == "interfaces[2].vlan"), "{got:?}");
    }

    #[test]
    fn nat_fields_are_validated_by_name() {
        let text = r#"
workers: { cores: [0, 1] }
ports:
  - { name: lan, vdev: "net_null0" }
  - { name: wan, vdev: "net_null1" }
interfaces:
  - { name: lan, port: lan, ipv4: ["10.0.1.1/24"] }
  - { name: wan, port: wan }
nat:
  filtering: symmetric
  port_range: [2000, 1000]
  max_sessions: 0
  fragment_records: 8
  max_subscribers: 7
  fragment_hold: 5000
  subscriber_sessions: 0
  timeouts: { udp_s: 30, tcp_established_s: 600, tcp_transitory_s: 10, icmp_s: 1 }
  rules:
    - { inside: "10.0.1.0/33", outside_interface: nope }
    - { inside: "10.0.1.0/24", outside_interface: wan }
    - { inside: "10.0.1.0/24", outside_interface: lan, pool: ["203.0.113.300", "203.0.113.7"] }
  forwards:
    - { protocol: sctp, outside: "203.0.113.1:0", inside: "10.0.1.2" }
    - { protocol: tcp, outside: "203.0.113.1:80", inside: "10.0.1.2:80" }
    - { protocol: tcp, outside: "203.0.113.1:80", inside: "10.0.1.2:80" }
  statics:
    - { outside: "10.0.1.1", inside: "10.0.1.9", outside_interface: wan }
    - { outside: "203.0.113.7", inside: "10.0.1.9", outside_interface: wan }
    - { outside: "203.0.113.8", inside: "10.0.1.x", outside_interface: nope }
"#;
        let got = fields(text);
        for want in [
            "nat.filtering",
            "nat.port_range",
            "nat.max_sessions",
            "nat.fragment_records",
            "nat.max_subscribers",
            "nat.fragment_hold",
            "nat.subscriber_sessions",
            "nat.timeouts.udp_s",
            "nat.timeouts.tcp_established_s",
            "nat.timeouts.tcp_transitory_s",
            "nat.timeouts.icmp_s",
            "nat.rules[0].inside",
            "nat.rules[0].outside_interface",
            "nat.rules[1].pool",
            "nat.rules[2].pool[0]",
            "nat.forwards[0].protocol",
            "nat.forwards[0].outside",
            "nat.forwards[0].inside",
            "nat.forwards[2].outside",
            "nat.forwards[2].inside",
            "nat.statics[0].outside",
            "nat.statics[1].outside",
            "nat.statics[1].inside",
            "nat.statics[2].inside",
            "nat.statics[2].outside_interface",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
        let lab = Config::parse(include_str!("../../deploy/lab/nat.yaml")).unwrap();
        lab.validate().unwrap();
    }

    #[test]
    fn nat_pools_take_addresses_and_prefixes_within_a_bound() {
        let n = |s: &str| pool_addresses(s).map(|v| (v.len(), v.first().copied(), v.last().copied()));
        let a = |s: &str| Some(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(n("203.0.113.9"), Some((1, a("203.0.113.9"), a("203.0.113.9"))));
        assert_eq!(n("100.64.0.70/26"), Some((64, a("100.64.0.64"), a("100.64.0.127"))));
        assert_eq!(n("100.64.0.0/22").map(|x| x.0), Some(1024));
        assert_eq!(n("100.64.0.0/21"), None);
        assert_eq!(n("100.64.0.0/33"), None);
        let text = r#"
ports: [{ name: wan, vdev: "net_null0" }]
interfaces: [{ name: wan, port: wan, ipv4: ["203.0.113.1/24"] }]
nat:
  rules:
    - { inside: "10.0.0.0/8", outside_interface: wan, pool: ["100.64.0.0/22", "100.65.0.1"] }
"#;
        assert_eq!(fields(text), ["nat.rules"]);
    }

    #[test]
    fn nat_port_blocks_and_the_log_are_validated_by_name() {
        let base = r#"
ports: [{ name: wan, vdev: "net_null0" }]
interfaces: [{ name: wan, port: wan, ipv4: ["203.0.113.1/24"] }]
nat:
"#;
        let with = |extra: &str| fields(&format!("{base}{extra}"));
        assert_eq!(with("  port_block: 4\n"), ["nat.port_block"]);
        assert_eq!(with("  port_block: 5000\n"), ["nat.port_block"]);
        assert_eq!(with("  port_block: 128\n  port_range: [1000, 1063]\n"), ["nat.port_block", "nat.port_range"]);
        // Every worker needs its own slice of at least 64 ports.
        let two = "workers: { cores: [0, 1] }\n";
        assert_eq!(fields(&format!("{two}{base}  port_range: [1000, 1100]\n")), ["nat.port_range"]);
        assert!(fields(&format!("{two}{base}  port_range: [1000, 1127]\n")).is_empty());
        assert_eq!(with("  log: {}\n"), ["nat.log"]);
        assert_eq!(with("  log: { file: nat.log }\n"), ["nat.log.file"]);
        assert_eq!(with("  log: { syslog: \"loghost:514\" }\n"), ["nat.log.syslog"]);
        let ok = "  port_block: 64\n  log: { file: /var/log/nat.log, syslog: \"192.0.2.10:514\" }\n";
        assert!(with(ok).is_empty());
        let cfg = Config::parse(&format!("{base}{ok}")).unwrap();
        assert_eq!(cfg.nat.port_block, 64);
        assert_eq!(cfg.nat.log.as_ref().and_then(|l| l.syslog.as_deref()), Some("192.0.2.10:514"));
    }

    #[test]
    fn ipv6_fields_are_validated_by_name() {
        let text = r#"
ports:
  - { name: lan, vdev: "net_null0" }
  - { name: wan, vdev: "net_null1" }
interfaces:
  - { name: lan, port: lan, ipv6: ["fd00:1::1/64", "fe80::1/64", "fd00:1::1/64"], mtu: 1000,
      ra: { interval_s: 2, router_lifetime_s: 1, prefixes: [{ prefix: "fd00:2::/48" }] } }
  - { name: wan, port: wan, ipv4: ["203.0.113.1/24"], ra: {} }
routes:
  - { dst: "2001:db8::/32", via: ["203.0.113.2"] }
  - { dst: "2001:db9::/32", via: ["fe80::1"] }
  - { dst: "2001:dba::/32", via: ["fe80::1%wan"] }
  - { dst: "2001:dbb::/32", via: ["2001:db8:9::1"] }
  - { dst: "10.0.0.0/8", via: ["fd00:1::2"] }
  - { dst: "2001:dbc::/129", type: blackhole }
neighbors:
  - { interface: wan, ip: "2001:db8:1::2", mac: "02:00:00:00:00:01" }
"#;
        let got = fields(text);
        for want in [
            "interfaces[0].ipv6[1]",
            "interfaces[0].ipv6[2]",
            "interfaces[0].mtu",
            "interfaces[0].ra.interval_s",
            "interfaces[0].ra.router_lifetime_s",
            "interfaces[0].ra.prefixes[0].autonomous",
            "interfaces[1].ra",
            "routes[0].via[0]",
            "routes[1].via[0]",
            "routes[2].via[0]",
            "routes[3].via[0]",
            "routes[4].via[0]",
            "routes[5].dst",
            "neighbors[0].ip",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
        // The lab's dual-stack config, a link-local gateway with its interface.
        let mut c = Config::parse(LAB).unwrap();
        c.routes.push(RouteConf {
            dst: "2001:db8:2::/48".into(),
            via: vec!["fe80::1%wan".into()],
            kind: RouteType::Unicast,
        });
        c.validate().unwrap();
    }

    #[test]
    fn pci_addresses() {
        assert!(is_pci_address("0000:01:00.0"));
        assert!(is_pci_address("0000:af:1f.7"));
        for bad in ["01:00.0", "0000:01:00.8", "0000:01:00", "0000:1:00.0", "0000:01:00.0:1"] {
            assert!(!is_pci_address(bad), "{bad}");
        }
    }

    #[test]
    fn eal_core_list_only_added_when_missing() {
        let mut c = Config::parse(LAB).unwrap();
        c.dpdk.eal_args = vec!["--lcores=0@0".into()];
        assert!(!c.eal_args().contains(&"-l".to_string()));
    }
}

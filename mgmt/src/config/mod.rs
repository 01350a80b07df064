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

mod bridges;
mod dpdk;
mod interfaces;
mod limits;
mod management;
mod nat;
mod punt;
mod routes;
mod routing;
mod services;
mod tcp;
mod tunnels;

pub use bridges::{BridgeConf, L2Conf, MemberConf, VxlanConf, MAX_MEMBERS};
pub use dpdk::{Dpdk, PortConf, Workers};
pub use interfaces::{InterfaceConf, RaConf, RaPrefixConf};
pub use limits::{ArpConf, FastPathConf, IcmpConf, Ipv4Conf, Ipv4Options, ReassemblyConf};
pub use management::{Management, Role, TokenConf};
pub use nat::{
    pool_addresses, NatConf, NatForwardConf, NatLogConf, NatRuleConf, NatStaticConf, NatTimeoutsConf,
    MAX_POOL_ADDRESSES,
};
pub use punt::{PuntConf, MAX_KERNEL_IFNAME};
pub use routes::{NeighborConf, RouteConf, RouteType};
pub use routing::{FpmConf, RoutePreference, RoutingConf, MAX_LEARNED_ROUTES};
pub use services::{ServiceConf, ServiceKindConf, TransportConf, MAX_LISTENERS};
pub use tcp::TcpConf;
pub use tunnels::{TunnelConf, TunnelType};

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
    /// Routes learned from a routing daemon (FRR over FPM): the listener,
    /// the grace time and which source wins an equal prefix.
    #[serde(default, skip_serializing_if = "RoutingConf::is_default")]
    pub routing: RoutingConf,
    /// The punt path: kernel twins of interfaces, for the routing daemon
    /// and other control-plane services on the gateway's addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub punt: Option<PuntConf>,
    /// Static neighbor entries (ARP for IPv4, NDP for IPv6).
    #[serde(default)]
    pub neighbors: Vec<NeighborConf>,
    /// Neighbor cache tunables, for ARP and NDP entries alike.
    #[serde(default)]
    pub arp: ArpConf,
    /// ICMP error generation.
    #[serde(default)]
    pub icmp: IcmpConf,
    /// IPv4 handling: what becomes of packets with options.
    #[serde(default, skip_serializing_if = "Ipv4Conf::is_default")]
    pub ipv4: Ipv4Conf,
    /// MAC table sizing, for all bridges.
    #[serde(default)]
    pub l2: L2Conf,
    /// The workers' fast path: its flow cache.
    #[serde(default, skip_serializing_if = "FastPathConf::is_default")]
    pub fast_path: FastPathConf,
    /// Reassembly of datagrams addressed to the gateway: its bounds.
    #[serde(default, skip_serializing_if = "ReassemblyConf::is_default")]
    pub reassembly: ReassemblyConf,
    /// Source NAT (NAT44): rules, filtering, timeouts and bounds.
    #[serde(default, skip_serializing_if = "NatConf::is_default")]
    pub nat: NatConf,
    /// Built-in services on the gateway's own addresses (UDP echo and
    /// discard), served by the workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceConf>,
    /// The gateway's own TCP: its bounds and timers, per worker.
    #[serde(default, skip_serializing_if = "TcpConf::is_default")]
    pub tcp: TcpConf,
    /// Management listener (`/healthz`, `/metrics`).
    #[serde(default)]
    pub management: Management,
}

/// For `skip_serializing_if`: the field holds its default (0, off).
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_true() -> bool {
    true
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
/// Why `name` is not a safe name for a port, interface, bridge or
/// service (they appear in logs, metrics labels, URLs and files): 1 to
/// 64 characters, ASCII letters, digits, `.`, `_` and `-`, starting with
/// a letter or digit. `None` when it is one.
pub fn bad_name(name: &str) -> Option<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        Some("must not be empty".into())
    } else if name.len() > 64 {
        Some(format!("{} characters; at most 64", name.len()))
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.chars().all(ok) {
        Some(format!("{name:?} must be ASCII letters, digits, '.', '_' and '-', starting with a letter or digit"))
    } else {
        None
    }
}

pub fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

/// Most ports, as the dataplane's port table.
pub const MAX_PORTS: usize = stack::iface::MAX_PORTS;

/// What validation learned from the sections before, for the ones after.
#[derive(Default)]
struct Seen<'a> {
    port_names: HashSet<&'a str>,
    if_names: HashSet<&'a str>,
    /// Each (port, VLAN)'s one user: an interface or a bridge member.
    attached: HashMap<(String, Option<u16>), String>,
    subnets: Vec<(usize, usize, Ipv4Cidr)>,
    addrs: HashSet<Ipv4Addr>,
    subnets6: Vec<(usize, usize, Ipv6Cidr)>,
    addrs6: HashSet<Ipv6Addr>,
    /// Tunnels by their ends (and GRE key): the interface of each.
    tunnels: HashMap<stack::TunnelKey, usize>,
}

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

    /// Checks meaning; returns every problem found, section by section.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errs = Vec::new();
        let mut seen = Seen::default();
        self.validate_workers(&mut errs);
        self.validate_ports(&mut seen, &mut errs);
        self.validate_interfaces(&mut seen, &mut errs);
        self.validate_routes(&seen, &mut errs);
        self.validate_neighbors(&seen, &mut errs);
        self.validate_services(&seen, &mut errs);
        self.validate_tcp(&mut errs);
        self.validate_limits(&mut errs);
        self.validate_management(&mut errs);
        self.validate_routing(&mut errs);
        self.validate_punt(&mut errs);
        self.validate_nat(&mut errs);
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
        check("reassembly", self.reassembly == new.reassembly);
        check("tcp", self.tcp == new.tcp);
        check("nat.max_sessions", self.nat.max_sessions == new.nat.max_sessions);
        check("nat.max_subscribers", self.nat.max_subscribers == new.nat.max_subscribers);
        check("nat.fragment_records", self.nat.fragment_records == new.nat.fragment_records);
        check("nat.fragment_hold", self.nat.fragment_hold == new.nat.fragment_hold);
        // Where the root daemon writes or sends its NAT log is the host's
        // to say, as for the audit log: an API caller cannot move it.
        check("nat.log", self.nat.log == new.nat.log);
        check("management.listen", self.management.listen == new.management.listen);
        check("routing.fpm", self.routing.fpm == new.routing.fpm);
        check("punt", self.punt_restart_only(new));
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

#[cfg(test)]
mod tests {
    use super::dpdk::is_pci_address;
    use super::*;

    const LAB: &str = include_str!("../../../deploy/lab/gateway.yaml");

    fn fields(text: &str) -> Vec<String> {
        match Config::parse(text) {
            Ok(c) => c.validate().err().unwrap_or_default().into_iter().map(|e| e.field).collect(),
            Err(e) => e.into_iter().map(|e| e.message).collect(),
        }
    }

    #[test]
    fn names_with_control_characters_or_spaces_are_refused_in_every_section() {
        let text = r#"
ports:
  - { name: "p\u001b[31m", vdev: "net_null0" }
  - { name: wan, vdev: "net_null1", promiscuous: true }
bridges:
  - { name: "br\n0", members: [{ port: wan }] }
interfaces:
  - { name: "lan one", port: wan, vlan: 5, ipv4: ["10.0.1.1/24"] }
  - { name: ".hidden", port: wan, vlan: 6, ipv4: ["10.0.2.1/24"] }
services:
  - { name: "ec\u0000ho", kind: echo, port: 7, addresses: ["10.0.1.1"] }
"#;
        let got = fields(text);
        for want in ["ports[0].name", "bridges[0].name", "interfaces[0].name", "interfaces[1].name", "services[0].name"]
        {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
        assert_eq!(bad_name("trunk.200"), None);
        assert_eq!(bad_name("echo-tcp_2"), None);
        assert!(bad_name(&"x".repeat(65)).is_some());
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
arp: { queue_len: 99, incomplete_limit: 0, solicit_rate: 0 }
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
            "arp.incomplete_limit",
            "arp.solicit_rate",
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
  subscriber_inbound_sessions: 0
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
            "nat.subscriber_inbound_sessions",
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
        let lab = Config::parse(include_str!("../../../deploy/lab/nat.yaml")).unwrap();
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
        // The log's destination changes only with a restart: an admin token
        // cannot make the daemon append to a file (or send to a socket) of
        // its choosing.
        let moved = Config::parse(&format!("{base}  log: {{ file: /etc/cron.d/gw }}\n")).unwrap();
        let changes: Vec<String> = cfg.restart_only_changes(&moved).into_iter().map(|e| e.field).collect();
        assert_eq!(changes, ["nat.log"]);
        let added = Config::parse(&format!("{base}  port_block: 64\n")).unwrap();
        assert_eq!(cfg.restart_only_changes(&added)[0].field, "nat.log", "turned off: a restart too");
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

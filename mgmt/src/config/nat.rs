//! The `nat` section: NAT44 rules and pools, port forwards, static
//! mappings, timeouts, bounds and the NAT log.

use super::*;

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
    /// Seconds a freed outside port (or port block) waits before any
    /// subscriber may have it again (0..=3600; default 120), so a late
    /// packet for its last holder reaches no one else. Single ports wait
    /// between one and two delays, blocks exactly one. In the NAT log, a
    /// port's next allocation is never sooner than its release plus this.
    #[serde(default = "default_port_reuse_delay")]
    pub port_reuse_delay_s: u32,
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
    /// Most sessions packets from outside may make under one inside
    /// address's mappings (endpoint-independent filtering lets any remote
    /// reach a mapping, and each new remote port is a session). Counted
    /// apart from `subscriber_sessions`, so outside hosts cannot starve
    /// the subscriber's own flows; past it such packets are dropped
    /// unanswered (`nat_inbound_limit`). At least 1.
    #[serde(default = "default_subscriber_inbound_sessions")]
    pub subscriber_inbound_sessions: u32,
    /// Most sessions packets from outside may hold on each worker, port
    /// forwards' included (a SYN flood at a forward fills only this, and
    /// at the bound its oldest never-assured session gives way to a new
    /// one, so real clients still get in); 0
    /// (the default): a quarter of `max_sessions`. At most
    /// `max_sessions`.
    #[serde(default)]
    pub inbound_sessions: u32,
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
/// 6888 REQ-12). At least one of `file` and `syslog`. Set in the config
/// file: a change needs a restart (the API refuses it), so no API caller
/// can make the daemon write or send where it chooses.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatLogConf {
    /// Appended to (absolute path; created with mode 0640; a symlink at
    /// the path is not followed); reopened when it is moved or removed
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

fn default_port_reuse_delay() -> u32 {
    120
}

fn default_subscriber_inbound_sessions() -> u32 {
    1024
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
            port_reuse_delay_s: default_port_reuse_delay(),
            max_sessions: default_nat_sessions(),
            max_subscribers: 0,
            fragment_records: default_fragment_records(),
            fragment_hold: default_fragment_hold(),
            subscriber_sessions: default_subscriber_sessions(),
            subscriber_ports: default_subscriber_ports(),
            subscriber_inbound_sessions: default_subscriber_inbound_sessions(),
            inbound_sessions: 0,
            port_block: 0,
            log: None,
        }
    }
}

impl NatConf {
    pub(super) fn is_default(&self) -> bool {
        *self == NatConf::default()
    }
}

impl Config {
    pub(super) fn validate_nat(&self, errs: &mut Vec<ConfigError>) {
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
        if n.port_reuse_delay_s > 3600 {
            errs.push(err("nat.port_reuse_delay_s", format!("{} is outside 0..=3600", n.port_reuse_delay_s)));
        }
        if n.subscriber_inbound_sessions == 0 {
            errs.push(err("nat.subscriber_inbound_sessions", "must be at least 1"));
        }
        if n.inbound_sessions as usize > n.max_sessions {
            errs.push(err(
                "nat.inbound_sessions",
                format!("{} is more than nat.max_sessions ({})", n.inbound_sessions, n.max_sessions),
            ));
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
        let by_name: HashMap<&str, _> = self.interfaces.iter().map(|x| (x.name.as_str(), x)).collect();
        for (i, r) in n.rules.iter().enumerate() {
            let f = |s: &str| format!("nat.rules[{i}].{s}");
            if r.inside.parse::<Ipv4Cidr>().is_err() {
                errs.push(err(f("inside"), format!("'{}' is not an IPv4 prefix (a.b.c.d/len)", r.inside)));
            }
            match by_name.get(r.outside_interface.as_str()) {
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
        // Linear in the section: sets, and the pool's addresses only
        // made when their number is within bounds.
        let total: usize = n.rules.iter().flat_map(|r| r.pool.iter()).filter_map(|a| pool_size(a)).sum();
        let pools: HashSet<Ipv4Addr> = if total > MAX_POOL_ADDRESSES {
            errs.push(err("nat.rules", format!("the pools hold {total} addresses; at most {MAX_POOL_ADDRESSES}")));
            HashSet::new()
        } else {
            n.rules.iter().flat_map(|r| r.pool.iter().filter_map(|a| pool_addresses(a))).flatten().collect()
        };
        let endpoint = |s: &str| s.parse::<std::net::SocketAddrV4>().ok().filter(|e| e.port() != 0);
        let mut outside_seen = HashSet::new();
        let mut inside_seen = HashSet::new();
        let mut forward_addrs = HashSet::new();
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
                    Some(e) if !seen.insert((fw.protocol.as_str(), e)) => {
                        errs.push(err(f(field), format!("{} {e} is already in another forward", fw.protocol)))
                    }
                    Some(e) if field == "outside" => {
                        forward_addrs.insert(*e.ip());
                    }
                    Some(_) => {}
                }
            }
        }
        let own: HashSet<Ipv4Addr> = self
            .interfaces
            .iter()
            .flat_map(|x| x.ipv4.iter().filter_map(|a| a.parse::<Ipv4Cidr>().ok().map(|c| c.addr)))
            .collect();
        let mut statics_seen = HashSet::new();
        let mut inside_statics = HashSet::new();
        for (i, st) in n.statics.iter().enumerate() {
            let f = |s: &str| format!("nat.statics[{i}].{s}");
            match st.outside.parse::<Ipv4Addr>() {
                Err(_) => errs.push(err(f("outside"), format!("'{}' is not an IPv4 address", st.outside))),
                Ok(a) if own.contains(&a) => {
                    errs.push(err(f("outside"), format!("{a} is an interface's own address; use a forward")))
                }
                Ok(a) if pools.contains(&a) || forward_addrs.contains(&a) => {
                    errs.push(err(f("outside"), format!("{a} is already a pool or forward address")))
                }
                Ok(a) if !statics_seen.insert(a) => {
                    errs.push(err(f("outside"), format!("{a} is already in another static mapping")))
                }
                Ok(_) => {}
            }
            match st.inside.parse::<Ipv4Addr>() {
                Err(_) => errs.push(err(f("inside"), format!("'{}' is not an IPv4 address", st.inside))),
                Ok(a) if !inside_statics.insert(a) => {
                    errs.push(err(f("inside"), format!("{a} is already in another static mapping")))
                }
                Ok(_) => {}
            }
            if !by_name.contains_key(st.outside_interface.as_str()) {
                errs.push(err(f("outside_interface"), format!("no interface named '{}'", st.outside_interface)));
            }
        }
    }
}

/// The first address and the count a pool entry stands for: one
/// address, or a prefix of length 22..=32. `None` if it is neither.
fn pool_range(entry: &str) -> Option<(u32, u32)> {
    if let Ok(a) = entry.parse::<Ipv4Addr>() {
        return Some((u32::from(a), 1));
    }
    let c: Ipv4Cidr = entry.parse().ok()?;
    if c.len < 22 {
        return None;
    }
    Some((u32::from(c.addr) & (u32::MAX << (32 - u32::from(c.len))), 1 << (32 - u32::from(c.len))))
}

/// How many addresses a pool entry stands for, without making them.
pub fn pool_size(entry: &str) -> Option<usize> {
    pool_range(entry).map(|(_, n)| n as usize)
}

/// Most NAT pool addresses over all rules (each costs 24 KiB of port
/// bitmaps per worker).
pub const MAX_POOL_ADDRESSES: usize = 1024;

/// The addresses a pool entry stands for: one address, or every address
/// of a prefix of length 22..=32. `None` if it is neither.
pub fn pool_addresses(entry: &str) -> Option<Vec<Ipv4Addr>> {
    let (base, n) = pool_range(entry)?;
    Some((0..n).map(|i| Ipv4Addr::from(base + i)).collect())
}

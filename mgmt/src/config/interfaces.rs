//! The `interfaces` section: layer-3 interfaces on ports, VLANs, bridges
//! or tunnels (`tunnels.rs`), their addresses, MTU and Router
//! Advertisements.

use super::bridges::claim;
use super::*;

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
    /// The tunnel this interface is the inside of (give this instead of
    /// `port` or `bridge`): what it sends is wrapped and sent to the far
    /// end, what comes from there arrives on it. Its MTU is the smaller
    /// of `mtu` and the underlay's less the overhead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelConf>,
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
    /// Lower the MSS of TCP SYNs forwarded in or out of this interface to
    /// what fits the smaller MTU of the two (for tunnels and links where
    /// ICMP is filtered and Path MTU Discovery fails). Its packets then
    /// take the full path, not the fast one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tcp_mss_clamp: bool,
    /// Send Router Advertisements here (RFC 4861 §6), so hosts configure
    /// an address (SLAAC) and a default route from them. Needs IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ra: Option<RaConf>,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn default_mtu() -> u16 {
    1500
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

impl Config {
    /// Names unique, each on one port, VLAN or bridge; addresses usable and
    /// not overlapping; MTU and RA settings in range.
    pub(super) fn validate_interfaces<'a>(&'a self, seen: &mut Seen<'a>, errs: &mut Vec<ConfigError>) {
        if self.interfaces.len() > stack::iface::MAX_IFACES {
            errs.push(err("interfaces", format!("at most {} interfaces", stack::iface::MAX_IFACES)));
        }
        let mut bvis = HashSet::new();
        self.validate_bridges(&mut seen.attached, errs);
        for (i, ifc) in self.interfaces.iter().enumerate() {
            let f = |s: &str| format!("interfaces[{i}].{s}");
            if let Some(why) = bad_name(&ifc.name) {
                errs.push(err(f("name"), why));
            } else if !seen.if_names.insert(ifc.name.as_str()) {
                errs.push(err(f("name"), format!("interface name '{}' is used twice", ifc.name)));
            }
            if let Some(t) = &ifc.tunnel {
                self.validate_tunnel(i, ifc, t, seen, errs);
            }
            match (&ifc.bridge, ifc.port.is_empty()) {
                _ if ifc.tunnel.is_some() => {
                    if ifc.bridge.is_some() || !ifc.port.is_empty() || ifc.vlan.is_some() {
                        errs.push(err(f("tunnel"), "a tunnel's interface takes no port, VLAN or bridge"));
                    }
                }
                (Some(_), false) => errs.push(err(f("bridge"), "give either port or bridge, not both")),
                (None, true) => {
                    errs.push(err(f("port"), "give the port, the bridge or the tunnel this interface is on"))
                }
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
                    if !seen.port_names.contains(ifc.port.as_str()) {
                        errs.push(err(f("port"), format!("no port is named '{}'", ifc.port)));
                    } else {
                        claim(
                            &mut seen.attached,
                            &ifc.port,
                            ifc.vlan,
                            f(if ifc.vlan.is_some() { "vlan" } else { "port" }),
                            errs,
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
                        if !seen.addrs.insert(c.addr) {
                            errs.push(err(field.clone(), format!("{} is configured twice", c.addr)));
                        }
                        // Named on both sides, so the field a change added is named too.
                        if let Some((other, j2, s)) =
                            seen.subnets.iter().find(|(k, _, s)| *k != i && (s.contains(c.addr) || c.contains(s.addr)))
                        {
                            errs.push(err(
                                format!("interfaces[{other}].ipv4[{j2}]"),
                                format!("{}/{} overlaps {a} of interfaces[{i}]", s.addr, s.len),
                            ));
                            errs.push(err(field, format!("{a} overlaps a subnet of interfaces[{other}]")));
                        }
                        seen.subnets.push((i, j, c));
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
                        if !seen.addrs6.insert(c.addr) {
                            errs.push(err(field.clone(), format!("{} is configured twice", c.addr)));
                        }
                        if let Some((other, j2, s)) = seen
                            .subnets6
                            .iter()
                            .find(|(k, _, s)| *k != i && (s.contains(&c.addr) || c.contains(&s.addr)))
                        {
                            errs.push(err(
                                format!("interfaces[{other}].ipv6[{j2}]"),
                                format!("{s} overlaps {a} of interfaces[{i}]"),
                            ));
                            errs.push(err(field, format!("{a} overlaps a prefix of interfaces[{other}]")));
                        }
                        seen.subnets6.push((i, j, c));
                    }
                    Err(m) => errs.push(err(field, m)),
                }
            }
            if !ifc.ipv6.is_empty() && (68..1280).contains(&ifc.mtu) {
                errs.push(err(f("mtu"), format!("{} is below 1280, the least IPv6 allows (RFC 8200 §5)", ifc.mtu)));
            }
            if let Some(ra) = &ifc.ra {
                validate_ra(ra, &format!("interfaces[{i}].ra"), !ifc.ipv6.is_empty(), errs);
            }
        }
    }
}

pub(super) fn validate_ra(ra: &RaConf, at: &str, has_ipv6: bool, errs: &mut Vec<ConfigError>) {
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

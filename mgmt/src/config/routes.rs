//! The `routes` and `neighbors` sections: static routes (unicast over
//! gateways in connected subnets, unreachable, blackhole) and static
//! neighbor entries.

use super::*;

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

impl Config {
    /// Prefixes parse; gateways are in connected subnets, not our own.
    pub(super) fn validate_routes(&self, seen: &Seen, errs: &mut Vec<ConfigError>) {
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
                    if let Err(m) = self.ipv6_gateway(g, &seen.subnets6, &seen.addrs6) {
                        errs.push(err(field, m));
                    }
                    continue;
                }
                match g.parse::<Ipv4Addr>() {
                    Ok(a) if seen.addrs.contains(&a) => {
                        errs.push(err(field, format!("{a} is one of our own addresses")))
                    }
                    Ok(a) if !seen.subnets.iter().any(|(_, _, s)| s.contains(a)) => {
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
    }

    /// Each on a known interface, with a unicast address and MAC.
    pub(super) fn validate_neighbors(&self, seen: &Seen, errs: &mut Vec<ConfigError>) {
        for (i, n) in self.neighbors.iter().enumerate() {
            let f = |s: &str| format!("neighbors[{i}].{s}");
            if !seen.if_names.contains(n.interface.as_str()) {
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

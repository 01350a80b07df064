//! An interface's `tunnel`: a point-to-point tunnel whose inside the
//! interface is (see `docs/tunnels.md`).

use super::*;
use std::net::IpAddr;

/// How the tunnel wraps what it carries; Linux's names.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// GRE (RFC 2784, key RFC 2890): IPv4 and IPv6 inside, over IPv4 or
    /// IPv6.
    Gre,
    /// IPv4 in IPv4 (RFC 2003).
    Ipip,
    /// IPv6 in IPv4, 6in4 (RFC 4213).
    Sit,
    /// IPv4 and IPv6 in IPv6 (RFC 2473).
    Ip6tnl,
}

/// A point-to-point tunnel.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TunnelConf {
    /// `gre`, `ipip`, `sit` or `ip6tnl`.
    #[serde(rename = "type")]
    pub kind: TunnelType,
    /// Our end: an address of another (not a tunnel's) interface. Its
    /// family is the outer header's.
    pub local: String,
    /// The far end's address, of the same family.
    pub remote: String,
    /// GRE key (RFC 2890), for `gre` only: both ends must agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    /// TTL (hop limit) of the outer header (1..=255).
    #[serde(default = "default_ttl")]
    pub ttl: u8,
}

fn default_ttl() -> u8 {
    64
}

impl TunnelConf {
    /// The tunnel as the tables take it (the config must be valid).
    pub fn to_tunnel(&self) -> Option<stack::Tunnel> {
        let kind = match self.kind {
            TunnelType::Gre => stack::TunnelKind::Gre { key: self.key },
            _ => stack::TunnelKind::Ip,
        };
        Some(stack::Tunnel { kind, local: self.local.parse().ok()?, remote: self.remote.parse().ok()?, ttl: self.ttl })
    }
}

impl Config {
    /// Ends of one family and the type's, ours configured elsewhere, the
    /// inner families the type carries, no RA; no two tunnels that take
    /// the same packets.
    pub(super) fn validate_tunnel<'a>(
        &'a self,
        i: usize,
        ifc: &'a InterfaceConf,
        t: &TunnelConf,
        seen: &mut Seen<'a>,
        errs: &mut Vec<ConfigError>,
    ) {
        let f = |s: &str| format!("interfaces[{i}].tunnel.{s}");
        let local = t.local.parse::<IpAddr>();
        let remote = t.remote.parse::<IpAddr>();
        if local.is_err() {
            errs.push(err(f("local"), format!("'{}' is not an IP address", t.local)));
        }
        if remote.is_err() {
            errs.push(err(f("remote"), format!("'{}' is not an IP address", t.remote)));
        }
        if let (Ok(l), Ok(r)) = (local, remote) {
            if l.is_ipv4() != r.is_ipv4() {
                errs.push(err(f("remote"), "local and remote must be of one family"));
            }
            let v6_outer = matches!(t.kind, TunnelType::Ip6tnl);
            if t.kind != TunnelType::Gre && l.is_ipv6() != v6_outer {
                let want = if v6_outer { "IPv6" } else { "IPv4" };
                errs.push(err(f("local"), format!("a {:?} tunnel's ends are {want} addresses", t.kind).to_lowercase()));
            }
            if r.is_unspecified() || r.is_multicast() || r.is_loopback() {
                errs.push(err(f("remote"), format!("{r} is not a unicast address")));
            }
            if !self.owns_outside_tunnels(l) {
                errs.push(err(f("local"), format!("{l} is not an address of an interface (other than a tunnel's)")));
            }
            if let Some(tun) = t.to_tunnel() {
                for key in tun.keys(!ifc.ipv4.is_empty(), !ifc.ipv6.is_empty()) {
                    if let Some(other) = seen.tunnels.insert(key, i).filter(|o| *o != i) {
                        errs.push(err(f("remote"), format!("interfaces[{other}] is a tunnel with the same ends")));
                    }
                }
            }
        }
        if t.key.is_some() && t.kind != TunnelType::Gre {
            errs.push(err(f("key"), "only GRE has a key"));
        }
        if t.ttl == 0 {
            errs.push(err(f("ttl"), "must be at least 1"));
        }
        let at = |s: &str| format!("interfaces[{i}].{s}");
        match t.kind {
            TunnelType::Ipip if !ifc.ipv6.is_empty() => errs.push(err(at("ipv6"), "an ipip tunnel carries IPv4 only")),
            TunnelType::Sit if !ifc.ipv4.is_empty() => errs.push(err(at("ipv4"), "a sit tunnel carries IPv6 only")),
            _ => {}
        }
        if ifc.ra.is_some() {
            errs.push(err(at("ra"), "a tunnel has no Router Advertisements"));
        }
    }

    /// True when `a` is configured on an interface that is not a tunnel.
    fn owns_outside_tunnels(&self, a: IpAddr) -> bool {
        self.interfaces.iter().filter(|x| x.tunnel.is_none()).any(|x| match a {
            IpAddr::V4(a) => x.ipv4.iter().filter_map(|c| c.parse::<Ipv4Cidr>().ok()).any(|c| c.addr == a),
            IpAddr::V6(a) => x.ipv6.iter().filter_map(|c| c.parse::<Ipv6Cidr>().ok()).any(|c| c.addr == a),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = include_str!("../../../deploy/lab/gateway.yaml");

    fn errors(tunnels: &str) -> Vec<String> {
        let text = LAB.replace("management:", &format!("{tunnels}management:"));
        let cfg = Config::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        cfg.validate().err().unwrap_or_default().into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect()
    }

    /// Appended to the lab's `interfaces` list (its last entry is wan).
    fn tunnel(name: &str, body: &str, extra: &str) -> String {
        format!("  - name: {name}\n    tunnel: {{ {body} }}\n{extra}")
    }

    #[test]
    fn every_type_of_tunnel_over_the_lab_is_valid() {
        let t = [
            tunnel(
                "gre1",
                "type: gre, local: 203.0.113.1, remote: 203.0.113.2, key: 7",
                "    ipv4: [\"172.16.0.1/30\"]\n    ipv6: [\"fd00:99::1/64\"]\n",
            ),
            tunnel("ipip1", "type: ipip, local: 203.0.113.1, remote: 203.0.113.2", "    ipv4: [\"172.16.1.1/30\"]\n"),
            tunnel("sit1", "type: sit, local: 203.0.113.1, remote: 203.0.113.2", "    ipv6: [\"fd00:98::1/64\"]\n"),
            tunnel(
                "ip6tnl1",
                "type: ip6tnl, local: \"2001:db8:1::1\", remote: \"2001:db8:1::2\"",
                "    ipv4: [\"172.16.2.1/30\"]\n",
            ),
        ];
        assert_eq!(errors(&t.concat()), Vec::<String>::new());
        let cfg = Config::parse(&LAB.replace("management:", &format!("{}management:", t[0]))).unwrap();
        let g = cfg.interfaces[2].tunnel.as_ref().and_then(TunnelConf::to_tunnel).unwrap();
        assert_eq!(g.kind, stack::TunnelKind::Gre { key: Some(7) });
        assert_eq!(g.ttl, 64);
    }

    #[test]
    fn bad_tunnels_are_refused_by_field() {
        let e = errors(
            &[
                tunnel("a", "type: gre, local: 203.0.113.9, remote: \"2001:db8:1::2\"", ""),
                tunnel("b", "type: ipip, local: \"2001:db8:1::1\", remote: \"2001:db8:1::2\", key: 1", ""),
                tunnel("c", "type: sit, local: 203.0.113.1, remote: 224.0.0.1", "    ipv4: [\"172.16.0.1/30\"]\n"),
                tunnel("d", "type: gre, local: 203.0.113.1, remote: 203.0.113.2, ttl: 0", "    port: lan\n"),
                tunnel("e", "type: gre, local: 203.0.113.1, remote: 203.0.113.2", ""),
            ]
            .concat(),
        );
        let want = [
            "interfaces[2].tunnel.remote: local and remote must be of one family",
            "interfaces[2].tunnel.local: 203.0.113.9 is not an address of an interface (other than a tunnel's)",
            "interfaces[3].tunnel.local: a ipip tunnel's ends are ipv4 addresses",
            "interfaces[3].tunnel.key: only GRE has a key",
            "interfaces[4].tunnel.remote: 224.0.0.1 is not a unicast address",
            "interfaces[4].ipv4: a sit tunnel carries IPv6 only",
            "interfaces[5].tunnel.ttl: must be at least 1",
            "interfaces[5].tunnel: a tunnel's interface takes no port, VLAN or bridge",
            "interfaces[6].tunnel.remote: interfaces[5] is a tunnel with the same ends",
        ];
        for w in want {
            assert!(e.iter().any(|x| x == w), "missing {w:?} in {e:#?}");
        }
    }
}

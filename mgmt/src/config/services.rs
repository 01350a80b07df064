//! The `services` section: the built-in services the workers serve on
//! the gateway's own addresses (echo and discard over UDP and TCP, HTTP
//! and chargen over TCP).

use super::*;

/// Most listeners (service × address) over all services: a UDP one is a
/// socket in every worker ([`stack::udp::MAX_SOCKETS`]).
pub const MAX_LISTENERS: usize = stack::udp::MAX_SOCKETS;

/// What a built-in service does.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKindConf {
    /// RFC 862: every datagram, or the byte stream, is sent back to its
    /// sender (over UDP not to source ports below 1024, which are other
    /// services').
    Echo,
    /// RFC 863: every datagram, or the byte stream, is counted and dropped.
    Discard,
    /// HTTP/1.1 (TCP only): `/` a status page, `/bytes/N` N bytes.
    Http,
    /// RFC 864 (TCP only): an endless stream of 72-character text lines
    /// until the client resets; what it sends is dropped.
    Chargen,
}

/// The transport a service listens on.
#[derive(Copy, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportConf {
    #[default]
    Udp,
    /// The gateway's own TCP (docs/tcp.md).
    Tcp,
}

/// A built-in service on some of the gateway's addresses.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConf {
    /// Its name (unique), for the API.
    pub name: String,
    /// What it does.
    pub kind: ServiceKindConf,
    /// The transport: `udp` (the default) or `tcp`.
    #[serde(default)]
    pub protocol: TransportConf,
    /// The port it listens on (1-65535).
    pub port: u16,
    /// The gateway addresses it listens on: each an address of one of its
    /// interfaces, IPv4 or IPv6 (`10.0.1.1`, `fd00:1::1`).
    pub addresses: Vec<String>,
}

impl ServiceConf {
    /// The stack's listeners for it (addresses that do not parse are left
    /// out: validation reports them).
    pub fn listeners(&self) -> impl Iterator<Item = stack::Listener> + '_ {
        let kind = match self.kind {
            ServiceKindConf::Echo => stack::ServiceKind::Echo,
            ServiceKindConf::Discard => stack::ServiceKind::Discard,
            ServiceKindConf::Http => stack::ServiceKind::Http,
            ServiceKindConf::Chargen => stack::ServiceKind::Chargen,
        };
        let transport = match self.protocol {
            TransportConf::Udp => stack::Transport::Udp,
            TransportConf::Tcp => stack::Transport::Tcp,
        };
        self.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()).map(move |a| stack::Listener {
            kind,
            transport,
            local: SocketAddr::new(a, self.port),
        })
    }
}

impl Config {
    /// Names are unique; ports are not 0; every address is one of ours,
    /// listened on once per port, and not where VXLAN listens.
    pub(super) fn validate_services(&self, seen: &Seen, errs: &mut Vec<ConfigError>) {
        let mut names = HashSet::new();
        let mut taken: HashMap<(TransportConf, SocketAddr), usize> = HashMap::new();
        for b in &self.bridges {
            if let Some(v) = &b.vxlan {
                if let Ok(a) = v.local.parse::<IpAddr>() {
                    taken.insert((TransportConf::Udp, SocketAddr::new(a, v.port)), usize::MAX);
                }
            }
        }
        let mut listeners = 0usize;
        for (i, s) in self.services.iter().enumerate() {
            let f = |x: &str| format!("services[{i}].{x}");
            if let Some(why) = bad_name(&s.name) {
                errs.push(err(f("name"), why));
            } else if !names.insert(s.name.as_str()) {
                errs.push(err(f("name"), format!("'{}' is used by another service", s.name)));
            }
            if s.port == 0 {
                errs.push(err(f("port"), "must be 1-65535"));
            }
            match (s.kind, s.protocol) {
                (ServiceKindConf::Http, TransportConf::Udp) => errs.push(err(f("protocol"), "http runs over tcp")),
                (ServiceKindConf::Chargen, TransportConf::Udp) => errs.push(err(
                    f("protocol"),
                    "chargen runs over tcp only (over udp it answers spoofed datagrams: an amplifier)",
                )),
                _ => {}
            }
            if s.addresses.is_empty() {
                errs.push(err(f("addresses"), "a service listens on at least one address"));
            }
            listeners += s.addresses.len();
            for (j, a) in s.addresses.iter().enumerate() {
                let field = format!("services[{i}].addresses[{j}]");
                let ours = match a.parse::<IpAddr>() {
                    Ok(IpAddr::V4(v4)) => seen.addrs.contains(&v4),
                    Ok(IpAddr::V6(v6)) => seen.addrs6.contains(&v6),
                    Err(_) => {
                        errs.push(err(field, format!("'{a}' is not an IPv4 or IPv6 address")));
                        continue;
                    }
                };
                let Ok(ip) = a.parse::<IpAddr>() else { continue };
                if !ours {
                    errs.push(err(field, format!("{ip} is not an address of any interface")));
                    continue;
                }
                match taken.insert((s.protocol, SocketAddr::new(ip, s.port)), i) {
                    Some(usize::MAX) => {
                        errs.push(err(field, format!("VXLAN listens on {ip} port {} (bridges[].vxlan)", s.port)))
                    }
                    Some(other) if other != i => {
                        errs.push(err(field, format!("services[{other}] listens on {ip} port {} already", s.port)))
                    }
                    Some(_) => errs.push(err(field, format!("{ip} is listed twice"))),
                    None => {}
                }
            }
        }
        if listeners > MAX_LISTENERS {
            errs.push(err(
                "services",
                format!("{listeners} listeners (addresses over all services); at most {MAX_LISTENERS}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = include_str!("../../../deploy/lab/gateway.yaml");

    fn errors(services: &str) -> Vec<String> {
        let mut c = Config::parse(LAB).unwrap();
        c.services = serde_yaml::from_str(services).unwrap();
        c.validate().err().unwrap_or_default().into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect()
    }

    #[test]
    fn the_lab_serves_echo_and_discard_on_both_families_and_transports() {
        let c = Config::parse(LAB).unwrap();
        c.validate().unwrap();
        let l: Vec<stack::Listener> = c.services.iter().flat_map(ServiceConf::listeners).collect();
        assert_eq!(l.len(), 12);
        let echo6 = stack::Listener {
            kind: stack::ServiceKind::Echo,
            transport: stack::Transport::Udp,
            local: "[fd00:1::1]:7".parse().unwrap(),
        };
        assert_eq!(l[1], echo6);
        assert_eq!(l.iter().filter(|l| l.transport == stack::Transport::Tcp).count(), 8);
        // The same address and port over UDP and TCP is no conflict.
        assert_eq!((l[0].local, l[4].local), (l[4].local, l[0].local));
    }

    #[test]
    fn bad_services_are_refused_by_field() {
        let e = errors(
            "[{ name: a, kind: echo, port: 0, addresses: [10.0.1.1] },
              { name: a, kind: echo, port: 7, addresses: [10.0.9.9, bogus, 10.0.1.1, 10.0.1.1] },
              { name: b, kind: discard, port: 7, addresses: [10.0.1.1] },
              { name: c, kind: discard, port: 9, addresses: [] },
              { name: d, kind: http, port: 80, addresses: [10.0.1.1] },
              { name: e, kind: chargen, port: 19, addresses: [10.0.1.1] }]",
        );
        assert_eq!(
            e,
            [
                "services[0].port: must be 1-65535",
                "services[1].name: 'a' is used by another service",
                "services[1].addresses[0]: 10.0.9.9 is not an address of any interface",
                "services[1].addresses[1]: 'bogus' is not an IPv4 or IPv6 address",
                "services[1].addresses[3]: 10.0.1.1 is listed twice",
                "services[2].addresses[0]: services[1] listens on 10.0.1.1 port 7 already",
                "services[3].addresses: a service listens on at least one address",
                "services[4].protocol: http runs over tcp",
                "services[5].protocol: chargen runs over tcp only (over udp it answers spoofed datagrams: an amplifier)",
            ]
        );
        let sctp =
            serde_yaml::from_str::<ServiceConf>("{ name: t, kind: echo, protocol: sctp, port: 7, addresses: [] }");
        assert!(sctp.unwrap_err().to_string().contains("unknown variant `sctp`, expected `udp` or `tcp`"));
    }

    #[test]
    fn a_service_cannot_take_vxlans_port() {
        let text = include_str!("../../../deploy/lab/vxlan.yaml");
        let mut c = Config::parse(text).unwrap();
        c.services = serde_yaml::from_str("[{ name: x, kind: echo, port: 4789, addresses: [203.0.113.1] }]").unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e[0].field, "services[0].addresses[0]");
        assert!(e[0].message.contains("VXLAN listens on 203.0.113.1 port 4789"), "{e:?}");
    }

    #[test]
    fn listeners_are_bounded() {
        let addrs = vec!["10.0.1.1".to_string()];
        let mut c = Config::parse(LAB).unwrap();
        c.services = (1..=MAX_LISTENERS as u16 + 1)
            .map(|p| ServiceConf {
                name: format!("s{p}"),
                kind: ServiceKindConf::Discard,
                protocol: TransportConf::Udp,
                port: p,
                addresses: addrs.clone(),
            })
            .collect();
        let e = c.validate().unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "services");
    }
}

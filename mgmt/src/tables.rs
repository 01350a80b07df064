//! Turns a validated [`Config`] into the dataplane's [`Tables`] snapshot
//! and its router settings.

use crate::config::{Config, RouteType};
use stack::fib::FibError;
use stack::wire::MacAddr;
use stack::{Interface, Ipv4Cidr, NeighborConfig, NextHop, RouterConfig, StaticNeighbor, StaticRoute, Tables};
use std::net::Ipv4Addr;

/// Builds the snapshot. `port_ids[i]` and `port_macs[i]` belong to
/// `cfg.ports[i]`. The config must have passed `validate`.
pub fn build(cfg: &Config, port_ids: &[u16], port_macs: &[MacAddr], generation: u64) -> Result<Tables, FibError> {
    let ifaces: Vec<Interface> = cfg
        .interfaces
        .iter()
        .filter_map(|i| {
            let p = cfg.ports.iter().position(|p| p.name == i.port)?;
            Some(Interface {
                name: i.name.clone(),
                port: *port_ids.get(p)?,
                mac: *port_macs.get(p)?,
                mtu: i.mtu,
                addrs: i.ipv4.iter().filter_map(|a| a.parse::<Ipv4Cidr>().ok()).collect(),
            })
        })
        .collect();
    let ifindex_for = |gw: Ipv4Addr| ifaces.iter().position(|i| i.addrs.iter().any(|c| c.contains(gw)));
    let routes: Vec<StaticRoute> = cfg
        .routes
        .iter()
        .filter_map(|r| {
            let dst = r.dst.parse::<Ipv4Cidr>().ok()?;
            Some(match r.kind {
                RouteType::Unreachable => StaticRoute::Unreachable { dst },
                RouteType::Blackhole => StaticRoute::Blackhole { dst },
                RouteType::Unicast => StaticRoute::Via {
                    dst,
                    hops: r
                        .via
                        .iter()
                        .filter_map(|g| {
                            let gateway = g.parse().ok()?;
                            Some(NextHop { ifindex: ifindex_for(gateway)? as u16, gateway })
                        })
                        .collect(),
                },
            })
        })
        .collect();
    let neighbors = cfg
        .neighbors
        .iter()
        .filter_map(|n| {
            Some(StaticNeighbor {
                ifindex: ifaces.iter().position(|i| i.name == n.interface)? as u16,
                ip: n.ip.parse().ok()?,
                mac: n.mac.parse().ok()?,
            })
        })
        .collect();
    let mut t = Tables::build(ifaces, &routes, neighbors, generation)?;
    t.settings = router_config(cfg);
    Ok(t)
}

/// The router settings the config asks for.
pub fn router_config(cfg: &Config) -> RouterConfig {
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    RouterConfig {
        neighbor: NeighborConfig {
            capacity: cfg.arp.capacity,
            queue_len: cfg.arp.queue_len,
            max_probes: cfg.arp.max_probes,
            retry_interval: cfg.arp.retry_ms * MS,
            reachable_time: cfg.arp.reachable_s * S,
            gc_time: cfg.arp.gc_s * S,
        },
        icmp_rate: cfg.icmp.rate,
        icmp_burst: cfg.icmp.burst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::RouteTarget;

    #[test]
    fn lab_tables_route_between_the_two_sides() {
        let mut cfg = Config::parse(include_str!("../../deploy/lab/gateway.yaml")).unwrap();
        cfg.routes.push(crate::config::RouteConf {
            dst: "198.51.100.0/24".into(),
            via: vec!["203.0.113.2".into()],
            kind: RouteType::Unicast,
        });
        let macs = [MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])];
        let t = build(&cfg, &[0, 1], &macs, 1).unwrap();
        assert_eq!(t.fib.lookup("10.0.1.1".parse().unwrap()), Some(&RouteTarget::Local { ifindex: 0 }));
        assert_eq!(t.fib.lookup("203.0.113.9".parse().unwrap()), Some(&RouteTarget::Connected { ifindex: 1 }));
        let Some(&RouteTarget::Via { first, count }) = t.fib.lookup("198.51.100.7".parse().unwrap()) else {
            panic!("static route missing")
        };
        assert_eq!(t.fib.nexthops_of(first, count)[0].ifindex, 1);
        assert_eq!(t.iface(1).unwrap().mac, macs[1]);
    }
}

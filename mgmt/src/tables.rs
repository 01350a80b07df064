//! Turns a validated [`Config`] into the dataplane's [`Tables`] snapshot
//! and its router settings.

use crate::config::{Config, InterfaceConf, RaConf, RoutePreference, RouteType};
use crate::fpm::netlink::{Hop, Target};
use crate::fpm::rib::{Learned, Rib};
use stack::fib::FibError;
use stack::wire::icmpv6::PrefixInfo;
use stack::wire::MacAddr;
use stack::{
    Bridge, Interface, IpCidr, Ipv4Cidr, Ipv6Cidr, Member, NeighborConfig, NextHop, NextHop6, RaSettings, RouteChange,
    RouterConfig, StaticNeighbor, StaticRoute, StaticRoute6, Tables,
};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// A tunnel's interface: no port; a MAC of its own, locally administered
/// and made from its name, for its IPv6 link-local address.
fn tunnel_interface(i: &InterfaceConf, tunnel: stack::Tunnel) -> Interface {
    let h = i.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let b = h.to_be_bytes();
    Interface {
        name: i.name.clone(),
        mac: MacAddr([0x02, b[0], b[1], b[2], b[3], b[4]]),
        mtu: i.mtu,
        addrs: i.ipv4.iter().filter_map(|a| a.parse::<Ipv4Cidr>().ok()).collect(),
        addrs6: i.ipv6.iter().filter_map(|a| a.parse::<Ipv6Cidr>().ok()).collect(),
        tunnel: Some(tunnel),
        mss_clamp: i.tcp_mss_clamp,
        ..Interface::default()
    }
}

/// Builds the snapshot. `port_ids[i]` and `port_macs[i]` belong to
/// `cfg.ports[i]`. The config must have passed `validate`.
pub fn build(cfg: &Config, port_ids: &[u16], port_macs: &[MacAddr], generation: u64) -> Result<Tables, FibError> {
    build_with(cfg, &Rib::default(), port_ids, port_macs, generation)
}

/// [`build`], with the routes learned from the routing daemon as well
/// ([`learned_routes`]).
pub fn build_with(
    cfg: &Config,
    rib: &Rib,
    port_ids: &[u16],
    port_macs: &[MacAddr],
    generation: u64,
) -> Result<Tables, FibError> {
    let ifaces: Vec<Interface> = cfg
        .interfaces
        .iter()
        .filter_map(|i| {
            if let Some(t) = &i.tunnel {
                return Some(tunnel_interface(i, t.to_tunnel()?));
            }
            // A bridge's interface takes the MAC of its first member's port.
            let bridge = i.bridge.as_ref().and_then(|b| cfg.bridges.iter().position(|x| x.name == *b));
            let port_name = match bridge.and_then(|b| cfg.bridges.get(b)) {
                Some(b) => &b.members.first()?.port,
                None => &i.port,
            };
            let p = cfg.ports.iter().position(|p| p.name == *port_name)?;
            Some(Interface {
                name: i.name.clone(),
                port: *port_ids.get(p)?,
                vlan: i.vlan,
                bridge: bridge.map(|b| b as u16),
                mac: *port_macs.get(p)?,
                mtu: i.mtu,
                addrs: i.ipv4.iter().filter_map(|a| a.parse::<Ipv4Cidr>().ok()).collect(),
                addrs6: i.ipv6.iter().filter_map(|a| a.parse::<Ipv6Cidr>().ok()).collect(),
                link_local: None, // Tables::build sets it
                ra: i.ra.as_ref().map(|ra| ra_settings(i, ra)),
                proxy_arp: Vec::new(),
                tunnel: None,
                mss_clamp: i.tcp_mss_clamp,
                punt: cfg.punt.as_ref().is_some_and(|p| p.interfaces.contains(&i.name)),
            })
        })
        .collect();
    let mut ifaces = ifaces;
    add_proxy_arp(cfg, &mut ifaces);
    let ifindex_for = |gw: Ipv4Addr| ifaces.iter().position(|i| i.addrs.iter().any(|c| c.contains(gw)));
    // `fe80::1%wan` names its interface; a global gateway is found by prefix.
    let hop6 = |g: &str| -> Option<NextHop6> {
        let (a, scope) = g.split_once('%').map_or((g, None), |(a, s)| (a, Some(s)));
        let gateway: Ipv6Addr = a.parse().ok()?;
        let ifindex = match scope {
            Some(name) => ifaces.iter().position(|i| i.name == name)?,
            None => ifaces.iter().position(|i| i.addrs6.iter().any(|c| c.contains(&gateway)))?,
        };
        Some(NextHop6 { ifindex: ifindex as u16, gateway })
    };
    let routes6: Vec<StaticRoute6> = cfg
        .routes
        .iter()
        .filter_map(|r| {
            let IpCidr::V6(dst) = r.dst.parse::<IpCidr>().ok()? else { return None };
            Some(match r.kind {
                RouteType::Unreachable => StaticRoute::Unreachable { dst },
                RouteType::Blackhole => StaticRoute::Blackhole { dst },
                RouteType::Unicast => StaticRoute::Via { dst, hops: r.via.iter().filter_map(|g| hop6(g)).collect() },
            })
        })
        .collect();
    let routes: Vec<StaticRoute> = cfg
        .routes
        .iter()
        .filter_map(|r| {
            let IpCidr::V4(dst) = r.dst.parse::<IpCidr>().ok()? else { return None };
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
    let (mut routes, mut routes6) = (routes, routes6);
    if !rib.is_empty() {
        let (learned, learned6) = learned_routes(cfg, rib, &ifaces);
        if cfg.routing.prefer == RoutePreference::Learned {
            let won: HashSet<IpCidr> = learned
                .iter()
                .map(|r| IpCidr::V4(*r.dst()))
                .chain(learned6.iter().map(|r| IpCidr::V6(*r.dst())))
                .collect();
            routes.retain(|r| !won.contains(&IpCidr::V4(*r.dst()).prefix()));
            routes6.retain(|r| !won.contains(&IpCidr::V6(*r.dst()).prefix()));
        }
        // (Later same-prefix routes win in the FIB builders.)
        routes.extend(learned);
        routes6.extend(learned6);
    }
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
    let mut t = Tables::build(ifaces, &routes, &routes6, neighbors, generation)?;
    let (bridges, members) = bridges(cfg, port_ids);
    t.set_bridges(bridges, members)?;
    t.settings = router_config(cfg);
    t.services = cfg.services.iter().flat_map(|s| s.listeners()).collect();
    Ok(t)
}

/// The learned routes the FIBs take, IPv4 and IPv6: not one the config
/// has for the same prefix (unless `routing.prefer: learned`), not an
/// interface's connected prefix, and with its next hops on our
/// interfaces: a gateway in a connected subnet (a link-local or on-link
/// next hop names the daemon's interface, which is not ours: left out).
/// A unicast route with no such next hop is left out. Weights are not
/// kept: flows spread evenly over the distinct gateways.
pub fn learned_routes(cfg: &Config, rib: &Rib, ifaces: &[Interface]) -> (Vec<StaticRoute>, Vec<StaticRoute6>) {
    let mut taken = own_prefixes(ifaces);
    if cfg.routing.prefer == RoutePreference::Config {
        taken.extend(config_prefixes(cfg));
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let mut hops = HopMemo::new(rib, ifaces);
    for (dst, r) in rib.routes() {
        if taken.contains(dst) {
            continue;
        }
        match learned_route(&mut hops, *dst, r) {
            Some(Either::V4(r)) => v4.push(r),
            Some(Either::V6(r)) => v6.push(r),
            None => {}
        }
    }
    (v4, v6)
}

/// The prefixes where a learned route meets the config's or the
/// interfaces' (whichever wins): the interfaces' own (their subnets,
/// addresses and broadcast addresses) and the config's routes'. A
/// learned route for any other prefix is a route of its own, which a
/// snapshot can change in place ([`learned_changes`]).
pub fn base_prefixes(cfg: &Config, ifaces: &[Interface]) -> HashSet<IpCidr> {
    let mut base = own_prefixes(ifaces);
    base.extend(config_prefixes(cfg));
    base
}

/// The interfaces' subnets, addresses and broadcast addresses, which no
/// learned route takes.
fn own_prefixes(ifaces: &[Interface]) -> HashSet<IpCidr> {
    let mut own: HashSet<IpCidr> = HashSet::new();
    for i in ifaces {
        for &c in &i.addrs {
            own.insert(IpCidr::V4(c).prefix());
            own.insert(IpCidr::V4(Ipv4Cidr::new(c.addr, 32)));
            if let Some(b) = c.broadcast() {
                own.insert(IpCidr::V4(Ipv4Cidr::new(b, 32)));
            }
        }
        for &c in &i.addrs6 {
            own.insert(IpCidr::V6(c).prefix());
            own.insert(IpCidr::V6(Ipv6Cidr::new(c.addr, 128)));
        }
        if let Some(ll) = i.link_local {
            own.insert(IpCidr::V6(Ipv6Cidr::new(ll, 128)));
        }
    }
    own
}

/// The config's route prefixes.
fn config_prefixes(cfg: &Config) -> impl Iterator<Item = IpCidr> + '_ {
    cfg.routes.iter().filter_map(|r| r.dst.parse::<IpCidr>().ok()).map(|c| c.prefix())
}

/// A learned route of either family.
pub enum Either {
    V4(StaticRoute),
    V6(StaticRoute6),
}

/// The route the FIB takes for learned route `r` to `dst`: its next hops
/// on our interfaces (a gateway in a connected subnet; a link-local one
/// on a kernel twin), or none if it has no such next hop. Weights are
/// not kept: flows spread evenly over the distinct gateways.
fn learned_route(hops: &mut HopMemo, dst: IpCidr, r: &Learned) -> Option<Either> {
    let hops = hops.of(&r.target);
    Some(match dst {
        IpCidr::V4(dst) => Either::V4(as_static(dst, hops, |ifindex, g| match g {
            IpAddr::V4(gateway) => Some(NextHop { ifindex, gateway }),
            IpAddr::V6(_) => None,
        })?),
        IpCidr::V6(dst) => Either::V6(as_static(dst, hops, |ifindex, g| match g {
            IpAddr::V6(gateway) => Some(NextHop6 { ifindex, gateway }),
            IpAddr::V4(_) => None,
        })?),
    })
}

/// Learned routes' targets resolved to our next hops, the last one
/// remembered: a table is mostly long runs of routes through the same
/// few gateways, and resolving each route's afresh (its hops cloned,
/// looked up on the interfaces, collected) was a fifth of installing a
/// full table.
struct HopMemo<'a> {
    rib: &'a Rib,
    ifaces: &'a [Interface],
    last: Option<(Arc<Target>, Resolved)>,
}

/// A learned route's target, resolved.
enum Resolved {
    Blackhole,
    Unreachable,
    /// Our next hops.
    Via(Vec<(u16, IpAddr)>),
    /// No next hop of ours: the route is left out.
    LeftOut,
}

impl<'a> HopMemo<'a> {
    fn new(rib: &'a Rib, ifaces: &'a [Interface]) -> Self {
        HopMemo { rib, ifaces, last: None }
    }

    /// Target `t` resolved, or the last one again if `t` is the same.
    fn of(&mut self, t: &Arc<Target>) -> &Resolved {
        if self.last.as_ref().is_none_or(|(k, _)| !Arc::ptr_eq(k, t) && k != t) {
            self.last = Some((t.clone(), self.resolve(t)));
        }
        self.last.as_ref().map_or(&Resolved::LeftOut, |(_, r)| r)
    }

    fn resolve(&self, t: &Target) -> Resolved {
        match t {
            Target::Blackhole | Target::Prohibit => Resolved::Blackhole,
            Target::Unreachable => Resolved::Unreachable,
            t if self.rib.is_blackhole_object(t) => Resolved::Blackhole,
            t => match resolve(&self.rib.hops(t), self.ifaces, &self.rib.twins) {
                h if h.is_empty() => Resolved::LeftOut,
                h => Resolved::Via(h),
            },
        }
    }
}

/// What the FIBs must change for the learned routes of `prefixes` to be
/// as the rib has them now: each prefix's route, or its removal. `None`
/// if one of them is a base prefix ([`base_prefixes`]), where the
/// config's routes and the interfaces' come into it: only a full build
/// decides those.
pub fn learned_changes(
    rib: &Rib,
    prefixes: &HashSet<IpCidr>,
    base: &HashSet<IpCidr>,
    ifaces: &[Interface],
) -> Option<Vec<RouteChange>> {
    let mut out = Vec::with_capacity(prefixes.len());
    let mut hops = HopMemo::new(rib, ifaces);
    for &dst in prefixes {
        if base.contains(&dst) {
            return None;
        }
        let route = rib.get(&dst).and_then(|r| learned_route(&mut hops, dst, r));
        out.push(match (dst, route) {
            (IpCidr::V4(d), Some(Either::V4(r))) => RouteChange::V4(d, Some(r)),
            (IpCidr::V6(d), Some(Either::V6(r))) => RouteChange::V6(d, Some(r)),
            (IpCidr::V4(d), _) => RouteChange::V4(d, None),
            (IpCidr::V6(d), _) => RouteChange::V6(d, None),
        });
    }
    Some(out)
}

/// A learned route for the FIB builders, via the next hops `hop` takes
/// (of the family); `None` if it is left out.
fn as_static<C, H>(dst: C, r: &Resolved, hop: impl Fn(u16, IpAddr) -> Option<H>) -> Option<StaticRoute<C, H>> {
    Some(match r {
        Resolved::Blackhole => StaticRoute::Blackhole { dst },
        Resolved::Unreachable => StaticRoute::Unreachable { dst },
        Resolved::Via(h) => StaticRoute::Via { dst, hops: h.iter().filter_map(|&(i, g)| hop(i, g)).collect() },
        Resolved::LeftOut => return None,
    })
}

/// Next hops as (our interface index, gateway): each gateway in a
/// connected subnet of one of `ifaces` (of its own family), once.
pub fn resolve(hops: &[Hop], ifaces: &[Interface], twins: &[(u32, String)]) -> Vec<(u16, IpAddr)> {
    let mut out: Vec<(u16, IpAddr)> = Vec::new();
    for h in hops {
        let i = match h.gateway {
            Some(IpAddr::V4(g)) => ifaces.iter().position(|i| i.addrs.iter().any(|c| c.contains(g)) && !i.has_addr(g)),
            Some(IpAddr::V6(g)) if !stack::wire::ipv6::is_link_local(&g) => {
                ifaces.iter().position(|i| i.addrs6.iter().any(|c| c.contains(&g)))
            }
            // A link-local gateway on a kernel twin (OSPFv3, BGP
            // unnumbered): the twin is the interface of its name.
            Some(IpAddr::V6(_)) => twins
                .iter()
                .find(|(k, _)| *k == h.oif && h.oif != 0)
                .and_then(|(_, name)| ifaces.iter().position(|i| i.name == *name && !i.addrs6.is_empty())),
            None => None,
        };
        if let (Some(i), Some(g)) = (i, h.gateway) {
            if !out.iter().any(|&(_, x)| x == g) {
                out.push((i as u16, g));
            }
        }
    }
    out
}

/// The bridges and their members, flattened (flush epochs 0: the
/// controller sets them).
fn bridges(cfg: &Config, port_ids: &[u16]) -> (Vec<Bridge>, Vec<Member>) {
    let mut members = Vec::new();
    let mut bridges = Vec::new();
    for (b, bc) in cfg.bridges.iter().enumerate() {
        let mut mine = Vec::new();
        for m in &bc.members {
            let Some(&port) = cfg.ports.iter().position(|p| p.name == m.port).and_then(|p| port_ids.get(p)) else {
                continue;
            };
            mine.push(members.len() as u16);
            members.push(Member { bridge: b as u16, port, vlan: m.vlan, vtep: None });
        }
        let vxlan = bc.vxlan.as_ref().and_then(|v| {
            for r in v.remotes.iter().filter_map(|r| r.parse().ok()) {
                mine.push(members.len() as u16);
                members.push(Member { bridge: b as u16, port: 0, vlan: None, vtep: Some(r) });
            }
            Some(stack::Vxlan { vni: v.vni, local: v.local.parse().ok()?, port: v.port })
        });
        bridges.push(Bridge {
            name: bc.name.clone(),
            members: mine,
            bvi: None, // set_bridges finds it
            mac_limit: bc.mac_limit,
            aging: u64::from(bc.aging_s) * 1_000_000_000,
            flush_epoch: 0,
            vxlan,
        });
    }
    (bridges, members)
}

/// An interface's Router Advertisement settings; without configured
/// prefixes, the prefix of each of its IPv6 addresses.
fn ra_settings(i: &InterfaceConf, ra: &RaConf) -> RaSettings {
    let prefixes = if ra.prefixes.is_empty() {
        i.ipv6
            .iter()
            .filter_map(|a| a.parse::<Ipv6Cidr>().ok())
            .map(|c| PrefixInfo {
                prefix: c.network(),
                len: c.len,
                on_link: true,
                autonomous: c.len == 64,
                valid_lifetime: 2_592_000,
                preferred_lifetime: 604_800,
            })
            .collect()
    } else {
        ra.prefixes
            .iter()
            .filter_map(|p| {
                let c = p.prefix.parse::<Ipv6Cidr>().ok()?;
                Some(PrefixInfo {
                    prefix: c.network(),
                    len: c.len,
                    on_link: p.on_link,
                    autonomous: p.autonomous,
                    valid_lifetime: p.valid_lifetime_s,
                    preferred_lifetime: p.preferred_lifetime_s,
                })
            })
            .collect()
    };
    RaSettings {
        interval: u64::from(ra.interval_s) * 1_000_000_000,
        router_lifetime: ra.router_lifetime_s.min(9000) as u16,
        hop_limit: ra.hop_limit,
        managed: ra.managed,
        other: ra.other,
        mtu: ra.advertise_mtu.then_some(u32::from(i.mtu)),
        prefixes,
    }
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
            incomplete_limit: cfg.arp.incomplete_limit,
            unconfirmed_limit: cfg.arp.unconfirmed_limit,
            solicit_rate: cfg.arp.solicit_rate,
            ..NeighborConfig::default()
        },
        icmp_rate: cfg.icmp.rate,
        icmp_burst: cfg.icmp.burst,
        icmp_per_destination_rate: cfg.icmp.per_destination_rate,
        icmp_per_destination_burst: cfg.icmp.per_destination_burst,
        mac_capacity: cfg.l2.mac_capacity,
        nat_hold: cfg.nat.fragment_hold,
        flow_cache: cfg.fast_path.flow_cache,
        flow_fill: cfg.fast_path.flow_fill,
        reassembly: stack::ReassemblyConfig {
            contexts: cfg.reassembly.contexts,
            fragments: cfg.reassembly.fragments,
            buffers: cfg.reassembly.buffers,
            per_source: cfg.reassembly.per_source,
            timeout_ns: cfg.reassembly.timeout_ms * MS,
        },
        tcp: cfg.tcp.to_stack(cfg.dpdk.mbufs, cfg.workers.cores.len()),
        ipv4_options: cfg.ipv4.options.into(),
        punt: cfg.punt.as_ref().map(|p| p.limits()).unwrap_or_default(),
    }
}

/// Proxy ARP for NAT: every pool, static or forward address that lies in
/// an interface's subnet (and is not the interface's own) is answered for
/// there, so hosts on that subnet reach it without a route.
fn add_proxy_arp(cfg: &Config, ifaces: &mut [Interface]) {
    let n = &cfg.nat;
    let pools = n.rules.iter().flat_map(|r| r.pool.iter()).filter_map(|a| crate::config::pool_addresses(a)).flatten();
    let statics = n.statics.iter().filter_map(|s| s.outside.parse::<Ipv4Addr>().ok());
    let forwards = n.forwards.iter().filter_map(|f| f.outside.parse::<std::net::SocketAddrV4>().ok()).map(|s| *s.ip());
    for a in pools.chain(statics).chain(forwards) {
        for i in ifaces.iter_mut() {
            if !i.has_addr(a) && i.addrs.iter().any(|c| c.contains(a)) {
                i.proxy_arp.push(a);
            }
        }
    }
    for i in ifaces {
        i.proxy_arp.sort_unstable();
        i.proxy_arp.dedup();
    }
}

/// The NAT's rules from the config, against tables built from the same
/// config (for the outside interfaces' indices and addresses). Rules on
/// an interface the tables lack are left out (validation prevents that).
pub fn nat_rules(cfg: &Config, t: &Tables) -> nat::Rules {
    const S: u64 = 1_000_000_000;
    let n = &cfg.nat;
    let rules = n
        .rules
        .iter()
        .filter_map(|r| {
            let inside: stack::Ipv4Cidr = r.inside.parse().ok()?;
            let outside = t.ifaces.iter().position(|i| i.name == r.outside_interface)?;
            let pool = if r.pool.is_empty() {
                t.ifaces.get(outside)?.primary().into_iter().collect()
            } else {
                r.pool.iter().filter_map(|a| crate::config::pool_addresses(a)).flatten().collect()
            };
            Some(nat::Rule { inside: (inside.network(), inside.len), outside: outside as u16, pool })
        })
        .collect();
    let forwards = n
        .forwards
        .iter()
        .filter_map(|f| {
            let outside: std::net::SocketAddrV4 = f.outside.parse().ok()?;
            let inside: std::net::SocketAddrV4 = f.inside.parse().ok()?;
            Some(nat::Forward {
                proto: if f.protocol == "udp" { 17 } else { 6 },
                outside: (*outside.ip(), outside.port()),
                inside: (*inside.ip(), inside.port()),
            })
        })
        .collect();
    let statics = n
        .statics
        .iter()
        .filter_map(|s| {
            Some(nat::Static {
                outside: s.outside.parse().ok()?,
                inside: s.inside.parse().ok()?,
                interface: t.ifaces.iter().position(|i| i.name == s.outside_interface)? as u16,
            })
        })
        .collect();
    let t = &n.timeouts;
    nat::Rules {
        rules,
        forwards,
        statics,
        filtering: if n.filtering == "address-dependent" {
            nat::Filtering::AddressDependent
        } else {
            nat::Filtering::EndpointIndependent
        },
        timeouts: nat::Timeouts {
            udp: u64::from(t.udp_s) * S,
            tcp_established: u64::from(t.tcp_established_s) * S,
            tcp_transitory: u64::from(t.tcp_transitory_s) * S,
            icmp: u64::from(t.icmp_s) * S,
        },
        ports: (n.port_range[0], n.port_range[1]),
        subscriber_sessions: n.subscriber_sessions,
        subscriber_ports: n.subscriber_ports,
        subscriber_inbound_sessions: n.subscriber_inbound_sessions,
        inbound_sessions: n.inbound_sessions,
        port_reuse_delay: u64::from(n.port_reuse_delay_s) * S,
        port_block: n.port_block,
        log: n.log.is_some(),
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

    /// Routes through the same target in a row share its resolved next
    /// hops; each route still gets its own target's, whatever the order
    /// (two gateways, a blackhole, an unreachable and an unusable
    /// gateway, interleaved).
    #[test]
    fn learned_routes_resolve_each_target_of_a_run_once_and_right() {
        use crate::fpm::netlink::{Hop, Message, Protocol, Route, Target, RT_TABLE_MAIN};
        let cfg = Config::parse(include_str!("../../deploy/lab/gateway.yaml")).unwrap();
        let gw = |a: &str| Target::Hops(vec![Hop { gateway: Some(a.parse().unwrap()), oif: 9, weight: 1 }]);
        let target = |i: u32| match i % 6 {
            0 | 1 => gw("203.0.113.2"),
            2 => gw("203.0.113.3"),
            3 => Target::Blackhole,
            4 => Target::Unreachable,
            _ => gw("192.0.2.1"), // in no subnet of ours
        };
        let dst = |i: u32| Ipv4Addr::from(0x6440_0000 + (i << 8));
        let mut rib = Rib::default();
        for i in 0..600u32 {
            let r = Route {
                dst: IpAddr::V4(dst(i)),
                len: 24,
                table: RT_TABLE_MAIN,
                protocol: Protocol::Bgp,
                metric: 20,
                target: target(i),
            };
            rib.apply(Message::NewRoute(r), 1000);
        }
        let macs = [MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])];
        let t = build_with(&cfg, &rib, &[0, 1], &macs, 1).unwrap();
        for i in 0..600u32 {
            let got = match t.fib.lookup(dst(i)) {
                Some(&RouteTarget::Via { first, count }) => t.fib.nexthops_of(first, count)[0].gateway.to_string(),
                other => format!("{other:?}"),
            };
            let want = match i % 6 {
                0 | 1 => "203.0.113.2",
                2 => "203.0.113.3",
                3 => "Some(Blackhole)",
                4 => "Some(Unreachable)",
                _ => "None",
            };
            assert_eq!(got, want, "{}", dst(i));
        }
    }

    /// Learned routes: installed beside the config's, which wins an equal
    /// prefix unless `routing.prefer: learned`; never over a connected
    /// prefix; a next hop outside our subnets leaves the route out.
    #[test]
    fn learned_routes_join_the_fib_where_they_may() {
        use crate::fpm::netlink::{Hop, Message, Protocol, Route, Target, RT_TABLE_MAIN};
        let mut cfg = Config::parse(include_str!("../../deploy/lab/gateway.yaml")).unwrap();
        cfg.routes.push(crate::config::RouteConf {
            dst: "198.51.100.0/24".into(),
            via: vec!["203.0.113.2".into()],
            kind: RouteType::Unicast,
        });
        let mut rib = Rib::default();
        let mut learn = |dst: &str, len: u8, gw: &str| {
            let target = Target::Hops(vec![Hop { gateway: Some(gw.parse().unwrap()), oif: 9, weight: 1 }]);
            let r = Route {
                dst: dst.parse().unwrap(),
                len,
                table: RT_TABLE_MAIN,
                protocol: Protocol::Bgp,
                metric: 20,
                target,
            };
            rib.apply(Message::NewRoute(r), 100);
        };
        learn("198.51.100.0", 24, "203.0.113.3"); // the config's prefix
        learn("100.64.0.0", 10, "203.0.113.3");
        learn("10.0.1.0", 24, "203.0.113.3"); // lan's connected prefix
        learn("192.0.2.0", 24, "192.0.2.1"); // a gateway in no subnet of ours
        learn("2001:db8:99::", 48, "2001:db8:1::2");
        // A link-local gateway names its interface by the kernel twin's
        // ifindex (9 here: lan's twin); without twins it is left out.
        learn("2001:db8:50::1", 128, "fe80::1");
        let macs = [MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])];
        let via = |t: &Tables, a: &str| match t.fib.lookup(a.parse().unwrap()) {
            Some(&RouteTarget::Via { first, count }) => Some(t.fib.nexthops_of(first, count)[0].gateway.to_string()),
            _ => None,
        };
        let t = build_with(&cfg, &rib, &[0, 1], &macs, 1).unwrap();
        assert_eq!(via(&t, "198.51.100.7").as_deref(), Some("203.0.113.2"), "the config wins");
        assert_eq!(via(&t, "100.64.1.1").as_deref(), Some("203.0.113.3"));
        assert_eq!(t.fib.lookup("10.0.1.9".parse().unwrap()), Some(&RouteTarget::Connected { ifindex: 0 }));
        assert_eq!(via(&t, "192.0.2.9"), None);
        assert!(t.fib6.lookup(&"2001:db8:99::1".parse().unwrap()).is_some());
        assert!(t.fib6.lookup(&"2001:db8:50::1".parse().unwrap()).is_none());
        rib.twins = vec![(9, "lan".into())];
        let t = build_with(&cfg, &rib, &[0, 1], &macs, 1).unwrap();
        let Some(&RouteTarget::Via { first, count }) = t.fib6.lookup(&"2001:db8:50::1".parse().unwrap()) else {
            panic!("no route by the twin")
        };
        let h = t.fib6.nexthops_of(first, count)[0];
        assert_eq!((h.ifindex, h.gateway.to_string().as_str()), (0, "fe80::1"));
        cfg.routing.prefer = RoutePreference::Learned;
        let t = build_with(&cfg, &rib, &[0, 1], &macs, 1).unwrap();
        assert_eq!(via(&t, "198.51.100.7").as_deref(), Some("203.0.113.3"), "the learned route wins");
    }

    #[test]
    fn nat_addresses_in_an_interfaces_subnet_get_proxy_arp_there() {
        let mut cfg = Config::parse(include_str!("../../deploy/lab/nat.yaml")).unwrap();
        let pool = vec!["203.0.113.8/30".into(), "192.0.2.77".into()];
        cfg.nat.rules[0].pool = pool;
        cfg.nat.statics.push(crate::config::NatStaticConf {
            outside: "203.0.113.20".into(),
            inside: "10.0.1.3".into(),
            outside_interface: "wan".into(),
        });
        let macs = [MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])];
        let t = build(&cfg, &[0, 1], &macs, 1).unwrap();
        let want: Vec<Ipv4Addr> = ["203.0.113.8", "203.0.113.9", "203.0.113.10", "203.0.113.11", "203.0.113.20"]
            .map(|a| a.parse().unwrap())
            .into();
        // The forward's 203.0.113.1 is the interface's own; 192.0.2.77 is
        // in no subnet: routed to the gateway upstream.
        assert_eq!(t.iface(1).unwrap().proxy_arp, want);
        assert!(t.iface(0).unwrap().proxy_arp.is_empty());
    }
}

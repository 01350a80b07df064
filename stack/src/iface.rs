//! Interfaces and the read-only tables a worker routes with.
//!
//! [`Tables`] is the snapshot the control plane publishes (DESIGN.md §3):
//! interfaces, the FIB and static neighbors. Workers load it once per
//! burst and never change it.

use crate::fib::{mask, Fib, FibBuilder, FibError, NextHop, RouteTarget};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// An address with its prefix length, as configured on an interface.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, len: u8) -> Self {
        Ipv4Cidr { addr, len }
    }
    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        mask(self.addr, self.len)
    }
    /// The directed broadcast address (none for /31 and /32, RFC 3021).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        (self.len < 31).then(|| Ipv4Addr::from(u32::from(self.network()) | (u32::MAX >> self.len)))
    }
    /// True when `a` is inside this subnet.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        mask(a, self.len) == self.network()
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl std::str::FromStr for Ipv4Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, l) = s.split_once('/').ok_or_else(|| format!("'{s}' is not ADDRESS/LENGTH"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| format!("'{a}' is not an IPv4 address"))?;
        let len: u8 = l.parse().map_err(|_| format!("'{l}' is not a prefix length"))?;
        if len > 32 {
            return Err(format!("prefix length {len} is above 32"));
        }
        Ok(Ipv4Cidr { addr, len })
    }
}

/// A layer-3 interface: one per port for now (VLANs come later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name from the config, for logs and the API.
    pub name: String,
    /// The DPDK port this interface sends and receives on.
    pub port: u16,
    /// The MAC address the gateway uses on this interface.
    pub mac: MacAddr,
    /// IP MTU: the largest IPv4 packet sent on this interface.
    pub mtu: u16,
    /// IPv4 addresses; the first is the primary (source of ICMP errors).
    pub addrs: Vec<Ipv4Cidr>,
}

impl Interface {
    /// The primary address, if any.
    pub fn primary(&self) -> Option<Ipv4Addr> {
        self.addrs.first().map(|c| c.addr)
    }
    /// True when `a` is one of this interface's addresses.
    pub fn has_addr(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.addr == a)
    }
    /// The address to use as source towards `dst`: the one whose subnet
    /// holds it, or the primary.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs.iter().find(|c| c.contains(dst)).map(|c| c.addr).or_else(|| self.primary())
    }
}

/// A static route as the tables take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticRoute {
    /// Via one or more equal-cost gateways.
    Via { dst: Ipv4Cidr, hops: Vec<NextHop> },
    /// Answer Host Unreachable.
    Unreachable { dst: Ipv4Cidr },
    /// Drop silently.
    Blackhole { dst: Ipv4Cidr },
}

/// A neighbor entry fixed by configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StaticNeighbor {
    pub ifindex: u16,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
}

/// Most ports a gateway handles (the port → interface map's size).
pub const MAX_PORTS: usize = 64;
const NO_IFACE: u16 = u16::MAX;

/// The read-only snapshot workers route with.
#[derive(Debug)]
pub struct Tables {
    pub ifaces: Vec<Interface>,
    port_iface: [u16; MAX_PORTS],
    pub fib: Fib,
    pub static_neighbors: Vec<StaticNeighbor>,
    /// Increases with every published snapshot.
    pub generation: u64,
    /// When this differs from the previous snapshot's, workers flush their
    /// learned (non-static) neighbors: interfaces were renumbered, or an
    /// operator asked for a flush.
    pub neighbor_epoch: u64,
    /// Router settings workers take on a new generation: the ICMP rate
    /// limit and the neighbor timers (the cache's sizes stay as started).
    pub settings: crate::router::RouterConfig,
}

impl Tables {
    /// Builds the tables: connected and local routes from the interfaces'
    /// addresses, then the static routes.
    pub fn build(
        ifaces: Vec<Interface>,
        routes: &[StaticRoute],
        static_neighbors: Vec<StaticNeighbor>,
        generation: u64,
    ) -> Result<Tables, FibError> {
        let mut port_iface = [NO_IFACE; MAX_PORTS];
        let mut b = FibBuilder::new();
        for (i, ifc) in ifaces.iter().enumerate() {
            if let Some(slot) = port_iface.get_mut(usize::from(ifc.port)) {
                *slot = i as u16;
            }
            let ifindex = i as u16;
            for c in &ifc.addrs {
                if c.len < 32 {
                    b.add(c.network(), c.len, RouteTarget::Connected { ifindex });
                }
                if let Some(bc) = c.broadcast() {
                    b.add(bc, 32, RouteTarget::Broadcast { ifindex });
                }
            }
        }
        for r in routes {
            match r {
                StaticRoute::Via { dst, hops } => b.add_via(dst.network(), dst.len, hops),
                StaticRoute::Unreachable { dst } => b.add(dst.network(), dst.len, RouteTarget::Unreachable),
                StaticRoute::Blackhole { dst } => b.add(dst.network(), dst.len, RouteTarget::Blackhole),
            };
        }
        // Our own addresses last among /32s, so no static route hides them.
        for (i, ifc) in ifaces.iter().enumerate() {
            for c in &ifc.addrs {
                b.add(c.addr, 32, RouteTarget::Local { ifindex: i as u16 });
            }
        }
        Ok(Tables {
            ifaces,
            port_iface,
            fib: b.build()?,
            static_neighbors,
            generation,
            neighbor_epoch: 0,
            settings: Default::default(),
        })
    }

    /// The interface index for a port, if one is configured.
    #[inline(always)]
    pub fn iface_of_port(&self, port: u16) -> Option<u16> {
        match self.port_iface.get(usize::from(port)) {
            Some(&i) if i != NO_IFACE => Some(i),
            _ => None,
        }
    }

    /// The interface at `ifindex`.
    #[inline(always)]
    pub fn iface(&self, ifindex: u16) -> Option<&Interface> {
        self.ifaces.get(usize::from(ifindex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Tables {
        let ifaces = vec![
            Interface {
                name: "lan".into(),
                port: 0,
                mac: MacAddr([2, 0, 0, 0, 0, 1]),
                mtu: 1500,
                addrs: vec!["10.0.1.1/24".parse().unwrap()],
            },
            Interface {
                name: "wan".into(),
                port: 1,
                mac: MacAddr([2, 0, 0, 0, 0, 2]),
                mtu: 1500,
                addrs: vec!["203.0.113.1/24".parse().unwrap()],
            },
        ];
        let routes = vec![StaticRoute::Via {
            dst: "0.0.0.0/0".parse().unwrap(),
            hops: vec![NextHop { ifindex: 1, gateway: "203.0.113.254".parse().unwrap() }],
        }];
        Tables::build(ifaces, &routes, vec![], 1).unwrap()
    }

    #[test]
    fn connected_local_broadcast_and_static() {
        let t = lab();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(t.fib.lookup(ip("10.0.1.1")), Some(&RouteTarget::Local { ifindex: 0 }));
        assert_eq!(t.fib.lookup(ip("10.0.1.7")), Some(&RouteTarget::Connected { ifindex: 0 }));
        assert_eq!(t.fib.lookup(ip("10.0.1.255")), Some(&RouteTarget::Broadcast { ifindex: 0 }));
        assert_eq!(t.fib.lookup(ip("203.0.113.1")), Some(&RouteTarget::Local { ifindex: 1 }));
        assert!(matches!(t.fib.lookup(ip("8.8.8.8")), Some(RouteTarget::Via { .. })));
        assert_eq!(t.iface_of_port(1), Some(1));
        assert_eq!(t.iface_of_port(7), None);
        assert_eq!(t.iface_of_port(999), None);
    }

    #[test]
    fn cidr_parse_and_broadcast() {
        let c: Ipv4Cidr = "10.0.1.1/24".parse().unwrap();
        assert_eq!(c.network(), Ipv4Addr::new(10, 0, 1, 0));
        assert_eq!(c.broadcast(), Some(Ipv4Addr::new(10, 0, 1, 255)));
        assert!(c.contains(Ipv4Addr::new(10, 0, 1, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 2, 1)));
        assert_eq!("10.0.0.1/31".parse::<Ipv4Cidr>().unwrap().broadcast(), None);
        for bad in ["10.0.0.1", "10.0.0.1/33", "10.0.0/8", "x/8"] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }
}

//! Interfaces and the read-only tables a worker routes with.
//!
//! [`Tables`] is the snapshot the control plane publishes:
//! interfaces, the IPv4 and IPv6 FIBs and static neighbors. Workers load
//! it once per burst and never change it.

use crate::fib::{mask, Fib, FibBuilder, FibError, NextHop, RouteTarget};
use crate::fib6::{mask6, Fib6, Fib6Builder, NextHop6};
pub use crate::overlay::{FastHasher, FastMap, Tunnel, TunnelKey, TunnelKind, VtepIn, Vxlan};
use crate::wire::icmpv6::PrefixInfo;
use crate::wire::ipv6;
use crate::wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// An IPv6 address with its prefix length.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ipv6Cidr {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Ipv6Cidr {
    pub fn new(addr: Ipv6Addr, len: u8) -> Self {
        Ipv6Cidr { addr, len }
    }
    /// The prefix (host bits cleared).
    pub fn network(&self) -> Ipv6Addr {
        mask6(self.addr, self.len)
    }
    /// True when `a` is inside this prefix.
    pub fn contains(&self, a: &Ipv6Addr) -> bool {
        mask6(*a, self.len) == self.network()
    }
}

impl std::fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl std::str::FromStr for Ipv6Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, l) = s.split_once('/').ok_or_else(|| format!("'{s}' is not ADDRESS/LENGTH"))?;
        let addr: Ipv6Addr = a.parse().map_err(|_| format!("'{a}' is not an IPv6 address"))?;
        let len: u8 = l.parse().map_err(|_| format!("'{l}' is not a prefix length"))?;
        if len > 128 {
            return Err(format!("prefix length {len} is above 128"));
        }
        Ok(Ipv6Cidr { addr, len })
    }
}

/// An IPv4 or IPv6 prefix, as routes and the API name them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IpCidr {
    V4(Ipv4Cidr),
    V6(Ipv6Cidr),
}

impl IpCidr {
    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        match self {
            IpCidr::V4(c) => c.len,
            IpCidr::V6(c) => c.len,
        }
    }
    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        match self {
            IpCidr::V4(c) => IpAddr::V4(c.network()),
            IpCidr::V6(c) => IpAddr::V6(c.network()),
        }
    }
    /// True when `a` (of the same family) is inside this prefix.
    pub fn contains(&self, a: IpAddr) -> bool {
        match (self, a) {
            (IpCidr::V4(c), IpAddr::V4(a)) => c.contains(a),
            (IpCidr::V6(c), IpAddr::V6(a)) => c.contains(&a),
            _ => false,
        }
    }
    /// The prefix alone (host bits cleared): two spellings of one
    /// prefix are one key.
    pub fn prefix(&self) -> IpCidr {
        match self {
            IpCidr::V4(c) => IpCidr::V4(Ipv4Cidr::new(c.network(), c.len)),
            IpCidr::V6(c) => IpCidr::V6(Ipv6Cidr::new(c.network(), c.len)),
        }
    }
    /// True when both name the same prefix (host bits ignored).
    pub fn same_prefix(&self, o: &IpCidr) -> bool {
        self.prefix_len() == o.prefix_len() && self.network() == o.network()
    }
}

impl std::fmt::Display for IpCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpCidr::V4(c) => c.fmt(f),
            IpCidr::V6(c) => c.fmt(f),
        }
    }
}

impl std::str::FromStr for IpCidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.contains(':') {
            s.parse().map(IpCidr::V6)
        } else {
            s.parse().map(IpCidr::V4)
        }
    }
}

/// Router Advertisement settings of an interface (RFC 4861 §6.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaSettings {
    /// Time between unsolicited advertisements (MaxRtrAdvInterval), ns.
    pub interval: u64,
    /// AdvDefaultLifetime in seconds (0: not a default router).
    pub router_lifetime: u16,
    /// AdvCurHopLimit.
    pub hop_limit: u8,
    /// AdvManagedFlag and AdvOtherConfigFlag.
    pub managed: bool,
    pub other: bool,
    /// AdvLinkMTU, sent as an MTU option when set.
    pub mtu: Option<u32>,
    /// AdvPrefixList.
    pub prefixes: Vec<PrefixInfo>,
}

/// A layer-3 interface: on a port (untagged), on one VLAN of a port (an
/// 802.1Q sub-interface), on a bridge (its BVI), or the inside of a
/// tunnel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// Name from the config, for logs and the API.
    pub name: String,
    /// The DPDK port this interface sends and receives on (unused for a BVI).
    pub port: u16,
    /// The 802.1Q VLAN id of a sub-interface: frames tagged with it on
    /// `port` are this interface's; frames it sends get the tag.
    pub vlan: Option<u16>,
    /// The bridge (index in [`Tables::bridges`]) this interface is the
    /// routed interface of: it sends and receives through the bridge.
    pub bridge: Option<u16>,
    /// The MAC address the gateway uses on this interface.
    pub mac: MacAddr,
    /// IP MTU: the largest IPv4 packet sent on this interface.
    pub mtu: u16,
    /// IPv4 addresses; the first is the primary (source of ICMP errors).
    pub addrs: Vec<Ipv4Cidr>,
    /// IPv6 addresses (global or unique-local). IPv6 is on for an
    /// interface with at least one; it then also has `link_local`.
    pub addrs6: Vec<Ipv6Cidr>,
    /// The link-local address, fe80::/64 from the MAC by modified EUI-64;
    /// set by [`Tables::build`] on every IPv6 interface.
    pub link_local: Option<Ipv6Addr>,
    /// Send Router Advertisements here (None: do not).
    pub ra: Option<RaSettings>,
    /// Addresses the gateway answers ARP requests for here without
    /// owning them (proxy ARP, RFC 1027): NAT pool, static and forward
    /// addresses within this interface's subnets. Sorted.
    pub proxy_arp: Vec<Ipv4Addr>,
    /// The tunnel this interface is the inside of: it has no port, what
    /// it sends is wrapped and routed to the far end, and what comes
    /// from there unwrapped arrives on it. Its `mtu` is cut to the
    /// underlay's less the overhead by [`Tables::build`].
    pub tunnel: Option<Tunnel>,
    /// Lower the MSS of TCP SYNs forwarded in or out of this interface
    /// to what fits the smaller MTU of the two (RFC 4459 §3.2's remedy
    /// where PMTUD fails). Such an interface's packets take the full path.
    pub mss_clamp: bool,
    /// This interface has a kernel twin: packets for its addresses that
    /// the dataplane does not handle go up to it (`router::punt`).
    pub punt: bool,
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
    /// True when `a` lies in one of this interface's subnets (on link).
    pub fn on_link(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.contains(a))
    }
    /// True when the gateway answers ARP for `a` here on behalf of NAT.
    pub fn proxies(&self, a: Ipv4Addr) -> bool {
        self.proxy_arp.binary_search(&a).is_ok()
    }
    /// The address to use as source towards `dst`: the one whose subnet
    /// holds it, or the primary.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs.iter().find(|c| c.contains(dst)).map(|c| c.addr).or_else(|| self.primary())
    }

    /// True when IPv6 is enabled here.
    #[inline(always)]
    pub fn ipv6(&self) -> bool {
        self.link_local.is_some()
    }
    /// True when `a` is one of this interface's IPv6 addresses (link-local
    /// included).
    pub fn has_addr6(&self, a: &Ipv6Addr) -> bool {
        self.link_local.as_ref() == Some(a) || self.addrs6.iter().any(|c| c.addr == *a)
    }
    /// True when `a` is a multicast group this interface listens to:
    /// all-nodes, all-routers, or the solicited-node group of one of its
    /// addresses (RFC 4291 §2.8).
    pub fn listens6(&self, a: &Ipv6Addr) -> bool {
        *a == ipv6::ALL_NODES
            || *a == ipv6::ALL_ROUTERS
            || self.link_local.iter().chain(self.addrs6.iter().map(|c| &c.addr)).any(|x| ipv6::solicited_node(x) == *a)
    }
    /// The source towards `dst` (RFC 6724 in short): link-local for a
    /// link-local destination, else the address whose prefix holds `dst`,
    /// else the first global address, else link-local.
    pub fn source_for6(&self, dst: &Ipv6Addr) -> Option<Ipv6Addr> {
        if ipv6::is_link_local(dst) {
            return self.link_local;
        }
        self.addrs6.iter().find(|c| c.contains(dst)).or_else(|| self.addrs6.first()).map(|c| c.addr).or(self.link_local)
    }
}

/// A static route as the tables take it: IPv4 by default, IPv6 as
/// [`StaticRoute6`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticRoute<C = Ipv4Cidr, H = NextHop> {
    /// Via one or more equal-cost gateways.
    Via { dst: C, hops: Vec<H> },
    /// Answer Host (IPv6: Address) Unreachable.
    Unreachable { dst: C },
    /// Drop silently.
    Blackhole { dst: C },
}

impl<C, H> StaticRoute<C, H> {
    /// The destination prefix.
    pub fn dst(&self) -> &C {
        match self {
            StaticRoute::Via { dst, .. } | StaticRoute::Unreachable { dst } | StaticRoute::Blackhole { dst } => dst,
        }
    }
}

/// An IPv6 static route.
pub type StaticRoute6 = StaticRoute<Ipv6Cidr, NextHop6>;

/// A neighbor entry fixed by configuration (ARP or NDP).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StaticNeighbor {
    pub ifindex: u16,
    pub ip: IpAddr,
    pub mac: MacAddr,
}

/// Most ports a gateway handles (the port → interface map's size).
pub const MAX_PORTS: usize = 64;
/// Most interfaces (ports, VLAN sub-interfaces and bridge interfaces).
pub const MAX_IFACES: usize = 1024;

/// A bridge port: a DPDK port, untagged (access) or one VLAN of it
/// (trunk); or a remote VXLAN tunnel endpoint of the bridge's VNI.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Index in [`Tables::bridges`].
    pub bridge: u16,
    pub port: u16,
    /// None: untagged frames (access). Some(vid): frames tagged vid; the
    /// tag is popped on the way in and pushed on the way out.
    pub vlan: Option<u16>,
    /// A remote VTEP (RFC 7348): frames to this member are wrapped in
    /// VXLAN and sent to it (`port` is unused).
    pub vtep: Option<Ipv4Addr>,
}

/// A bridge domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    /// Indices in [`Tables::members`].
    pub members: Vec<u16>,
    /// The routed interface on this bridge (ifindex), if any.
    pub bvi: Option<u16>,
    /// Most MAC addresses learned on this bridge (per worker).
    pub mac_limit: u32,
    /// Entries not seen for this long are removed (ns).
    pub aging: u64,
    /// A change makes workers flush this bridge's MAC table (API flush, or
    /// the members changed).
    pub flush_epoch: u64,
    /// The VXLAN segment this bridge extends, if any.
    pub vxlan: Option<Vxlan>,
}

/// What a frame's (port, VLAN) belongs to.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Attach {
    /// Nothing: the frame is dropped.
    #[default]
    None,
    /// A layer-3 interface (ifindex).
    Iface(u16),
    /// A bridge member (index in [`Tables::members`]).
    Member(u16),
}

/// The read-only snapshot workers route with.
#[derive(Debug)]
pub struct Tables {
    pub ifaces: Vec<Interface>,
    pub bridges: Vec<Bridge>,
    pub members: Vec<Member>,
    /// Untagged frames, by port.
    untagged: [Attach; MAX_PORTS],
    /// Tagged frames, sorted by `port << 12 | vid`.
    tagged: Vec<(u32, Attach)>,
    pub fib: Fib,
    pub fib6: Fib6,
    pub static_neighbors: Vec<StaticNeighbor>,
    /// Increases with every published snapshot.
    pub generation: u64,
    /// When this differs from the previous snapshot's, workers flush their
    /// learned (non-static) neighbors: interfaces were renumbered, or an
    /// operator asked for a flush.
    pub neighbor_epoch: u64,
    /// Router settings workers take on a new generation: the ICMP rate
    /// limit and the neighbor timers (the cache's sizes stay as started).
    pub settings: crate::settings::RouterConfig,
    /// Tunnel interfaces by what their packets are matched on.
    pub tunnels: FastMap<TunnelKey, u16>,
    /// VXLAN: bridges by (our VTEP address, VNI), remote VTEP members by
    /// (bridge, address), and the UDP ports VXLAN listens on.
    vteps: FastMap<(u64, u32), VtepIn>,
    vxlan_ports: Vec<u16>,
    /// The built-in services and where they listen.
    pub services: Vec<crate::services::Listener>,
    /// Tunnel interfaces and their configured MTUs, from which their
    /// MTUs are derived again when routes change.
    tunnel_mtus: Vec<(u16, u16)>,
}

/// A route made, replaced or removed in place ([`Tables::apply_routes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteChange {
    V4(Ipv4Cidr, Option<StaticRoute>),
    V6(Ipv6Cidr, Option<StaticRoute6>),
}

/// A static route's destination as a FIB takes it.
fn dest_of<C, H: Copy>(r: &StaticRoute<C, H>) -> crate::fib::Dest<H> {
    match r {
        StaticRoute::Via { hops, .. } => crate::fib::Dest::Via(hops.clone()),
        StaticRoute::Unreachable { .. } => crate::fib::Dest::Plain(RouteTarget::Unreachable),
        StaticRoute::Blackhole { .. } => crate::fib::Dest::Plain(RouteTarget::Blackhole),
    }
}

impl Tables {
    /// Builds the tables: connected and local routes from the interfaces'
    /// addresses, then the static routes; link-local addresses for every
    /// IPv6 interface.
    pub fn build(
        mut ifaces: Vec<Interface>,
        routes: &[StaticRoute],
        routes6: &[StaticRoute6],
        static_neighbors: Vec<StaticNeighbor>,
        generation: u64,
    ) -> Result<Tables, FibError> {
        for ifc in &mut ifaces {
            ifc.link_local = (!ifc.addrs6.is_empty()).then(|| ipv6::link_local_from_mac(ifc.mac.0));
        }
        let fib6 = build_fib6(&ifaces, routes6)?;
        let mut b = FibBuilder::new();
        for (i, ifc) in ifaces.iter().enumerate() {
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
        let fib = b.build()?;
        let mut tunnels = FastMap::default();
        let mut tunnel_mtus = Vec::new();
        for (i, ifc) in ifaces.iter().enumerate() {
            if let Some(tun) = ifc.tunnel {
                for k in tun.keys(!ifc.addrs.is_empty(), !ifc.addrs6.is_empty()) {
                    tunnels.insert(k, i as u16);
                }
                tunnel_mtus.push((i as u16, ifc.mtu));
            }
        }
        let mut t = Tables {
            ifaces,
            bridges: Vec::new(),
            members: Vec::new(),
            untagged: [Attach::None; MAX_PORTS],
            tagged: Vec::new(),
            fib,
            fib6,
            static_neighbors,
            generation,
            neighbor_epoch: 0,
            settings: Default::default(),
            tunnels,
            vteps: Default::default(),
            vxlan_ports: Vec::new(),
            services: Vec::new(),
            tunnel_mtus,
        };
        t.derive_tunnel_mtus();
        t.attach()?;
        Ok(t)
    }

    /// A tunnel's MTU: its configured one, or less, so that it fits the
    /// underlay's MTU with the outer headers (the routes decide which
    /// interface the underlay leaves by).
    fn derive_tunnel_mtus(&mut self) {
        for &(i, mtu) in &self.tunnel_mtus {
            if let Some(ifc) = self.ifaces.get_mut(usize::from(i)) {
                ifc.mtu = mtu;
            }
        }
        let derived: Vec<(u16, u16)> = self
            .tunnel_mtus
            .iter()
            .filter_map(|&(i, mtu)| {
                let tun = self.ifaces.get(usize::from(i))?.tunnel?;
                let overhead = tun.kind.overhead(tun.remote.is_ipv6()) as u16;
                Some((
                    i,
                    mtu.min(underlay_mtu(&self.fib, &self.fib6, &self.ifaces, tun.remote).saturating_sub(overhead)),
                ))
            })
            .collect();
        for (i, mtu) in derived {
            if let Some(ifc) = self.ifaces.get_mut(usize::from(i)) {
                ifc.mtu = mtu;
            }
        }
    }

    /// Changes routes in place, each at the cost of what it covers rather
    /// than of the table (the control plane calls this on a snapshot no
    /// worker holds, then publishes it as `generation`). A change names a
    /// prefix and what its route is now: `None` removes it. The caller
    /// sees to it that no interface's prefix or address is changed here:
    /// those come from a full [`Tables::build`]. On an error, the changes
    /// before the failing one are made.
    pub fn apply_routes(&mut self, changes: &[RouteChange], generation: u64) -> Result<(), FibError> {
        for c in changes {
            match c {
                RouteChange::V4(dst, None) => {
                    self.fib.remove(dst.network(), dst.len);
                }
                RouteChange::V4(dst, Some(r)) => self.fib.insert(dst.network(), dst.len, dest_of(r))?,
                RouteChange::V6(dst, None) => {
                    self.fib6.remove(dst.network(), dst.len);
                }
                RouteChange::V6(dst, Some(r)) => self.fib6.insert(dst.network(), dst.len, dest_of(r))?,
            }
        }
        if !self.tunnel_mtus.is_empty() {
            self.derive_tunnel_mtus();
        }
        self.generation = generation;
        Ok(())
    }

    /// Adds the bridges and their members, then maps every (port, VLAN)
    /// again. A BVI names its bridge in [`Interface::bridge`].
    pub fn set_bridges(&mut self, bridges: Vec<Bridge>, members: Vec<Member>) -> Result<(), FibError> {
        self.bridges = bridges;
        self.members = members;
        for br in &mut self.bridges {
            br.bvi = None;
        }
        for (i, ifc) in self.ifaces.iter().enumerate() {
            if let Some(br) = ifc.bridge.and_then(|b| self.bridges.get_mut(usize::from(b))) {
                br.bvi = Some(i as u16);
            }
        }
        self.vteps.clear();
        self.vxlan_ports.clear();
        for v in self.bridges.iter().filter_map(|b| b.vxlan) {
            if !self.vxlan_ports.contains(&v.port) {
                self.vxlan_ports.push(v.port);
            }
        }
        for (m, member) in self.members.iter().enumerate() {
            let Some(remote) = member.vtep else { continue };
            let Some(br) = self.bridges.get(usize::from(member.bridge)) else { continue };
            let Some(v) = br.vxlan else { continue };
            // Unknown unicast from a VTEP goes without a copy to the one
            // member that may have it, if there is one (split horizon).
            let vtep = |x: &u16| self.members.get(usize::from(*x)).is_some_and(|y| y.vtep.is_some());
            let mut others = br.members.iter().filter(|x| !vtep(x));
            let flood_to = match (others.next(), others.next()) {
                (Some(&o), None) => o,
                _ => u16::MAX,
            };
            let bvi_mac = br.bvi.and_then(|i| self.ifaces.get(usize::from(i))).map_or(MacAddr::ZERO, |i| i.mac);
            let key = (u64::from(u32::from(v.local)) << 32 | u64::from(u32::from(remote)), v.vni);
            let flood_port = self.plain_port(flood_to);
            self.vteps.insert(key, VtepIn { bridge: member.bridge, member: m as u16, flood_to, flood_port, bvi_mac });
        }
        self.attach()
    }

    /// Builds the ingress maps from the interfaces and members. Two users
    /// of one (port, VLAN) are an error (validation reports them first).
    fn attach(&mut self) -> Result<(), FibError> {
        let mut untagged = [Attach::None; MAX_PORTS];
        let mut tagged = Vec::new();
        let ifaces = self.ifaces.iter().enumerate().filter(|(_, i)| i.bridge.is_none() && i.tunnel.is_none());
        let users = ifaces.map(|(i, ifc)| (ifc.port, ifc.vlan, Attach::Iface(i as u16))).chain(
            self.members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.vtep.is_none())
                .map(|(i, m)| (m.port, m.vlan, Attach::Member(i as u16))),
        );
        for (port, vlan, a) in users {
            match vlan {
                None => {
                    let slot = untagged.get_mut(usize::from(port)).ok_or(FibError::Attach(port, 0))?;
                    if *slot != Attach::None {
                        return Err(FibError::Attach(port, 0));
                    }
                    *slot = a;
                }
                Some(vid) => tagged.push((u32::from(port) << 12 | u32::from(vid & 0xfff), a)),
            }
        }
        tagged.sort_unstable_by_key(|e| e.0);
        if let Some(w) = tagged.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(FibError::Attach((w[0].0 >> 12) as u16, (w[0].0 & 0xfff) as u16));
        }
        self.untagged = untagged;
        self.tagged = tagged;
        Ok(())
    }

    /// What untagged (or priority-tagged) frames on `port` belong to.
    #[inline(always)]
    pub fn ingress(&self, port: u16) -> Attach {
        self.untagged.get(usize::from(port)).copied().unwrap_or_default()
    }

    /// What frames tagged `vid` on `port` belong to.
    #[inline]
    pub fn ingress_tagged(&self, port: u16, vid: u16) -> Attach {
        let k = u32::from(port) << 12 | u32::from(vid & 0xfff);
        match self.tagged.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => self.tagged.get(i).map_or(Attach::None, |e| e.1),
            Err(_) => Attach::None,
        }
    }

    /// The interface for untagged frames on a port, if one is configured.
    #[inline(always)]
    pub fn iface_of_port(&self, port: u16) -> Option<u16> {
        match self.ingress(port) {
            Attach::Iface(i) => Some(i),
            _ => None,
        }
    }

    /// True if VXLAN listens on UDP port `port`.
    #[inline]
    pub fn vxlan_port(&self, port: u16) -> bool {
        self.vxlan_ports.contains(&port)
    }

    /// The port of bridge member `member` if frames go to it as they are
    /// (untagged, not a VTEP); `u16::MAX` otherwise, or for no member.
    #[inline]
    pub fn plain_port(&self, member: u16) -> u16 {
        match self.members.get(usize::from(member)) {
            Some(m) if m.vlan.is_none() && m.vtep.is_none() => m.port,
            _ => u16::MAX,
        }
    }

    /// The remote VTEP `remote` in the bridge of VNI `vni` at our VTEP
    /// address `local`: its member, as a frame from it comes in.
    #[inline]
    pub fn vxlan_member(&self, local: Ipv4Addr, vni: u32, remote: Ipv4Addr) -> Option<&VtepIn> {
        self.vteps.get(&(u64::from(u32::from(local)) << 32 | u64::from(u32::from(remote)), vni))
    }

    /// The tunnel interface a received tunnel packet belongs to.
    #[inline]
    pub fn tunnel(&self, key: &TunnelKey) -> Option<u16> {
        if self.tunnels.is_empty() {
            return None;
        }
        self.tunnels.get(key).copied()
    }

    /// The interface at `ifindex`.
    #[inline(always)]
    pub fn iface(&self, ifindex: u16) -> Option<&Interface> {
        self.ifaces.get(usize::from(ifindex))
    }
}

/// The IPv6 FIB: connected prefixes, static routes, then our own
/// addresses (link-local ones included) as /128 local routes, so no static
/// route hides them. fe80::/64 is not routed: link-local destinations
/// are never forwarded (RFC 4291 §2.5.6).
fn build_fib6(ifaces: &[Interface], routes6: &[StaticRoute6]) -> Result<Fib6, FibError> {
    let mut b = Fib6Builder::new();
    for (i, ifc) in ifaces.iter().enumerate() {
        for c in &ifc.addrs6 {
            if c.len < 128 {
                b.add(c.network(), c.len, RouteTarget::Connected { ifindex: i as u16 });
            }
        }
    }
    for r in routes6 {
        match r {
            StaticRoute::Via { dst, hops } => b.add_via(dst.network(), dst.len, hops),
            StaticRoute::Unreachable { dst } => b.add(dst.network(), dst.len, RouteTarget::Unreachable),
            StaticRoute::Blackhole { dst } => b.add(dst.network(), dst.len, RouteTarget::Blackhole),
        };
    }
    for (i, ifc) in ifaces.iter().enumerate() {
        for a in ifc.addrs6.iter().map(|c| c.addr).chain(ifc.link_local) {
            b.add(a, 128, RouteTarget::Local { ifindex: i as u16 });
        }
    }
    b.build()
}

/// The MTU of the interface the FIB sends `dst` by (1500 while it has
/// no route).
fn underlay_mtu(fib: &Fib, fib6: &Fib6, ifaces: &[Interface], dst: IpAddr) -> u16 {
    let ifindex = match dst {
        IpAddr::V4(a) => match fib.lookup(a) {
            Some(RouteTarget::Connected { ifindex }) => Some(*ifindex),
            Some(RouteTarget::Via { first, count }) => fib.nexthop(*first, *count, 0).map(|h| h.ifindex),
            _ => None,
        },
        IpAddr::V6(a) => match fib6.lookup(&a) {
            Some(RouteTarget::Connected { ifindex }) => Some(*ifindex),
            Some(RouteTarget::Via { first, count }) => fib6.nexthop(*first, *count, 0).map(|h| h.ifindex),
            _ => None,
        },
    };
    ifindex.and_then(|i| ifaces.get(usize::from(i))).map_or(1500, |ifc| ifc.mtu)
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
                addrs6: vec!["fd00:1::1/64".parse().unwrap()],
                ..Default::default()
            },
            Interface {
                name: "wan".into(),
                port: 1,
                mac: MacAddr([2, 0, 0, 0, 0, 2]),
                mtu: 1500,
                addrs: vec!["203.0.113.1/24".parse().unwrap()],
                ..Default::default()
            },
        ];
        let routes = vec![StaticRoute::Via {
            dst: "0.0.0.0/0".parse().unwrap(),
            hops: vec![NextHop { ifindex: 1, gateway: "203.0.113.254".parse().unwrap() }],
        }];
        let routes6 = vec![StaticRoute::Via {
            dst: "::/0".parse().unwrap(),
            hops: vec![NextHop6 { ifindex: 0, gateway: "fe80::9".parse().unwrap() }],
        }];
        Tables::build(ifaces, &routes, &routes6, vec![], 1).unwrap()
    }

    #[test]
    fn ipv6_connected_local_link_local_and_static() {
        let t = lab();
        let ip = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let lan = t.iface(0).unwrap();
        assert_eq!(lan.link_local, Some(ip("fe80::ff:fe00:1")));
        assert!(!t.iface(1).unwrap().ipv6(), "no IPv6 address, no IPv6");
        assert_eq!(t.fib6.lookup(&ip("fd00:1::1")), Some(&RouteTarget::Local { ifindex: 0 }));
        assert_eq!(t.fib6.lookup(&ip("fe80::ff:fe00:1")), Some(&RouteTarget::Local { ifindex: 0 }));
        assert_eq!(t.fib6.lookup(&ip("fd00:1::77")), Some(&RouteTarget::Connected { ifindex: 0 }));
        assert!(matches!(t.fib6.lookup(&ip("2001:db8::1")), Some(RouteTarget::Via { .. })));
        assert!(lan.listens6(&ip("ff02::1:ff00:1")), "solicited-node of fd00:1::1 and the link-local");
        assert!(!lan.listens6(&ip("ff02::1:ff00:2")));
        assert_eq!(lan.source_for6(&ip("fe80::5")), Some(ip("fe80::ff:fe00:1")));
        assert_eq!(lan.source_for6(&ip("2001:db8::5")), Some(ip("fd00:1::1")));
    }

    /// Routes changed in place give the tables a full build of the same
    /// routes gives, the tunnel MTU that depends on them included.
    #[test]
    fn routes_changed_in_place_match_a_full_build() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let mut ifaces = lab().ifaces;
        ifaces.push(Interface {
            name: "small".into(),
            port: 2,
            mtu: 1300,
            addrs: vec!["198.51.100.1/24".parse().unwrap()],
            ..Default::default()
        });
        ifaces.push(Interface {
            name: "gre1".into(),
            mtu: 1476,
            addrs: vec!["172.16.0.1/30".parse().unwrap()],
            tunnel: Some(Tunnel {
                kind: TunnelKind::Gre { key: None },
                local: ip("203.0.113.1").into(),
                remote: ip("192.0.2.77").into(),
                ttl: 64,
            }),
            ..Default::default()
        });
        for i in &mut ifaces {
            i.link_local = None;
        }
        let default = StaticRoute::Via {
            dst: "0.0.0.0/0".parse().unwrap(),
            hops: vec![NextHop { ifindex: 1, gateway: ip("203.0.113.254") }],
        };
        let underlay: Ipv4Cidr = "192.0.2.0/24".parse().unwrap();
        let via_small =
            StaticRoute::Via { dst: underlay, hops: vec![NextHop { ifindex: 2, gateway: ip("198.51.100.9") }] };
        let v6: Ipv6Cidr = "2001:db8:5::/48".parse().unwrap();
        let v6_route = StaticRoute::Blackhole { dst: v6 };
        let mut t = Tables::build(ifaces.clone(), std::slice::from_ref(&default), &[], vec![], 1).unwrap();
        assert_eq!(t.iface(3).unwrap().mtu, 1476);
        let changes = [RouteChange::V4(underlay, Some(via_small.clone())), RouteChange::V6(v6, Some(v6_route.clone()))];
        t.apply_routes(&changes, 2).unwrap();
        let full = Tables::build(ifaces.clone(), &[default.clone(), via_small], &[v6_route], vec![], 2).unwrap();
        assert_eq!((t.generation, t.iface(3).unwrap().mtu, full.iface(3).unwrap().mtu), (2, 1276, 1276));
        for a in ["192.0.2.77", "8.8.8.8", "10.0.1.9", "10.0.1.1", "203.0.113.255", "172.16.0.2"] {
            let (x, y) = (t.fib.lookup(ip(a)), full.fib.lookup(ip(a)));
            let hop = |t: &Tables, r: Option<&RouteTarget>| match r {
                Some(&RouteTarget::Via { first, count }) => t.fib.nexthops_of(first, count).to_vec(),
                _ => vec![],
            };
            assert_eq!(hop(&t, x), hop(&full, y), "{a}");
            assert_eq!(x.map(std::mem::discriminant), y.map(std::mem::discriminant), "{a}");
        }
        let probe: Ipv6Addr = "2001:db8:5::1".parse().unwrap();
        assert_eq!(t.fib6.lookup(&probe), Some(&RouteTarget::Blackhole));
        // And back.
        t.apply_routes(&[RouteChange::V4(underlay, None), RouteChange::V6(v6, None)], 3).unwrap();
        assert_eq!(t.iface(3).unwrap().mtu, 1476);
        assert!(matches!(t.fib.lookup(ip("192.0.2.77")), Some(RouteTarget::Via { .. })));
        assert_eq!(t.fib6.lookup(&probe), None);
    }

    #[test]
    fn ipv6_cidr_parse() {
        let c: Ipv6Cidr = "fd00:1::1/64".parse().unwrap();
        assert_eq!(c.network(), "fd00:1::".parse::<Ipv6Addr>().unwrap());
        assert!(c.contains(&"fd00:1::ffff".parse().unwrap()));
        for bad in ["fd00::1", "fd00::1/129", "10.0.0.1/8", "x/64"] {
            assert!(bad.parse::<Ipv6Cidr>().is_err(), "{bad}");
        }
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

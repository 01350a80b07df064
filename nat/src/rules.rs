//! The NAT's configuration as workers see it: a read-only snapshot the
//! control plane publishes, like [`stack::Tables`].

use std::net::Ipv4Addr;

const SECOND: u64 = 1_000_000_000;

/// Which inbound packets an existing mapping lets in (RFC 4787 §5).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Filtering {
    /// Any outside host may send to a mapping (RFC 4787 REQ-8's
    /// recommendation for transparency).
    #[default]
    EndpointIndependent,
    /// Only hosts the inside endpoint has sent to (any of their ports).
    AddressDependent,
}

/// Idle timeouts, in nanoseconds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP mappings (RFC 4787 REQ-5: at least 2 minutes; default 5).
    pub udp: u64,
    /// Established TCP (RFC 5382 REQ-5: at least 2 h 4 min).
    pub tcp_established: u64,
    /// TCP opening, closing, or reset (RFC 5382 REQ-5, RFC 7857 §2.2:
    /// at least 4 min).
    pub tcp_transitory: u64,
    /// ICMP query (RFC 5508 REQ-1: at least 60 s).
    pub icmp: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { udp: 300 * SECOND, tcp_established: 7440 * SECOND, tcp_transitory: 240 * SECOND, icmp: 60 * SECOND }
    }
}

/// One source NAT rule: packets from `inside` leaving through interface
/// `outside` get a source from `pool`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Inside prefix (address, length).
    pub inside: (Ipv4Addr, u8),
    /// Outside interface index in [`stack::Tables::ifaces`].
    pub outside: u16,
    /// Outside addresses; the control plane puts the interface's primary
    /// address here when the config names none.
    pub pool: Vec<Ipv4Addr>,
}

impl Rule {
    #[inline]
    pub fn matches(&self, src: u32) -> bool {
        let (net, len) = self.inside;
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
        src & mask == u32::from(net) & mask
    }
}

/// A port forward (destination NAT): `proto` packets to `outside` go to
/// `inside`, and the inside server's replies leave from `outside`. The
/// outside port is reserved: no dynamic mapping takes it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Forward {
    /// TCP or UDP.
    pub proto: u8,
    pub outside: (Ipv4Addr, u16),
    pub inside: (Ipv4Addr, u16),
}

/// A static 1:1 mapping: every packet to `outside` goes to `inside`,
/// and every packet from `inside` leaving through interface `interface`
/// comes from `outside`; ports and identifiers are kept. Stateless, so
/// it holds no sessions, admits every protocol, and translates
/// fragments as they come.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Static {
    pub outside: Ipv4Addr,
    pub inside: Ipv4Addr,
    /// Outside interface index in [`stack::Tables::ifaces`].
    pub interface: u16,
}

/// Everything the NAT translates by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// First match wins.
    pub rules: Vec<Rule>,
    /// Port forwards.
    pub forwards: Vec<Forward>,
    /// Static 1:1 mappings; their addresses are in no pool.
    pub statics: Vec<Static>,
    pub filtering: Filtering,
    pub timeouts: Timeouts,
    /// Outside ports handed out (inclusive); ICMP identifiers too.
    pub ports: (u16, u16),
    /// Sessions one inside address may hold (RFC 6888 REQ-4).
    pub subscriber_sessions: u32,
    /// Outside ports one inside address may hold (RFC 6888 REQ-5).
    pub subscriber_ports: u32,
    /// Sessions packets from outside may make under one inside address's
    /// mappings (endpoint-independent filtering lets any remote in),
    /// apart from `subscriber_sessions`.
    pub subscriber_inbound_sessions: u32,
    /// Sessions packets from outside may hold on one worker (mappings'
    /// and port forwards'); 0: a quarter of its table.
    pub inbound_sessions: u32,
    /// How long (ns) a freed outside port, or port block, waits before
    /// another subscriber may have it (0: at once).
    pub port_reuse_delay: u64,
    /// Ports per block (0: no blocks). With blocks, each subscriber is
    /// given whole blocks of its outside address's port range (every
    /// protocol) and takes its ports from them: one log record per block
    /// instead of one per mapping. Its bound is `subscriber_ports`
    /// rounded up to whole blocks.
    pub port_block: u16,
    /// Write log records ([`crate::log`]) into the queue the NAT was
    /// given.
    pub log: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            rules: Vec::new(),
            forwards: Vec::new(),
            statics: Vec::new(),
            filtering: Filtering::default(),
            timeouts: Timeouts::default(),
            ports: (1024, 65535),
            subscriber_sessions: 16384,
            subscriber_ports: 8192,
            subscriber_inbound_sessions: 1024,
            inbound_sessions: 0,
            port_reuse_delay: 120_000_000_000,
            port_block: 0,
            log: false,
        }
    }
}

impl Rules {
    /// Every pool address, in rule order, then every port forward's
    /// outside address; each once.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        // Linear: a worker runs this on every rule change, with up to
        // 1,024 pool addresses and thousands of forwards.
        let mut seen = std::collections::HashSet::new();
        let all = self.rules.iter().flat_map(|r| r.pool.iter()).chain(self.forwards.iter().map(|f| &f.outside.0));
        all.filter(|a| seen.insert(**a)).copied().collect()
    }

    /// Whether a worker taking `next` in place of these rules ends every
    /// session: a changed rule list (prefixes, interfaces, pools), port
    /// range, port block or set of outside addresses, after which
    /// mappings may no longer be valid.
    pub fn resets_sessions(&self, next: &Rules) -> bool {
        next.rules != self.rules
            || next.ports != self.ports
            || next.port_block != self.port_block
            || next.addresses() != self.addresses()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_the_pools_then_the_forwards_each_once() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let pool = |p: &[&str]| Rule { inside: (a("10.0.0.0"), 8), outside: 1, pool: p.iter().map(|s| a(s)).collect() };
        let fw = |o: &str| Forward { proto: 6, outside: (a(o), 80), inside: (a("10.0.0.9"), 80) };
        let r = Rules {
            rules: vec![pool(&["192.0.2.2", "192.0.2.1"]), pool(&["192.0.2.1", "192.0.2.3"])],
            forwards: vec![fw("192.0.2.3"), fw("192.0.2.9"), fw("192.0.2.9")],
            ..Rules::default()
        };
        assert_eq!(r.addresses(), ["192.0.2.2", "192.0.2.1", "192.0.2.3", "192.0.2.9"].map(a));
        let mut next = r.clone();
        next.forwards.pop();
        assert!(!r.resets_sessions(&next), "the same addresses");
        next.forwards.push(fw("192.0.2.10"));
        assert!(r.resets_sessions(&next), "a new outside address");
    }
}

//! A worker's NAT settings, its counters, and what the control plane
//! reads of its sessions and subscribers.

use super::sessions::FIN_IN;
use super::sessions::FIN_OUT;
use super::sessions::RST_SEEN;
use super::sessions::SYN_IN;
use super::sessions::SYN_OUT;
use super::Nat;
use crate::packet::{TCP, UDP};
use std::net::Ipv4Addr;

/// Sizes a worker's NAT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NatConfig {
    /// Most sessions (and so mappings) the worker holds.
    pub max_sessions: usize,
    /// Most subscribers (inside addresses with mappings) the worker
    /// holds; 0: a quarter of `max_sessions`.
    pub max_subscribers: usize,
    /// Expiry resolution in ns: sessions expire at most one tick late.
    pub tick_ns: u64,
    /// Hash seed (draw one per worker at start).
    pub seed: u64,
    /// Fragmented datagrams in flight the worker remembers the
    /// translation of (rounded up to a power of two; a newer datagram
    /// takes an older one's place when their slots collide).
    pub fragments: usize,
    /// This worker, of `workers`. Each owns the subscribers whose address
    /// hashes to it and a slice of every outside address's ports; packets
    /// about another's state are handed to it.
    pub worker: u16,
    pub workers: u16,
    /// How long (ns) the router's flow cache may carry an established
    /// flow's packets without refreshing its session
    /// ([`FastHooks::fast_hold`](stack::FastHooks::fast_hold); at most half the shortest TCP or UDP
    /// timeout is used). Every refresh keeps a session this much longer
    /// than its timeout, so a session ends between its timeout and this
    /// much later after its flow's last packet. 0: the cache refreshes
    /// the session at every packet, and sessions end at their timeout
    /// (one tick late at most).
    pub hold_ns: u64,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            max_sessions: 65536,
            max_subscribers: 0,
            tick_ns: 100_000_000,
            seed: 0x5eed,
            fragments: 1024,
            worker: 0,
            workers: 1,
            hold_ns: 1_000_000_000,
        }
    }
}

/// Protocols, in counter order.
pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "icmp"];

/// A protocol's name, as counters and the API show it.
pub fn protocol_name(p: u8) -> &'static str {
    PROTOCOLS.get(proto_index(p)).copied().unwrap_or("icmp")
}

#[inline(always)]
pub(super) fn proto_index(p: u8) -> usize {
    match p {
        TCP => 0,
        UDP => 1,
        _ => 2,
    }
}

stack::counter_set! {
    /// Per-worker NAT counters (drops are the router's, by reason).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct NatCounters / NatCounter {
        /// New NAT mappings refused: no outside port free, or the
        /// subscriber's port bound reached.
        port_alloc_failures / PortAllocFailures => Sum "gateway_nat_port_alloc_failures_total",
        /// Packets from the inside to an outside address, translated both
        /// ways (hairpinning, RFC 4787 REQ-9, RFC 5382 REQ-8).
        hairpins / Hairpins => Sum "gateway_nat_hairpins_total",
        /// Packets NAT translated, both directions.
        translated / Translated => Sum "gateway_nat_translated_total",
        /// Later fragments NAT translated by their first fragment's record
        /// (RFC 4787 REQ-14; also counted in gateway_nat_translated_total).
        fragments / Fragments => Sum "gateway_nat_fragments_total",
        /// NAT log records lost: a block or mapping release found the log
        /// queue full.
        log_lost / LogLost => Sum "gateway_nat_log_lost_total",
        /// Sessions removed as soon as they were made, because the packet
        /// that made them was dropped before it left (no route to the
        /// inside host, too big with DF, no room to queue it): a dropped
        /// packet leaves no state.
        abandoned / Abandoned => Sum "gateway_nat_sessions_abandoned_total",
        /// Sessions from outside that were never assured (their remote
        /// never answered the inside host's reply: spoofed SYNs at a port
        /// forward) ended to make room for a new one at the inbound bound.
        inbound_evicted / InboundEvicted => Sum "gateway_nat_inbound_evicted_total",
    }
    extra {
        /// Sessions created, by protocol ([`PROTOCOLS`] order).
        created: [u64; 3] = [0; 3],
        /// Sessions ended by their idle timeout, by protocol.
        expired: [u64; 3] = [0; 3],
    }
}

/// A session as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub proto: u8,
    pub inside: (Ipv4Addr, u16),
    pub outside: (Ipv4Addr, u16),
    pub remote: (Ipv4Addr, u16),
    /// TCP state bits (0 for UDP and ICMP).
    pub tcp: u8,
    /// When it expires if idle (ns, the worker's clock).
    pub expires: u64,
}

/// A subscriber's usage, as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SubscriberInfo {
    pub inside: Ipv4Addr,
    /// Its outside address (paired pooling: one for all its mappings).
    pub outside: Ipv4Addr,
    pub sessions: u32,
    /// Outside ports it holds (its mappings).
    pub ports: u32,
    /// Port blocks it holds (0 without blocks).
    pub blocks: u32,
}

impl SessionInfo {
    /// The state by name: for TCP `opening` (a SYN one way), `established`
    /// (both ways), `closing` (a FIN one way), `closed` (both ways) or
    /// `reset`; `active` for UDP and ICMP.
    pub fn state(&self) -> &'static str {
        match self.tcp {
            _ if self.proto != TCP => "active",
            t if t & RST_SEEN != 0 => "reset",
            t if t & (FIN_OUT | FIN_IN) == FIN_OUT | FIN_IN => "closed",
            t if t & (FIN_OUT | FIN_IN) != 0 => "closing",
            t if t & (SYN_OUT | SYN_IN) == SYN_OUT | SYN_IN => "established",
            _ => "opening",
        }
    }
}

impl Nat {
    /// Session table slots (live or free).
    pub(crate) fn session_slots(&self) -> u32 {
        self.sessions.len() as u32
    }

    /// The session in slot `i`, if it is live.
    pub(crate) fn session_info(&self, i: u32) -> Option<SessionInfo> {
        self.sessions.get(i as usize).filter(|s| s.proto != 0).map(|s| SessionInfo {
            proto: s.proto,
            inside: (s.inside.into(), s.in_port),
            outside: (s.outside.into(), s.out_port),
            remote: (s.remote.into(), s.rem_port),
            tcp: s.tcp & super::sessions::TCP_STATE,
            expires: s.expires,
        })
    }

    /// Subscriber table slots (live or free).
    pub(crate) fn subscriber_slots(&self) -> u32 {
        self.subs.len() as u32
    }

    /// The subscriber in slot `i`, if it holds anything.
    pub(crate) fn subscriber_info(&self, i: u32) -> Option<SubscriberInfo> {
        let s = self.subs.get(i as usize).filter(|s| s.sessions > 0 || s.ports > 0)?;
        Some(SubscriberInfo {
            inside: s.inside.into(),
            outside: self.addrs.get(usize::from(s.addr)).map_or(0, |o| o.addr).into(),
            sessions: s.sessions,
            ports: s.ports,
            blocks: u32::from(s.blocks),
        })
    }

    /// The sessions, for the control plane.
    pub fn sessions(&self) -> impl Iterator<Item = SessionInfo> + '_ {
        (0..self.session_slots()).filter_map(|i| self.session_info(i))
    }
}

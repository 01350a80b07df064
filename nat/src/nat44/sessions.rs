//! Sessions, mappings and subscribers: their tables and indexes, how one
//! is found, made, refreshed (TCP state per RFC 5382 and 7857) and
//! removed, and expiry on the timer wheel.

use super::config::proto_index;
use super::hints::Ahead;
use super::ports::Outside;
use super::ports::NO_BLOCK;
use super::Nat;
use super::Refusal;
use super::NIL;
use crate::index::hash;
use crate::index::Vacant;
use crate::log::LogEvent;
use crate::packet;
use crate::packet::Flow;
use crate::packet::Kind;
use crate::packet::{SYN, TCP, UDP};
use crate::rules::Forward;
use crate::rules::Timeouts;
use hugeslice::HugeSlice;
use stack::DropReason;
use stack::Verdict;
use std::net::Ipv4Addr;

/// TCP state bits (RFC 5382 §5, RFC 7857 §2.2).
pub(super) const SYN_OUT: u8 = 1;

pub(super) const SYN_IN: u8 = 2;

pub(super) const FIN_OUT: u8 = 4;

pub(super) const FIN_IN: u8 = 8;

pub(super) const RST_SEEN: u8 = 16;

/// Not TCP state, kept beside it: the session was made by a packet from
/// outside (under an existing mapping, or to a port forward), so it
/// counts against the inbound bounds, not the subscriber's own.
pub(super) const INBOUND: u8 = 128;

/// Beside [`INBOUND`]: the inside host has answered (any protocol).
pub(super) const REPLIED: u8 = 32;

/// Beside [`INBOUND`]: the remote spoke again after the inside host
/// answered (for TCP, the handshake's last ACK), which a spoofed source
/// cannot do. Until then the session may give way to a new one
/// ([`early_drop`](super::early_drop)), and a TCP one has the transitory
/// timeout however many SYNs it saw.
pub(super) const ASSURED: u8 = 64;

/// The TCP state bits, without what is kept beside them.
pub(super) const TCP_STATE: u8 = SYN_OUT | SYN_IN | FIN_OUT | FIN_IN | RST_SEEN;

/// Who made a session: a packet from the inside host, or one from
/// outside.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    Inside,
    Outside,
}

/// One conversation through a mapping. Laid out so that its key by
/// inside endpoint ([`Session::key_in`]) is two plain loads: the
/// addresses, then the ports and protocol.
#[derive(Copy, Clone, Default)]
#[repr(C)]
pub(super) struct Session {
    pub(super) expires: u64,
    pub(super) inside: u32,
    pub(super) remote: u32,
    pub(super) in_port: u16,
    pub(super) rem_port: u16,
    /// 0: free.
    pub(super) proto: u8,
    pub(super) tcp: u8,
    pub(super) out_port: u16,
    pub(super) outside: u32,
    pub(super) mapping: u32,
    /// Next session of the same mapping (or the next free one).
    pub(super) next: u32,
    /// The session before it in its mapping's list (`NIL` for the
    /// first), so one leaves the list in O(1). (In what was padding.)
    pub(super) prev: u32,
}

const _: () = assert!(std::mem::size_of::<Session>() == 40);

impl Session {
    /// Its key by inside endpoint ([`key5`]).
    #[inline(always)]
    pub(super) fn key_in(&self) -> u128 {
        key5(self.proto, self.inside, self.in_port, self.remote, self.rem_port)
    }

    /// Its key by outside endpoint.
    #[inline(always)]
    pub(super) fn key_out(&self) -> u128 {
        key5(self.proto, self.outside, self.out_port, self.remote, self.rem_port)
    }
}

#[derive(Copy, Clone, Default)]
pub(super) struct Mapping {
    pub(super) inside: u32,
    pub(super) in_port: u16,
    pub(super) out_port: u16,
    pub(super) proto: u8,
    pub(super) addr: u16,
    pub(super) subscriber: u32,
    pub(super) sessions: u32,
    /// Its first session; for a free mapping, the next free one.
    pub(super) first: u32,
    /// A port forward's: installed by the rules, not by traffic.
    pub(super) fixed: bool,
}

#[derive(Copy, Clone)]
pub(super) struct Subscriber {
    pub(super) inside: u32,
    pub(super) rule: u16,
    pub(super) addr: u16,
    /// Sessions its own packets made.
    pub(super) sessions: u32,
    /// Sessions packets from outside made under its mappings.
    pub(super) inbound: u32,
    pub(super) ports: u32,
    /// Its port blocks, chained through `Outside::chain`.
    pub(super) first_block: u16,
    pub(super) blocks: u16,
}

impl Default for Subscriber {
    fn default() -> Self {
        Subscriber { inside: 0, rule: 0, addr: 0, sessions: 0, inbound: 0, ports: 0, first_block: NO_BLOCK, blocks: 0 }
    }
}

/// The port forward a fixed mapping on outside address `outside` installs.
pub(super) fn forward_of(m: &Mapping, outside: u32) -> Forward {
    Forward { proto: m.proto, outside: (outside.into(), m.out_port), inside: (m.inside.into(), m.in_port) }
}

/// `n` free mappings, chained through `first`.
pub(super) fn free_mappings(n: usize) -> HugeSlice<Mapping> {
    let mut m = HugeSlice::new(n, Mapping::default());
    chain_free_mappings(&mut m);
    m
}

/// Frees every mapping, chaining them in order through `first`.
pub(super) fn chain_free_mappings(m: &mut [Mapping]) {
    let n = m.len();
    for (i, x) in m.iter_mut().enumerate() {
        *x = Mapping { first: if i + 1 < n { i as u32 + 1 } else { NIL }, ..Mapping::default() };
    }
}

/// A subscriber's key: its inside address under rule `ri`.
#[inline(always)]
pub(super) fn sub_key(inside: u32, ri: usize) -> u128 {
    2u128 << 120 | u128::from(inside) << 64 | ri as u128
}

/// A session's key: protocol, one end (address `a`, port `ap`) and the
/// other (`b`, `bp`); the addresses in the low half, as a session holds
/// its inside ones.
#[inline(always)]
pub(super) fn key5(proto: u8, a: u32, ap: u16, b: u32, bp: u16) -> u128 {
    let ends = u64::from(a) | u64::from(b) << 32;
    let ports = u64::from(ap) | u64::from(bp) << 16 | u64::from(proto) << 32;
    u128::from(ports) << 64 | u128::from(ends)
}

#[inline(always)]
pub(super) fn key3(proto: u8, a: u32, ap: u16) -> u128 {
    1 << 120 | u128::from(proto) << 96 | u128::from(a) << 64 | u128::from(ap) << 48
}

/// A session's idle timeout, by protocol and TCP state.
#[inline(always)]
pub(super) fn timeout(t: &Timeouts, proto: u8, tcp: u8) -> u64 {
    match proto {
        TCP if tcp & RST_SEEN != 0 => t.tcp_transitory,
        TCP if tcp & (FIN_OUT | FIN_IN) == FIN_OUT | FIN_IN => t.tcp_transitory,
        // Made from outside: established once assured, so a flood of SYNs
        // that a server answers does not hold its sessions for hours.
        TCP if tcp & INBOUND != 0 && tcp & ASSURED == 0 => t.tcp_transitory,
        TCP if tcp & (SYN_OUT | SYN_IN) == SYN_OUT | SYN_IN => t.tcp_established,
        TCP => t.tcp_transitory,
        UDP => t.udp,
        _ => t.icmp,
    }
}

/// Sessions expired per [`Nat::poll`] at most.
const EXPIRY_BUDGET: usize = 4096;

impl Nat {
    /// The hash of a session, mapping or subscriber key, under this
    /// worker's seed.
    #[inline]
    pub(super) fn key_hash(&self, k: u128) -> u32 {
        hash(k, self.seed)
    }

    #[inline]
    pub(super) fn find_in(&self, k: u128) -> Option<u32> {
        self.find_in_or_vacant(k).ok()
    }

    /// As [`Nat::find_in`], or else where its session goes in `by_inside`.
    #[inline]
    pub(super) fn find_in_or_vacant(&self, k: u128) -> Result<u32, Vacant> {
        self.find_in_or_vacant_by(k, self.key_hash(k))
    }

    /// As [`Nat::find_in_or_vacant`], given `k`'s hash.
    #[inline]
    pub(super) fn find_in_or_vacant_by(&self, k: u128, h: u32) -> Result<u32, Vacant> {
        let s = &self.sessions;
        // (Inlined: a call to it, from the burst loop, was a fifth of a
        // lookup's instructions.)
        self.by_inside.find_or_vacant(
            h,
            #[inline(always)]
            |e| s.get(e as usize).is_some_and(|x| x.key_in() == k),
        )
    }

    #[inline]
    pub(super) fn find_out(&self, k: u128) -> Option<u32> {
        let s = &self.sessions;
        self.by_outside.find(
            self.key_hash(k),
            #[inline(always)]
            |e| s.get(e as usize).is_some_and(|x| x.key_out() == k),
        )
    }

    pub(super) fn find_map_in(&self, proto: u8, a: u32, p: u16) -> Option<u32> {
        self.find_map_in_or_vacant(proto, a, p, None).ok()
    }

    /// As [`Nat::find_map_in`] (given the key's hash `h`, if known), or
    /// else where its mapping goes in `map_in`.
    pub(super) fn find_map_in_or_vacant(&self, proto: u8, a: u32, p: u16, h: Option<u32>) -> Result<u32, Vacant> {
        let (k, m) = (key3(proto, a, p), &self.mappings);
        let h = h.unwrap_or_else(|| self.key_hash(k));
        self.map_in.find_or_vacant(h, |e| m.get(e as usize).is_some_and(|x| key3(x.proto, x.inside, x.in_port) == k))
    }

    pub(super) fn find_map_out(&self, proto: u8, a: u32, p: u16) -> Option<u32> {
        let (k, m, addrs) = (key3(proto, a, p), &self.mappings, &self.addrs);
        self.map_out.find(self.key_hash(k), |e| {
            m.get(e as usize).is_some_and(|x| {
                x.out_port == p && x.proto == proto && addrs.get(usize::from(x.addr)).is_some_and(|o| o.addr == a)
            })
        })
    }

    pub(super) fn timeout(&self, proto: u8, tcp: u8) -> u64 {
        timeout(&self.timeouts, proto, tcp)
    }

    /// Follows a TCP segment's flags (RFC 7857 §2.2: a RST holds the
    /// state for the transitory time; a SYN after it starts afresh) and
    /// refreshes the session.
    #[inline(always)]
    pub(super) fn touch(&mut self, e: u32, kind: Kind, outbound: bool, now: u64) {
        let Some(s) = self.sessions.get_mut(e as usize) else { return };
        if s.tcp & (INBOUND | ASSURED) == INBOUND {
            if outbound {
                s.tcp |= REPLIED;
            } else if s.tcp & REPLIED != 0 {
                s.tcp |= ASSURED;
            }
        }
        if let Kind::Tcp(f) = kind {
            if f & SYN != 0 && s.tcp & RST_SEEN != 0 {
                s.tcp &= INBOUND;
            }
            let (syn, fin) = if outbound { (SYN_OUT, FIN_OUT) } else { (SYN_IN, FIN_IN) };
            if f & SYN != 0 {
                s.tcp |= syn;
            }
            if f & packet::FIN != 0 {
                s.tcp |= fin;
            }
            if f & packet::RST != 0 {
                s.tcp |= RST_SEEN;
            }
        } else if !outbound {
            // UDP and ICMP refresh on outbound traffic only (RFC 4787 REQ-6).
            return;
        }
        let old = s.expires;
        // (Plus the flow cache's hold: see `fast_hold`.)
        let expires = now + timeout(&self.timeouts, s.proto, s.tcp) + self.hold;
        s.expires = expires;
        // A later deadline waits where it is filed (the wheel re-files it
        // when that tick comes), so the common refresh touches nothing
        // but the session; only an earlier one (a RST, both FINs) moves.
        if expires < old {
            self.reschedule(e, expires);
        }
    }

    #[cold]
    pub(super) fn reschedule(&mut self, e: u32, expires: u64) {
        self.wheel.reschedule(e, expires);
    }

    /// The outbound session for flow `f`: found, or made under the
    /// source's mapping (a port forward's, or a dynamic one), or under a
    /// new mapping by rule `ri`. `Ok(None)`: none of these.
    pub(super) fn outbound(&mut self, ri: Option<usize>, f: &Flow, now: u64) -> Result<Option<u32>, Refusal> {
        let e = match self.find_in_or_vacant(key5(f.proto, f.src, f.sport, f.dst, f.dport)) {
            Ok(e) => e,
            Err(at) => match self.new_outbound(ri, f, at, now)? {
                Some(e) => e,
                None => return Ok(None),
            },
        };
        self.touch(e, f.kind, true, now);
        Ok(Some(e))
    }

    /// [`Nat::outbound`] for a flow with no session (whose key goes at
    /// `at` in `by_inside`): one made (not yet refreshed by the packet)
    /// under the source's mapping, or under a new mapping by rule `ri`.
    /// `Ok(None)`: none of these.
    pub(super) fn new_outbound(
        &mut self,
        ri: Option<usize>,
        f: &Flow,
        at: Vacant,
        now: u64,
    ) -> Result<Option<u32>, Refusal> {
        let a = self.hinted_as(f);
        let m = match (self.find_map_in_or_vacant(f.proto, f.src, f.sport, a.map(|a| a.map)), ri) {
            (Ok(m), _) => m,
            (Err(map_at), Some(ri)) => self.new_mapping(ri, f, map_at, a)?,
            (Err(_), None) => return Ok(None),
        };
        self.new_session(m, f.dst, f.dport, now, Some(at), Origin::Inside).map(Some)
    }

    pub(super) fn subscriber(&mut self, ri: usize, inside: u32, h: Option<u32>) -> Result<u32, Refusal> {
        let k = sub_key(inside, ri);
        let h = h.unwrap_or_else(|| self.key_hash(k));
        let subs = &self.subs;
        let found = self
            .sub_ix
            .find(h, |e| subs.get(e as usize).is_some_and(|s| s.inside == inside && usize::from(s.rule) == ri));
        if let Some(s) = found {
            return Ok(s);
        }
        let Some(addr) = self.paired_address(ri, inside) else {
            self.counters.port_alloc_failures += 1;
            return Err(Verdict::Refuse(DropReason::NatPortsExhausted));
        };
        let Some(s) = self.free_sub.pop() else { return Err(Verdict::Refuse(DropReason::NatSessionLimit)) };
        if let Some(x) = self.subs.get_mut(s as usize) {
            *x = Subscriber { inside, rule: ri as u16, addr, ..Subscriber::default() };
        }
        self.sub_ix.insert(h, s);
        Ok(s)
    }

    /// A new mapping for flow `f` by rule `ri`, filed at `at` in `map_in`
    /// (`hinted`: what the hints worked out for `f`).
    pub(super) fn new_mapping(
        &mut self,
        ri: usize,
        f: &Flow,
        at: Vacant,
        hinted: Option<Ahead>,
    ) -> Result<u32, Refusal> {
        if self.free_session == NIL {
            return Err(Verdict::Refuse(DropReason::NatSessionLimit));
        }
        let sub_hash = hinted.filter(|a| usize::from(a.rule) == ri).map(|a| a.sub);
        let sub = self.subscriber(ri, f.src, sub_hash)?;
        let Some(&Subscriber { addr, ports, sessions, .. }) = self.subs.get(sub as usize) else {
            return Err(Verdict::Drop(DropReason::NatNoMapping));
        };
        if sessions >= self.rules.subscriber_sessions {
            self.release_subscriber(sub);
            return Err(Verdict::Refuse(DropReason::NatSessionLimit));
        }
        let blocks = self.rules.port_block != 0;
        if !blocks && !self.log_room() {
            self.release_subscriber(sub);
            return Err(Verdict::Refuse(DropReason::NatLogFull));
        }
        let port = if ports >= self.rules.subscriber_ports || self.free_mapping == NIL {
            Ok(None)
        } else if blocks {
            self.alloc_in_blocks(sub, proto_index(f.proto), f.sport)
        } else {
            Ok(self.addrs.get_mut(usize::from(addr)).and_then(|o| o.alloc(proto_index(f.proto), f.sport)))
        };
        let (Ok(Some(port)), Some(m)) = (port, self.pop_mapping()) else {
            self.counters.port_alloc_failures += u64::from(port.is_ok());
            self.release_subscriber(sub);
            return Err(port.err().unwrap_or(Verdict::Refuse(DropReason::NatPortsExhausted)));
        };
        let outside = self.addrs.get(usize::from(addr)).map_or(0, |o| o.addr);
        if !blocks {
            self.record(LogEvent::MappingCreate, f.proto, (f.src, f.sport), outside, (port, port));
        }
        if let Some(x) = self.mappings.get_mut(m as usize) {
            *x = Mapping {
                inside: f.src,
                in_port: f.sport,
                out_port: port,
                proto: f.proto,
                addr,
                subscriber: sub,
                sessions: 0,
                first: NIL,
                fixed: false,
            };
        }
        if let Some(s) = self.subs.get_mut(sub as usize) {
            s.ports += 1;
        }
        self.map_in.insert_vacant(at, m);
        self.map_out.insert_later(self.key_hash(key3(f.proto, outside, port)), m);
        Ok(m)
    }

    /// A free mapping, off the free chain.
    pub(super) fn pop_mapping(&mut self) -> Option<u32> {
        let m = self.free_mapping;
        let x = self.mappings.get_mut(m as usize)?;
        self.free_mapping = x.first;
        x.first = NIL;
        Some(m)
    }

    /// A subscriber with nothing left is forgotten, and its blocks freed.
    pub(super) fn release_subscriber(&mut self, sub: u32) {
        let Some(&s) = self.subs.get(sub as usize) else { return };
        if s.sessions == 0 && s.inbound == 0 && s.ports == 0 {
            let mut b = s.first_block;
            while b != NO_BLOCK {
                b = self.release_block(s, b);
            }
            if let Some(x) = self.subs.get_mut(sub as usize) {
                (x.first_block, x.blocks) = (NO_BLOCK, 0);
            }
            let k = 2u128 << 120 | u128::from(s.inside) << 64 | u128::from(s.rule);
            self.sub_ix.remove(hash(k, self.seed), sub);
            self.free_sub.push(sub);
        }
    }

    /// Most sessions packets from outside may hold on this worker
    /// (`Rules::inbound_sessions`; 0: a quarter of the table).
    pub(super) fn inbound_cap(&self) -> usize {
        match self.rules.inbound_sessions as usize {
            0 => self.sessions.len() / 4,
            n => n.min(self.sessions.len()),
        }
    }

    /// A new session of mapping `m` with `remote`:`rem_port`; filed in
    /// `by_inside` at `at` if its lookup there found where. One made by
    /// a packet from outside counts against the inbound bounds (the
    /// subscriber's and the worker's), never the subscriber's own, so
    /// traffic from outside cannot starve its outbound flows nor fill
    /// the table; past them it is dropped unanswered.
    pub(super) fn new_session(
        &mut self,
        m: u32,
        remote: u32,
        rem_port: u16,
        now: u64,
        at: Option<Vacant>,
        origin: Origin,
    ) -> Result<u32, Refusal> {
        if origin == Origin::Outside && self.inbound_live >= self.inbound_cap() {
            self.early_drop(m);
        }
        let Some(map) = self.mappings.get(m as usize).copied() else {
            return Err(Verdict::Drop(DropReason::NatNoMapping));
        };
        let sub = self.subs.get(map.subscriber as usize);
        let e = self.free_session;
        let refused = match origin {
            Origin::Inside if e == NIL || sub.is_some_and(|s| s.sessions >= self.rules.subscriber_sessions) => {
                Some(Verdict::Refuse(DropReason::NatSessionLimit))
            }
            Origin::Outside if e == NIL => Some(Verdict::Drop(DropReason::NatSessionLimit)),
            Origin::Outside
                if self.inbound_live >= self.inbound_cap()
                    || sub.is_some_and(|s| s.inbound >= self.rules.subscriber_inbound_sessions) =>
            {
                Some(Verdict::Drop(DropReason::NatInboundLimit))
            }
            _ => None,
        };
        if let Some(v) = refused {
            if map.sessions == 0 && !map.fixed {
                self.remove_mapping(m);
            }
            return Err(v);
        }
        let expires = now + self.timeout(map.proto, 0);
        let outside = self.outside_of(&map);
        let Some(s) = self.sessions.get_mut(e as usize) else { return Err(Verdict::Drop(DropReason::NatNoMapping)) };
        self.free_session = s.next;
        *s = Session {
            inside: map.inside,
            outside,
            remote,
            in_port: map.in_port,
            out_port: map.out_port,
            rem_port,
            proto: map.proto,
            tcp: if origin == Origin::Outside { INBOUND } else { 0 },
            mapping: m,
            next: map.first,
            prev: NIL,
            expires,
        };
        if let Some(p) = self.sessions.get_mut(map.first as usize) {
            p.prev = e;
        }
        if let Some(x) = self.mappings.get_mut(m as usize) {
            x.first = e;
            x.sessions += 1;
        }
        self.peers.add(m, remote);
        if let Some(x) = self.subs.get_mut(map.subscriber as usize) {
            match origin {
                Origin::Inside => x.sessions += 1,
                Origin::Outside => x.inbound += 1,
            }
        }
        if origin == Origin::Outside {
            self.inbound_live += 1;
            self.file_candidate(e);
        }
        match at {
            Some(at) => self.by_inside.insert_vacant(at, e),
            None => self.by_inside.insert(self.key_hash(key5(map.proto, map.inside, map.in_port, remote, rem_port)), e),
        }
        self.by_outside.insert_later(self.key_hash(key5(map.proto, outside, map.out_port, remote, rem_port)), e);
        self.wheel.insert(e, expires);
        self.live += 1;
        if let Some(m) = self.made.iter_mut().find(|m| **m == NIL) {
            *m = e;
        }
        if let Some(c) = self.counters.created.get_mut(proto_index(map.proto)) {
            *c += 1;
        }
        Ok(e)
    }

    pub(super) fn remove_mapping(&mut self, m: u32) {
        let Some(map) = self.mappings.get(m as usize).copied() else { return };
        self.map_in.remove(self.key_hash(key3(map.proto, map.inside, map.in_port)), m);
        let outside = self.outside_of(&map);
        self.map_out.remove(self.key_hash(key3(map.proto, outside, map.out_port)), m);
        if map.fixed {
            if let Some(o) = self.addrs.get_mut(usize::from(map.addr)) {
                o.set(proto_index(map.proto), map.out_port, false);
            }
        } else {
            self.free_port(map.addr, proto_index(map.proto), map.out_port, map.subscriber);
            if self.rules.port_block == 0 {
                let (inside, port) = ((map.inside, map.in_port), map.out_port);
                self.record(LogEvent::MappingDelete, map.proto, inside, outside, (port, port));
            }
        }
        if let Some(s) = self.subs.get_mut(map.subscriber as usize) {
            s.ports = s.ports.saturating_sub(1);
        }
        if let Some(x) = self.mappings.get_mut(m as usize) {
            x.first = self.free_mapping;
            self.free_mapping = m;
        }
        self.release_subscriber(map.subscriber);
    }

    pub(super) fn remove_session(&mut self, e: u32, on_wheel: bool) {
        let Some(s) = self.sessions.get(e as usize).copied() else { return };
        if s.proto == 0 {
            return;
        }
        if on_wheel {
            self.wheel.remove(e);
        }
        self.by_inside.remove(self.key_hash(key5(s.proto, s.inside, s.in_port, s.remote, s.rem_port)), e);
        self.by_outside.remove(self.key_hash(key5(s.proto, s.outside, s.out_port, s.remote, s.rem_port)), e);
        // Unlink from the mapping's list.
        let m = s.mapping;
        let prev = s.prev;
        match self.sessions.get_mut(prev as usize) {
            Some(p) => p.next = s.next,
            None => {
                if let Some(x) = self.mappings.get_mut(m as usize) {
                    x.first = s.next;
                }
            }
        }
        if let Some(n) = self.sessions.get_mut(s.next as usize) {
            n.prev = prev;
        }
        self.peers.remove(m, s.remote);
        let (left, sub) = match self.mappings.get_mut(m as usize) {
            // A port forward outlives its sessions.
            Some(x) if x.fixed => {
                x.sessions = x.sessions.saturating_sub(1);
                (1, NIL)
            }
            Some(x) => {
                x.sessions = x.sessions.saturating_sub(1);
                (x.sessions, x.subscriber)
            }
            None => (1, NIL),
        };
        let inbound = s.tcp & INBOUND != 0;
        if let Some(x) = self.subs.get_mut(sub as usize) {
            if inbound {
                x.inbound = x.inbound.saturating_sub(1);
            } else {
                x.sessions = x.sessions.saturating_sub(1);
            }
        }
        if inbound {
            self.inbound_live = self.inbound_live.saturating_sub(1);
        }
        if let Some(x) = self.sessions.get_mut(e as usize) {
            *x = Session { next: self.free_session, ..Session::default() };
        }
        self.free_session = e;
        self.live = self.live.saturating_sub(1);
        if left == 0 {
            self.remove_mapping(m);
        } else {
            self.release_subscriber(sub);
        }
    }

    /// Address-dependent filtering: has the mapping's inside endpoint
    /// sent to `remote` (any port)? One lookup, whatever the mapping
    /// holds (the peers are kept while the rules filter by address).
    pub(super) fn has_sent_to(&self, m: u32, remote: u32) -> bool {
        self.peers.contains(m, remote)
    }

    /// Rebuilds the peers from the sessions when address-dependent
    /// filtering starts or stops.
    pub(super) fn sync_peers(&mut self) {
        let adf = self.rules.filtering == crate::rules::Filtering::AddressDependent;
        if adf == self.peers.enabled() {
            return;
        }
        self.peers.reset(adf);
        if adf {
            for s in self.sessions.iter().filter(|s| s.proto != 0) {
                self.peers.add(s.mapping, s.remote);
            }
        }
    }

    pub(super) fn session(&self, e: u32) -> Option<Session> {
        self.sessions.get(e as usize).copied()
    }

    /// Ends a mapping and all its sessions.
    pub(super) fn evict(&mut self, m: u32) {
        let Some(&Mapping { sessions, fixed, .. }) = self.mappings.get(m as usize) else { return };
        for _ in 0..sessions {
            let first = self.mappings.get(m as usize).map_or(NIL, |x| x.first);
            self.remove_session(first, true);
        }
        if fixed {
            self.remove_mapping(m);
        }
    }

    /// Ends every session (port forwards stay).
    pub fn clear(&mut self) {
        let n = self.sessions.len();
        for (i, s) in self.sessions.iter_mut().enumerate() {
            *s = Session { next: if i + 1 < n { i as u32 + 1 } else { NIL }, ..Session::default() };
        }
        self.free_session = 0;
        self.live = 0;
        self.inbound_live = 0;
        self.candidates.clear();
        self.peers.reset(self.rules.filtering == crate::rules::Filtering::AddressDependent);
        chain_free_mappings(&mut self.mappings);
        self.free_mapping = 0;
        self.free_sub = (0..self.subs.len() as u32).rev().collect();
        for ix in [&mut self.by_inside, &mut self.by_outside, &mut self.map_in, &mut self.map_out, &mut self.sub_ix] {
            ix.clear();
        }
        self.wheel.clear();
        let (ports, block) = (self.port_slice(), self.rules.port_block);
        for a in &mut self.addrs {
            *a = Outside::new(a.addr, ports, block);
        }
        self.reset_reuse();
        self.forwards.clear();
        self.install_forwards();
    }

    /// Expires idle sessions (at most a fixed budget per call); call
    /// every loop.
    pub fn poll(&mut self, now: u64) {
        self.now = now;
        self.release_due(now);
        if !self.started || self.live == 0 {
            self.started = true;
            self.wheel.start(now);
            return;
        }
        let mut left = EXPIRY_BUDGET;
        while left > 0 {
            let mut batch = [NIL; 64];
            let mut n = 0;
            let sessions = &self.sessions;
            self.wheel.advance(
                now,
                batch.len().min(left),
                |e| sessions.get(e as usize).map_or(0, |s| s.expires),
                |e| {
                    if let Some(b) = batch.get_mut(n) {
                        *b = e;
                        n += 1;
                    }
                },
            );
            for &e in batch.iter().take(n) {
                if let Some(p) = self.sessions.get(e as usize).map(|s| proto_index(s.proto)) {
                    if let Some(c) = self.counters.expired.get_mut(p) {
                        *c += 1;
                    }
                }
                self.remove_session(e, false);
            }
            left = left.saturating_sub(batch.len());
            // (Entries re-filed for a later deadline use the budget too:
            // a batch with fewer expired is not the end.)
            if !self.wheel.behind(now) {
                break;
            }
        }
    }

    /// Ends the session with this outside endpoint and remote (an
    /// operator's delete). True when there was one.
    pub fn delete(&mut self, proto: u8, outside: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> bool {
        let k = key5(proto, outside.0.into(), outside.1, remote.0.into(), remote.1);
        match self.find_out(k) {
            Some(e) => {
                self.remove_session(e, true);
                // The flow cache must not carry it on.
                self.generation += 1;
                true
            }
            None => false,
        }
    }
}

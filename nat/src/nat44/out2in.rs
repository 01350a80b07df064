//! Outside to inside: destination translation of packets to pool and
//! forward addresses (filtering per RFC 4787 REQ-8), ICMP errors about
//! mapped flows (RFC 5508), and static 1:1 mappings inbound.

use super::handoff::Handed;
use super::in2out::kept_port;
use super::sessions::key5;
use super::sessions::Origin;
use super::Nat;
use super::Target;
use crate::packet;
use crate::packet::End;
use crate::packet::Flow;
use crate::packet::Kind;
use crate::packet::SYN;
use crate::rules::Filtering;
use crate::rules::Static;
use stack::DropReason;
use stack::RouteTarget;
use stack::Tables;
use stack::Verdict;
use std::net::Ipv4Addr;

impl Nat {
    /// Inbound to one of the pool's (or forwards') addresses.
    pub(super) fn inbound_to_pool(&mut self, t: &Tables, ip: &mut [u8], dst: u32, now: u64) -> Verdict {
        let f = match packet::flow(ip) {
            Ok(f) => f,
            Err(_) if is_local(t, dst) => return Verdict::Pass,
            Err(r) => return Verdict::Drop(r),
        };
        let many = self.workers > 1;
        if f.kind == Kind::IcmpError {
            // RFC 5508 REQ-3: about one of our sessions, with a good
            // checksum, or dropped. The quoted packet left through us:
            // its source is the outside endpoint.
            if many {
                if let Some(v) = self.hand_to(self.owner_out(f.proto, f.src, f.sport)) {
                    return v;
                }
            }
            let e = self.find_out(key5(f.proto, f.src, f.sport, f.dst, f.dport));
            return self.translate_error(ip, e, End::Dst);
        }
        if many {
            if let Some(v) = self.hand_to(self.owner_out(f.proto, f.dst, f.dport)) {
                return v;
            }
        }
        let mut f = f;
        let mut hairpin = false;
        match self.handed {
            // The destination's owner found a hairpin whose source this
            // worker owns: translate the source, then hand it back.
            Some(Handed::HairpinSource) => {
                if packet::ttl(ip) <= 1 {
                    return Verdict::Expire;
                }
                match self.hairpin_source(&f, now) {
                    Ok(Some((a, p))) => {
                        packet::rewrite(ip, End::Src, a, p);
                        self.counters.hairpins += 1;
                        (f.src, f.sport) = (a, p);
                    }
                    Ok(None) => {}
                    Err(v) => return v,
                }
                let d = self.owner_out(f.proto, f.dst, f.dport);
                if d != self.worker {
                    return Verdict::Handoff { worker: d, tag: Handed::DestOnly as u8 };
                }
            }
            Some(Handed::DestOnly) => {}
            // Hairpinning, when there is a mapping to reach (traffic from
            // the inside to the gateway's own address is not translated).
            _ if self.find_map_out(f.proto, f.dst, f.dport).is_some() => {
                // Checks that drop the packet before any state is made.
                if packet::ttl(ip) <= 1 {
                    return Verdict::Expire;
                }
                if many && self.static_by_inside(f.src).is_none() && self.is_inside_source(f.src) {
                    let s = self.owner_in(f.src);
                    if s != self.worker {
                        return Verdict::Handoff { worker: s, tag: Handed::HairpinSource as u8 };
                    }
                }
                match self.hairpin_source(&f, now) {
                    Ok(Some((a, p))) => {
                        (f.src, f.sport) = (a, p);
                        hairpin = true;
                    }
                    Ok(None) => {}
                    Err(v) => return v,
                }
            }
            _ => {}
        }
        match self.inbound(&f, packet::ttl(ip) <= 1, now) {
            Ok(Some(e)) => {
                let Some(s) = self.session(e) else { return Verdict::Drop(DropReason::NatNoMapping) };
                if hairpin {
                    packet::rewrite(ip, End::Src, f.src, f.sport);
                    self.counters.hairpins += 1;
                }
                packet::rewrite(ip, End::Dst, s.inside, s.in_port);
                self.counters.translated += 1;
                Verdict::Pass
            }
            // No mapping: the gateway's own address answers for itself
            // (ping, port unreachable), except that an unsolicited SYN is
            // never answered (RFC 5382 REQ-4).
            Ok(None) if is_local(t, dst) && !matches!(f.kind, Kind::Tcp(fl) if fl & SYN != 0) => Verdict::Pass,
            Ok(None) => Verdict::Drop(DropReason::NatNoMapping),
            Err(v) => v,
        }
    }

    /// The inbound session for flow `f` to one of our outside addresses:
    /// found, or made under an existing mapping if filtering lets it in.
    /// `Ok(None)`: no mapping at all. A packet whose TTL runs out here
    /// (`expiring`) would be forwarded but is not: it gets
    /// [`Verdict::Expire`] after the checks that drop it silently, and
    /// neither makes nor refreshes any state.
    pub(super) fn inbound(&mut self, f: &Flow, expiring: bool, now: u64) -> Result<Option<u32>, Verdict> {
        if let Some(e) = self.find_out(key5(f.proto, f.dst, f.dport, f.src, f.sport)) {
            if expiring {
                return Err(Verdict::Expire);
            }
            self.touch(e, f.kind, false, now);
            return Ok(Some(e));
        }
        let Some(m) = self.find_map_out(f.proto, f.dst, f.dport) else { return Ok(None) };
        let fixed = self.mappings.get(m as usize).is_some_and(|x| x.fixed);
        if self.rules.filtering == Filtering::AddressDependent && !fixed && !self.has_sent_to(m, f.src) {
            return Err(Verdict::Drop(DropReason::NatFiltered));
        }
        // A new TCP conversation from outside must open with a SYN.
        if matches!(f.kind, Kind::Tcp(fl) if fl & SYN == 0) || f.kind == Kind::Echo(false) {
            return Err(Verdict::Drop(DropReason::NatNoMapping));
        }
        if expiring {
            return Err(Verdict::Expire);
        }
        let e = self.new_session(m, f.src, f.sport, now, None, Origin::Outside)?;
        self.touch(e, f.kind, false, now);
        Ok(Some(e))
    }

    /// Inbound through a static mapping: the destination becomes the
    /// inside address, ports kept (and the source translated first if it
    /// is an inside one).
    pub(super) fn static_inbound(&mut self, st: Static, ip: &mut [u8], now: u64) -> Verdict {
        // Forwarded to the inside host: a spent TTL is answered untranslated.
        if packet::ttl(ip) <= 1 {
            return Verdict::Expire;
        }
        let inside = u32::from(st.inside);
        match packet::flow(ip) {
            Ok(f) if f.kind == Kind::IcmpError => {
                // About a packet the inside host sent: its source is ours.
                if f.src != u32::from(st.outside) || !packet::icmp_checksum_ok(ip) {
                    return Verdict::Drop(DropReason::NatIcmpUnmapped);
                }
                packet::rewrite_icmp_error(ip, End::Dst, inside, inside, kept_port(&f, End::Src));
            }
            Ok(f) => {
                match self.hairpin_source(&f, now) {
                    Ok(Some((a, p))) => {
                        packet::rewrite(ip, End::Src, a, p);
                        self.counters.hairpins += 1;
                    }
                    Ok(None) => {}
                    Err(v) => return v,
                }
                packet::rewrite_addr(ip, End::Dst, inside);
            }
            // Later fragments, other protocols: the address alone.
            Err(_) => packet::rewrite_addr(ip, End::Dst, inside),
        }
        self.counters.translated += 1;
        Verdict::Pass
    }

    /// Translates an ICMP error about session `e` (RFC 5508 REQ-3):
    /// towards the inside (`End::Dst`) or out of it (`End::Src`). Errors
    /// about no session, or failing their checksum, are dropped.
    pub(super) fn translate_error(&mut self, ip: &mut [u8], e: Option<u32>, outer: End) -> Verdict {
        let Some(s) = e.and_then(|e| self.session(e)) else { return Verdict::Drop(DropReason::NatIcmpUnmapped) };
        if !packet::icmp_checksum_ok(ip) {
            return Verdict::Drop(DropReason::NatIcmpUnmapped);
        }
        let (addr, port) = if outer == End::Dst { (s.inside, s.in_port) } else { (s.outside, s.out_port) };
        packet::rewrite_icmp_error(ip, outer, addr, addr, port);
        self.counters.translated += 1;
        Verdict::Pass
    }
}

impl Nat {
    /// Rewrites a packet this NAT translated back to what its sender sent
    /// (destination of an inbound one, source of an outbound one, both
    /// for a hairpin), before the router quotes it in an ICMP error of its
    /// own, so the error reaches that sender and quotes its own endpoints
    /// (RFC 5508: the host must be able to match it to its flow). True
    /// if anything was rewritten.
    pub(super) fn untranslate(&self, ip: &mut [u8]) -> bool {
        let Ok(f) = packet::flow(ip) else { return false };
        if f.kind == Kind::IcmpError {
            return false;
        }
        let mut done = false;
        // Inbound: the destination is a session's inside end, the source
        // its remote.
        if let Some(s) = self.find_in(key5(f.proto, f.dst, f.dport, f.src, f.sport)).and_then(|e| self.session(e)) {
            packet::rewrite(ip, End::Dst, s.outside, s.out_port);
            done = true;
        } else if let Some(m) = self.forward_to(&f) {
            // A port forward's, its session already gone.
            packet::rewrite(ip, End::Dst, self.outside_of(&m), m.out_port);
            done = true;
        } else if let Some(st) = self.static_by_inside(f.dst).filter(|_| !self.is_inside_source(f.src)) {
            packet::rewrite_addr(ip, End::Dst, st.outside.into());
            done = true;
        }
        // Outbound: the source is a session's outside end.
        if let Some(s) = self.find_out(key5(f.proto, f.src, f.sport, f.dst, f.dport)).and_then(|e| self.session(e)) {
            packet::rewrite(ip, End::Src, s.inside, s.in_port);
            done = true;
        } else if let Some(Target::Static(i)) = self.target(f.src) {
            if let Some(st) = self.rules.statics.get(usize::from(i)) {
                packet::rewrite_addr(ip, End::Src, st.inside.into());
                done = true;
            }
        }
        done
    }

    /// The port forward whose server `f` is addressed to, from outside.
    fn forward_to(&self, f: &Flow) -> Option<super::sessions::Mapping> {
        if self.is_inside_source(f.src) {
            return None;
        }
        let m = *self.mappings.get(self.find_map_in(f.proto, f.dst, f.dport)? as usize)?;
        m.fixed.then_some(m)
    }
}

pub(super) fn is_local(t: &Tables, a: u32) -> bool {
    matches!(t.fib.lookup(Ipv4Addr::from(a)), Some(RouteTarget::Local { .. }))
}

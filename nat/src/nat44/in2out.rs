//! Inside to outside: source translation of packets leaving by a rule's
//! outside interface, hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8), and
//! static 1:1 mappings outbound.

use super::sessions::key5;
use super::Nat;
use crate::packet;
use crate::packet::End;
use crate::packet::Flow;
use crate::packet::{Kind, ICMP};
use crate::rules::Static;
use stack::DropReason;
use stack::Verdict;

impl Nat {
    /// Outbound from an inside host under rule `ri` (or a forward's
    /// server, `None`).
    pub(super) fn outbound_from_inside(&mut self, ri: Option<usize>, ip: &mut [u8], now: u64) -> Verdict {
        let f = match packet::flow(ip) {
            Ok(f) => f,
            Err(_) if ri.is_none() => return Verdict::Pass,
            Err(r) => return Verdict::Drop(r),
        };
        if f.kind == Kind::IcmpError {
            // An inside host's error about a packet that came in through
            // us: the quoted packet's destination is the inside endpoint.
            let e = self.find_in(key5(f.proto, f.dst, f.dport, f.src, f.sport));
            if e.is_none() && ri.is_none() {
                return Verdict::Pass;
            }
            return self.translate_error(ip, e, End::Src);
        }
        match self.outbound(ri, &f, now) {
            Ok(Some(e)) => {
                let Some(s) = self.session(e) else { return Verdict::Drop(DropReason::NatNoMapping) };
                packet::rewrite(ip, End::Src, s.outside, s.out_port);
                self.counters.translated += 1;
                Verdict::Pass
            }
            Ok(None) => Verdict::Pass,
            Err(v) => v,
        }
    }

    /// Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): a packet from the
    /// inside to an outside address gets its source translated as if it
    /// had left, before its destination is. The outside source, or
    /// `None` when the source is not an inside one.
    pub(super) fn hairpin_source(&mut self, f: &Flow, now: u64) -> Result<Option<(u32, u16)>, Verdict> {
        if let Some(st) = self.static_by_inside(f.src) {
            return Ok(Some((st.outside.into(), f.sport)));
        }
        let ri = self.inside.iter().position(|r| r.matches(f.src));
        if ri.is_none() && self.forward_in.binary_search(&f.src).is_err() {
            return Ok(None);
        }
        let e = self.outbound(ri, f, now)?;
        Ok(e.and_then(|e| self.session(e)).map(|s| (s.outside, s.out_port)))
    }

    /// Outbound through a static mapping: the source becomes the outside
    /// address, ports kept.
    pub(super) fn static_outbound(&mut self, st: Static, ip: &mut [u8]) -> Verdict {
        let outside = u32::from(st.outside);
        match packet::flow(ip) {
            Ok(f) if f.kind == Kind::IcmpError => {
                // About a packet that came in to the inside host.
                if f.dst != u32::from(st.inside) || !packet::icmp_checksum_ok(ip) {
                    return Verdict::Drop(DropReason::NatIcmpUnmapped);
                }
                packet::rewrite_icmp_error(ip, End::Src, outside, outside, kept_port(&f, End::Dst));
            }
            _ => packet::rewrite_addr(ip, End::Src, outside),
        }
        self.counters.translated += 1;
        Verdict::Pass
    }
}

/// The port a static mapping keeps at `end` of a quoted flow: for an
/// echo, its identifier, whichever end it names.
pub(super) fn kept_port(f: &Flow, end: End) -> u16 {
    match (f.proto, end) {
        (ICMP, _) => f.sport | f.dport,
        (_, End::Src) => f.sport,
        (_, End::Dst) => f.dport,
    }
}

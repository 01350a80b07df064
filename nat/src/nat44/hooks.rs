//! The NAT on the router's full path ([`Hooks`]): destination translation
//! before the FIB lookup, source translation once the egress is known.

use super::fragments::Direction;
use super::handoff::Handed;
use super::Nat;
use super::Target;
use super::NIL;
use crate::packet;
use crate::packet::End;
use crate::packet::Frag;
use stack::Hooks;
use stack::Tables;
use stack::Verdict;

impl Hooks for Nat {
    fn prerouting(&mut self, t: &Tables, ip: &mut [u8], now: u64) -> Verdict {
        self.now = now;
        self.made = [NIL; 2];
        let Some(dst) = packet::addr(ip, End::Dst) else {
            return Verdict::Pass;
        };
        match self.target(dst) {
            None => Verdict::Pass,
            Some(Target::Static(i)) => match self.rules.statics.get(usize::from(i)).copied() {
                Some(st) => self.static_inbound(st, ip, now),
                None => Verdict::Pass,
            },
            Some(Target::Pool(_)) => match packet::frag(ip) {
                Frag::Whole => self.inbound_to_pool(t, ip, dst, now),
                Frag::First => {
                    let datagram = packet::datagram(ip);
                    let v = self.inbound_to_pool(t, ip, dst, now);
                    self.remember_fragment(Direction::In, datagram, ip, v, now);
                    v
                }
                Frag::Later { offset } => self.later_fragment(Direction::In, ip, offset, now),
            },
        }
    }

    fn postrouting(&mut self, _t: &Tables, out: u16, ip: &mut [u8], now: u64) -> Verdict {
        self.now = now;
        let Some(src) = packet::addr(ip, End::Src) else {
            return Verdict::Pass;
        };
        if let Some(st) = self.static_by_inside(src) {
            if st.interface == out {
                return self.static_outbound(st, ip);
            }
        }
        let ri = self.rule_for(out, src);
        // Not under a rule: only a port forward's server has sessions.
        if ri.is_none() && self.forward_in.binary_search(&src).is_err() {
            return Verdict::Pass;
        }
        // The subscriber's worker holds its mappings (and its fragments').
        if self.workers > 1 {
            if let Some(v) = self.hand_to(self.owner_in(src)) {
                return v;
            }
        }
        match packet::frag(ip) {
            Frag::Whole => self.outbound_from_inside(ri, ip, now),
            Frag::First => {
                let datagram = packet::datagram(ip);
                let v = self.outbound_from_inside(ri, ip, now);
                self.remember_fragment(Direction::Out, datagram, ip, v, now);
                v
            }
            Frag::Later { offset } => self.later_fragment(Direction::Out, ip, offset, now),
        }
    }

    /// No rules, forwards or static mappings: nothing to translate, and
    /// every session went with the last rule.
    #[inline(always)]
    fn is_idle(&self) -> bool {
        self.rules.rules.is_empty() && self.rules.forwards.is_empty() && self.rules.statics.is_empty()
    }

    fn untranslate(&mut self, _t: &Tables, ip: &mut [u8]) -> bool {
        Nat::untranslate(self, ip)
    }

    /// Removes the sessions the dropped packet made (its prerouting's and
    /// postrouting's), and with them any mapping left empty.
    fn abandon(&mut self) {
        for e in std::mem::replace(&mut self.made, [NIL; 2]) {
            if e != NIL {
                self.remove_session(e, true);
                self.counters.abandoned += 1;
            }
        }
    }

    #[inline(always)]
    fn take_release(&mut self) -> bool {
        std::mem::take(&mut self.release)
    }

    #[inline(always)]
    fn set_handed(&mut self, tag: Option<u8>) {
        self.handed = tag.map(Handed::from_tag);
    }
}

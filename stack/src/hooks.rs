//! The hook through which address translation (the `nat` crate) joins the
//! IPv4 pipeline (input checks, NAT, FIB lookup, ...).
//!
//! The router calls [`Translator::prerouting`] on every IPv4 packet that
//! passed the RFC 1812 input checks, before the FIB lookup, so a
//! translated destination is routed as such; and
//! [`Translator::postrouting`] on every packet it forwards, once the
//! egress interface is known and the TTL and MTU checks passed, so a
//! source is translated only on its way out of the outside interface.
//! Packets the router originates itself (echo replies, ICMP errors) are
//! not translated. [`NoNat`] is the router without translation.

use crate::drop::DropReason;
use crate::iface::Tables;
use crate::wire::FiveTuple;

/// What translation decided about a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (the packet may have been rewritten).
    Pass,
    /// Drop silently, counted under the reason.
    Drop(DropReason),
    /// Drop, counted, and answer the source with ICMP Destination
    /// Unreachable, communication administratively prohibited (type 3
    /// code 13), as RFC 5508 REQ-8 asks when resources run out.
    Refuse(DropReason),
    /// Keep the packet and ask again once [`Translator::take_release`]
    /// says so: a later fragment that came before its first, whose
    /// translation only the first fragment's ports decide (RFC 4787
    /// REQ-14). The router holds at most `RouterConfig::nat_hold`
    /// packets for at most [`crate::router::HOLD_NS`]; past either they
    /// are dropped (`nat_fragment_hold_full`, `nat_fragment_timeout`).
    Hold,
    /// The packet would be translated and forwarded with its TTL run
    /// out: answer ICMP Time Exceeded about it as it arrived, before
    /// translation, so the error quotes what its sender sent and no inside
    /// address leaks (RFC 5508 §3: errors about a translated flow must be
    /// recognisable by the host that sent it).
    Expire,
    /// Another worker owns this packet's translation state: hand the
    /// packet to `worker` ([`crate::Io::handoff`]), which runs it through
    /// its router from the start, telling its translator `tag`
    /// ([`Translator::set_handed`]).
    Handoff { worker: u16, tag: u8 },
}

/// What the translator does to a packet on the router's fast path:
/// found by a look before routing
/// ([`Translator::fast_pre`], which changes nothing), and found and done
/// after it ([`Translator::fast_post`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FastNat {
    /// The hook would pass the packet untouched.
    Untouched,
    /// The hook would rewrite one end (the destination before routing,
    /// the source after) to `addr`:`port` (for an ICMP echo, its
    /// identifier) under the translator's entry `entry` (established,
    /// or just made by [`Translator::fast_post`]), and pass it.
    Rewrite { entry: u32, addr: u32, port: u16 },
    /// From [`Translator::fast_post`] after a `Rewrite` before routing:
    /// an outbound packet of a flow with no entry yet (nothing changed).
    New,
    /// From [`Translator::fast_post`] making a new flow's entry: the
    /// hook drops the packet, counted under the reason
    /// ([`Verdict::Drop`]).
    Drop(DropReason),
    /// Likewise: the hook refuses the packet ([`Verdict::Refuse`]):
    /// dropped, counted, answered with ICMP.
    Refuse(DropReason),
    /// Anything else (an ICMP error, a fragment, a handoff, a hairpin):
    /// only the full path can tell.
    Slow,
}

/// Address translation in the router's IPv4 path. Implementations work
/// on the IPv4 packet (`ip`: header checked, trimmed to its total
/// length), update every checksum they touch, and never allocate, lock
/// or panic.
pub trait Translator {
    /// Before the FIB lookup: translate the destination of inbound
    /// traffic (and, for hairpinned traffic, the source too).
    fn prerouting(&mut self, t: &Tables, ip: &mut [u8], now: u64) -> Verdict;
    /// After routing chose egress interface `out`: translate the source of
    /// outbound traffic.
    fn postrouting(&mut self, t: &Tables, out: u16, ip: &mut [u8], now: u64) -> Verdict;
    /// True when neither hook could change or stop any packet now (no
    /// rules at all): the router's fast path then skips them for the
    /// burst. `false` is always safe.
    #[inline(always)]
    fn is_idle(&self) -> bool {
        false
    }
    /// Asked once a burst: whether the router should give this burst's
    /// frames to [`Translator::prefetch`] and [`Translator::prefetch_more`]
    /// and say which is next ([`Translator::next_frame`]) (the hints cost
    /// a few ns a frame, which pay only when the translator's reads miss
    /// the cache).
    #[inline(always)]
    fn lookahead(&mut self) -> bool {
        false
    }
    /// A hint that the IPv4 packet `ip` (unchecked: any bytes), at
    /// place `at` of the burst, will be looked at soon: start bringing
    /// in what its translation reads first. The router calls it a few
    /// frames ahead, so the cache misses of several packets overlap.
    /// Changes nothing a packet's handling sees.
    #[inline(always)]
    fn prefetch(&mut self, _ip: &[u8], _at: usize) {}
    /// The second hint for the frame at `at`, nearer its turn: follow
    /// what the first brought in (the entry an index slot names).
    #[inline(always)]
    fn prefetch_more(&mut self, _at: usize) {}
    /// While hinting: the frame at place `at` of the burst is the next
    /// the hooks see (what its hints worked out may be used for it).
    #[inline(always)]
    fn next_frame(&mut self, _at: usize) {}
    /// The fast path's look at a plain packet (IPv4 header without
    /// options, checked, TTL above 1, trimmed to its total length), read
    /// as `p`, before routing: what [`Translator::prerouting`] would do,
    /// without doing it. Must change nothing. [`FastNat::Slow`] is always
    /// safe.
    #[inline(always)]
    fn fast_pre(&self, _p: &FiveTuple) -> FastNat {
        FastNat::Slow
    }
    /// As [`Translator::fast_pre`], after routing chose egress
    /// interface `out` (every other check of the fast path has passed),
    /// for [`Translator::postrouting`], given what `fast_pre` answered
    /// (`pre`) for `p`, the packet as it arrived: and done. If the hooks
    /// would let the packet go on, the answer is [`FastNat::Untouched`] or
    /// [`FastNat::Rewrite`] (this hook's), and it is done as they would do
    /// it: the entries refreshed, `ip` rewritten (at most one end: a
    /// packet both would rewrite, a hairpin, is [`FastNat::Slow`]), the
    /// translation counted. An outbound packet of a flow with no entry
    /// yet has its entry made as [`Translator::postrouting`] would make
    /// it at `now` when `pre` is `Untouched` (otherwise the answer is
    /// [`FastNat::New`], nothing changed), or is dropped
    /// ([`FastNat::Drop`]) or refused ([`FastNat::Refuse`]), counted here
    /// as the hook would count it. [`FastNat::Slow`] changes nothing.
    #[inline(always)]
    fn fast_post(&mut self, _out: u16, _ip: &mut [u8], _p: &FiveTuple, _pre: FastNat, _now: u64) -> FastNat {
        FastNat::Slow
    }
    /// Changes whenever an answer of [`Translator::fast_pre`] or
    /// [`Translator::fast_post`] for a packet could change other than by
    /// entries coming and going (new rules): the router's flow cache
    /// forgets what it learned under another.
    #[inline(always)]
    fn generation(&self) -> u64 {
        0
    }
    /// A packet of a flow the router's flow cache holds (read as `p`,
    /// whole, TCP without SYN, FIN or RST, or UDP), whose first packet
    /// `fast_post` translated under `entry`: its source (`outbound`) or
    /// its destination to `addr:port`. If the entry still holds that flow
    /// with that translation, it is refreshed as `fast_post` would have
    /// refreshed it, the translation is counted, and the answer is true:
    /// the router rewrites the packet as it did the first. False changes
    /// nothing.
    #[inline(always)]
    fn fast_refresh(
        &mut self,
        _entry: u32,
        _p: &FiveTuple,
        _outbound: bool,
        _addr: u32,
        _port: u16,
        _now: u64,
    ) -> bool {
        false
    }
    /// The flow cache is about to keep a flow `fast_post` just
    /// translated under `entry` (its source when `outbound`, at `now`):
    /// for how long (ns) it may carry the flow's packets without
    /// [`Translator::fast_refresh`], counting them with
    /// [`Translator::fast_translated`] instead. For that long the entry
    /// must stay the flow's with the same translation, unless
    /// [`Translator::generation`] changes; a translator whose entries
    /// time out keeps each refreshed one that much longer than its
    /// packets would, so that it still ends no sooner than its timeout
    /// after the flow's last packet. 0 (the default): every packet is
    /// refreshed.
    #[inline(always)]
    fn fast_hold(&self, _entry: u32, _outbound: bool, _now: u64) -> u64 {
        0
    }
    /// `n` packets of flows held by [`Translator::fast_hold`] were
    /// translated (once a burst).
    #[inline(always)]
    fn fast_translated(&mut self, _n: u64) {}
    /// True (once) when packets answered [`Verdict::Hold`] may pass now:
    /// a first fragment was translated. The router then asks again
    /// about every packet it holds.
    #[inline(always)]
    fn take_release(&mut self) -> bool {
        false
    }
    /// The packets that follow were handed over by another worker with
    /// `tag` (`Some`), or are this worker's own again (`None`).
    #[inline(always)]
    fn set_handed(&mut self, _tag: Option<u8>) {}
}

/// No translation: every packet passes untouched.
#[derive(Copy, Clone, Debug, Default)]
pub struct NoNat;

impl Translator for NoNat {
    #[inline(always)]
    fn is_idle(&self) -> bool {
        true
    }
    #[inline(always)]
    fn prerouting(&mut self, _: &Tables, _: &mut [u8], _: u64) -> Verdict {
        Verdict::Pass
    }
    #[inline(always)]
    fn postrouting(&mut self, _: &Tables, _: u16, _: &mut [u8], _: u64) -> Verdict {
        Verdict::Pass
    }
    #[inline(always)]
    fn fast_pre(&self, _: &FiveTuple) -> FastNat {
        FastNat::Untouched
    }
    #[inline(always)]
    fn fast_post(&mut self, _: u16, _: &mut [u8], _: &FiveTuple, _: FastNat, _: u64) -> FastNat {
        FastNat::Untouched
    }
}

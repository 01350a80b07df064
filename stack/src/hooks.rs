//! The hook points through which stages outside the router join its
//! IPv4 path: NAT44 (the `nat` crate) today; tunnel endpoints and TCP
//! termination will meet packets at the same points.
//!
//! - [`Hooks`]: the full path calls [`Hooks::prerouting`] on every IPv4
//!   packet that passed the RFC 1812 input checks, before the FIB lookup
//!   (a translated destination is routed as such), and
//!   [`Hooks::postrouting`] once the egress interface is known and the
//!   TTL and MTU checks passed. Packets the router originates itself are
//!   not shown to them. Packets held or handed to another worker come
//!   back through [`Hooks::take_release`] and [`Hooks::set_handed`].
//! - [`FastHooks`]: what the fast path and the flow cache may ask, so an
//!   established flow is carried without the full path.
//! - [`BurstHints`]: prefetch hints a few frames ahead, for hooks whose
//!   tables miss the cache.
//!
//! [`Translator`] is all three; [`NoNat`] is the router without them.

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
    /// Keep the packet and ask again once [`Hooks::take_release`]
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
    /// ([`Hooks::set_handed`]).
    Handoff { worker: u16, tag: u8 },
}

/// What the translator does to a packet on the router's fast path:
/// found by a look before routing
/// ([`FastHooks::fast_pre`], which changes nothing), and found and done
/// after it ([`FastHooks::fast_post`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FastVerdict {
    /// The hook would pass the packet untouched.
    Untouched,
    /// The hook would rewrite one end (the destination before routing,
    /// the source after) to `addr`:`port` (for an ICMP echo, its
    /// identifier) under its entry `entry` (established, or just made by
    /// [`FastHooks::fast_post`]), and pass it.
    Rewrite { entry: EntryHandle, addr: u32, port: u16 },
    /// From [`FastHooks::fast_post`] after a `Rewrite` before routing:
    /// an outbound packet of a flow with no entry yet (nothing changed).
    New,
    /// From [`FastHooks::fast_post`] making a new flow's entry: the
    /// hook drops the packet, counted under the reason
    /// ([`Verdict::Drop`]).
    Drop(DropReason),
    /// Likewise: the hook refuses the packet ([`Verdict::Refuse`]):
    /// dropped, counted, answered with ICMP.
    Refuse(DropReason),
    /// From [`FastHooks::fast_post`]: another worker holds the flow's
    /// state; the packet goes to it untouched, as the full path's
    /// [`Verdict::Handoff`] would send it.
    Handoff { worker: u16, tag: u8 },
    /// Anything else (an ICMP error, a fragment, a handoff, a hairpin):
    /// only the full path can tell.
    Slow,
}

/// A hook's entry for a flow (a NAT session, say), opaque to the
/// router: the flow cache keeps it and gives it back
/// ([`FastHooks::fast_refresh`], [`FastHooks::fast_hold`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct EntryHandle(u32);

impl EntryHandle {
    /// No entry.
    pub const NONE: EntryHandle = EntryHandle(u32::MAX);

    /// The hook's own number for the entry.
    #[inline(always)]
    pub const fn new(n: u32) -> EntryHandle {
        EntryHandle(n)
    }

    #[inline(always)]
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// The hooks of the router's IPv4 full path. Implementations work on the
/// IPv4 packet (`ip`: header checked, trimmed to its total length),
/// update every checksum they touch, and never allocate, lock or panic.
pub trait Hooks {
    /// Before the FIB lookup: e.g. translate the destination of inbound
    /// traffic (and, for hairpinned traffic, the source too).
    fn prerouting(&mut self, t: &Tables, ip: &mut [u8], now: u64) -> Verdict;
    /// After routing chose egress interface `out`: e.g. translate the
    /// source of outbound traffic.
    fn postrouting(&mut self, t: &Tables, out: u16, ip: &mut [u8], now: u64) -> Verdict;
    /// True when neither hook could change or stop any packet now: the
    /// fast path then skips the hooks for the burst. `false` is always
    /// safe.
    #[inline(always)]
    fn is_idle(&self) -> bool {
        false
    }
    /// The packet the last [`Hooks::prerouting`] passed was dropped before
    /// it left (no route, too big with DF, no room to queue it): forget
    /// the state the hooks made for it, so a dropped packet leaves none.
    #[inline(always)]
    fn abandon(&mut self) {}
    /// The router is about to quote `ip` (a packet it forwards, checked) in
    /// an ICMP error of its own: if the hooks translated it, rewrite it
    /// back to what its sender sent, so the error goes to that sender and
    /// quotes its own endpoints, never an inside one (RFC 5508). True if
    /// it was rewritten.
    #[inline(always)]
    fn untranslate(&mut self, _t: &Tables, _ip: &mut [u8]) -> bool {
        false
    }
    /// True (once) when packets answered [`Verdict::Hold`] may pass now.
    /// The router then asks again about every packet it holds.
    #[inline(always)]
    fn take_release(&mut self) -> bool {
        false
    }
    /// The packets that follow were handed over by another worker with
    /// `tag` (`Some`, from [`Verdict::Handoff`]), or are this worker's own
    /// again (`None`).
    #[inline(always)]
    fn set_handed(&mut self, _tag: Option<u8>) {}
}

/// What the router's fast path asks of the hooks, for a plain packet
/// (IPv4 header without options, checked, TTL above 1, trimmed to its
/// total length) read once as a [`FiveTuple`]. Every answer must be what
/// the full path's hooks would do; [`FastVerdict::Slow`] is always safe.
pub trait FastHooks: Hooks {
    /// Before routing: what [`Hooks::prerouting`] would do, without doing
    /// it. Changes nothing.
    #[inline(always)]
    fn fast_pre(&self, _p: &FiveTuple) -> FastVerdict {
        FastVerdict::Slow
    }
    /// After routing chose egress interface `out` (every other check of
    /// the fast path has passed), given `pre`, the answer for `p` before
    /// routing: what [`Hooks::postrouting`] would do, and done. If the
    /// hooks let the packet go on, the answer is [`FastVerdict::Untouched`] or
    /// [`FastVerdict::Rewrite`], and it is done as they would do it: entries
    /// refreshed, `ip` rewritten (at most one end: a packet both would
    /// rewrite is [`FastVerdict::Slow`]), counted. An outbound packet of a flow
    /// with no entry yet has its entry made when `pre` is `Untouched`
    /// (otherwise [`FastVerdict::New`], nothing changed), or is dropped or
    /// refused, counted as the hook would. `Slow` changes nothing.
    #[inline(always)]
    fn fast_post(&mut self, _out: u16, _ip: &mut [u8], _p: &FiveTuple, _pre: FastVerdict, _now: u64) -> FastVerdict {
        FastVerdict::Slow
    }
    /// Changes whenever an answer of `fast_pre` or `fast_post` could
    /// change other than by entries coming and going (new rules): the
    /// flow cache forgets what it learned under another.
    #[inline(always)]
    fn generation(&self) -> u64 {
        0
    }
    /// A packet `p` of a flow the flow cache holds (whole TCP without SYN,
    /// FIN or RST, or UDP), whose first packet `fast_post` rewrote under
    /// `entry`: its source (`outbound`) or destination to `addr:port`. If
    /// the entry still holds that flow with that rewrite, it is refreshed
    /// and counted as `fast_post` would, and the answer is true: the
    /// router rewrites the packet as it did the first. False changes
    /// nothing.
    #[inline(always)]
    fn fast_refresh(
        &mut self,
        _entry: EntryHandle,
        _p: &FiveTuple,
        _outbound: bool,
        _addr: u32,
        _port: u16,
        _now: u64,
    ) -> bool {
        false
    }
    /// The flow cache is about to keep a flow `fast_post` just rewrote
    /// under `entry` at `now`: for how long (ns) it may carry the flow's
    /// packets without `fast_refresh`, counting them with
    /// `fast_translated` instead. For that long the entry must stay the
    /// flow's with the same rewrite, unless `generation` changes. 0: every
    /// packet is refreshed.
    #[inline(always)]
    fn fast_hold(&self, _entry: EntryHandle, _outbound: bool, _now: u64) -> u64 {
        0
    }
    /// `n` packets of held flows were rewritten (once a burst).
    #[inline(always)]
    fn fast_translated(&mut self, _n: u64) {}
}

/// Prefetch hints for hooks whose tables miss the cache: the fast path
/// hands them each frame a few frames before its turn, so the misses of
/// several packets overlap. Hints change nothing a packet's handling
/// sees.
pub trait BurstHints {
    /// Asked once a burst: whether this burst's frames get hints (they
    /// cost a few ns a frame, which pay only when the reads miss).
    #[inline(always)]
    fn lookahead(&mut self) -> bool {
        false
    }
    /// The IPv4 packet `ip` (unchecked: any bytes), at place `at` of the
    /// burst, comes soon: start bringing in what it reads first.
    #[inline(always)]
    fn prefetch(&mut self, _ip: &[u8], _at: usize) {}
    /// The second hint for the frame at `at`, nearer its turn: follow
    /// what the first brought in.
    #[inline(always)]
    fn prefetch_more(&mut self, _at: usize) {}
    /// The frame at place `at` is the next the hooks see (what its hints
    /// worked out may be used for it).
    #[inline(always)]
    fn next_frame(&mut self, _at: usize) {}
}

/// Everything the router asks of what joins its path.
pub trait Translator: FastHooks + BurstHints {}

impl<T: FastHooks + BurstHints> Translator for T {}

/// No hooks: every packet passes untouched.
#[derive(Copy, Clone, Debug, Default)]
pub struct NoNat;

impl Hooks for NoNat {
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
}

impl FastHooks for NoNat {
    #[inline(always)]
    fn fast_pre(&self, _: &FiveTuple) -> FastVerdict {
        FastVerdict::Untouched
    }
    #[inline(always)]
    fn fast_post(&mut self, _: u16, _: &mut [u8], _: &FiveTuple, _: FastVerdict, _: u64) -> FastVerdict {
        FastVerdict::Untouched
    }
}

impl BurstHints for NoNat {}

//! IPv4 options at the router (RFC 1812 §5.2.4, §5.3.13; RFC 7126): which
//! packets are refused for theirs, and Record Route and Timestamp filled
//! in as a packet leaves, forwarded or answered. Only the full path sees
//! options: the fast path takes headers of 20 bytes.

use super::Router;
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::fib::RouteTarget;
use crate::hooks::Translator;
use crate::iface::Tables;
use crate::settings::OptionsPolicy;
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv4_options::{self, Recorder, NONSTANDARD_TIME};
use std::net::Ipv4Addr;

/// What the input checks make of a header's options.
pub(super) enum Verdict {
    Pass,
    /// Parameter Problem, pointing at this byte of the header.
    Problem(u8),
    Drop(DropReason),
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// The input checks of the options of `ip`, a header longer than 20
    /// bytes whose option list is well formed: before anything acts on
    /// the packet, so one refused leaves no state.
    pub(super) fn check_options4(&self, t: &Tables, ip: &[u8]) -> Verdict {
        let p = Ipv4Packet::new_unchecked(ip);
        let found = match ipv4_options::inspect(p.options()) {
            Ok(f) => f,
            Err(pointer) => return Verdict::Problem(pointer),
        };
        if found.source_route {
            return Verdict::Drop(DropReason::Ipv4SourceRoute);
        }
        if found.any && t.settings.ipv4_options == OptionsPolicy::Drop {
            return Verdict::Drop(DropReason::Ipv4OptionsRefused);
        }
        Verdict::Pass
    }

    /// Fills in the Record Route and Timestamp options of `ip` as `addr`,
    /// the gateway's address where the packet goes, and mends the header
    /// checksum. Does nothing to a header of 20 bytes.
    pub(super) fn record_options4(&mut self, t: &Tables, ip: &mut [u8], addr: Ipv4Addr, now: u64) {
        if ipv4::ihl(ip) <= ipv4::HEADER_LEN || t.settings.ipv4_options != OptionsPolicy::Process {
            return;
        }
        let me = Recorder { addr, time: self.timestamp(now) };
        let own = |a| matches!(t.fib.lookup(a), Some(RouteTarget::Local { .. }));
        let Some(options) = ip.get_mut(ipv4::HEADER_LEN..ipv4::ihl(ip)) else { return };
        if ipv4_options::record(options, me, own) {
            Ipv4Packet::new_unchecked(ip).fill_checksum();
            self.counters.ipv4_options_recorded += 1;
        }
    }

    /// RFC 791's timestamp for `now`: milliseconds since midnight UT once
    /// the wall clock has been read, a monotonic time marked nonstandard
    /// before.
    fn timestamp(&self, now: u64) -> u32 {
        match self.wall_offset_ms {
            Some(offset) => ipv4_options::ms_since_midnight((now / 1_000_000).wrapping_add_signed(offset)),
            None => (now / 1_000_000) as u32 | NONSTANDARD_TIME,
        }
    }

    /// Reads the wall clock against `now`, for timestamps. Not while
    /// fuzzing, where two routers must write the same bytes.
    pub(super) fn read_wall_clock(&mut self, now: u64) {
        if cfg!(fuzzing) {
            return;
        }
        if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            let unix_ms = since.as_millis() as i64;
            self.wall_offset_ms = Some(unix_ms - (now / 1_000_000) as i64);
        }
    }
}

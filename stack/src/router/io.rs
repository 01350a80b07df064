//! What the router needs from the worker around it: buffers, transmission,
//! and telling other workers about neighbors and NAT handoffs.

use crate::buf::PacketBuf;
use crate::iface::Tables;
use crate::wire::MacAddr;
use std::net::IpAddr;

/// What the router needs from the worker around it.
pub trait Io<B: PacketBuf> {
    /// A fresh, empty buffer (for ARP requests), if the pool has one.
    fn alloc(&mut self) -> Option<B>;
    /// Sends `pkt` on port `pkt.port()`.
    fn send(&mut self, pkt: B);
    /// Sends `pkt` on `port` (whatever its own port field says: the fast
    /// path knows the port and need not write it).
    #[inline(always)]
    fn send_to(&mut self, port: u16, mut pkt: B) {
        pkt.set_port(port);
        self.send(pkt);
    }
    /// A neighbor was learned from the wire; other workers may want it.
    /// A confirmed one was a reply to us, which proves reachability (RFC
    /// 4861 §7.3.1's rule, applied to ARP), so peers may confirm their
    /// entries with it too: replies to one worker's probe often arrive on
    /// another worker's queue.
    fn neighbor_learned(&mut self, _news: NeighborNews) {}
    /// Hands `pkt` to worker `worker`, which owns its NAT state
    /// ([`Verdict::Handoff`](crate::Verdict::Handoff)); gives it back if that cannot be done.
    fn handoff(&mut self, pkt: B, _worker: u16, _tag: u8) -> Result<(), B> {
        Err(pkt)
    }
    /// Hands `pkt` to the kernel twin of layer-3 interface `ifindex` (the
    /// punt path); gives it back if that cannot be done now.
    fn punt(&mut self, _ifindex: u16, pkt: B) -> Result<(), B> {
        Err(pkt)
    }
}

/// A neighbor one worker learned from the wire, for the others
/// ([`Io::neighbor_learned`], [`Router::learn_remote`](crate::Router::learn_remote)).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NeighborNews {
    pub ifindex: u16,
    pub ip: IpAddr,
    pub mac: MacAddr,
    /// It was a reply to us: peers may mark their entry reachable.
    pub confirmed: bool,
}

/// What every stage of one burst's work needs: the tables snapshot, the
/// burst's time (ns) and the worker's I/O. Built once by the public entry
/// points ([`Router::process_burst`](crate::Router::process_burst),
/// [`Router::process`](crate::Router::process), ...) and passed down.
pub(crate) struct Burst<'a, I> {
    pub t: &'a Tables,
    pub now: u64,
    pub io: &'a mut I,
}

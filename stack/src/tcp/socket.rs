//! The interface a service runs a connection through, in the worker, on
//! each segment or timer that changes it (poll-driven, run to
//! completion; no locks, no allocation): what was received is read in
//! place in the buffers it came in ([`Socket::chunks`]) or taken whole
//! ([`Socket::take`]), and data goes out in buffers handed over
//! ([`Socket::send`]) or written ([`Socket::fill`], [`Socket::write`])
//! into buffers the worker's pool gives, each at most a segment so that
//! it is transmitted without a copy. A proxy joins two sockets by taking
//! from one and sending on the other ([`Socket::splice`]): no byte is
//! copied.

use super::chain::Held;
use super::conn::{Conn, State};
use crate::buf::PacketBuf;

/// A connection, as its service sees it during one call.
pub struct Socket<'a, B> {
    conn: &'a mut Conn<B>,
    held: &'a mut Held,
    alloc: &'a mut dyn FnMut() -> Option<B>,
}

impl<'a, B: PacketBuf> Socket<'a, B> {
    /// `alloc` gives fresh buffers from the worker's pool.
    pub fn new(conn: &'a mut Conn<B>, held: &'a mut Held, alloc: &'a mut dyn FnMut() -> Option<B>) -> Socket<'a, B> {
        Socket { conn, held, alloc }
    }

    /// Synchronized: data may flow (not while the handshake runs).
    pub fn connected(&self) -> bool {
        !matches!(self.conn.state, State::SynSent | State::SynReceived)
    }

    /// Bytes received and not yet taken.
    pub fn readable(&self) -> usize {
        self.conn.recv.len()
    }

    /// The received bytes, a buffer at a time, in place.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.conn.recv.chunks()
    }

    /// The first `n` received bytes copied into `out` (for a parser that
    /// needs them in one piece); how many there were.
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let mut n = 0;
        for c in self.chunks() {
            let Some(room) = out.get_mut(n..) else { break };
            let k = room.len().min(c.len());
            if let (Some(d), Some(s)) = (room.get_mut(..k), c.get(..k)) {
                d.copy_from_slice(s);
            }
            n += k;
        }
        n
    }

    /// The receive queue takes no more until some is read.
    pub fn receive_full(&self) -> bool {
        self.conn.recv.free() == 0
    }

    /// Drops `n` received bytes (read); the window reopens.
    pub fn consume(&mut self, n: usize) {
        self.conn.recv.consume(n, self.held);
        self.conn.window_opened();
    }

    /// Takes the first received buffer whole, its data the next bytes.
    pub fn take(&mut self) -> Option<B> {
        let b = self.conn.recv.take(self.held)?;
        self.conn.window_opened();
        Some(b)
    }

    /// Bytes that may be queued to send now.
    pub fn writable(&self) -> usize {
        self.conn.send.free()
    }

    /// The most a segment carries: a buffer of this many bytes goes out
    /// without a copy.
    pub fn segment_size(&self) -> usize {
        self.conn.segment_size()
    }

    /// Queues `buf`'s data to send as it is; given back if it does not
    /// fit (`writable`) or the worker's budget of buffers is spent.
    pub fn send(&mut self, buf: B) -> Result<(), B> {
        self.conn.send.push(buf, self.held)
    }

    /// Queues up to `len` bytes that `fill` writes into fresh buffer
    /// space (its room, and how many bytes came before); how many.
    pub fn fill(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8], usize)) -> usize {
        let per = self.segment_size();
        self.conn.send.fill(len, per, self.alloc, self.held, fill)
    }

    /// Queues a copy of what fits of `data`; how much.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let per = self.segment_size();
        self.conn.send.write(data, per, self.alloc, self.held)
    }

    /// Moves received buffers, whole, to `to`'s send queue (`to` may be
    /// this same socket: an echo) while they fit; bytes moved.
    pub fn splice(&mut self, mut to: Option<&mut Socket<'_, B>>) -> usize {
        let mut moved = 0;
        loop {
            let n = self.conn.recv.front_len();
            let room = match &to {
                Some(t) => t.writable(),
                None => self.writable(),
            };
            if n == 0 || n > room {
                break;
            }
            let Some(b) = self.conn.recv.take(self.held) else { break };
            let sent = match to {
                Some(ref mut t) => t.send(b),
                None => self.send(b),
            };
            if let Err(b) = sent {
                // Room was checked and the take gave its budget back, so
                // this does not happen; were it to, nothing is lost.
                self.conn.recv.put_back(b, self.held);
                break;
            }
            moved += n;
        }
        if moved > 0 {
            self.conn.window_opened();
        }
        moved
    }

    /// No more to send: a FIN follows what is queued.
    pub fn close(&mut self) {
        self.conn.close();
    }

    /// The peer sent its FIN: what is readable is the last.
    pub fn peer_closed(&self) -> bool {
        self.conn.peer_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::VecBuf;
    use crate::tcp::{InputCx, Opening, Payload, RxChain, SegIn, TcpConfig, TxChain};
    use crate::wire::tcp::flags;

    #[test]
    fn an_echo_splices_received_buffers_into_the_send_queue_without_copying() {
        let options = crate::wire::tcp::TcpOptions { mss: Some(1460), ..Default::default() };
        let syn = SegIn { seq: 1, flags: flags::SYN, window: 65535, options, ..SegIn::default() };
        let mut c: Conn<VecBuf> =
            Conn::accept(&syn, &Opening::new(100, 1460), &TcpConfig::default(), TxChain::new(4096), RxChain::new(4096));
        let mut held = Held::new(8);
        let mut counts = Default::default();
        c.output(0, &mut counts, &mut |_: &crate::tcp::SegOut, _: crate::tcp::TxData<'_, VecBuf>| true);
        let ack = SegIn { seq: 2, ack: 101, flags: flags::ACK, window: 65535, ..SegIn::default() };
        let mut none = None;
        let mut cx = InputCx { now: 0, counts: &mut counts, held: &mut held };
        c.input(&ack, Payload { pkt: &mut none, at: 0, len: 0 }, &mut cx);
        let mut pkt = Some(VecBuf::from_frame(0, &[0xab; 1000]));
        c.input(&SegIn { flags: flags::ACK | flags::PSH, ..ack }, Payload { pkt: &mut pkt, at: 0, len: 1000 }, &mut cx);
        assert!(pkt.is_none(), "the segment's buffer is kept");
        let mut alloc = || Some(VecBuf::new(0));
        let mut s = Socket::new(&mut c, &mut held, &mut alloc);
        assert_eq!((s.readable(), s.chunks().count()), (1000, 1));
        assert_eq!(s.splice(None), 1000);
        assert_eq!((s.readable(), s.writable()), (0, 4096 - 1000));
        assert_eq!(s.write(b"hello"), 5, "onto the same buffer's tail");
        assert_eq!(c.send.buffers(), 1);
        assert_eq!(held.now, 1);
    }
}

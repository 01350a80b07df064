//! A connection to test services on: established, with what the peer
//! sent in its receive queue, and its send queue read back.

use super::chain::{Held, Payload, RxChain, TxChain, TxData};
use super::conn::{Conn, ConnCounts, InputCx, Opening, SegIn, SegOut};
use super::{Socket, TcpConfig};
use crate::buf::{PacketBuf, VecBuf};
use crate::wire::tcp::{flags, TcpOptions};

pub(crate) struct Peer {
    pub conn: Conn<VecBuf>,
    pub held: Held,
    /// The peer's next sequence number.
    seq: u32,
}

impl Peer {
    /// An established connection with `buffer`-byte queues whose peer
    /// sent `received`.
    pub fn established(received: &[u8], buffer: usize) -> Peer {
        let cfg = TcpConfig::default();
        let syn = SegIn { seq: 0, ack: 0, flags: flags::SYN, window: 65535, options: TcpOptions::default() };
        let conn = Conn::accept(&syn, &Opening::new(100, 1460), &cfg, TxChain::new(buffer), RxChain::new(buffer));
        let mut p = Peer { conn, held: Held::new(10_000), seq: 1 };
        let mut n = ConnCounts::default();
        p.conn.output(0, &mut n, &mut |_: &SegOut, _: TxData<'_, VecBuf>| true);
        p.receive(&[]);
        p.receive(received);
        p
    }

    /// The peer sends `data` (in segments of up to 1,000 bytes).
    pub fn receive(&mut self, data: &[u8]) {
        let mut n = ConnCounts::default();
        let mut chunks: Vec<&[u8]> = data.chunks(1000).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for c in chunks {
            let ack =
                SegIn { seq: self.seq, ack: 101, flags: flags::ACK, window: 65535, options: TcpOptions::default() };
            let mut pkt = Some(VecBuf::from_frame(0, c));
            let mut cx = InputCx { now: 0, counts: &mut n, held: &mut self.held };
            self.conn.input(&ack, Payload { pkt: &mut pkt, at: 0, len: c.len() }, &mut cx);
            self.seq = self.seq.wrapping_add(c.len() as u32);
        }
    }

    /// Runs `f` on the connection's socket.
    pub fn serve<R>(&mut self, f: impl FnOnce(&mut Socket<'_, VecBuf>) -> R) -> R {
        let mut alloc = || Some(VecBuf::new(0));
        let mut s = Socket::new(&mut self.conn, &mut self.held, &mut alloc);
        f(&mut s)
    }

    /// Everything queued to send, taken out of the queue.
    pub fn sent(&mut self) -> String {
        String::from_utf8_lossy(&self.sent_bytes()).into_owned()
    }

    pub fn sent_bytes(&mut self) -> Vec<u8> {
        let n = self.conn.send.len();
        let out = match self.conn.send.payload(0, n) {
            TxData::Copy(p) => p.flatten().copied().collect(),
            TxData::Shared(b) => b.data().to_vec(),
        };
        self.conn.send.consume(n, &mut self.held);
        out
    }
}

//! UDP sockets on the gateway's own addresses (RFC 768): the table a
//! worker delivers datagrams into, and its applications (the built-in
//! services, [`crate::services`]) read from and send with.
//!
//! A socket is bound to one local address and port, in one worker: each
//! worker has its own table, and a listener the config names is bound in
//! every worker. Delivery is zero-copy: the datagram stays in the buffer
//! it arrived in, queued with where its payload starts. Every bound holds
//! without allocating after [`UdpSockets::bind`]: at most [`MAX_SOCKETS`]
//! sockets, each queuing at most [`QUEUE_DEPTH`] datagrams, and all of
//! them together at most [`MAX_QUEUED`], so a socket whose reader falls
//! behind cannot hold the buffer pool.

use crate::buf::PacketBuf;
use crate::overlay::FastMap;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Most sockets a worker has.
pub const MAX_SOCKETS: usize = 1024;
/// Most datagrams one socket queues.
pub const QUEUE_DEPTH: usize = 64;
/// Most datagrams all of a worker's sockets queue together.
pub const MAX_QUEUED: usize = 256;

/// A bound socket, in its worker's table.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SocketId(u16);

impl SocketId {
    /// Its place in the table (below [`MAX_SOCKETS`]).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A datagram received on a socket, in the buffer it arrived in.
#[derive(Debug)]
pub struct Datagram<B> {
    pub buf: B,
    /// Where it came from.
    pub remote: SocketAddr,
    /// The socket's address it was sent to.
    pub local: SocketAddr,
    /// The interface it arrived on (the scope of a link-local remote).
    pub ifindex: u16,
    /// Where its payload starts in `buf.data()`, and its length.
    pub payload_at: usize,
    pub payload_len: usize,
}

impl<B: PacketBuf> Datagram<B> {
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.buf.data().get(self.payload_at..self.payload_at + self.payload_len).unwrap_or_default()
    }

    /// The buffer, cut down to the payload (its headroom holds the old
    /// headers, room for new ones): what a reply is built in.
    pub fn into_payload(self) -> B {
        let mut buf = self.buf;
        buf.truncate(self.payload_at + self.payload_len);
        buf.adj(self.payload_at);
        buf
    }
}

/// Why a bind failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    /// The address and port are bound already.
    InUse,
    /// The worker has [`MAX_SOCKETS`] sockets.
    Full,
}

/// Why a datagram was not queued.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QueueFull {
    /// The socket's own queue.
    Socket,
    /// All sockets' queues together.
    Worker,
}

/// What a socket has done, for its application and the tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    pub rx_datagrams: u64,
    pub rx_bytes: u64,
    /// Datagrams dropped because a queue was full.
    pub rx_dropped: u64,
    pub tx_datagrams: u64,
    pub tx_bytes: u64,
}

struct Socket<B> {
    local: SocketAddr,
    queue: VecDeque<Datagram<B>>,
    stats: SocketStats,
}

/// One worker's UDP sockets.
pub struct UdpSockets<B> {
    sockets: Vec<Option<Socket<B>>>,
    bound: FastMap<SocketAddr, u16>,
    queued: usize,
}

impl<B: PacketBuf> Default for UdpSockets<B> {
    fn default() -> Self {
        UdpSockets { sockets: Vec::new(), bound: FastMap::default(), queued: 0 }
    }
}

impl<B: PacketBuf> UdpSockets<B> {
    /// Binds `local` (one of the gateway's addresses and a port); its
    /// queue is allocated here.
    pub fn bind(&mut self, local: SocketAddr) -> Result<SocketId, BindError> {
        if self.bound.contains_key(&local) {
            return Err(BindError::InUse);
        }
        let free = self.sockets.iter().position(Option::is_none);
        let i = match free {
            Some(i) => i,
            None if self.sockets.len() < MAX_SOCKETS => {
                self.sockets.push(None);
                self.sockets.len() - 1
            }
            None => return Err(BindError::Full),
        };
        let socket = Socket { local, queue: VecDeque::with_capacity(QUEUE_DEPTH), stats: SocketStats::default() };
        if let Some(slot) = self.sockets.get_mut(i) {
            *slot = Some(socket);
        }
        self.bound.insert(local, i as u16);
        Ok(SocketId(i as u16))
    }

    /// Closes a socket; what it had queued is dropped.
    pub fn close(&mut self, id: SocketId) {
        if let Some(s) = self.sockets.get_mut(usize::from(id.0)).and_then(Option::take) {
            self.queued -= s.queue.len();
            self.bound.remove(&s.local);
        }
    }

    /// The socket bound to `local`, if any.
    #[inline]
    pub fn find(&self, local: &SocketAddr) -> Option<SocketId> {
        self.bound.get(local).map(|&i| SocketId(i))
    }

    /// Sockets bound.
    pub fn len(&self) -> usize {
        self.bound.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }

    /// Datagrams queued over all sockets.
    pub fn queued(&self) -> usize {
        self.queued
    }

    fn socket(&mut self, id: SocketId) -> Option<&mut Socket<B>> {
        self.sockets.get_mut(usize::from(id.0)).and_then(Option::as_mut)
    }

    /// Queues `d` on socket `id`; gives it back if a bound is reached.
    pub fn deliver(&mut self, id: SocketId, d: Datagram<B>) -> Result<(), (Datagram<B>, QueueFull)> {
        let total_full = self.queued >= MAX_QUEUED;
        let Some(s) = self.socket(id) else { return Err((d, QueueFull::Socket)) };
        let full = if s.queue.len() >= QUEUE_DEPTH {
            Some(QueueFull::Socket)
        } else if total_full {
            Some(QueueFull::Worker)
        } else {
            None
        };
        if let Some(why) = full {
            s.stats.rx_dropped += 1;
            return Err((d, why));
        }
        s.stats.rx_datagrams += 1;
        s.stats.rx_bytes += d.payload_len as u64;
        s.queue.push_back(d);
        self.queued += 1;
        Ok(())
    }

    /// The oldest datagram queued on socket `id`.
    pub fn recv(&mut self, id: SocketId) -> Option<Datagram<B>> {
        let d = self.socket(id)?.queue.pop_front()?;
        self.queued -= 1;
        Some(d)
    }

    /// Notes a datagram of `bytes` received on socket `id` and taken at
    /// once, not queued (one too big for a buffer, which a service takes
    /// as its fragments came).
    pub fn note_received(&mut self, id: SocketId, bytes: usize) {
        if let Some(s) = self.socket(id) {
            s.stats.rx_datagrams += 1;
            s.stats.rx_bytes += bytes as u64;
        }
    }

    /// Notes a datagram of `bytes` sent from socket `id`.
    pub fn note_sent(&mut self, id: SocketId, bytes: usize) {
        if let Some(s) = self.socket(id) {
            s.stats.tx_datagrams += 1;
            s.stats.tx_bytes += bytes as u64;
        }
    }

    /// What socket `id` has done.
    pub fn stats(&self, id: SocketId) -> Option<SocketStats> {
        self.sockets.get(usize::from(id.0)).and_then(Option::as_ref).map(|s| s.stats)
    }

    /// Every socket's address and what it has done.
    pub fn entries(&self) -> impl Iterator<Item = (SocketAddr, SocketStats)> + '_ {
        self.sockets.iter().flatten().map(|s| (s.local, s.stats))
    }

    /// The address socket `id` is bound to.
    pub fn local(&self, id: SocketId) -> Option<SocketAddr> {
        self.sockets.get(usize::from(id.0)).and_then(Option::as_ref).map(|s| s.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VecBuf;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn datagram(payload: &[u8]) -> Datagram<VecBuf> {
        let mut frame = vec![0u8; 42];
        frame.extend_from_slice(payload);
        Datagram {
            buf: VecBuf::from_frame(0, &frame),
            remote: addr("10.0.1.2:40000"),
            local: addr("10.0.1.1:7"),
            ifindex: 0,
            payload_at: 42,
            payload_len: payload.len(),
        }
    }

    #[test]
    fn bind_find_close_and_rebind() {
        let mut t = UdpSockets::<VecBuf>::default();
        let a = t.bind(addr("10.0.1.1:7")).unwrap();
        let b = t.bind(addr("[fd00:1::1]:7")).unwrap();
        assert_eq!(t.bind(addr("10.0.1.1:7")), Err(BindError::InUse));
        assert_eq!((t.find(&addr("10.0.1.1:7")), t.find(&addr("[fd00:1::1]:7"))), (Some(a), Some(b)));
        assert_eq!(t.find(&addr("10.0.1.1:9")), None);
        t.close(a);
        assert_eq!(t.find(&addr("10.0.1.1:7")), None);
        assert_eq!(t.bind(addr("10.0.1.1:9")), Ok(a), "the freed slot is used again");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_worker_has_at_most_max_sockets() {
        let mut t = UdpSockets::<VecBuf>::default();
        for port in 1..=MAX_SOCKETS as u16 {
            t.bind(SocketAddr::from(([10, 0, 1, 1], port))).unwrap();
        }
        assert_eq!(t.bind(addr("10.0.1.1:60000")), Err(BindError::Full));
    }

    #[test]
    fn datagrams_queue_in_order_with_their_payload() {
        let mut t = UdpSockets::<VecBuf>::default();
        let s = t.bind(addr("10.0.1.1:7")).unwrap();
        t.deliver(s, datagram(b"one")).unwrap();
        t.deliver(s, datagram(b"two!")).unwrap();
        assert_eq!(t.queued(), 2);
        let d = t.recv(s).unwrap();
        assert_eq!(d.payload(), b"one");
        assert_eq!(d.into_payload().data(), b"one");
        assert_eq!(t.recv(s).unwrap().payload(), b"two!");
        assert!(t.recv(s).is_none());
        let st = t.stats(s).unwrap();
        assert_eq!((st.rx_datagrams, st.rx_bytes, t.queued()), (2, 7, 0));
    }

    #[test]
    fn a_full_socket_refuses_and_all_sockets_share_a_bound() {
        let mut t = UdpSockets::<VecBuf>::default();
        let s = t.bind(addr("10.0.1.1:7")).unwrap();
        for _ in 0..QUEUE_DEPTH {
            t.deliver(s, datagram(b"x")).unwrap();
        }
        assert_eq!(t.deliver(s, datagram(b"x")).unwrap_err().1, QueueFull::Socket);
        assert_eq!(t.stats(s).unwrap().rx_dropped, 1);
        // Other sockets fill the rest of the worker's bound; then even an
        // empty socket is refused.
        let mut held = QUEUE_DEPTH;
        for port in 8.. {
            let o = t.bind(SocketAddr::from(([10, 0, 1, 1], port))).unwrap();
            while held < MAX_QUEUED && t.deliver(o, datagram(b"y")).is_ok() {
                held += 1;
            }
            if held == MAX_QUEUED {
                break;
            }
        }
        let empty = t.bind(addr("10.0.1.1:60000")).unwrap();
        assert_eq!(t.deliver(empty, datagram(b"z")).unwrap_err().1, QueueFull::Worker);
        // Closing a socket frees what it held.
        t.close(s);
        assert_eq!(t.queued(), MAX_QUEUED - QUEUE_DEPTH);
    }
}

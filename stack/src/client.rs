//! What a connection the gateway opens itself does ([`Router::tcp_open`]
//! (crate::Router::tcp_open)): send without end (the chargen stream, for
//! a bulk transfer to a discard service), or ask once and go (a request
//! of some bytes, the same number read back from an echo service, then
//! close). The engine's benchmark runs these against its own listeners
//! (`dataplane/examples/tcp_pair.rs`).

use crate::buf::PacketBuf;
use crate::tcp::Socket;

/// What a connection we open does once connected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Client {
    /// Sends the chargen stream as fast as the peer takes it, and throws
    /// away what it receives.
    Bulk,
    /// Sends `bytes` bytes, reads as many back, then closes.
    Ask { bytes: u16 },
}

/// An [`Client::Ask`] connection's progress.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// Request bytes still to queue, and answer bytes still to read.
    to_send: u16,
    to_read: u16,
}

impl Ask {
    pub fn new(bytes: u16) -> Ask {
        Ask { to_send: bytes, to_read: bytes }
    }
}

/// The request's bytes (any will do: an echo sends them back).
static REQUEST: [u8; 256] = [b'?'; 256];

/// Runs an [`Client::Ask`] connection: queues the request, takes the
/// answer, and closes once all of it came (or the peer closed first).
pub fn serve<B: PacketBuf>(s: &mut Socket<'_, B>, a: &mut Ask) {
    let n = s.fill(usize::from(a.to_send), &mut |room, _| {
        for (d, r) in room.iter_mut().zip(REQUEST.iter().cycle()) {
            *d = *r;
        }
    });
    a.to_send -= n as u16;
    let n = s.readable().min(usize::from(a.to_read));
    s.consume(n);
    a.to_read -= n as u16;
    if a.to_read == 0 || s.peer_closed() {
        s.close();
    }
}

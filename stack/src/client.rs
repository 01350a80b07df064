//! What a connection the gateway opens itself does ([`Router::tcp_open`]
//! (crate::Router::tcp_open)): send without end (the chargen stream, for
//! a bulk transfer to a discard service), or ask once and go (a request
//! of some bytes, the same number read back from an echo service, then
//! close). The engine's benchmark runs these against its own listeners
//! (`dataplane/examples/tcp_pair.rs`).

use crate::tcp::Conn;

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
pub fn serve(c: &mut Conn, a: &mut Ask) {
    while a.to_send > 0 {
        let want = usize::from(a.to_send).min(REQUEST.len());
        let n = c.send.push(REQUEST.get(..want).unwrap_or_default());
        if n == 0 {
            break;
        }
        a.to_send -= n as u16;
    }
    let n = c.recv.len().min(usize::from(a.to_read));
    c.recv.consume(n);
    a.to_read -= n as u16;
    c.window_opened();
    if a.to_read == 0 || c.peer_closed() {
        c.close();
    }
}

//! The character generator service (RFC 864) over the gateway's own TCP:
//! once connected, the client is sent an endless stream of 72-character
//! lines of printable ASCII, each starting one character further along
//! (the classic rotating pattern), as fast as its window takes them;
//! whatever it sends is thrown away. The stream ends when the client
//! resets the connection or stops acknowledging; its FIN alone does not
//! end it (a half-closed client may still read), as with inetd.
//!
//! There is no UDP chargen: it is a reflection amplifier.

use crate::buf::PacketBuf;
use crate::tcp::Socket;

/// Characters on a line (RFC 864's "72 chars"), and the line with CR LF.
const CHARS: usize = 72;
const LINE: usize = CHARS + 2;
/// The printable characters, 0x20..=0x7E.
const PRINTABLE: usize = 95;
/// The stream repeats after this many bytes: 95 lines.
pub const PERIOD: usize = PRINTABLE * LINE;

/// The stream's first [`PERIOD`] bytes.
static PATTERN: [u8; PERIOD] = pattern();

const fn pattern() -> [u8; PERIOD] {
    let mut p = [0u8; PERIOD];
    let mut i = 0;
    while i < PERIOD {
        let (line, col) = (i / LINE, i % LINE);
        p[i] = match col {
            CHARS => b'\r',
            c if c > CHARS => b'\n',
            c => b' ' + ((line + c) % PRINTABLE) as u8,
        };
        i += 1;
    }
    p
}

/// A connection's place in the stream.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Chargen {
    /// Offset of the next byte in [`PATTERN`].
    at: u16,
}

/// Fills the connection's send queue with the stream (written in place
/// in the buffers it leaves in) and drops what it received.
pub fn serve<B: PacketBuf>(s: &mut Socket<'_, B>, g: &mut Chargen) {
    let n = s.readable();
    s.consume(n);
    let from = usize::from(g.at);
    let n = s.fill(usize::MAX, &mut |room, at| {
        let mut p = (from + at) % PERIOD;
        for piece in room.chunks_mut(PERIOD) {
            // At most two runs of the pattern: to its end, then from its start.
            let (a, b) = piece.split_at_mut((PERIOD - p).min(piece.len()));
            if let (Some(x), Some(y)) = (PATTERN.get(p..p + a.len()), PATTERN.get(..b.len())) {
                a.copy_from_slice(x);
                b.copy_from_slice(y);
            }
            p = (p + piece.len()) % PERIOD;
        }
    });
    g.at = ((from + n) % PERIOD) as u16;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::testing::Peer;

    #[test]
    fn the_stream_is_rfc864s_rotating_lines_and_continues_where_it_left_off() {
        assert_eq!(&PATTERN[..LINE], format!("{}\r\n", (32u8..104).map(char::from).collect::<String>()).as_bytes());
        assert_eq!(&PATTERN[LINE..LINE + 3], b"!\"#");
        assert_eq!(PATTERN[PERIOD - LINE], b'~', "the last line starts with the last character");
        let mut c = Peer::established(b"thrown away", 5000);
        let mut g = Chargen::default();
        c.serve(|s| serve(s, &mut g));
        assert!(c.conn.recv.is_empty());
        assert_eq!(c.sent_bytes(), PATTERN[..5000]);
        c.serve(|s| serve(s, &mut g));
        let stream: Vec<u8> = PATTERN.iter().cycle().skip(5000).take(5000).copied().collect();
        assert_eq!(c.sent_bytes(), stream, "across the period's end");
    }
}

//! The character generator service (RFC 864) over the gateway's own TCP:
//! once connected, the client is sent an endless stream of 72-character
//! lines of printable ASCII, each starting one character further along
//! (the classic rotating pattern), as fast as its window takes them;
//! whatever it sends is thrown away. The stream ends when the client
//! resets the connection or stops acknowledging; its FIN alone does not
//! end it (a half-closed client may still read), as with inetd.
//!
//! There is no UDP chargen: it is a reflection amplifier.

use crate::tcp::Conn;

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

/// Fills connection `c`'s send queue with the stream and drops what it
/// received.
pub fn serve(c: &mut Conn, g: &mut Chargen) {
    c.recv.consume(c.recv.len());
    c.window_opened();
    loop {
        let from = usize::from(g.at);
        let n = c.send.push(PATTERN.get(from..).unwrap_or_default());
        if n == 0 {
            return;
        }
        g.at = ((from + n) % PERIOD) as u16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{Opening, Ring, SegIn, TcpConfig};
    use crate::wire::tcp::flags;

    #[test]
    fn the_stream_is_rfc864s_rotating_lines_and_continues_where_it_left_off() {
        assert_eq!(&PATTERN[..LINE], format!("{}\r\n", (32u8..104).map(char::from).collect::<String>()).as_bytes());
        assert_eq!(&PATTERN[LINE..LINE + 3], b"!\"#");
        assert_eq!(PATTERN[PERIOD - LINE], b'~', "the last line starts with the last character");
        let syn = SegIn { seq: 1, flags: flags::SYN, window: 1000, ..SegIn::default() };
        let mut c =
            Conn::accept(&syn, &Opening::new(100, 1460), &TcpConfig::default(), Ring::new(5000), Ring::new(1024));
        let mut g = Chargen::default();
        serve(&mut c, &mut g);
        assert_eq!(c.send.len(), 5000);
        let (a, b) = c.send.peek(0, 5000);
        assert_eq!([a, b].concat(), PATTERN[..5000]);
        c.send.consume(4000);
        serve(&mut c, &mut g);
        let (a, b) = c.send.peek(0, 5000);
        let stream: Vec<u8> = PATTERN.iter().cycle().skip(4000).take(5000).copied().collect();
        assert_eq!([a, b].concat(), stream, "across the period's end");
    }
}

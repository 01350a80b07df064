//! The built-in HTTP/1.1 service (RFC 9112) on the gateway's own TCP:
//! `GET /` a status page, `GET /bytes/N` N bytes, `HEAD` of either.
//! Keep-alive by default, pipelined requests answered in order, every
//! response with `Content-Length`. It works on a connection's
//! [`Socket`]: requests are read where they were received, responses
//! written into the send queue's buffers as it has room, a large body a
//! piece at a time as the peer acknowledges (generated in place in the
//! buffers it leaves in, not stored). Nothing allocates: headers and the
//! status page are formatted on the stack.

use crate::buf::PacketBuf;
use crate::tcp::Socket;
use std::io::Write;

/// The most a request's line and headers may take; a longer one gets 431
/// and the connection closes.
pub const MAX_HEAD: usize = 4096;

/// The largest body `/bytes/N` sends (1 TiB).
pub const MAX_BYTES: u64 = 1 << 40;

/// A connection's place in the conversation.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpState {
    /// Body bytes of the current response still to queue, and how many
    /// were (for the pattern).
    body_left: u64,
    body_done: u64,
    /// Close once the current response is queued.
    close_after: bool,
    /// Request body bytes still to skip.
    skip: u64,
    /// Requests answered on this connection.
    pub requests: u64,
}

/// What the status page shows.
#[derive(Copy, Clone, Debug, Default)]
pub struct Status {
    /// The worker's TCP connections.
    pub connections: usize,
    pub rx_packets: u64,
    pub forwarded: u64,
}

/// The body of `/bytes/N` at `offset`: lines of 64 printable characters.
fn pattern(offset: u64) -> u8 {
    if offset % 65 == 64 {
        b'\n'
    } else {
        b'!' + ((offset / 65 + offset % 65) % 94) as u8
    }
}

/// Serves what the connection's receive queue holds, as far as its send
/// queue has room.
pub fn serve<B: PacketBuf>(s: &mut Socket<'_, B>, st: &mut HttpState, status: &Status) {
    loop {
        if st.body_left > 0 {
            let done = st.body_done;
            let n = s.fill(st.body_left.min(usize::MAX as u64) as usize, &mut |room, at| {
                for (i, b) in room.iter_mut().enumerate() {
                    *b = pattern(done + (at + i) as u64);
                }
            });
            st.body_left -= n as u64;
            st.body_done += n as u64;
            if st.body_left > 0 {
                return;
            }
        }
        if st.close_after {
            s.close();
            return;
        }
        if st.skip > 0 {
            let n = (st.skip as usize).min(s.readable());
            s.consume(n);
            st.skip -= n as u64;
            if st.skip > 0 {
                return;
            }
        }
        // The next request's head, if it is all here.
        let mut head = [0u8; MAX_HEAD];
        let have = s.peek(&mut head);
        let Some(end) = head.get(..have).and_then(|h| h.windows(4).position(|w| w == b"\r\n\r\n")) else {
            if have == MAX_HEAD || (have > 0 && s.receive_full()) {
                respond(s, st, 431, "Request Header Fields Too Large", b"", true);
            } else if s.peer_closed() {
                s.close();
            }
            return;
        };
        let Some(req) = parse(head.get(..end).unwrap_or_default()) else {
            s.consume(end + 4);
            respond(s, st, 400, "Bad Request", b"", true);
            continue;
        };
        // Room for the head of any answer, or wait for the peer's ACKs.
        if s.writable() < 512 {
            return;
        }
        s.consume(end + 4);
        st.skip = req.content_length;
        st.requests += 1;
        let close = req.close;
        match (req.method, req.path) {
            (Method::Get | Method::Head, Path::Root) => {
                let mut page = [0u8; 256];
                let mut w = &mut page[..];
                let _ = write!(
                    w,
                    "gatewayd {}\ntcp_connections {}\nrx_packets {}\nforwarded {}\n",
                    env!("CARGO_PKG_VERSION"),
                    status.connections,
                    status.rx_packets,
                    status.forwarded
                );
                let len = 256 - w.len();
                let body = if req.method == Method::Head { &[][..] } else { page.get(..len).unwrap_or_default() };
                respond_len(s, st, 200, "OK", len as u64, "text/plain", close);
                s.write(body);
            }
            (Method::Get | Method::Head, Path::Bytes(n)) => {
                respond_len(s, st, 200, "OK", n, "application/octet-stream", close);
                if req.method == Method::Get {
                    st.body_left = n;
                    st.body_done = 0;
                }
            }
            (Method::Get | Method::Head, Path::Other) => respond(s, st, 404, "Not Found", b"no such page\n", close),
            (Method::Other, _) => respond(s, st, 405, "Method Not Allowed", b"GET and HEAD only\n", close),
        }
    }
}

fn respond<B: PacketBuf>(s: &mut Socket<'_, B>, st: &mut HttpState, code: u16, reason: &str, body: &[u8], close: bool) {
    respond_len(s, st, code, reason, body.len() as u64, "text/plain", close);
    s.write(body);
}

/// Queues a response's head (the body follows).
fn respond_len<B: PacketBuf>(
    s: &mut Socket<'_, B>,
    st: &mut HttpState,
    code: u16,
    reason: &str,
    len: u64,
    ty: &str,
    close: bool,
) {
    let mut head = [0u8; 256];
    let mut w = &mut head[..];
    let conn = if close { "Connection: close\r\n" } else { "" };
    let _ = write!(
        w,
        "HTTP/1.1 {code} {reason}\r\nServer: gatewayd\r\nContent-Type: {ty}\r\nContent-Length: {len}\r\n{conn}\r\n"
    );
    let n = 256 - w.len();
    s.write(head.get(..n).unwrap_or_default());
    st.close_after = close;
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Other,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Path {
    Root,
    Bytes(u64),
    Other,
}

struct Request {
    method: Method,
    path: Path,
    close: bool,
    content_length: u64,
}

/// A request's line and headers (RFC 9112 §3, §5); None if malformed.
fn parse(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) => Method::Other,
        _ => return None,
    };
    // HTTP/1.0 closes unless it asks to keep alive; 1.1 keeps alive.
    let mut close = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return None,
    };
    let mut content_length = 0;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // No chunked request bodies (RFC 9112 §6.3: 400 is allowed).
            return None;
        }
    }
    let path = match target.strip_prefix("/bytes/") {
        _ if target == "/" => Path::Root,
        Some(n) => match n.parse::<u64>() {
            Ok(n) if n <= MAX_BYTES => Path::Bytes(n),
            _ => Path::Other,
        },
        None => Path::Other,
    };
    Some(Request { method, path, close, content_length })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::testing::Peer;

    #[test]
    fn the_status_page_and_bytes_with_keep_alive_and_pipelining() {
        let reqs = b"GET / HTTP/1.1\r\nHost: gw\r\n\r\nGET /bytes/100 HTTP/1.1\r\nHost: gw\r\n\r\nHEAD /bytes/7 HTTP/1.1\r\n\r\n";
        let mut c = Peer::established(reqs, 16384);
        let mut st = HttpState::default();
        c.serve(|s| serve(s, &mut st, &Status { connections: 3, ..Status::default() }));
        let out = c.sent();
        let responses: Vec<&str> = out.split("HTTP/1.1 ").skip(1).collect();
        assert_eq!(responses.len(), 3, "{out}");
        assert!(responses[0].starts_with("200 OK") && responses[0].contains("tcp_connections 3\n"));
        assert!(responses[1].contains("Content-Length: 100\r\n\r\n"));
        let body = responses[1].split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(body.len(), 100);
        assert_eq!(&body[..3], "!\"#");
        assert!(responses[2].ends_with("Content-Length: 7\r\n\r\n"), "HEAD: no body");
        assert!(!out.contains("Connection: close"));
        assert_eq!((st.requests, c.conn.is_closed()), (3, false));
        assert!(c.conn.recv.is_empty());
    }

    #[test]
    fn a_large_body_goes_as_the_send_queue_has_room() {
        let mut c = Peer::established(b"GET /bytes/100000 HTTP/1.1\r\n\r\n", 4096);
        let mut st = HttpState::default();
        c.serve(|s| serve(s, &mut st, &Status::default()));
        let mut total = c.sent().split("\r\n\r\n").nth(1).unwrap().len();
        while st.body_left > 0 {
            c.serve(|s| serve(s, &mut st, &Status::default()));
            total += c.sent().len();
        }
        assert_eq!(total, 100_000);
    }

    #[test]
    fn bad_requests_are_answered_and_close_when_they_must() {
        for (req, code, closes) in [
            (&b"GET /nope HTTP/1.1\r\n\r\n"[..], "404", false),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "405", false),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "200", true),
            (b"GET / HTTP/1.0\r\n\r\n", "200", true),
            (b"GET / SPDY/3\r\n\r\n", "400", true),
            (b"GET /bytes/99999999999999999 HTTP/1.1\r\n\r\n", "404", false),
            (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "400", true),
        ] {
            let mut c = Peer::established(req, 16384);
            let mut st = HttpState::default();
            c.serve(|s| serve(s, &mut st, &Status::default()));
            let out = c.sent();
            assert!(out.starts_with(&format!("HTTP/1.1 {code} ")), "{out}");
            assert_eq!(out.contains("Connection: close"), closes, "{out}");
            assert!(c.conn.recv.is_empty(), "the request body is skipped too: {out}");
        }
        // A head past the bound.
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD + 10, b'a');
        let mut c = Peer::established(&long, 16384);
        c.serve(|s| serve(s, &mut HttpState::default(), &Status::default()));
        assert!(c.sent().starts_with("HTTP/1.1 431 "));
    }
}

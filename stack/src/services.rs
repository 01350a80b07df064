//! The built-in services on the gateway's own addresses, served by the
//! workers themselves over UDP and over the gateway's own TCP: echo (RFC
//! 862: each datagram, or the byte stream, sent back) and discard (RFC
//! 863: counted and dropped), and over TCP only HTTP ([`crate::http`])
//! and chargen (RFC 864, [`crate::chargen`]). What the config asks for is a list of
//! [`Listener`]s in every [`crate::Tables`] snapshot; each worker binds a
//! UDP socket ([`crate::udp`]) or listens for TCP connections
//! ([`crate::tcp`]) for each and runs the service on what arrives
//! (`router::udp`, `router::tcp`).
//!
//! No UDP chargen (RFC 864): it answers a datagram of any size with up to
//! 512 bytes, a reflection amplifier for spoofed sources.

use std::net::SocketAddr;

/// What a built-in service does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// RFC 862: every datagram is sent back to where it came from.
    Echo,
    /// RFC 863: every datagram is counted and dropped.
    Discard,
    /// HTTP/1.1 over TCP: a status page and sized payloads ([`crate::http`]).
    Http,
    /// RFC 864 over TCP: an endless stream of text lines ([`crate::chargen`]).
    Chargen,
}

impl ServiceKind {
    /// Its name in the config, API and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            ServiceKind::Echo => "echo",
            ServiceKind::Discard => "discard",
            ServiceKind::Http => "http",
            ServiceKind::Chargen => "chargen",
        }
    }
}

/// A TCP connection's built-in service, and its place in the
/// conversation where it has one.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Serving {
    Echo,
    Discard,
    Http(crate::http::HttpState),
    Chargen(crate::chargen::Chargen),
    /// A connection we opened, asking once ([`crate::client::Client::Ask`]).
    Ask(crate::client::Ask),
}

impl Serving {
    /// A new connection's, for a listener of `kind`.
    pub fn new(kind: ServiceKind) -> Serving {
        match kind {
            ServiceKind::Echo => Serving::Echo,
            ServiceKind::Discard => Serving::Discard,
            ServiceKind::Http => Serving::Http(Default::default()),
            ServiceKind::Chargen => Serving::Chargen(Default::default()),
        }
    }

    /// A connection we open, for `client`.
    pub fn client(client: crate::client::Client) -> Serving {
        match client {
            crate::client::Client::Bulk => Serving::Chargen(Default::default()),
            crate::client::Client::Ask { bytes } => Serving::Ask(crate::client::Ask::new(bytes)),
        }
    }
}

/// The transport a service listens on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A built-in service listening on one of the gateway's addresses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Listener {
    pub kind: ServiceKind,
    pub transport: Transport,
    pub local: SocketAddr,
}

/// Echo answers no source port below this: those are services' own ports
/// (echo, chargen, daytime...), and answering one could start a loop
/// between two services that a spoofed datagram sets off (the "ping-pong"
/// that inetd's internal services guard against). Clients send from
/// ephemeral ports.
pub const ECHO_MIN_SOURCE_PORT: u16 = 1024;

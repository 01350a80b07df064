//! Connections the gateway opens itself (`Router::tcp_open`), against
//! its own listeners: two routers joined back to back, every frame one
//! sends given to the other, on both families.

use super::*;
use crate::client::Client;
use crate::iface::Ipv6Cidr;
use crate::services::{Listener, ServiceKind, Transport};
use crate::tcp::Refused;
use std::net::SocketAddr;

/// One end: interface on port 0 with `addr` and `addr6`, the other end
/// (`peer`, `peer6` at `peer_mac`) a static neighbor, and the echo and
/// discard services on both addresses.
fn end(mac: MacAddr, addr: &str, addr6: &str, peer: &str, peer6: &str, peer_mac: MacAddr) -> Tables {
    let mut ifc = iface("link", 0, mac, addr, 1500);
    ifc.addrs6 = vec![addr6.parse::<Ipv6Cidr>().unwrap()];
    let neighbors = vec![
        StaticNeighbor { ifindex: 0, ip: peer.parse().unwrap(), mac: peer_mac },
        StaticNeighbor { ifindex: 0, ip: peer6.parse().unwrap(), mac: peer_mac },
    ];
    let mut t = Tables::build(vec![ifc], &[], &[], neighbors, 1).unwrap();
    let local = |a: &str| a.split('/').next().unwrap().parse::<IpAddr>().unwrap();
    for kind in [ServiceKind::Echo, ServiceKind::Discard] {
        let port = if kind == ServiceKind::Echo { 7 } else { 9 };
        for a in [local(addr), local(addr6)] {
            t.services.push(Listener { kind, transport: Transport::Tcp, local: SocketAddr::new(a, port) });
        }
    }
    t
}

/// A client router and a server router on one link, and time.
struct Pair {
    client: (Router<VecBuf>, TestIo, Tables),
    server: (Router<VecBuf>, TestIo, Tables),
    now: u64,
}

impl Pair {
    fn new() -> Pair {
        let ct = end(LAN_HOST, "10.0.1.2/24", "fd00:1::2/64", "10.0.1.1", "fd00:1::1", GW_LAN);
        let st = end(GW_LAN, "10.0.1.1/24", "fd00:1::1/64", "10.0.1.2", "fd00:1::2", LAN_HOST);
        let (cr, cio) = router(&ct);
        let (sr, sio) = router(&st);
        Pair { client: (cr, cio, ct), server: (sr, sio, st), now: SEC }
    }

    /// Carries frames both ways, 10 µs a step, timers run, until neither
    /// end sends for a simulated second or `steps` run out.
    fn run(&mut self, steps: usize) {
        let mut quiet = 0;
        for _ in 0..steps {
            self.now += 10_000;
            let (c, s) = (&mut self.client, &mut self.server);
            c.0.poll(&c.2, self.now, &mut c.1);
            s.0.poll(&s.2, self.now, &mut s.1);
            let to_server: Vec<VecBuf> = c.1.sent.drain(..).collect();
            let to_client: Vec<VecBuf> = s.1.sent.drain(..).collect();
            quiet = if to_server.is_empty() && to_client.is_empty() { quiet + 1 } else { 0 };
            if quiet > 100_000 {
                return;
            }
            for f in to_server {
                s.0.process(&s.2, VecBuf::from_frame(0, f.data()), self.now, &mut s.1);
            }
            for f in to_client {
                c.0.process(&c.2, VecBuf::from_frame(0, f.data()), self.now, &mut c.1);
            }
        }
    }

    fn open(&mut self, local: &str, remote: &str, client: Client) -> Result<u32, Refused> {
        let c = &mut self.client;
        c.0.tcp_open(&c.2, (local.parse().unwrap(), remote.parse().unwrap()), client, self.now, &mut c.1)
    }
}

/// RFC 9293 §3.5: our SYN, the listener's SYN-ACK, our ACK; the request
/// echoed; then our FIN first (TIME-WAIT ours), on both families. Each
/// end counts the bytes of the other.
#[test]
fn an_asking_connection_we_open_is_answered_by_our_echo_and_closes_rfc9293_3_5() {
    let mut p = Pair::new();
    p.open("10.0.1.2:40000", "10.0.1.1:7", Client::Ask { bytes: 300 }).unwrap();
    p.open("[fd00:1::2]:40000", "[fd00:1::1]:7", Client::Ask { bytes: 1 }).unwrap();
    assert_eq!(p.client.0.tcp().len(), 2);
    p.run(1000);
    let (c, s) = (&p.client.0.counters, &p.server.0.counters);
    assert_eq!((s.tcp_accepted, s.tcp_bytes_received, s.tcp_bytes_sent), (2, 301, 301));
    assert_eq!((c.tcp_bytes_sent, c.tcp_bytes_received), (301, 301));
    assert_eq!(s.tcp_closed, 2, "the server's ends freed at the last ACK");
    let states: Vec<_> = p.client.0.tcp().infos().map(|i| i.state).collect();
    assert_eq!(states, [crate::tcp::State::TimeWait; 2], "who closes first waits");
}

/// A bulk connection to discard moves bytes until the test stops looking;
/// every byte the client counts as sent and acknowledged arrived.
#[test]
fn a_bulk_connection_we_open_streams_to_our_discard() {
    let mut p = Pair::new();
    p.open("10.0.1.2:40001", "10.0.1.1:9", Client::Bulk).unwrap();
    p.run(2000);
    let got = p.server.0.counters.tcp_bytes_received;
    assert!(got > 1_000_000, "{got} bytes in 20 ms of simulated time");
    let info = p.client.0.tcp().infos().next().unwrap();
    assert_eq!(info.state, crate::tcp::State::Established);
    assert!(p.client.0.counters.tcp_bytes_sent >= got);
}

/// An active open is refused from an address that is not ours, and
/// between ends already taken.
#[test]
fn an_open_from_a_foreign_address_or_taken_ends_is_refused() {
    let mut p = Pair::new();
    assert_eq!(p.open("10.0.1.9:40000", "10.0.1.1:7", Client::Bulk), Err(Refused::NoAddress));
    p.open("10.0.1.2:40000", "10.0.1.1:9", Client::Bulk).unwrap();
    assert_eq!(p.open("10.0.1.2:40000", "10.0.1.1:9", Client::Bulk), Err(Refused::InUse));
}

//! TCP to the gateway's own addresses through the pipeline: a listener's
//! SYN answered, the echo service over a connection, closed ports still
//! reset (RFC 9293 §3.10.7.1), bad segments dropped unanswered.

use super::ip6::{ip6, ipv6_frame, sent6, tables6};
use super::reassembly::router6;
use super::*;
use crate::services::{Listener, ServiceKind, Transport};
use crate::wire::ipv6::{self, nh};

fn echo_tcp() -> Tables {
    let mut t = tables6(1500);
    t.services = ["10.0.1.1:7", "[fd00:1::1]:7"]
        .iter()
        .map(|a| Listener { kind: ServiceKind::Echo, transport: Transport::Tcp, local: a.parse().unwrap() })
        .collect();
    t.static_neighbors.push(StaticNeighbor { ifindex: 0, ip: ip("10.0.1.2").into(), mac: LAN_HOST });
    t
}

/// A segment from 10.0.1.2:40000 to 10.0.1.1:`dport` with `options`.
fn seg4(dport: u16, seq: u32, ack: u32, flags: u8, options: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8; 20];
    s.extend_from_slice(options);
    s.extend_from_slice(data);
    s[12] = (((20 + options.len()) / 4) << 4) as u8;
    let mut p = TcpPacket::new_checked(&mut s[..]).unwrap_or_else(|_| unreachable!());
    p.set_ports(40000, dport);
    p.set_seq(seq);
    p.set_ack(ack);
    p.set_header_len_flags(20 + options.len(), flags);
    p.set_window(64000);
    p.fill_checksum(ip("10.0.1.2"), ip("10.0.1.1"));
    ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Tcp, &s, true)
}

fn tcp_of(b: &VecBuf) -> (u32, u32, u8, Vec<u8>) {
    let p = sent_ip(b);
    assert!(p.verify_checksum());
    let s = TcpPacket::new_checked(p.payload()).unwrap();
    assert!(s.verify_checksum(p.src(), p.dst()));
    (s.seq(), s.ack(), s.flags(), s.payload().to_vec())
}

#[test]
fn a_connection_to_the_echo_listener_echoes_what_it_receives() {
    let t = echo_tcp();
    let (mut r, mut io) = router(&t);
    let mss = [2, 4, 5, 0xb4];
    run(&mut r, &t, &mut io, 0, &seg4(7, 100, 0, tcp::flags::SYN, &mss, b""), 0);
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert!(p.dont_frag(), "our segments take Path MTU Discovery");
    let synack = TcpPacket::new_checked(p.payload()).unwrap();
    assert_eq!(synack.options().unwrap().mss, Some(1460), "from the lan's 1500-byte MTU");
    let (iss, ack, flags, _) = tcp_of(&io.sent[0]);
    assert_eq!((ack, flags), (101, tcp::flags::SYN | tcp::flags::ACK));
    run(&mut r, &t, &mut io, 0, &seg4(7, 101, iss + 1, tcp::flags::ACK | tcp::flags::PSH, &[], b"hello"), 1);
    let (seq, ack, _, data) = tcp_of(&io.sent[1]);
    assert_eq!((seq, ack, &data[..]), (iss + 1, 106, &b"hello"[..]));
    assert_eq!((r.counters.tcp_accepted, r.counters.tcp_bytes_received, r.counters.tcp_bytes_sent), (1, 5, 5));
    // The peer closes: echo closes too once all is sent back.
    run(&mut r, &t, &mut io, 0, &seg4(7, 106, iss + 6, tcp::flags::ACK | tcp::flags::FIN, &[], b""), 2);
    let (_, ack, flags, _) = tcp_of(io.sent.last().unwrap());
    assert_eq!((ack, flags), (107, tcp::flags::ACK | tcp::flags::FIN));
    run(&mut r, &t, &mut io, 0, &seg4(7, 107, iss + 7, tcp::flags::ACK, &[], b""), 3);
    assert_eq!((r.tcp().len(), r.counters.tcp_closed), (0, 1), "freed");
}

#[test]
fn a_connection_runs_to_its_end_when_its_listener_goes() {
    let t = echo_tcp();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &seg4(7, 100, 0, tcp::flags::SYN, &[], b""), 0);
    let (iss, _, _, _) = tcp_of(&io.sent[0]);
    let mut t2 = echo_tcp();
    t2.services.clear();
    t2.generation = 2;
    r.sync(&t2, 1, &mut io);
    run(&mut r, &t2, &mut io, 0, &seg4(7, 101, iss + 1, tcp::flags::ACK | tcp::flags::PSH, &[], b"still"), 1);
    assert_eq!(tcp_of(io.sent.last().unwrap()).3, b"still", "echoed");
    // A new SYN finds no listener: RST.
    let mut syn = seg4(7, 500, 0, tcp::flags::SYN, &[], b"");
    syn[14 + 20 + 1] = 97;
    run(&mut r, &t2, &mut io, 0, &refill(syn), 2);
    assert_eq!(tcp_of(io.sent.last().unwrap()).2, tcp::flags::RST | tcp::flags::ACK);
}

#[test]
fn closed_ports_still_reset_and_bad_segments_get_no_answer() {
    let t = echo_tcp();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &seg4(8, 100, 0, tcp::flags::SYN, &[], b""), 0);
    let (_, ack, flags, _) = tcp_of(&io.sent[0]);
    assert_eq!((ack, flags), (101, tcp::flags::RST | tcp::flags::ACK));
    // An ACK to the listener with no connection: RST too.
    run(&mut r, &t, &mut io, 0, &seg4(7, 100, 5, tcp::flags::ACK, &[], b""), 0);
    assert_eq!(tcp_of(&io.sent[1]).2, tcp::flags::RST);
    let mut bad = seg4(7, 100, 0, tcp::flags::SYN, &[], b"");
    *bad.last_mut().unwrap() ^= 1;
    run(&mut r, &t, &mut io, 0, &bad, 0);
    // An option running past the header.
    run(&mut r, &t, &mut io, 0, &seg4(7, 100, 0, tcp::flags::SYN, &[2, 9, 0, 0], b""), 0);
    assert_eq!(io.sent.len(), 2);
    assert_eq!(r.counters.dropped(DropReason::TcpMalformed), 2);
    assert!(r.tcp().is_empty());
}

#[test]
fn a_syn_with_options_to_a_closed_port_gets_a_well_formed_rst() {
    // Linux's SYN: MSS, SACK permitted, timestamps, NOP, window scale.
    let opts = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
    let t = echo_tcp();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &seg4(8, 100, 0, tcp::flags::SYN, &opts, b""), 0);
    let p = sent_ip(&io.sent[0]);
    assert_eq!(p.payload().len(), 20);
    let rst = TcpPacket::new_checked(p.payload()).unwrap();
    assert_eq!((rst.header_len(), rst.src_port(), rst.dst_port()), (20, 8, 40000));
    assert_eq!((rst.flags(), rst.ack()), (tcp::flags::RST | tcp::flags::ACK, 101));
    assert!(rst.verify_checksum(p.src(), p.dst()));
}

#[test]
fn an_ipv6_syn_gets_a_syn_ack_with_the_ipv6_mss() {
    let t = echo_tcp();
    let (mut r, mut io) = router6(&t);
    let mut s = vec![0u8; 20];
    s[12] = 5 << 4;
    {
        let mut p = TcpPacket::new_checked(&mut s[..]).unwrap();
        p.set_ports(40000, 7);
        p.set_seq(9);
        p.set_header_len_flags(20, tcp::flags::SYN);
        p.set_window(64000);
    }
    let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("fd00:1::1"), nh::TCP, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::TCP, &s), 0);
    assert_eq!(io.sent.len(), 1);
    let p = sent6(&io.sent[0]);
    assert!(ipv6::verify_upper_checksum(&p.src(), &p.dst(), nh::TCP, p.payload()));
    let synack = TcpPacket::new_checked(p.payload()).unwrap();
    assert_eq!((synack.ack(), synack.options().unwrap().mss), (10, Some(1440)));
}

#[test]
fn past_the_syn_backlog_a_syn_cookie_answers_and_its_ack_connects() {
    let mut t = echo_tcp();
    t.generation = 1;
    let cfg = RouterConfig {
        tcp: crate::tcp::TcpConfig { syn_backlog: 1, ..crate::tcp::TcpConfig::default() },
        ..RouterConfig::default()
    };
    let mut r = Router::new(cfg);
    let mut io = TestIo::default();
    r.sync(&t, 0, &mut io);
    let mss = [2, 4, 5, 0xb4];
    // The first SYN takes the backlog (and is never acknowledged).
    let mut first = seg4(7, 100, 0, tcp::flags::SYN, &mss, b"");
    first[14 + 20 + 1] = 99; // another source port
    run(&mut r, &t, &mut io, 0, &refill(first), 0);
    assert_eq!(r.tcp().len(), 1);
    // The next gets a cookie: a SYN-ACK and no state.
    run(&mut r, &t, &mut io, 0, &seg4(7, 500, 0, tcp::flags::SYN, &mss, b""), 0);
    assert_eq!((r.tcp().len(), r.counters.tcp_syn_cookies_sent), (1, 1));
    let (cookie, ack, flags, _) = tcp_of(io.sent.last().unwrap());
    assert_eq!((ack, flags), (501, tcp::flags::SYN | tcp::flags::ACK));
    // Its ACK, with data: a connection, and the echo.
    run(&mut r, &t, &mut io, 0, &seg4(7, 501, cookie + 1, tcp::flags::ACK | tcp::flags::PSH, &[], b"flood?"), 1);
    assert_eq!((r.tcp().len(), r.counters.tcp_syn_cookies_validated), (2, 1));
    let (seq, ack, _, data) = tcp_of(io.sent.last().unwrap());
    assert_eq!((seq, ack, &data[..]), (cookie + 1, 507, &b"flood?"[..]));
    // A forged cookie is answered with RST, as for no connection.
    let mut forged = seg4(7, 900, 12345, tcp::flags::ACK, &[], b"");
    forged[14 + 20 + 1] = 98; // no connection on this port
    run(&mut r, &t, &mut io, 0, &refill(forged), 2);
    assert_eq!(tcp_of(io.sent.last().unwrap()).2, tcp::flags::RST);
}

/// `frame` (from `seg4`) with its TCP checksum filled again.
fn refill(mut frame: Vec<u8>) -> Vec<u8> {
    let seg = &mut frame[14 + 20..];
    let mut p = TcpPacket::new_checked(&mut *seg).unwrap();
    p.fill_checksum(ip("10.0.1.2"), ip("10.0.1.1"));
    frame
}

#[test]
fn fragmentation_needed_about_our_segment_lowers_its_mss_rfc1191_rfc5927() {
    let t = echo_tcp();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &seg4(7, 100, 0, tcp::flags::SYN, &[2, 4, 5, 0xb4], b""), 0);
    let (iss, _, _, _) = tcp_of(&io.sent[0]);
    run(&mut r, &t, &mut io, 0, &seg4(7, 101, iss + 1, tcp::flags::ACK, &[], &[7; 1400]), 1);
    let ours = io.sent.last().unwrap().data()[14..14 + 28].to_vec();
    assert_eq!(sent_ip(io.sent.last().unwrap()).payload().len(), 20 + 1400);
    // A router on the path takes 1000 bytes (RFC 1191: the MTU in the
    // low 16 bits of the rest); the error quotes our segment.
    let icmp = |mtu: u16, quoted: &[u8]| {
        let mut m = vec![3, 4, 0, 0, 0, 0];
        m.extend_from_slice(&mtu.to_be_bytes());
        m.extend_from_slice(quoted);
        let c = checksum::checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Icmp, &m, false)
    };
    let before = io.sent.len();
    // A quote of a sequence number not in flight changes nothing (RFC 5927 §4.1).
    let mut stale = ours.clone();
    stale[20 + 4..20 + 8].copy_from_slice(&(iss + 100_000).to_be_bytes());
    run(&mut r, &t, &mut io, 0, &icmp(1000, &stale), 2);
    assert_eq!(io.sent.len(), before);
    run(&mut r, &t, &mut io, 0, &icmp(1000, &ours), 2);
    let again: Vec<usize> = io.sent[before..].iter().map(|f| tcp_of(f).3.len()).collect();
    assert_eq!(again, [960, 440], "sent again at the new size");
    assert_eq!(r.counters.tcp_path_mtu_updates, 1);
    // Below 576 bytes is not believed: 576 it is (RFC 5927 §4.2).
    run(&mut r, &t, &mut io, 0, &icmp(300, &ours), 3);
    let after: Vec<usize> = io.sent.iter().skip(before + 2).map(|f| tcp_of(f).3.len()).collect();
    assert_eq!(after.first(), Some(&536));
}

#[test]
fn packet_too_big_about_our_segment_lowers_its_mss_rfc8201() {
    let t = echo_tcp();
    let (mut r, mut io) = router6(&t);
    let seg6 = |seq: u32, ack: u32, flags: u8, opts: &[u8], data: &[u8]| {
        let mut s = vec![0u8; 20];
        s.extend_from_slice(opts);
        s[12] = (((20 + opts.len()) / 4) << 4) as u8;
        s.extend_from_slice(data);
        let mut p = TcpPacket::new_checked(&mut s[..]).unwrap();
        p.set_ports(40000, 7);
        p.set_seq(seq);
        p.set_ack(ack);
        p.set_header_len_flags(20 + opts.len(), flags);
        p.set_window(64000);
        let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("fd00:1::1"), nh::TCP, &s);
        s[16..18].copy_from_slice(&c.to_be_bytes());
        ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::TCP, &s)
    };
    run(&mut r, &t, &mut io, 0, &seg6(9, 0, tcp::flags::SYN, &[2, 4, 5, 0xa0], b""), 0);
    let iss = TcpPacket::new_checked(sent6(&io.sent[0]).payload()).unwrap().seq();
    run(&mut r, &t, &mut io, 0, &seg6(10, iss + 1, tcp::flags::ACK, &[], &[7; 1400]), 1);
    let ours = io.sent.last().unwrap().data()[14..14 + 48].to_vec();
    let mut m = vec![2, 0, 0, 0];
    m.extend_from_slice(&1280u32.to_be_bytes());
    m.extend_from_slice(&ours);
    let msg = super::ip6::icmp6("fd00:1::2", "fd00:1::1", m);
    let before = io.sent.len();
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::ICMPV6, &msg), 2);
    // 1,400 bytes at 1,440 a segment did not fit 1,280: again, at 1,220.
    assert_eq!(r.counters.tcp_path_mtu_updates, 1);
    let lens: Vec<usize> =
        io.sent[before..].iter().map(|f| TcpPacket::new_checked(sent6(f).payload()).unwrap().payload().len()).collect();
    assert_eq!(lens, [1220, 180]);
}

#[test]
fn the_timer_wheel_sends_a_lost_syn_ack_again_on_time() {
    const MS: u64 = 1_000_000;
    let t = echo_tcp();
    let (mut r, mut io) = router(&t);
    // Our TCP segments (not the Router Advertisements polls send).
    let segments = |io: &TestIo| io.sent.iter().filter(|b| b.data()[12..14] == [8, 0]).count();
    let t0 = 5_000 * MS;
    run(&mut r, &t, &mut io, 0, &seg4(7, 100, 0, tcp::flags::SYN, &[], b""), t0);
    let (iss, _, _, _) = tcp_of(&io.sent[0]);
    // RFC 6298 §2.1: 1 s before a measurement; not a moment before.
    r.poll(&t, t0 + 999 * MS, &mut io);
    assert_eq!(segments(&io), 1);
    r.poll(&t, t0 + 1000 * MS, &mut io);
    assert_eq!(segments(&io), 2);
    let again = io.sent.iter().rfind(|b| b.data()[12..14] == [8, 0]).unwrap();
    assert_eq!(tcp_of(again).2, tcp::flags::SYN | tcp::flags::ACK, "sent again");
    // Established: no timer left, none fires.
    run(&mut r, &t, &mut io, 0, &seg4(7, 101, iss + 1, tcp::flags::ACK, &[], b""), t0 + 1100 * MS);
    assert_eq!(segments(&io), 2, "no window update for the window the SYN-ACK offered");
    r.poll(&t, t0 + 10_000 * MS, &mut io);
    assert_eq!((r.tcp().len(), segments(&io)), (1, 2));
}

#[test]
fn a_segment_that_lands_on_another_worker_is_handed_to_the_connections_owner() {
    use crate::tcp::Place;
    let t = echo_tcp();
    let routers = |seed| {
        [0, 1].map(|w| {
            let (mut r, io) = router(&t);
            r.set_place(Place { worker: w, workers: 2, seed });
            (r, io)
        })
    };
    // A seed under which worker 1 owns 10.0.1.2:40000 → 10.0.1.1:7.
    let ends = ("10.0.1.1:7".parse().unwrap(), "10.0.1.2:40000".parse().unwrap());
    let seed = (0..64).find(|&s| Place { worker: 0, workers: 2, seed: s }.other_owner(&ends) == Some(1)).unwrap();
    assert_eq!(Place { worker: 1, workers: 2, seed }.other_owner(&ends), None, "both agree");
    let [(mut r0, mut io0), (mut r1, mut io1)] = routers(seed);
    // The SYN lands on worker 0: handed over, no state there.
    run(&mut r0, &t, &mut io0, 0, &seg4(7, 100, 0, tcp::flags::SYN, &[], b""), 0);
    assert_eq!((io0.sent.len(), r0.tcp().len(), r0.counters.tcp_handed_off), (0, 0, 1));
    let (pkt, w, tag) = io0.handed.pop().unwrap();
    assert_eq!((w, tag), (1, super::super::tcp::HANDOFF_TCP));
    r1.process_handed(&t, pkt, tag, 0, &mut io1);
    assert_eq!(r1.tcp().len(), 1);
    let (iss, ack, flags, _) = tcp_of(&io1.sent[0]);
    assert_eq!((ack, flags), (101, tcp::flags::SYN | tcp::flags::ACK), "the owner answers");
    // The ACK with data lands on worker 0 too: the owner echoes it.
    run(&mut r0, &t, &mut io0, 0, &seg4(7, 101, iss + 1, tcp::flags::ACK, &[], b"moved"), 1);
    let (pkt, _, tag) = io0.handed.pop().unwrap();
    r1.process_handed(&t, pkt, tag, 1, &mut io1);
    let (_, _, _, data) = tcp_of(io1.sent.last().unwrap());
    assert_eq!(&data[..], b"moved");
    // An ICMP Fragmentation Needed about it, on worker 0, goes over too.
    let mut quoted = sent_ip(io1.sent.last().unwrap()).into_inner()[..28].to_vec();
    quoted[8] = 64;
    let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x02, 0x40];
    icmp.extend_from_slice(&quoted);
    let c = crate::wire::checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    run(&mut r0, &t, &mut io0, 0, &ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Icmp, &icmp, false), 2);
    assert_eq!(io0.handed.pop().map(|h| h.1), Some(1));
    assert_eq!(r0.counters.tcp_handed_off, 3);
}

//! The gateway's own TCP per segment, through the whole pipeline (parse,
//! checksum, the connection, the service, the answer built and routed),
//! in ns per segment, on `VecBuf`s recycled through a pool:
//!
//! - `tcp_receive_segment`: 1448-byte in-order data segments (with
//!   timestamps, as Linux sends them) to a discard connection, 32 a
//!   burst; every second one acknowledged (delayed ACKs).
//! - `tcp_send_segment`: a chargen connection sending 1460-byte segments,
//!   32 for each ACK that opens the window by as much; the stream is
//!   written into buffers that are dropped once acknowledged and made
//!   afresh (about `frame_make_and_drop`'s cost again), and each segment
//!   is copied out of them (a `VecBuf` cannot be shared, an mbuf can).
//! - `frame_make_and_drop`: what the receive bench spends outside the
//!   pipeline, to subtract: each segment it feeds is a fresh buffer (the
//!   pipeline keeps what it takes in; a driver's pool would get it back)
//!   with the frame copied in.
//!
//!   cargo bench -p stack --bench tcp

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stack::iface::StaticNeighbor;
use stack::tcp::TcpConfig;
use stack::wire::ipv4::{Ipv4Packet, Ipv4Repr, Protocol};
use stack::wire::tcp::{flags, Header, TcpOptions, TcpPacket};
use stack::wire::MacAddr;
use stack::{Interface, Io, Listener, PacketBuf, Router, RouterConfig, ServiceKind, Tables, Transport, VecBuf};
use std::hint::black_box;
use std::net::Ipv4Addr;

const GW: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const PEER: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);
const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const THEIRS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const MSS: usize = 1448;
const N: usize = 32;

/// Buffers go out through `send` and come back; the last frame sent is
/// kept while `keep` is on (to read the handshake).
struct Pool {
    free: Vec<VecBuf>,
    keep: bool,
    last: Vec<u8>,
    sent: u64,
}

impl Io<VecBuf> for Pool {
    /// A fresh, empty buffer, as the trait asks: a recycled one, or a
    /// new one (the send queue keeps the buffers the stream is written
    /// into and drops them when acknowledged, where a driver's pool
    /// would get them back).
    fn alloc(&mut self) -> Option<VecBuf> {
        let Some(mut b) = self.free.pop() else { return Some(VecBuf::new(0)) };
        b.reset(0, &[]);
        Some(b)
    }
    fn send(&mut self, pkt: VecBuf) {
        if self.keep {
            self.last = pkt.data().to_vec();
        }
        self.sent += 1;
        black_box(pkt.len());
        self.free.push(pkt);
    }
}

fn tables() -> Tables {
    let ifc = Interface {
        name: "in".into(),
        port: 0,
        mac: GW,
        mtu: 1500,
        addrs: vec!["192.0.2.1/24".parse().unwrap()],
        ..Default::default()
    };
    let neighbors = vec![StaticNeighbor { ifindex: 0, ip: THEIRS.into(), mac: PEER }];
    let mut t = Tables::build(vec![ifc], &[], &[], neighbors, 1).unwrap();
    for (kind, port) in [(ServiceKind::Discard, 9), (ServiceKind::Chargen, 19)] {
        let local = (OURS, port).into();
        t.services.push(Listener { kind, transport: Transport::Tcp, local });
    }
    t
}

/// A frame from the peer's port 40000 to our `port`: the TCP header
/// (with `options`) and `len` bytes of payload.
fn frame(port: u16, seq: u32, ack: u32, fl: u8, options: &TcpOptions, len: usize) -> Vec<u8> {
    let th = 20 + options.len();
    let mut seg = vec![0u8; th + len];
    let h = Header { src_port: 40000, dst_port: port, seq, ack, header_len: th, flags: fl, window: 65535 };
    h.write(&mut seg);
    options.emit(&mut seg[20..th]);
    TcpPacket::new_checked(&mut seg[..]).unwrap().fill_checksum(THEIRS, OURS);
    let mut ip = vec![0u8; 20 + seg.len()];
    ip[20..].copy_from_slice(&seg);
    let repr = Ipv4Repr {
        src: THEIRS,
        dst: OURS,
        protocol: Protocol::Tcp,
        payload_len: seg.len(),
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_frag: true,
    };
    let mut p = Ipv4Packet::new_unchecked(&mut ip[..]);
    repr.emit(&mut p);
    p.fill_checksum();
    [&GW.0[..], &PEER.0[..], &0x0800u16.to_be_bytes()[..], &ip[..]].concat()
}

/// Sets the frame's sequence and acknowledgement numbers, the TCP
/// checksum updated for the change (RFC 1624).
fn renumber(f: &mut [u8], seq: u32, ack: u32) {
    let at = 14 + 20;
    let word = |f: &[u8], i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    let (old_seq, old_ack) = (word(f, at + 4), word(f, at + 8));
    let sum = u16::from_be_bytes([f[at + 16], f[at + 17]]);
    let sum = stack::wire::checksum::update32(stack::wire::checksum::update32(sum, old_seq, seq), old_ack, ack);
    f[at + 4..at + 8].copy_from_slice(&seq.to_be_bytes());
    f[at + 8..at + 12].copy_from_slice(&ack.to_be_bytes());
    f[at + 16..at + 18].copy_from_slice(&sum.to_be_bytes());
}

/// A router with a TCP connection to our `port` established by the
/// handshake (SYN with `syn_options`); our ISS.
fn connected(t: &Tables, port: u16, syn_options: &TcpOptions) -> (Router<VecBuf>, Pool, u32) {
    let tcp = TcpConfig { buffer: 1 << 17, ..TcpConfig::default() };
    let mut r = Router::new(RouterConfig { tcp, ..RouterConfig::default() });
    let mut pool = Pool { free: (0..256).map(|_| VecBuf::new(0)).collect(), keep: true, last: vec![], sent: 0 };
    r.sync(t, 0, &mut pool);
    let send = |r: &mut Router<VecBuf>, pool: &mut Pool, f: &[u8]| {
        let mut b = pool.alloc().unwrap();
        b.reset(0, f);
        r.process(t, b, 1, pool);
    };
    send(&mut r, &mut pool, &frame(port, 1000, 0, flags::SYN, syn_options, 0));
    let syn_ack = TcpPacket::new_checked(&pool.last[34..]).unwrap();
    assert_eq!(syn_ack.flags(), flags::SYN | flags::ACK);
    let iss = syn_ack.seq();
    let ts = TcpOptions { timestamps: syn_options.timestamps, ..TcpOptions::default() };
    send(&mut r, &mut pool, &frame(port, 1001, iss.wrapping_add(1), flags::ACK, &ts, 0));
    assert_eq!(r.tcp().len(), 1);
    pool.keep = false;
    (r, pool, iss)
}

fn receive(c: &mut Criterion) {
    let t = tables();
    let syn = TcpOptions { mss: Some(1460), timestamps: Some((5, 0)), ..TcpOptions::default() };
    let (mut r, mut pool, iss) = connected(&t, 9, &syn);
    let ts = TcpOptions { timestamps: Some((6, 0)), ..TcpOptions::default() };
    let mut f = frame(9, 1001, iss.wrapping_add(1), flags::ACK, &ts, MSS);
    let (mut seq, ack) = (1001u32, iss.wrapping_add(1));
    let mut burst: [Option<VecBuf>; N] = std::array::from_fn(|_| None);
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("tcp_receive_segment", |b| {
        b.iter(|| {
            for slot in burst.iter_mut() {
                renumber(&mut f, seq, ack);
                seq = seq.wrapping_add(MSS as u32);
                let mut buf = VecBuf::new(0);
                buf.reset(0, &f);
                *slot = Some(buf);
            }
            r.process_burst(&t, 0, &mut burst, 2, &mut pool);
        })
    });
    g.bench_function("frame_make_and_drop", |b| {
        b.iter(|| {
            for slot in burst.iter_mut() {
                renumber(&mut f, seq, ack);
                let mut buf = VecBuf::new(0);
                buf.reset(0, &f);
                *slot = Some(buf);
            }
            for slot in burst.iter_mut() {
                black_box(slot.take());
            }
        })
    });
    g.finish();
    assert_eq!(drops(&r), Vec::<(&str, u64)>::new());
    assert_eq!(r.counters.tcp_bytes_received as u32, seq.wrapping_sub(1001), "every byte taken");
}

fn send(c: &mut Criterion) {
    let t = tables();
    // No window scaling: the peer's 16-bit window is what it offers.
    let syn = TcpOptions { mss: Some(1460), ..TcpOptions::default() };
    let (mut r, mut pool, iss) = connected(&t, 19, &syn);
    // Grow the window to 32 segments' worth: each ACK then lets exactly
    // 32 new segments go.
    let mut f = frame(19, 1001, iss.wrapping_add(1), flags::ACK, &TcpOptions::default(), 0);
    // (1460-byte segments: no timestamps on this one.)
    let window = (N * 1460) as u16;
    f[14 + 20 + 14..14 + 20 + 16].copy_from_slice(&window.to_be_bytes());
    TcpPacket::new_checked(&mut f[34..]).unwrap().fill_checksum(THEIRS, OURS);
    // Acknowledges everything sent so far.
    let mut ack_all = |r: &mut Router<VecBuf>, pool: &mut Pool| {
        let acked = iss.wrapping_add(1).wrapping_add(r.counters.tcp_bytes_sent as u32);
        renumber(&mut f, 1001, acked);
        let mut b = VecBuf::new(0);
        b.reset(0, &f);
        r.process(&t, b, 3, pool);
    };
    // (Slow start adds a segment an ACK: 25 ACKs take it past 32.)
    for _ in 0..25 {
        ack_all(&mut r, &mut pool);
    }
    let before = pool.sent;
    ack_all(&mut r, &mut pool);
    assert_eq!(pool.sent - before, N as u64, "32 segments an ACK");
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(N as u64));
    let (acks, sent) = (r.counters.local, pool.sent);
    g.bench_function("tcp_send_segment", |b| b.iter(|| ack_all(&mut r, &mut pool)));
    g.finish();
    assert_eq!(pool.sent - sent, (r.counters.local - acks) * N as u64, "32 segments every ACK");
    assert_eq!(drops(&r), Vec::<(&str, u64)>::new());
}

/// The drop counts that are not zero, by reason.
fn drops(r: &Router<VecBuf>) -> Vec<(&'static str, u64)> {
    let all = stack::DropReason::ALL.iter().zip(r.counters.drops.iter());
    all.filter(|(_, &n)| n > 0).map(|(d, &n)| (d.label(), n)).collect()
}

criterion_group!(benches, receive, send);
criterion_main!(benches);

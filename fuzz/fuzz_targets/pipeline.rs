//! The whole pipeline: a `Router` with NAT built from `pipeline.yaml`
//! (dual stack, a bridge with VLANs, ECMP, a port forward and a static
//! mapping, the gateway's own services), bounds shrunk by the first
//! byte's bits. The rest is frames: `[port][time step][len: 2][bytes]`.
//!
//! Each run of frames on one port goes through two routers: one frame at
//! a time (`Router::process`, the full path) and as one burst
//! (`Router::process_burst`: fast path, flow cache). They must send the
//! same bytes and keep the same counters and sessions. Every frame sent
//! must have a valid IPv4 or IPv6 header with its checksum, a TTL or
//! hop limit above 0, fit its port's MTU, and an ICMP error must stay
//! within 576 (IPv4) or 1280 (IPv6) bytes. What a frame makes the
//! gateway send is bounded.
//!
//! lan has a kernel twin: what both routers punt must be the same, and a
//! port byte with bit 2 set hands the frame to them as the kernel's
//! (`Router::from_kernel`) instead.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mgmt::config::Config;
use mgmt::tables;
use nat::{Nat, NatConfig};
use stack::router::Counters;
use stack::wire::checksum;
use stack::wire::MacAddr;
use stack::{Io, PacketBuf, Router, Tables, VecBuf};
use std::sync::{Arc, OnceLock};

const CONFIG: &str = include_str!("../pipeline.yaml");
const MACS: [MacAddr; 4] = [
    MacAddr([2, 0, 0, 0, 0, 1]),
    MacAddr([2, 0, 0, 0, 0, 2]),
    MacAddr([2, 0, 0, 0, 0, 3]),
    MacAddr([2, 0, 0, 0, 0, 4]),
];
/// The largest IP packet each port may carry (its interfaces' MTUs).
const MTU: [usize; 4] = [1500, 1400, 1500, 1500];
/// Frames a worker takes at once.
const BURST: usize = 32;
const MS: u64 = 1_000_000;

#[derive(Default)]
struct Out {
    sent: Vec<VecBuf>,
    punted: Vec<(u16, VecBuf)>,
}

impl Io<VecBuf> for Out {
    fn alloc(&mut self) -> Option<VecBuf> {
        Some(VecBuf::new(0))
    }
    fn send(&mut self, pkt: VecBuf) {
        self.sent.push(pkt);
    }
    fn punt(&mut self, ifindex: u16, pkt: VecBuf) -> Result<(), VecBuf> {
        self.punted.push((ifindex, pkt));
        Ok(())
    }
}

/// The tables, built once per variant of the settings they carry (the
/// ARP and ICMP bits of `limits`): a FIB build is 32 MB of DIR-24-8.
static TABLES: [OnceLock<Tables>; 4] = [const { OnceLock::new() }; 4];

struct Twins {
    t: &'static Tables,
    one: Router<VecBuf, Nat>,
    burst: Router<VecBuf, Nat>,
    io: [Out; 2],
    now: u64,
}

fn gateway(limits: u8) -> Twins {
    let mut cfg = Config::parse(CONFIG).expect("pipeline.yaml parses");
    if limits & 1 != 0 {
        (cfg.arp.capacity, cfg.arp.queue_len, cfg.arp.incomplete_limit, cfg.arp.unconfirmed_limit) = (4, 1, 2, 2);
    }
    if limits & 2 != 0 {
        (cfg.nat.max_sessions, cfg.nat.max_subscribers) = (8, 4);
        (cfg.nat.subscriber_sessions, cfg.nat.subscriber_inbound_sessions) = (2, 1);
        cfg.nat.subscriber_ports = 2;
    }
    if limits & 4 != 0 {
        (cfg.reassembly.contexts, cfg.reassembly.fragments, cfg.reassembly.buffers, cfg.reassembly.per_source) =
            (1, 2, 2, 1);
    }
    if limits & 8 != 0 {
        cfg.fast_path.flow_cache = 0;
    }
    if limits & 16 != 0 {
        cfg.l2.mac_capacity = 2;
    }
    if limits & 32 != 0 {
        cfg.nat.filtering = "address-dependent".into();
    }
    if limits & 64 != 0 {
        cfg.nat.port_block = 8;
    }
    if limits & 128 != 0 {
        cfg.icmp.rate = 0;
    }
    cfg.validate().expect("pipeline.yaml with any limits validates");
    let variant = usize::from(limits & 1) | usize::from(limits >> 7) << 1;
    let t = TABLES[variant].get_or_init(|| tables::build(&cfg, &[0, 1, 2, 3], &MACS, 1).expect("tables"));
    let rules = Arc::new(tables::nat_rules(&cfg, t));
    let router = || {
        let nat_cfg = NatConfig {
            max_sessions: cfg.nat.max_sessions,
            max_subscribers: cfg.nat.max_subscribers,
            fragments: cfg.nat.fragment_records,
            seed: 7,
            ..NatConfig::default()
        };
        let mut nat = Nat::new(nat_cfg);
        nat.set_rules(Arc::clone(&rules));
        let mut r = Router::with_translator(tables::router_config(&cfg), nat);
        r.sync(t, 0, &mut Out::default());
        r.translator_mut().poll(0);
        r
    };
    let (one, burst) = (router(), router());
    Twins { t, one, burst, io: [Out::default(), Out::default()], now: 0 }
}

impl Twins {
    /// Runs `frames` (from `port`) through both; checks what left.
    fn run(&mut self, port: u16, frames: &[&[u8]]) {
        for f in frames {
            self.one.process(self.t, VecBuf::from_frame(port, f), self.now, &mut self.io[0]);
        }
        let mut burst: Vec<Option<VecBuf>> = frames.iter().map(|f| Some(VecBuf::from_frame(port, f))).collect();
        self.burst.process_burst(self.t, port, &mut burst, self.now, &mut self.io[1]);
        self.compare(16 * frames.len() + 16, frames);
    }

    /// Hands `frames` to both as the kernel twin of lan wrote them.
    fn from_kernel(&mut self, frames: &[&[u8]]) {
        let [a, b] = &mut self.io;
        for (r, io) in [(&mut self.one, a), (&mut self.burst, b)] {
            for f in frames {
                r.from_kernel(self.t, 0, VecBuf::from_frame(0, f), self.now, io);
            }
        }
        self.compare(2 * frames.len(), &[]);
    }

    /// Lets time pass for both (timers, expiry).
    fn poll(&mut self) {
        let now = self.now;
        let [a, b] = &mut self.io;
        for (r, io) in [(&mut self.one, a), (&mut self.burst, b)] {
            r.poll(self.t, now, io);
            r.translator_mut().poll(now);
        }
        self.compare(4096, &[]);
    }

    fn compare(&mut self, most: usize, inputs: &[&[u8]]) {
        let [a, b] = &mut self.io;
        let a: Vec<(u16, Vec<u8>)> = a.sent.drain(..).map(|p| (p.port(), p.data().to_vec())).collect();
        let b: Vec<(u16, Vec<u8>)> = b.sent.drain(..).map(|p| (p.port(), p.data().to_vec())).collect();
        assert_eq!(a, b, "the full path and the burst path sent different frames");
        assert!(a.len() <= most, "{} frames out, at most {most} expected", a.len());
        let [pa, pb] = &mut self.io;
        let pa: Vec<(u16, Vec<u8>)> = pa.punted.drain(..).map(|(i, p)| (i, p.data().to_vec())).collect();
        let pb: Vec<(u16, Vec<u8>)> = pb.punted.drain(..).map(|(i, p)| (i, p.data().to_vec())).collect();
        assert_eq!(pa, pb, "the full path and the burst path punted different frames");
        assert!(pa.iter().all(|(i, _)| *i == 0), "punted from an interface without a twin");
        let fast = self.burst.counters.fast_path;
        let hits = self.burst.counters.flow_hits;
        assert_eq!(self.one.counters, Counters { fast_path: 0, flow_hits: 0, ..self.burst.counters.clone() });
        assert!(hits <= fast && fast <= self.burst.counters.rx);
        let (x, y) = (self.one.translator(), self.burst.translator());
        assert_eq!(x.counters, y.counters);
        assert!(x.sessions().eq(y.sessions()), "the paths keep different sessions");
        for (port, f) in &a {
            check_frame(*port, f, inputs);
        }
    }
}

/// What follows a frame's Ethernet header (and VLAN tag).
fn l3(f: &[u8]) -> &[u8] {
    let at = if f.get(12..14) == Some(&[0x81, 0][..]) { 18 } else { 14 };
    f.get(at..).unwrap_or(&[])
}

/// What every frame the gateway sends must be, but those it switched
/// (bridged: what follows the Ethernet header is one of the `inputs`').
fn check_frame(port: u16, f: &[u8], inputs: &[&[u8]]) {
    assert!(f.len() >= 14, "runt frame");
    if inputs.iter().any(|i| l3(i) == l3(f)) {
        return;
    }
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes([f[12], f[13]]);
    if ethertype == 0x8100 {
        assert!(f.len() >= 18, "runt tagged frame");
        ethertype = u16::from_be_bytes([f[16], f[17]]);
        at = 16;
    }
    let ip = &f[at + 2..];
    let mtu = MTU[usize::from(port) % MTU.len()];
    match ethertype {
        0x0800 => {
            assert!(ip.len() >= 20 && ip[0] >> 4 == 4, "IPv4 header");
            let hl = usize::from(ip[0] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            assert!(hl >= 20 && hl <= total && total <= ip.len(), "IPv4 lengths: hl {hl} total {total}");
            assert_eq!(checksum::checksum(&ip[..hl]), 0, "IPv4 header checksum");
            assert!(ip[8] > 0, "TTL 0 sent");
            assert!(total <= mtu, "{total} bytes out of a port with MTU {mtu}");
            let error = ip[9] == 1 && matches!(ip.get(hl), Some(3 | 5 | 11 | 12));
            assert!(!error || total <= 576, "ICMP error of {total} bytes");
        }
        0x86dd => {
            assert!(ip.len() >= 40 && ip[0] >> 4 == 6, "IPv6 header");
            let total = 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            assert!(total <= ip.len(), "IPv6 payload length");
            assert!(ip[7] > 0, "hop limit 0 sent");
            assert!(total <= mtu, "{total} bytes out of a port with MTU {mtu}");
            let error = ip[6] == 58 && ip.get(40).is_some_and(|&t| t < 128);
            assert!(!error || total <= 1280, "ICMPv6 error of {total} bytes");
        }
        0x0806 => assert!(ip.len() >= 28, "short ARP"),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&limits, mut rest)) = data.split_first() else { return };
    let mut g = gateway(limits);
    let mut run: Vec<&[u8]> = Vec::new();
    let mut run_port = 0u16;
    while rest.len() >= 4 {
        let (port, step, kernel) = (u16::from(rest[0] % 4), rest[1], rest[0] & 4 != 0);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]])) % 2048;
        let body = &rest[4..];
        let frame = &body[..len.min(body.len())];
        rest = &body[frame.len()..];
        // A new run on another port, a full burst or time passing.
        if !run.is_empty() && (port != run_port || run.len() == BURST || step != 0) {
            g.run(run_port, &run);
            run.clear();
        }
        if step != 0 {
            g.now += u64::from(step) * if step > 200 { 1000 * MS } else { MS };
            g.poll();
        }
        if kernel {
            if !run.is_empty() {
                g.run(run_port, &run);
                run.clear();
            }
            g.from_kernel(&[frame]);
            continue;
        }
        run_port = port;
        run.push(frame);
    }
    if !run.is_empty() {
        g.run(run_port, &run);
    }
});

//! The gateway's own TCP talking to itself, for `benches/run.sh tcp`:
//! two stacks, each with its own tables and one pinned worker, joined by
//! a pair of DPDK rings (net_ring), one opening connections to the
//! other's built-in services. And the same loop on Linux over loopback,
//! to compare with.
//!
//!   tcp_pair bulk [--seconds S] [--cores A,B] [--mtu M]
//!       one connection streaming to discard (chargen on our side) over
//!       a link of MTU M (default 1500; jumbo frames up to 9000 take
//!       buffers of 9 kB); prints `ours_gbps=X` (payload bits a second
//!       the server took)
//!   tcp_pair connect [--seconds S] [--cores A,B]
//!       connect, a 64-byte request echoed, close, one at a time;
//!       prints `ours_per_s=X`
//!   tcp_pair memory [--buffer B]
//!       what a worker's table of 100,000 connections reserves per
//!       connection, with queues of up to B bytes each way (default: the
//!       config's default); prints `bytes_per_connection=X slot_bytes=X
//!       buffer=B`. Everything is reserved when the table is made, and
//!       the queues hold packet buffers only while data waits in them
//!       (from the ports' pool, `tcp.buffers` at most for all), so this
//!       is what an idle connection costs (the lab's 100,000-connection
//!       test checks the process's growth against it)
//!   tcp_pair linux-connect [--seconds S] [--cores A,B]
//!       the same loop through Linux's sockets over 127.0.0.1, the server
//!       a thread on core B, the client on core A; prints `linux_per_s=X`
//!
//! The client runs on core A, the server on B. The first second is
//! warm-up, not counted. Our TIME-WAIT is cut to 100 ms (Linux reuses
//! loopback ports in TIME-WAIT at once, `tcp_tw_reuse`), so 64k client
//! ports last; the tables are sized for it.

use dataplane::{ring_pair, Eal, Mbuf, Mempool, Port, PortConfig};
use dpdk_sys as ffi;
use stack::client::Client;
use stack::iface::{Interface, Ipv4Cidr, StaticNeighbor};
use stack::tcp::{Congestion, Refused, State, TcpConfig};
use stack::wire::MacAddr;
use stack::{Io, Listener, Router, RouterConfig, ServiceKind, Tables, Transport};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BURST: usize = 32;
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const CLIENT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 9, 2]);
const SERVER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 9, 1]);
/// The request and answer of the connect loop.
const ASK: u16 = 64;
const WARMUP: Duration = Duration::from_secs(1);

#[derive(Copy, Clone, PartialEq, Eq)]
enum Mode {
    Bulk,
    Connect,
    LinuxConnect,
    Memory,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mode = match args.first().map(String::as_str) {
        Some("bulk") => Mode::Bulk,
        Some("connect") => Mode::Connect,
        Some("linux-connect") => Mode::LinuxConnect,
        Some("memory") => Mode::Memory,
        _ => {
            fail("usage: tcp_pair bulk|connect|linux-connect|memory [--seconds S] [--cores A,B] [--mtu M] [--buffer B]")
        }
    };
    let (mut seconds, mut cores, mut mtu) = (5u64, (0usize, 1usize), 1500u16);
    let mut buffer = TcpConfig::default().buffer;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_else(|| fail(&format!("{a} needs a value")));
        match a.as_str() {
            "--seconds" => seconds = v.parse().unwrap_or_else(|_| fail("--seconds: a number")),
            "--buffer" => {
                buffer = v.parse().ok().filter(|b| *b >= 1024).unwrap_or_else(|| fail("--buffer: 1024 or more"))
            }
            "--mtu" => {
                mtu = v.parse().ok().filter(|m| (1280..=9000).contains(m)).unwrap_or_else(|| fail("--mtu: 1280-9000"))
            }
            "--cores" => {
                let c: Vec<usize> = v.split(',').filter_map(|x| x.parse().ok()).collect();
                let [x, y] = c[..] else { fail("--cores: A,B") };
                cores = (x, y);
            }
            _ => fail(&format!("unknown argument {a}")),
        }
    }
    let measure = Duration::from_secs(seconds.max(1));
    match mode {
        Mode::LinuxConnect => {
            let n = linux_connect(cores, measure);
            println!("linux_per_s={:.0}", n as f64 / measure.as_secs_f64());
        }
        Mode::Memory => {
            let cfg = TcpConfig { connections: 100_000, buffer, ..TcpConfig::default() };
            let t: stack::tcp::TcpTable<Mbuf> = stack::tcp::TcpTable::new(cfg);
            let slot = t.slot_bytes();
            println!("bytes_per_connection={slot} slot_bytes={slot} buffer={buffer}");
        }
        _ => ours(mode, cores, measure, mtu),
    }
}

fn fail(why: &str) -> ! {
    eprintln!("tcp_pair: {why}");
    std::process::exit(2)
}

fn pin(core: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        fail(&format!("cannot pin to core {core}"));
    }
}

/// One end's tables: an interface on `port` with `addr`/24 and `mtu`,
/// the other end a static neighbor, and echo (7) and discard (9)
/// listening.
fn tables(port: u16, mtu: u16, mac: MacAddr, addr: Ipv4Addr, peer: Ipv4Addr, peer_mac: MacAddr) -> Tables {
    let ifc =
        Interface { name: "ring".into(), port, mac, mtu, addrs: vec![Ipv4Cidr::new(addr, 24)], ..Default::default() };
    let neighbor = StaticNeighbor { ifindex: 0, ip: IpAddr::V4(peer), mac: peer_mac };
    let mut t = Tables::build(vec![ifc], &[], &[], vec![neighbor], 1).unwrap_or_else(|e| fail(&format!("{e}")));
    for (kind, p) in [(ServiceKind::Echo, 7), (ServiceKind::Discard, 9)] {
        let local = SocketAddr::new(IpAddr::V4(addr), p);
        t.services.push(Listener { kind, transport: Transport::Tcp, local });
    }
    t
}

/// One worker's I/O: buffers from the pool, frames out on its one port.
struct RingIo {
    pool: Arc<Mempool>,
    port: u16,
    tx: [*mut ffi::rte_mbuf; 2 * BURST],
    len: usize,
}

impl RingIo {
    fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: the first `len` pointers are mbufs we own; tx_burst
        // takes the first `sent`, the rest are freed here.
        unsafe {
            let sent = usize::from(ffi::rte_eth_tx_burst(self.port, 0, self.tx.as_mut_ptr(), self.len as u16));
            if sent < self.len {
                ffi::rte_pktmbuf_free_bulk(self.tx.as_mut_ptr().add(sent), (self.len - sent) as u32);
            }
        }
        self.len = 0;
    }
}

impl Io<Mbuf> for RingIo {
    fn alloc(&mut self) -> Option<Mbuf> {
        self.pool.alloc()
    }
    fn send(&mut self, pkt: Mbuf) {
        if self.len == self.tx.len() {
            self.flush();
        }
        self.tx[self.len] = pkt.into_raw();
        self.len += 1;
    }
}

/// What a side counts, for the main thread to read.
#[derive(Default)]
struct Tally {
    /// Server: payload bytes received. Client: asks completed.
    done: AtomicU64,
}

fn ours(mode: Mode, (client_core, server_core): (usize, usize), measure: Duration, mtu: u16) {
    let eal_args: Vec<String> = [
        "--no-huge",
        "--no-pci",
        "-m",
        "512",
        "--file-prefix",
        &format!("tcp-pair-{}", std::process::id()),
        "-l",
        &client_core.to_string(),
        "--log-level",
        "lib.eal:error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&eal_args).unwrap_or_else(|e| fail(&format!("{e}")));
    // Room for a whole frame of the MTU after the 128-byte headroom.
    let room = (mtu + 14 + 128).max(dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16);
    let pool = Arc::new(Mempool::with_room("tcp_pair", 16383, 256, room).unwrap_or_else(|e| fail(&e)));
    let (cname, sname) = ring_pair("client", "server").unwrap_or_else(|e| fail(&format!("{e}")));
    let port = |name: &str, mac| {
        let cfg = PortConfig {
            device: name.into(),
            queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            promiscuous: false,
            mac: Some(mac),
        };
        Port::start(&cfg, &pool).unwrap_or_else(|e| fail(&format!("{e}")))
    };
    let (cport, sport) = (port(&cname, CLIENT_MAC), port(&sname, SERVER_MAC));
    let tcp = match mode {
        Mode::Bulk => TcpConfig { connections: 16, buffer: 1 << 20, ..TcpConfig::default() },
        _ => TcpConfig { connections: 65536, buffer: 2048, ..TcpConfig::default() },
    };
    let tcp = TcpConfig {
        rto_min_ns: 200_000_000,
        time_wait_ns: 100_000_000,
        congestion: Congestion::Cubic,
        syn_backlog: 4096,
        ..tcp
    };
    let cfg = RouterConfig { tcp, ..RouterConfig::default() };
    let hz = eal.tsc_hz();
    let stop = Arc::new(AtomicBool::new(false));
    let (client, server) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
    let side = |core: usize, port: u16, t: Tables, tally: Arc<Tally>, opens: Option<Client>| {
        let side = Side { port, t, cfg, pool: pool.clone(), hz, stop: stop.clone(), tally, opens };
        std::thread::spawn(move || {
            pin(core);
            // SAFETY: EAL is up; registers this thread for mempool caches.
            if unsafe { ffi::rte_thread_register() } != 0 {
                fail("rte_thread_register");
            }
            side.run();
        })
    };
    let st = tables(sport.id(), mtu, SERVER_MAC, SERVER, CLIENT, CLIENT_MAC);
    let ct = tables(cport.id(), mtu, CLIENT_MAC, CLIENT, SERVER, SERVER_MAC);
    let opens = match mode {
        Mode::Bulk => Client::Bulk,
        _ => Client::Ask { bytes: ASK },
    };
    let hs = [
        side(server_core, sport.id(), st, server.clone(), None),
        side(client_core, cport.id(), ct, client.clone(), Some(opens)),
    ];
    std::thread::sleep(WARMUP);
    let count = || if mode == Mode::Bulk { server.done.load(Relaxed) } else { client.done.load(Relaxed) };
    let (t0, c0) = (Instant::now(), count());
    std::thread::sleep(measure);
    let (dt, n) = (t0.elapsed().as_secs_f64(), count() - c0);
    stop.store(true, Relaxed);
    for h in hs {
        let _ = h.join();
    }
    match mode {
        Mode::Bulk => println!("ours_gbps={:.2}", n as f64 * 8.0 / dt / 1e9),
        _ => println!("ours_per_s={:.0}", n as f64 / dt),
    }
    drop((cport, sport));
}

/// One side: its port and tables, its stack's settings and buffers, what it
/// counts, and for the client what it opens.
struct Side {
    port: u16,
    t: Tables,
    cfg: RouterConfig,
    pool: Arc<Mempool>,
    hz: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    opens: Option<Client>,
}

impl Side {
    /// The loop: receive a burst, run it through the stack, send, run the
    /// timers; the client side opens connections as `opens` says.
    fn run(self) {
        let Side { port, t, cfg, pool, hz, stop, tally, opens } = self;
        let mut io = RingIo { pool, port, tx: [std::ptr::null_mut(); 2 * BURST], len: 0 };
        let t = &t;
        let clock = dataplane::worker::Clock::new(hz);
        let mut r: Router<Mbuf> = Router::new(cfg);
        r.sync(t, clock.now(), &mut io);
        let mut burst: [Option<Mbuf>; BURST] = std::array::from_fn(|_| None);
        let (mut current, mut next_port, mut done) = (None::<u32>, 1024u16, 0u64);
        while !stop.load(Relaxed) {
            let now = clock.now();
            // The client: one connection at a time; the next once the last
            // has closed its side (TIME-WAIT) or gone.
            if let Some(client) = opens {
                let finished = current.is_none_or(|id| {
                    r.tcp().get(id).is_none_or(|e| matches!(e.conn.state, State::TimeWait | State::Closed))
                });
                let again = matches!(client, Client::Ask { .. }) || current.is_none();
                if finished && again {
                    if current.is_some() {
                        done += 1;
                        tally.done.store(done, Relaxed);
                    }
                    current = None;
                    // Ports still in TIME-WAIT are skipped.
                    for _ in 0..64 {
                        let ends =
                            (SocketAddr::new(IpAddr::V4(CLIENT), next_port), SocketAddr::new(IpAddr::V4(SERVER), 7));
                        let ends =
                            if client == Client::Bulk { (ends.0, SocketAddr::new(ends.1.ip(), 9)) } else { ends };
                        next_port = if next_port == u16::MAX { 1024 } else { next_port + 1 };
                        match r.tcp_open(t, ends, client, now, &mut io) {
                            Ok(id) => {
                                current = Some(id);
                                break;
                            }
                            Err(Refused::InUse) => continue,
                            Err(e) => fail(&format!("open: {e:?}")),
                        }
                    }
                }
            }
            // SAFETY: `burst` holds BURST Option<Mbuf> slots, each the size
            // of a pointer and all None (the router empties each it is
            // given); rx_burst hands us the first n.
            let n = usize::from(unsafe { ffi::rte_eth_rx_burst(port, 0, burst.as_mut_ptr().cast(), BURST as u16) });
            if let Some(got) = burst.get_mut(..n) {
                r.process_burst(t, port, got, now, &mut io);
            }
            r.poll(t, now, &mut io);
            io.flush();
            if opens.is_none() {
                tally.done.store(r.counters.tcp_bytes_received, Relaxed);
            }
        }
        if std::env::var_os("TCP_PAIR_COUNTERS").is_some() {
            let c = &r.counters;
            let side = if opens.is_some() { "client" } else { "server" };
            eprintln!(
                "{side}: retransmits={} timeouts={} shared={} copied={}",
                c.tcp_retransmits, c.tcp_timeouts, c.tcp_segments_shared, c.tcp_segments_copied
            );
            for d in stack::DropReason::ALL.iter().filter(|d| c.dropped(**d) > 0) {
                eprintln!("{side}: drop {} {}", d.label(), c.dropped(*d));
            }
        }
    }
}

/// Linux's loop over loopback: an echo server thread on core B, the
/// client on core A connecting, asking, reading the answer and closing,
/// one at a time. Connections completed within `measure`.
fn linux_connect((client_core, server_core): (usize, usize), measure: Duration) -> u64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(&format!("bind: {e}")));
    let addr = listener.local_addr().unwrap_or_else(|e| fail(&format!("{e}")));
    std::thread::spawn(move || {
        pin(server_core);
        let mut buf = [0u8; 256];
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            // Echo until the client closes.
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    pin(client_core);
    let ask = [b'?'; ASK as usize];
    let mut answer = [0u8; ASK as usize];
    let mut one = || {
        let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| fail(&format!("connect: {e}")));
        let _ = s.set_nodelay(true);
        s.write_all(&ask).unwrap_or_else(|e| fail(&format!("write: {e}")));
        s.read_exact(&mut answer).unwrap_or_else(|e| fail(&format!("read: {e}")));
    };
    let warm = Instant::now();
    while warm.elapsed() < WARMUP {
        one();
    }
    let (t0, mut n) = (Instant::now(), 0u64);
    while t0.elapsed() < measure {
        one();
        n += 1;
    }
    n * measure.as_micros() as u64 / t0.elapsed().as_micros().max(1) as u64
}

//! The gateway's own TCP opening connections (RFC 9293 §3.5's active
//! open) to Linux: a worker on a net_af_packet port, a veth into a
//! namespace where Linux echoes, both families. The worker resolves the
//! peer (ARP, ND), sends its SYN, asks, reads the echo back, closes, and
//! waits in TIME-WAIT, as the closer first must.

use dataplane::{Eal, Mbuf, Mempool, Port, PortConfig};
use dpdk_sys as ffi;
use stack::client::Client;
use stack::iface::{Interface, Ipv4Cidr, Ipv6Cidr};
use stack::tcp::{State, TcpConfig};
use stack::wire::MacAddr;
use stack::{Io, Router, RouterConfig, Tables};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

const NS: &str = "dp-open";
const HOST: &str = "dp-open0";
const ASK: u16 = 3000;

fn sh(cmd: &str) -> std::process::Output {
    Command::new("bash").arg("-c").arg(cmd).output().expect("bash runs")
}

fn ok(cmd: &str) {
    let o = sh(cmd);
    assert!(o.status.success(), "`{cmd}`: {}", String::from_utf8_lossy(&o.stderr));
}

/// A veth into namespace `NS` (10.9.0.2/24, fd09::2/64) where Linux
/// echoes on port 7; gone when dropped.
struct Peer;

impl Peer {
    fn up() -> Option<Peer> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || !sh("command -v python3 && ip netns list").status.success() {
            eprintln!("skipped: needs root, ip and python3");
            return None;
        }
        let _ = sh(&format!("ip netns del {NS}; ip link del {HOST}"));
        ok(&format!("ip netns add {NS} && ip link add {HOST} type veth peer name eth0 netns {NS}"));
        ok(&format!(
            "ip link set {HOST} up && ethtool -K {HOST} tx off rx off gro off gso off tso off >/dev/null 2>&1; \
             ip netns exec {NS} sh -c 'ip link set lo up && ip link set eth0 up && \
             ip addr add 10.9.0.2/24 dev eth0 && ip addr add fd09::2/64 dev eth0 nodad && \
             ethtool -K eth0 tx off rx off gro off gso off tso off >/dev/null 2>&1; true'"
        ));
        let server = "import socket,threading\n\
                      s=socket.create_server(('::',7),family=socket.AF_INET6,dualstack_ipv6=True)\n\
                      def echo(c):\n  with c:\n    while (d:=c.recv(65536)): c.sendall(d)\n\
                      while True:\n  c,_=s.accept(); threading.Thread(target=echo,args=(c,),daemon=True).start()\n";
        std::fs::write("/tmp/dp-open-echo.py", server).expect("write the server");
        ok(&format!("ip netns exec {NS} sh -c 'python3 /tmp/dp-open-echo.py >/dev/null 2>&1 &' && sleep 0.5"));
        Some(Peer)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = sh(&format!("ip netns pids {NS} | xargs -r kill; ip netns del {NS}; ip link del {HOST}"));
    }
}

/// Frames out on the one port.
struct PortIo<'a> {
    pool: &'a Mempool,
    port: u16,
}

impl Io<Mbuf> for PortIo<'_> {
    fn alloc(&mut self) -> Option<Mbuf> {
        self.pool.alloc()
    }
    fn send(&mut self, pkt: Mbuf) {
        let mut raw = pkt.into_raw();
        // SAFETY: one mbuf we own; tx_burst takes it or we free it.
        unsafe {
            if ffi::rte_eth_tx_burst(self.port, 0, &mut raw, 1) == 0 {
                ffi::rte_pktmbuf_free(raw);
            }
        }
    }
}

#[test]
fn our_active_opens_ask_linux_and_hold_time_wait_on_both_families() {
    let Some(_peer) = Peer::up() else { return };
    let args: Vec<String> = [
        "--no-huge",
        "--no-pci",
        "-m",
        "256",
        "--file-prefix",
        &format!("dp-open-{}", std::process::id()),
        "-l",
        "0",
        "--log-level",
        "lib.eal:error",
        "--vdev",
        &format!("net_af_packet0,iface={HOST},qpairs=1"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).expect("EAL");
    let pool = Mempool::new("dp_open", 4095, 64).expect("pool");
    let mac = MacAddr([0x02, 0, 0, 0, 0x09, 0x01]);
    let cfg = PortConfig {
        device: "net_af_packet0".into(),
        queues: 1,
        rx_desc: 512,
        tx_desc: 512,
        promiscuous: true,
        mac: Some(mac),
    };
    let port = Port::start(&cfg, &pool).expect("port");
    let ifc = Interface {
        name: "eth".into(),
        port: port.id(),
        mac,
        mtu: 1500,
        addrs: vec![Ipv4Cidr::new(Ipv4Addr::new(10, 9, 0, 1), 24)],
        addrs6: vec![Ipv6Cidr::new("fd09::1".parse().unwrap(), 64)],
        ..Default::default()
    };
    let t = Tables::build(vec![ifc], &[], &[], vec![], 1).expect("tables");
    let tcp = TcpConfig { rto_min_ns: 200_000_000, ..TcpConfig::default() };
    let mut r: Router<Mbuf> = Router::new(RouterConfig { tcp, ..RouterConfig::default() });
    let clock = dataplane::worker::Clock::new(eal.tsc_hz());
    let mut io = PortIo { pool: &pool, port: port.id() };
    r.sync(&t, clock.now(), &mut io);
    let ends = [
        (SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)), 40001), "10.9.0.2:7".parse().unwrap()),
        (
            SocketAddr::new(IpAddr::V6("fd09::1".parse::<Ipv6Addr>().unwrap()), 40002),
            "[fd09::2]:7".parse::<SocketAddr>().unwrap(),
        ),
    ];
    let ids: Vec<u32> = ends
        .iter()
        .map(|e| r.tcp_open(&t, *e, Client::Ask { bytes: ASK }, clock.now(), &mut io).expect("open"))
        .collect();
    let mut burst: [Option<Mbuf>; 32] = std::array::from_fn(|_| None);
    let deadline = Instant::now() + Duration::from_secs(20);
    let states = |r: &Router<Mbuf>| -> Vec<State> {
        ids.iter().map(|&id| r.tcp().get(id).map_or(State::Closed, |e| e.conn.state)).collect()
    };
    while Instant::now() < deadline && states(&r).iter().any(|s| *s != State::TimeWait) {
        let now = clock.now();
        // SAFETY: `burst` holds 32 empty slots the size of a pointer;
        // rx_burst fills the first n.
        let n = usize::from(unsafe { ffi::rte_eth_rx_burst(port.id(), 0, burst.as_mut_ptr().cast(), 32) });
        if let Some(got) = burst.get_mut(..n) {
            r.process_burst(&t, port.id(), got, now, &mut io);
        }
        r.poll(&t, now, &mut io);
        if n == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let c = &r.counters;
    assert_eq!(states(&r), [State::TimeWait, State::TimeWait], "asked, answered, closed first");
    assert_eq!(c.tcp_bytes_received, 2 * u64::from(ASK), "the echo of each ask");
    assert!(c.tcp_bytes_sent >= 2 * u64::from(ASK));
    assert!(c.tcp_segments_shared > 0, "the asks went from their buffers");
    drop(port);
}

//! The punt path's control-plane side: one thread that owns the kernel
//! twins (TAPs) of the configured interfaces, in the routing daemon's
//! namespace, and moves frames between them and the workers' queues.
//!
//! ```text
//!   FRR (bgpd, ospfd), sshd          the kernel, in punt.netns
//!          │ sockets                 lan ─ TAP ─┐   wan ─ TAP ─┐
//!                                               │ read/write   │
//!   punt thread (this module) ──────────────────┴──────────────┘
//!      ▲ up queues (one per worker)      │ down queue (worker 0)
//!   workers: packets for us that no     ▼ ARP/NS answered from the
//!   listener of ours takes               neighbor cache; the rest out
//!          │                                         │
//!        ports ◄──────────────── the wire ──────────►
//! ```
//!
//! The thread enters `punt.netns` once and stays there, so its netlink
//! and ioctl calls act on the twins. On each new tables snapshot it
//! brings the twins' addresses and MTU in line with their interfaces.

pub mod kernel;

use crate::config::PuntConf;
use arc_swap::ArcSwap;
use dataplane::{Mempool, PuntFrame, PuntQueues};
use kernel::{Netlink, Tap};
use stack::{PacketBuf, Tables};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Why the punt thread dropped a frame (`gateway_punt_thread_dropped_total{reason}`).
pub const DROPS: [&str; 4] = ["write_failed", "no_buffer", "down_queue_full", "no_interface"];
const WRITE_FAILED: usize = 0;
const NO_BUFFER: usize = 1;
const DOWN_FULL: usize = 2;
const NO_INTERFACE: usize = 3;

/// Frames moved from one worker's queue per round, at most.
const UP_BUDGET: usize = 256;
/// Frames read from one TAP per round, at most.
const DOWN_BUDGET: usize = 64;

/// The punt thread's counters.
#[derive(Default)]
pub struct PuntStats {
    /// Frames written to a kernel twin.
    pub to_kernel: AtomicU64,
    /// Frames read from a kernel twin and queued for the workers.
    pub from_kernel: AtomicU64,
    /// Frames dropped here, by [`DROPS`] reason.
    pub dropped: [AtomicU64; DROPS.len()],
    /// Failures to keep a twin's addresses or MTU in line.
    pub sync_errors: AtomicU64,
    /// The twins, by kernel ifindex (set once they are made).
    pub twins: std::sync::Mutex<Vec<(u32, String)>>,
}

/// The running punt thread.
pub struct Punt {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Punt {
    /// Makes the twins (in `conf.netns`) and starts the thread; fails with
    /// what went wrong if a twin cannot be made.
    pub fn start(
        conf: &PuntConf,
        queues: PuntQueues,
        pool: Arc<Mempool>,
        tables: Arc<ArcSwap<Tables>>,
        stats: Arc<PuntStats>,
    ) -> Result<Punt, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (conf, flag) = (conf.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("punt".into())
            .spawn(move || {
                if let Some(core) = conf.core {
                    if let Err(e) = pin_to(core) {
                        return drop(ready_tx.send(Err(e)));
                    }
                }
                let mut thread = match Thread::open(&conf, queues, pool, tables, stats) {
                    Ok(t) => t,
                    Err(e) => return drop(ready_tx.send(Err(e))),
                };
                let _ = ready_tx.send(Ok(()));
                thread.run(&flag);
            })
            .map_err(|e| format!("punt: spawning its thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Punt { stop, handle: Some(handle) }),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => Err("punt: its thread ended while starting".into()),
        }
    }

    /// Stops the thread; the twins go with it (were gatewayd to die
    /// instead, they would stay, without carrier, for the next one).
    pub fn stop(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Pins the calling thread to CPU `core` (`punt.core`).
fn pin_to(core: usize) -> Result<(), String> {
    let fail = |why: String| format!("punt.core {core}: {why}");
    if core >= libc::CPU_SETSIZE as usize {
        return Err(fail("beyond the CPU set".into()));
    }
    // SAFETY: an all-zero cpu_set_t is the empty set, and `core` is within
    // it; sched_setaffinity reads the set it is given, for this thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(fail(std::io::Error::last_os_error().to_string()));
    }
    Ok(())
}

/// A twin and what was last set on it.
struct Twin {
    tap: Tap,
    addrs: BTreeSet<(IpAddr, u8)>,
    mtu: u16,
}

struct Thread {
    twins: Vec<Twin>,
    queues: PuntQueues,
    pool: Arc<Mempool>,
    tables: Arc<ArcSwap<Tables>>,
    stats: Arc<PuntStats>,
    netlink: Netlink,
    generation: u64,
}

impl Thread {
    fn open(
        conf: &PuntConf,
        queues: PuntQueues,
        pool: Arc<Mempool>,
        tables: Arc<ArcSwap<Tables>>,
        stats: Arc<PuntStats>,
    ) -> Result<Thread, String> {
        if let Some(ns) = &conf.netns {
            kernel::enter_netns(ns)
                .map_err(|e| format!("punt.netns {ns:?}: {e} (make it first: ip netns add {ns})"))?;
        }
        let t = tables.load_full();
        let mut netlink = Netlink::open().map_err(|e| format!("punt: netlink: {e}"))?;
        let mut twins = Vec::new();
        for name in &conf.interfaces {
            let ifc = t.ifaces.iter().find(|i| i.name == *name).ok_or(format!("punt: no interface {name:?}"))?;
            let fail = |e: std::io::Error| format!("punt: kernel twin {name}: {e}");
            let tap = Tap::attach(name, ifc.mac, ifc.mtu).map_err(fail)?;
            // A twin taken over keeps its addresses; the first sync removes
            // those its interface no longer has.
            let addrs = netlink.addresses(tap.kernel_index).map_err(fail)?.into_iter().collect();
            twins.push(Twin { tap, addrs, mtu: ifc.mtu });
        }
        if let Ok(mut names) = stats.twins.lock() {
            *names = twins.iter().map(|t| (t.tap.kernel_index, t.tap.name.clone())).collect();
        }
        let mut thread = Thread { twins, queues, pool, tables, stats, netlink, generation: u64::MAX };
        if let Some((name, e)) = thread.sync(&t).into_iter().next() {
            return Err(format!("punt: kernel twin {name}: {e}"));
        }
        Ok(thread)
    }

    /// Brings each twin's addresses and MTU in line with its interface
    /// in `t`; the failures, by twin.
    fn sync(&mut self, t: &Tables) -> Vec<(String, std::io::Error)> {
        self.generation = t.generation;
        let mut failed = Vec::new();
        for twin in &mut self.twins {
            let Some(ifc) = t.ifaces.iter().find(|i| i.name == twin.tap.name) else { continue };
            let want: BTreeSet<(IpAddr, u8)> = ifc
                .addrs
                .iter()
                .map(|c| (IpAddr::V4(c.addr), c.len))
                .chain(ifc.addrs6.iter().map(|c| (IpAddr::V6(c.addr), c.len)))
                .collect();
            // What is set is only what the kernel took: a failure is tried
            // again with the next snapshot.
            let index = twin.tap.kernel_index;
            let stale: Vec<(IpAddr, u8)> = twin.addrs.difference(&want).copied().collect();
            let new: Vec<(IpAddr, u8)> = want.difference(&twin.addrs).copied().collect();
            for (a, len) in stale {
                match self.netlink.address(false, index, a, len) {
                    Ok(()) => drop(twin.addrs.remove(&(a, len))),
                    Err(e) => failed.push((twin.tap.name.clone(), e)),
                }
            }
            for (a, len) in new {
                match self.netlink.address(true, index, a, len) {
                    Ok(()) => drop(twin.addrs.insert((a, len))),
                    Err(e) => failed.push((twin.tap.name.clone(), e)),
                }
            }
            if ifc.mtu != twin.mtu {
                match kernel::set_mtu(&twin.tap.name, ifc.mtu) {
                    Ok(()) => twin.mtu = ifc.mtu,
                    Err(e) => failed.push((twin.tap.name.clone(), e)),
                }
            }
        }
        self.stats.sync_errors.fetch_add(failed.len() as u64, Relaxed);
        failed
    }

    fn drop_one(&self, why: usize) {
        if let Some(c) = self.stats.dropped.get(why) {
            c.fetch_add(1, Relaxed);
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65536];
        let mut polls: Vec<libc::pollfd> =
            self.twins.iter().map(|t| libc::pollfd { fd: t.tap.raw(), events: libc::POLLIN, revents: 0 }).collect();
        while !stop.load(Relaxed) {
            let t = self.tables.load_full();
            if t.generation != self.generation {
                for (name, e) in self.sync(&t) {
                    eprintln!("gatewayd: punt: kernel twin {name}: {e}");
                }
            }
            let moved = self.up(&t);
            // Sleep in poll only when the workers had nothing for the kernel.
            let timeout = if moved > 0 { 0 } else { 1 };
            // SAFETY: `polls` is a live array of pollfd of its length.
            let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, timeout) };
            if n <= 0 {
                continue;
            }
            for (i, p) in polls.iter_mut().enumerate() {
                if p.revents & libc::POLLIN != 0 {
                    self.down(&t, i, &mut buf);
                }
                p.revents = 0;
            }
        }
    }

    /// Writes what the workers queued to the twins; how many frames.
    fn up(&self, t: &Tables) -> usize {
        let mut moved = 0;
        for q in &self.queues.up {
            for _ in 0..UP_BUDGET {
                let Some(f) = q.pop() else { break };
                moved += 1;
                let name = t.iface(f.ifindex).map(|i| i.name.as_str());
                let Some(twin) = self.twins.iter().find(|w| Some(w.tap.name.as_str()) == name) else {
                    self.drop_one(NO_INTERFACE);
                    continue;
                };
                let data = f.mbuf.data();
                // SAFETY: writes `data` (a live slice) to the TAP: one frame.
                let n = unsafe { libc::write(twin.tap.raw(), data.as_ptr().cast(), data.len()) };
                if n == data.len() as isize {
                    self.stats.to_kernel.fetch_add(1, Relaxed);
                } else {
                    self.drop_one(WRITE_FAILED);
                }
            }
        }
        moved
    }

    /// Reads what the kernel sent on twin `i` into buffers for worker 0.
    fn down(&self, t: &Tables, i: usize, buf: &mut [u8]) {
        let Some(twin) = self.twins.get(i) else { return };
        let ifindex = t.ifaces.iter().position(|x| x.name == twin.tap.name);
        for _ in 0..DOWN_BUDGET {
            // SAFETY: reads at most buf.len() bytes into `buf`.
            let n = unsafe { libc::read(twin.tap.raw(), buf.as_mut_ptr().cast(), buf.len()) };
            let Some(frame) = usize::try_from(n).ok().filter(|&n| n > 0).and_then(|n| buf.get(..n)) else { return };
            let Some(ifindex) = ifindex else {
                self.drop_one(NO_INTERFACE);
                continue;
            };
            let Some(mut m) = self.pool.alloc() else {
                self.drop_one(NO_BUFFER);
                continue;
            };
            if !m.append(frame.len()) {
                self.drop_one(NO_BUFFER);
                continue;
            }
            m.data_mut().copy_from_slice(frame);
            match self.queues.down.push(PuntFrame { mbuf: m, ifindex: ifindex as u16 }) {
                Ok(()) => {
                    self.stats.from_kernel.fetch_add(1, Relaxed);
                }
                Err(_) => self.drop_one(DOWN_FULL),
            }
        }
    }
}

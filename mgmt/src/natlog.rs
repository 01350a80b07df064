//! The NAT log writer: a thread that drains the workers' log queues
//! ([`nat::log`]) every [`PERIOD`] and writes each record as one line to
//! a file, a syslog receiver, or both (`nat.log` in the config).
//!
//! A file line is `TIME FIELDS`, e.g.
//! `2026-11-25T10:00:00.123456Z event=block-alloc inside=10.0.1.2
//! outside=203.0.113.1 ports=1024-1087`. A syslog message is RFC 5424
//! with the same fields as its message: `<134>1 TIME HOST gatewayd -
//! nat44 - FIELDS` (facility local0, severity info).
//!
//! Records carry the worker clock; the writer turns it into UTC from
//! one reading of both clocks per drain. A file that was moved or
//! removed (log rotation) is reopened at the next drain. A write that
//! fails is counted and reported once on stderr; the writer goes on.

use crate::config::NatLogConf;
use nat::{LogQueue, LogRecord};
use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How often the queues are drained. A worker's queue (65536 records)
/// fills in this time only past 1.3 million records a second.
pub const PERIOD: Duration = Duration::from_millis(50);

/// syslog PRI: facility local0 (16), severity informational (6).
const PRI: u32 = 16 * 8 + 6;

/// The writer, shared between the controller (which configures it) and
/// its thread.
pub struct NatLog {
    conf: Mutex<Option<NatLogConf>>,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Records written (to every destination they were meant for).
    pub written: AtomicU64,
    /// Writes that failed (a record, or opening a destination).
    pub errors: AtomicU64,
}

impl NatLog {
    /// Starts the writer on the workers' `queues`; `clock` reads the
    /// workers' clock (ns).
    pub fn start(
        queues: Vec<Arc<LogQueue>>,
        clock: impl Fn() -> u64 + Send + 'static,
        conf: Option<NatLogConf>,
    ) -> Arc<NatLog> {
        let log = Arc::new(NatLog {
            conf: Mutex::new(conf),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            written: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let me = log.clone();
        let h = std::thread::Builder::new().name("nat-log".into()).spawn(move || me.run(&queues, &clock));
        match h {
            Ok(h) => *log.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(h),
            Err(e) => eprintln!("gatewayd: cannot start the NAT log writer: {e}"),
        }
        log
    }

    /// The destinations from now on (`None`: records already queued still
    /// go to the old ones, then those are closed).
    pub fn configure(&self, conf: Option<NatLogConf>) {
        *self.conf.lock().unwrap_or_else(|e| e.into_inner()) = conf;
    }

    /// Writes what is queued and stops; call once the workers stopped.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
        let h = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = h {
            let _ = h.join();
        }
    }

    fn run(&self, queues: &[Arc<LogQueue>], clock: &dyn Fn() -> u64) {
        let mut out = Outputs::default();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty() && !h.contains(' '))
            .unwrap_or_else(|| "-".into());
        loop {
            let last = self.stop.load(Relaxed);
            let conf = self.conf.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(c) = &conf {
                out.reconcile(c, self);
            }
            let (wall, mono) = (SystemTime::now(), clock());
            for q in queues {
                while let Some(r) = q.pop() {
                    out.write(&r, wall, mono, &host, self);
                }
            }
            out.flush(self);
            if conf.is_none() {
                out = Outputs::default();
            }
            if last {
                return;
            }
            std::thread::sleep(PERIOD);
        }
    }

    fn failed(&self, what: &str, e: &dyn std::fmt::Display) {
        // Once per run of failures: the first, then every 1000th.
        if self.errors.fetch_add(1, Relaxed).is_multiple_of(1000) {
            eprintln!("gatewayd: NAT log: {what}: {e}");
        }
    }
}

/// A record's time in UTC: `wall` minus how long before `mono` (both
/// read together) it happened.
fn utc(r: &LogRecord, wall: SystemTime, mono: u64) -> String {
    let t = wall.checked_sub(Duration::from_nanos(mono.saturating_sub(r.time))).unwrap_or(wall);
    humantime::format_rfc3339_micros(t).to_string()
}

enum Syslog {
    Unix(UnixDatagram, PathBuf),
    Udp(UdpSocket, SocketAddr),
}

#[derive(Default)]
struct Outputs {
    /// The file, its path and inode as opened.
    file: Option<(std::io::BufWriter<File>, String, u64)>,
    syslog: Option<(Syslog, String)>,
    /// When the file's path was last checked for rotation.
    checked: Option<std::time::Instant>,
}

impl Outputs {
    /// Opens what the config names and is not open; closes the rest;
    /// reopens a file whose path no longer leads to it (each second).
    fn reconcile(&mut self, c: &NatLogConf, log: &NatLog) {
        let rotated = |path: &str, ino: u64| std::fs::metadata(path).map_or(true, |m| m.ino() != ino);
        let due = self.checked.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        let keep = match (&self.file, &c.file) {
            (Some((_, p, ino)), Some(want)) => p == want && !(due && rotated(p, *ino)),
            _ => false,
        };
        if due {
            self.checked = Some(std::time::Instant::now());
        }
        if !keep {
            self.flush(log);
            self.file = None;
            if let Some(path) = &c.file {
                match crate::audit::open_log(std::path::Path::new(path)).and_then(|f| {
                    let ino = f.metadata()?.ino();
                    Ok((f, ino))
                }) {
                    Ok((f, ino)) => self.file = Some((std::io::BufWriter::new(f), path.clone(), ino)),
                    Err(e) => log.failed(&format!("opening {path}"), &e),
                }
            }
        }
        if self.syslog.as_ref().map(|s| &s.1) != c.syslog.as_ref() {
            self.syslog = None;
            if let Some(to) = &c.syslog {
                let s = if to.starts_with('/') {
                    UnixDatagram::unbound().map(|s| Syslog::Unix(s, PathBuf::from(to)))
                } else {
                    match to.parse::<SocketAddr>() {
                        Ok(a) => {
                            let any: SocketAddr =
                                if a.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                            UdpSocket::bind(any).map(|s| Syslog::Udp(s, a))
                        }
                        Err(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
                    }
                };
                match s {
                    Ok(s) => self.syslog = Some((s, to.clone())),
                    Err(e) => log.failed(&format!("syslog {to}"), &e),
                }
            }
        }
    }

    fn write(&mut self, r: &LogRecord, wall: SystemTime, mono: u64, host: &str, log: &NatLog) {
        if self.file.is_none() && self.syslog.is_none() {
            return;
        }
        let (time, fields) = (utc(r, wall, mono), r.fields());
        let mut ok = true;
        if let Some((f, path, _)) = &mut self.file {
            if let Err(e) = writeln!(f, "{time} {fields}") {
                log.failed(&format!("writing {path}"), &e);
                ok = false;
            }
        }
        if let Some((s, to)) = &self.syslog {
            let msg = format!("<{PRI}>1 {time} {host} gatewayd - nat44 - {fields}");
            let sent = match s {
                Syslog::Unix(s, path) => s.send_to(msg.as_bytes(), path),
                Syslog::Udp(s, a) => s.send_to(msg.as_bytes(), a),
            };
            if let Err(e) = sent {
                log.failed(&format!("syslog {to}"), &e);
                ok = false;
            }
        }
        if ok {
            log.written.fetch_add(1, Relaxed);
        }
    }

    fn flush(&mut self, log: &NatLog) {
        if let Some((f, path, _)) = &mut self.file {
            if let Err(e) = f.flush() {
                log.failed(&format!("writing {path}"), &e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nat::LogEvent;
    use std::net::Ipv4Addr;

    fn record(time: u64, event: LogEvent, lo: u16) -> LogRecord {
        LogRecord {
            time,
            event,
            proto: 0,
            inside: Ipv4Addr::new(10, 0, 1, 2),
            inside_port: 0,
            outside: Ipv4Addr::new(203, 0, 113, 1),
            ports: (lo, lo + 63),
        }
    }

    fn wait_for(mut done: impl FnMut() -> bool) {
        let t0 = std::time::Instant::now();
        while !done() {
            assert!(t0.elapsed() < Duration::from_secs(5), "timed out");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn records_reach_the_file_and_syslog_receivers_and_the_file_is_reopened_after_rotation() {
        let dir = std::env::temp_dir().join(format!("natlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("nat.log");
        let sock = dir.join("syslog.sock");
        let unix = UnixDatagram::bind(&sock).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        unix.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let q = Arc::new(LogQueue::new(16));
        // The worker clock reads 10 s; a record made at 9 s is a second old.
        let conf = NatLogConf { file: Some(file.display().to_string()), syslog: Some(sock.display().to_string()) };
        let log = NatLog::start(vec![q.clone()], || 10_000_000_000, Some(conf));
        q.push(record(9_000_000_000, LogEvent::BlockAlloc, 1024)).unwrap();
        wait_for(|| log.written.load(Relaxed) == 1);
        let line = std::fs::read_to_string(&file).unwrap();
        assert!(line.ends_with("Z event=block-alloc inside=10.0.1.2 outside=203.0.113.1 ports=1024-1087\n"), "{line}");
        let t = humantime::parse_rfc3339(line.split(' ').next().unwrap()).unwrap();
        let age = SystemTime::now().duration_since(t).unwrap();
        assert!(age >= Duration::from_millis(900) && age < Duration::from_secs(5), "{age:?}");
        let mut buf = [0u8; 512];
        let n = unix.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(msg.starts_with("<134>1 20"), "{msg}");
        assert!(
            msg.ends_with(" gatewayd - nat44 - event=block-alloc inside=10.0.1.2 outside=203.0.113.1 ports=1024-1087")
        );

        // Rotation: the file is moved away; the next records go to a new one.
        std::fs::rename(&file, dir.join("nat.log.1")).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        // Switch syslog to UDP at the same time.
        let conf =
            NatLogConf { file: Some(file.display().to_string()), syslog: Some(udp.local_addr().unwrap().to_string()) };
        log.configure(Some(conf));
        q.push(record(9_500_000_000, LogEvent::BlockRelease, 1024)).unwrap();
        wait_for(|| log.written.load(Relaxed) == 2);
        let line = std::fs::read_to_string(&file).unwrap();
        assert!(line.contains("event=block-release"), "{line}");
        assert_eq!(line.lines().count(), 1);
        let n = udp.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n])
            .unwrap()
            .ends_with("event=block-release inside=10.0.1.2 outside=203.0.113.1 ports=1024-1087"));

        // Logging turned off: what is queued still goes out, then the
        // destinations close; stop drains the rest.
        q.push(record(9_600_000_000, LogEvent::Reset, 0)).unwrap();
        log.configure(None);
        log.stop();
        assert_eq!(log.written.load(Relaxed), 3);
        assert_eq!(log.errors.load(Relaxed), 0);
        assert!(std::fs::read_to_string(&file).unwrap().ends_with("Z event=reset\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_planted_at_the_log_path_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("natlog-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (victim, link) = (dir.join("shadow"), dir.join("nat.log"));
        std::fs::write(&victim, "root:x:0:0\n").unwrap();
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let q = Arc::new(LogQueue::new(4));
        let conf = NatLogConf { file: Some(link.display().to_string()), syslog: None };
        let log = NatLog::start(vec![q.clone()], || 0, Some(conf));
        q.push(record(0, LogEvent::BlockAlloc, 1024)).unwrap();
        wait_for(|| log.errors.load(Relaxed) >= 1 && q.is_empty());
        log.stop();
        assert_eq!(log.written.load(Relaxed), 0);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:x:0:0\n", "not appended to");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_file_is_counted_not_fatal() {
        let q = Arc::new(LogQueue::new(4));
        let conf = NatLogConf { file: Some("/proc/no/such/dir/nat.log".into()), syslog: None };
        let log = NatLog::start(vec![q.clone()], || 0, Some(conf));
        q.push(record(0, LogEvent::BlockAlloc, 1024)).unwrap();
        wait_for(|| log.errors.load(Relaxed) >= 1 && q.is_empty());
        log.stop();
        assert_eq!(log.written.load(Relaxed), 0);
    }
}

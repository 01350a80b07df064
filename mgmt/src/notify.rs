//! The systemd service protocol (`sd_notify(3)`): `READY=1` once the ports
//! are up and the API listens, `WATCHDOG=1` while every worker makes
//! progress, `STOPPING=1` on the way out. Datagrams to `$NOTIFY_SOCKET`;
//! nothing at all when systemd did not ask (the variable is unset).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where systemd listens for this service's state.
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` names (a path, or `@name` for the
    /// abstract namespace); None when unset or unusable.
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let name = name.to_str()?;
        let to = match name.strip_prefix('@') {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(abstract_name.as_bytes()).ok()?
            }
            None => SocketAddr::from_pathname(name).ok()?,
        };
        let socket = UnixDatagram::unbound().ok()?;
        Some(Notifier { socket, to })
    }

    /// Sends `state` (newline-separated `KEY=VALUE` assignments).
    pub fn send(&self, state: &str) {
        if let Err(e) = self.socket.send_to_addr(state.as_bytes(), &self.to) {
            eprintln!("gatewayd: notifying systemd: {e}");
        }
    }
}

/// How often to tell the watchdog all is well: half its timeout
/// (`$WATCHDOG_USEC`), if it is set for this process (`$WATCHDOG_PID`
/// absent or ours).
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID") {
        if pid.to_str()?.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Whether every worker moved on since the last look: each worker's
/// cycle count (busy and idle, published as its loop runs) must have
/// changed. A worker stuck in a loop, or gone, stops the pings, and
/// systemd restarts the service.
#[derive(Default)]
pub struct Progress {
    last: Vec<u64>,
}

impl Progress {
    /// Takes the workers' cycle counts now; true if each differs from the
    /// previous look (the first look is always true).
    pub fn advanced(&mut self, now: Vec<u64>) -> bool {
        let moved = self.last.len() != now.len() || self.last.iter().zip(&now).all(|(a, b)| a != b);
        self.last = now;
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_stops_stops_the_pings() {
        let mut p = Progress::default();
        assert!(p.advanced(vec![10, 20]));
        assert!(p.advanced(vec![11, 25]));
        assert!(!p.advanced(vec![12, 25]), "the second worker is stuck");
        assert!(p.advanced(vec![13, 26]));
    }

    #[test]
    fn states_reach_the_socket_by_path() {
        let dir = std::env::temp_dir().join(format!("gw-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier { socket: UnixDatagram::unbound().unwrap(), to: SocketAddr::from_pathname(&path).unwrap() };
        n.send("READY=1\nSTATUS=up");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

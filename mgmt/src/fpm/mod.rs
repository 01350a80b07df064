//! Routes from FRR: the FPM listener that zebra's `dplane_fpm_nl` module
//! connects to (`routing.fpm.listen`).
//!
//! zebra sends every route it selects (and, with nexthop groups, the
//! nexthop objects first) when it connects, then each change. gatewayd
//! keeps them in a [`Rib`] of their own, apart from the config's static
//! routes and never written to the config file, and applies them to the
//! workers through the controller in batches: all that is waiting on the
//! socket (up to [`BATCH`] messages) is one new snapshot, and traffic to
//! routes a batch does not touch goes on as before.
//!
//! One connection at a time: a new one replaces the old. When the
//! connection drops, the learned routes stay for `routing.grace_s`, as
//! BGP graceful restart keeps a restarting peer's routes, then go. A
//! connection within that time marks them stale; zebra sends its whole
//! table again, and once it has been quiet for [`RESYNC_QUIET`] what it
//! did not send again is removed: the routes it did send never left.

pub mod netlink;
pub mod rib;

use crate::control::Controller;
use netlink::{frame, messages, Message, Protocol};
use rib::{Outcome, REFUSALS};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Most messages applied as one snapshot.
pub const BATCH: usize = 200_000;
/// After a reconnect, how long zebra must be quiet before the routes it
/// did not send again are taken as withdrawn (FPM has no end-of-table
/// marker).
pub const RESYNC_QUIET: Duration = Duration::from_secs(1);

/// The listener's counters, for `/metrics`.
#[derive(Default)]
pub struct FpmStats {
    /// 1 while zebra is connected.
    pub connected: AtomicU64,
    /// Connections accepted.
    pub sessions: AtomicU64,
    /// Netlink messages received.
    pub messages: AtomicU64,
    /// Messages not taken, by [`REFUSALS`] reason.
    pub refused: [AtomicU64; REFUSALS.len()],
    /// Snapshots applied, and those the tables refused (the previous
    /// tables stay).
    pub batches: AtomicU64,
    pub failures: AtomicU64,
    /// Routes removed as stale: at the end of a resync or of the grace time.
    pub swept: AtomicU64,
    /// Learned routes, by protocol ([`Protocol::NAMES`]).
    pub routes: [AtomicU64; Protocol::NAMES.len()],
}

impl FpmStats {
    fn refuse(&self, why: &str) {
        if let Some(c) = REFUSALS.iter().position(|&r| r == why).and_then(|i| self.refused.get(i)) {
            c.fetch_add(1, Relaxed);
        }
    }
}

/// Binds the listener (at start: a bad address stops gatewayd).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// How a connection ended.
enum End {
    Closed,
    Replaced(TcpStream),
}

/// Serves zebra's connections for as long as gatewayd runs.
pub async fn serve(listener: TcpListener, ctl: Arc<Controller>) {
    let mut next: Option<TcpStream> = None;
    let mut grace: Option<tokio::time::Instant> = None;
    loop {
        let stream = match next.take() {
            Some(s) => s,
            None => {
                let deadline = grace.unwrap_or_else(tokio::time::Instant::now);
                tokio::select! {
                    r = listener.accept() => match r {
                        Ok((s, _)) => s,
                        Err(e) => {
                            eprintln!("gatewayd: FPM accept: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = tokio::time::sleep_until(deadline), if grace.is_some() => {
                        grace = None;
                        let swept = {
                            let mut rib = ctl.learned.write().await;
                            rib.new_session();
                            rib.sweep()
                        };
                        eprintln!("gatewayd: FPM grace time over: {swept} learned route(s) removed");
                        ctl.fpm.swept.fetch_add(swept as u64, Relaxed);
                        commit(&ctl).await;
                        continue;
                    }
                }
            }
        };
        grace = None;
        let _ = stream.set_nodelay(true);
        match session(&ctl, stream, &listener).await {
            End::Replaced(s) => next = Some(s),
            End::Closed => {
                let secs = ctl.running().routing.grace_s;
                if !ctl.learned.read().await.is_empty() {
                    eprintln!("gatewayd: FPM connection closed: learned routes stay {secs} s");
                }
                grace = Some(tokio::time::Instant::now() + Duration::from_secs(u64::from(secs)));
            }
        }
    }
}

/// Applies the learned routes to the workers.
async fn commit(ctl: &Controller) {
    ctl.fpm.batches.fetch_add(1, Relaxed);
    if let Err(e) = ctl.apply_learned().await {
        ctl.fpm.failures.fetch_add(1, Relaxed);
        eprintln!("gatewayd: learned routes not applied, the previous tables stay: {}", e.summary());
    }
    let rib = ctl.learned.read().await;
    for (c, n) in ctl.fpm.routes.iter().zip(rib.counts()) {
        c.store(n, Relaxed);
    }
}

/// One connection, until it closes, breaks, or a new one replaces it.
async fn session(ctl: &Controller, mut stream: TcpStream, listener: &TcpListener) -> End {
    let resync = {
        let mut rib = ctl.learned.write().await;
        rib.new_session();
        rib.has_stale()
    };
    let mut resync_at = resync.then(|| Instant::now() + RESYNC_QUIET);
    ctl.fpm.sessions.fetch_add(1, Relaxed);
    ctl.fpm.connected.store(1, Relaxed);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 16];
    let end = loop {
        // Quiet for RESYNC_QUIET after a reconnect: the resync is over.
        let wait = resync_at.map_or(Duration::from_secs(3600), |t| t.saturating_duration_since(Instant::now()));
        let n = tokio::select! {
            r = stream.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break End::Closed,
                Ok(n) => n,
            },
            r = listener.accept() => match r {
                Ok((s, _)) => break End::Replaced(s),
                Err(_) => continue,
            },
            _ = tokio::time::sleep(wait), if resync_at.is_some() => {
                resync_at = None;
                let swept = ctl.learned.write().await.sweep();
                ctl.fpm.swept.fetch_add(swept as u64, Relaxed);
                if swept > 0 {
                    commit(ctl).await;
                }
                continue;
            }
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        // Everything already waiting joins the batch.
        while buf.len() < BATCH * 64 {
            match stream.try_read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        let mut batch: Vec<Message> = Vec::new();
        let mut used = 0;
        let broken = loop {
            match frame(buf.get(used..).unwrap_or_default()) {
                Ok(Some((len, body))) => {
                    batch.extend(body.into_iter().flat_map(messages));
                    used += len;
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        buf.drain(..used);
        if !batch.is_empty() {
            if resync_at.is_some() {
                resync_at = Some(Instant::now() + RESYNC_QUIET);
            }
            apply(ctl, batch).await;
        }
        if let Some(e) = broken {
            eprintln!("gatewayd: FPM stream broken ({e}): closing the connection");
            break End::Closed;
        }
    };
    ctl.fpm.connected.store(0, Relaxed);
    end
}

/// Applies a batch of messages to the learned routes, then (if any
/// changed them) to the workers.
async fn apply(ctl: &Controller, batch: Vec<Message>) {
    let limit = ctl.running().routing.max_routes as usize;
    ctl.fpm.messages.fetch_add(batch.len() as u64, Relaxed);
    let mut changed = false;
    {
        let mut rib = ctl.learned.write().await;
        for m in batch {
            match rib.apply(m, limit) {
                Outcome::Changed => changed = true,
                Outcome::Same => {}
                Outcome::Refused(why) => ctl.fpm.refuse(why),
            }
        }
    }
    if changed {
        commit(ctl).await;
    }
}

#[cfg(test)]
mod tests;

//! Routes from FRR: the FPM listener that zebra's `dplane_fpm_nl` module
//! connects to (`routing.fpm.listen`).
//!
//! zebra sends every route it selects (and, with nexthop groups, the
//! nexthop objects first) when it connects, then each change. gatewayd
//! keeps them in a [`Rib`] of their own, apart from the config's static
//! routes and never written to the config file, and applies them to the
//! workers through the controller in batches: messages that follow one
//! another closely (gaps under [`GATHER_QUIET`], for at most
//! [`GATHER_MAX`]) make one new snapshot, and traffic to routes a batch
//! does not touch goes on as before. A snapshot costs in proportion to
//! the whole table, so a table dump taken in a few batches goes in
//! faster than one taken in many.
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
use netlink::{frame, messages, Protocol};
use rib::{Outcome, REFUSALS};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A read that waits this long for more ends a batch.
pub const GATHER_QUIET: Duration = Duration::from_millis(10);
/// The longest a batch gathers messages before it is applied (how late
/// the first change of a long stream reaches the workers, at most).
pub const GATHER_MAX: Duration = Duration::from_secs(1);
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
    /// Snapshots made by changing the retired one in place, a route at a
    /// time (the rest were built whole).
    pub in_place: AtomicU64,
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
        // What follows closely joins the batch.
        let (mut taken, mut changed, mut closed) = (0, false, false);
        let started = Instant::now();
        let broken = loop {
            let (n, c, broken) = absorb(ctl, &mut buf).await;
            (taken, changed) = (taken + n, changed | c);
            if broken.is_some() || started.elapsed() >= GATHER_MAX {
                break broken;
            }
            match tokio::time::timeout(GATHER_QUIET, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break None;
                }
                Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(_) => break None, // quiet: the batch is whole
            }
        };
        if taken > 0 && resync_at.is_some() {
            resync_at = Some(Instant::now() + RESYNC_QUIET);
        }
        if changed {
            commit(ctl).await;
        }
        if let Some(e) = broken {
            eprintln!("gatewayd: FPM stream broken ({e}): closing the connection");
            break End::Closed;
        }
        if closed {
            break End::Closed;
        }
    };
    ctl.fpm.connected.store(0, Relaxed);
    end
}

/// Applies every whole frame in `buf` to the learned routes and takes
/// it out of `buf`: how many messages, whether any changed the table,
/// and what broke the stream, if something did.
async fn absorb(ctl: &Controller, buf: &mut Vec<u8>) -> (usize, bool, Option<netlink::FrameError>) {
    let limit = ctl.running().routing.max_routes as usize;
    let (mut taken, mut changed, mut used) = (0, false, 0);
    let mut rib = ctl.learned.write().await;
    let broken = loop {
        match frame(buf.get(used..).unwrap_or_default()) {
            Ok(Some((len, body))) => {
                for m in body.into_iter().flat_map(messages) {
                    taken += 1;
                    match rib.apply(m, limit) {
                        Outcome::Changed => changed = true,
                        Outcome::Same => {}
                        Outcome::Refused(why) => ctl.fpm.refuse(why),
                    }
                }
                used += len;
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    drop(rib);
    buf.drain(..used);
    ctl.fpm.messages.fetch_add(taken as u64, Relaxed);
    (taken, changed, broken)
}

#[cfg(test)]
mod tests;

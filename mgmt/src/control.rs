//! The control plane's state and the one way to change it.
//!
//! Every change, whatever endpoint it comes from, goes through
//! [`Controller::apply`]: validate the whole candidate config, refuse
//! fields that need a restart, build a new [`Tables`] snapshot, save the
//! file atomically (for commits), publish the snapshot, wait until every
//! worker has moved to it, then free the old one here, so no worker ever
//! frees a snapshot. Changes are serialised by one lock;
//! readers never take it. Every attempt is written to the audit log.

use crate::audit::{AuditEntry, AuditLog};
use crate::config::{err, Config, ConfigError};
use crate::fpm::rib::Changes;
use crate::persist::save_atomic;
use crate::tables;
use arc_swap::ArcSwap;
use dataplane::{NatMailbox, TableDump, WorkerStats};
use serde_json::Value;
use sha2::{Digest, Sha256};
use stack::neigh::{NeighborInfo, State as NeighState};
use stack::tcp::ConnInfo;
use stack::udp::SocketStats;
use stack::wire::MacAddr;
use stack::{IpCidr, RouteChange, Tables};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a change waits for the workers to pick up its snapshot.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a NAT question waits for its worker (a filtered listing of a
/// large table takes a few hundred loops).
const NAT_TIMEOUT: Duration = Duration::from_secs(5);

/// Who asked for a change, for the audit log.
#[derive(Clone, Debug, Default)]
pub struct Who {
    pub token: String,
    pub remote: String,
    /// `METHOD /path`.
    pub request: String,
}

/// Why a change was not applied.
#[derive(Debug)]
pub enum ApplyError {
    /// The candidate config is wrong; nothing changed.
    Invalid(Vec<ConfigError>),
    /// The thing to change does not exist.
    NotFound(String),
    /// The change conflicts with the current state (a pending confirmed
    /// commit, a stale ETag).
    Conflict(String),
    /// `If-Match` did not match the running config's ETag.
    PreconditionFailed(String),
    /// Saving or publishing failed; nothing changed.
    Failed(String),
    /// Validation ran past [`VALIDATE_BUDGET`]; nothing changed.
    TooSlow(String),
}

/// Longest a config's validation may take (it is linear in the config,
/// whose size `management.max_body_bytes` bounds: well under a second
/// for the largest).
pub const VALIDATE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// One validation at a time: however many callers ask, validating takes
/// at most one core.
static VALIDATING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Validates `cfg` on a blocking thread, off the async executor (the API
/// keeps answering meanwhile), one at a time, within [`VALIDATE_BUDGET`].
pub async fn validate(cfg: &Config) -> Result<(), ApplyError> {
    let budget = || ApplyError::TooSlow(format!("validation took longer than {} s", VALIDATE_BUDGET.as_secs()));
    let started = tokio::time::Instant::now();
    let _permit = tokio::time::timeout(VALIDATE_BUDGET, VALIDATING.acquire()).await.map_err(|_| budget())?;
    let cfg = cfg.clone();
    let left = VALIDATE_BUDGET.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, tokio::task::spawn_blocking(move || cfg.validate())).await {
        Ok(Ok(r)) => r.map_err(ApplyError::Invalid),
        Ok(Err(e)) => Err(ApplyError::Failed(format!("validation stopped: {e}"))),
        Err(_) => Err(budget()),
    }
}

impl ApplyError {
    pub fn summary(&self) -> String {
        match self {
            ApplyError::Invalid(errs) => errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            ApplyError::NotFound(m)
            | ApplyError::Conflict(m)
            | ApplyError::PreconditionFailed(m)
            | ApplyError::Failed(m)
            | ApplyError::TooSlow(m) => m.clone(),
        }
    }
}

/// What an applied change did.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// Config generation now running.
    pub generation: u64,
    /// ETag of the running config.
    pub etag: String,
    /// The fields that changed, `path: old -> new`.
    pub changes: Vec<String>,
    /// Set for a confirmed commit: when it is rolled back unless confirmed
    /// (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_at: Option<String>,
}

/// A neighbor as the API lists it: merged over workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    pub info: NeighborInfo,
    /// Workers whose cache holds it.
    pub workers: usize,
}

/// A MAC table entry as the API lists it: merged over workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacEntry {
    /// `seen` holds the age in nanoseconds.
    pub info: stack::mac_table::MacInfo,
    /// Workers whose table holds it.
    pub workers: usize,
}

/// A port the gateway started.
#[derive(Clone, Debug)]
pub struct PortHandle {
    pub name: String,
    pub id: u16,
    pub mac: MacAddr,
}

/// The dataplane as the controller sees it.
pub struct Hooks {
    pub snapshot: Arc<ArcSwap<Tables>>,
    /// The NAT rules, published just before each snapshot.
    pub nat: Arc<ArcSwap<nat::Rules>>,
    pub workers: Vec<Arc<WorkerStats>>,
    pub dumps: Vec<Arc<TableDump>>,
    /// NAT mailboxes, one per worker.
    pub nat_queries: Vec<Arc<NatMailbox>>,
    /// The NAT log writer (none in tests without workers).
    pub nat_log: Option<Arc<crate::natlog::NatLog>>,
    /// The punt thread's counters, when it runs.
    pub punt: Option<Arc<crate::punt::PuntStats>>,
    /// The tunnels' path MTU estimates, when workers run.
    pub path_mtus: Option<PathMtuHook>,
}

/// The workers' shared path MTU estimates ([`stack::path_mtu`]) and
/// their clock, to read them as the workers do.
#[derive(Clone)]
pub struct PathMtuHook {
    pub table: Arc<stack::path_mtu::PathMtus>,
    pub now: Arc<dyn Fn() -> u64 + Send + Sync>,
}

struct Pending {
    id: u64,
    previous: Config,
    deadline: SystemTime,
}

struct State {
    /// The last config saved to the file.
    committed: Config,
    pending: Option<Pending>,
    neighbor_epoch: u64,
    /// Flushes asked for per bridge name (each bridge's `flush_epoch`).
    mac_flushes: BTreeMap<String, u64>,
    next_pending: u64,
    /// The snapshot before the running one, kept to be changed in place
    /// into the next one when only learned routes change.
    spare: Option<Spare>,
}

/// Route changes and the prefixes that need a full build: what sets a
/// [`Spare`] level with the snapshot they made.
type Behind = (Vec<RouteChange>, Arc<HashSet<IpCidr>>);

/// Sets the neighbor flush epoch `epoch` and each bridge's MAC flush
/// epoch on a snapshot built whole.
fn stamp_epochs(st: &State, t: &mut Tables, epoch: u64) {
    t.neighbor_epoch = epoch;
    for b in &mut t.bridges {
        b.flush_epoch = st.mac_flushes.get(&b.name).copied().unwrap_or(0);
    }
}

/// A retired snapshot and what sets it level with the running one.
/// Workers read one snapshot while the control plane changes the other
/// (which no worker holds once all have taken the running one), so a
/// learned route changed costs the entries it covers, not a table.
struct Spare {
    tables: Arc<Tables>,
    /// The route changes that made the running snapshot from this one.
    behind: Vec<RouteChange>,
    /// The prefixes that need a full build ([`tables::base_prefixes`]).
    base: Arc<HashSet<IpCidr>>,
}

/// The control plane.
pub struct Controller {
    state: tokio::sync::Mutex<State>,
    running: ArcSwap<Config>,
    hooks: Hooks,
    pub ports: Vec<PortHandle>,
    path: PathBuf,
    audit: AuditLog,
    generation: AtomicU64,
    last_apply_ms: AtomicU64,
    dump_seq: AtomicU64,
    /// One NAT question at a time.
    nat_lock: tokio::sync::Mutex<()>,
    /// Routes learned from the routing daemon (FPM), and its listener's
    /// counters.
    pub learned: tokio::sync::RwLock<crate::fpm::rib::Rib>,
    pub fpm: Arc<crate::fpm::FpmStats>,
}

/// The ETag of a config: a hash of its canonical JSON.
pub fn etag(cfg: &Config) -> String {
    let json = serde_json::to_vec(cfg).unwrap_or_default();
    format!("\"{}\"", &crate::auth::hex(&Sha256::digest(&json))[..16])
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn flatten(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(v, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path, other.to_string());
        }
    }
}

/// The fields that differ, `path: old -> new` (at most 100).
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(&serde_json::to_value(old).unwrap_or_default(), String::new(), &mut a);
    flatten(&serde_json::to_value(new).unwrap_or_default(), String::new(), &mut b);
    let mut out = Vec::new();
    for (k, v) in &a {
        match b.get(k) {
            Some(w) if w == v => {}
            Some(w) => out.push(format!("{k}: {v} -> {w}")),
            None => out.push(format!("{k}: {v} -> (removed)")),
        }
    }
    for (k, w) in &b {
        if !a.contains_key(k) {
            out.push(format!("{k}: (none) -> {w}"));
        }
    }
    if out.len() > 100 {
        let n = out.len();
        out.truncate(100);
        out.push(format!("... and {} more", n - 100));
    }
    out
}

/// Interfaces in the order that gives them their index; a change here
/// renumbers interfaces, so learned neighbors are flushed.
/// Most sessions a plan looks at to count those a change of port
/// forwards ends.
const PLAN_SCAN: usize = 1_000_000;

fn iface_layout(c: &Config) -> Vec<(&str, &str, Option<u16>, Option<&str>)> {
    c.interfaces.iter().map(|i| (i.name.as_str(), i.port.as_str(), i.vlan, i.bridge.as_deref())).collect()
}

impl Controller {
    /// Takes over a running dataplane whose snapshot (generation 1) was
    /// built from `cfg`, loaded from `path`.
    pub fn new(cfg: Config, path: PathBuf, ports: Vec<PortHandle>, hooks: Hooks, audit: AuditLog) -> Arc<Controller> {
        let generation = hooks.snapshot.load().generation;
        let punt_twins = hooks.punt.as_ref().and_then(|p| p.twins.lock().ok().map(|t| t.clone())).unwrap_or_default();
        Arc::new(Controller {
            state: tokio::sync::Mutex::new(State {
                committed: cfg.clone(),
                pending: None,
                neighbor_epoch: 0,
                mac_flushes: BTreeMap::new(),
                next_pending: 1,
                spare: None,
            }),
            running: ArcSwap::from_pointee(cfg),
            hooks,
            ports,
            path,
            audit,
            generation: AtomicU64::new(generation),
            last_apply_ms: AtomicU64::new(now_ms()),
            dump_seq: AtomicU64::new(0),
            nat_lock: tokio::sync::Mutex::new(()),
            learned: tokio::sync::RwLock::new({
                let mut rib = crate::fpm::rib::Rib::default();
                rib.twins = punt_twins;
                rib
            }),
            fpm: Arc::default(),
        })
    }

    /// The punt thread's counters, if it runs.
    pub fn punt_stats(&self) -> Option<&Arc<crate::punt::PuntStats>> {
        self.hooks.punt.as_ref()
    }

    /// The NAT log writer, if the gateway runs one.
    pub fn nat_log(&self) -> Option<&Arc<crate::natlog::NatLog>> {
        self.hooks.nat_log.as_ref()
    }

    /// The running config.
    pub fn running(&self) -> Arc<Config> {
        self.running.load_full()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Unix time of the last applied change (or of the start), in ms.
    pub fn last_apply_ms(&self) -> u64 {
        self.last_apply_ms.load(Relaxed)
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Tables>> {
        self.hooks.snapshot.load()
    }

    /// The MTU a tunnel interface's packets must fit now: its own, or
    /// less if the underlay reported a narrower path. None for other
    /// interfaces, or without workers.
    pub fn tunnel_mtu(&self, ifc: &stack::Interface) -> Option<u16> {
        let (tun, hook) = (ifc.tunnel?, self.hooks.path_mtus.as_ref()?);
        Some(hook.table.of_tunnel(&tun, ifc.mtu, (hook.now)()))
    }

    pub fn workers(&self) -> &[Arc<WorkerStats>] {
        &self.hooks.workers
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The deadline of a pending confirmed commit, if one is pending.
    pub async fn pending(&self) -> Option<SystemTime> {
        self.state.lock().await.pending.as_ref().map(|p| p.deadline)
    }

    /// Changes the running config with `edit` and commits the result
    /// (applied and saved). `edit` may refuse with NotFound/Invalid.
    pub async fn change(
        &self,
        who: &Who,
        action: &str,
        edit: impl FnOnce(&mut Config) -> Result<(), ApplyError>,
    ) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        let result = match Self::refuse_if_pending(&st) {
            Err(e) => Err(e),
            Ok(()) => {
                let mut candidate = (*self.running()).clone();
                match edit(&mut candidate) {
                    Ok(()) => self.apply(&mut st, candidate, true).await,
                    Err(e) => Err(e),
                }
            }
        };
        self.record(who, action, &result);
        result
    }

    /// `Err` unless `if_match` is the running config's ETag (or `*`).
    /// Called with the state lock held, so no change slips in between the
    /// check and the apply.
    fn check_etag(&self, if_match: &str) -> Result<(), ApplyError> {
        let current = etag(&self.running());
        if if_match != current && if_match != "*" {
            return Err(ApplyError::PreconditionFailed(format!(
                "If-Match {if_match} does not match the running config's ETag {current}: read it again and redo the change"
            )));
        }
        Ok(())
    }

    /// Replaces the whole config; `if_match` must be the running ETag.
    pub async fn replace(&self, who: &Who, candidate: Config, if_match: &str) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        let result = if let Err(e) = self.check_etag(if_match) {
            Err(e)
        } else {
            match Self::refuse_if_pending(&st) {
                Err(e) => Err(e),
                Ok(()) => self.apply(&mut st, candidate, true).await,
            }
        };
        self.record(who, "replace the config", &result);
        result
    }

    /// Applies `candidate`; with `confirm`, rolls it back after that long
    /// unless [`confirm`](Self::confirm) is called, and saves it only on
    /// confirmation (a restart meanwhile comes back to the last committed
    /// config). With `if_match`, only if the running config's ETag is
    /// that, checked under the state lock.
    pub async fn commit(
        self: &Arc<Self>,
        who: &Who,
        candidate: Config,
        confirm: Option<Duration>,
        if_match: Option<&str>,
    ) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        if let Some(Err(e)) = if_match.map(|t| self.check_etag(t)) {
            let refused = Err(e);
            self.record(who, "commit", &refused);
            return refused;
        }
        let action = match confirm {
            Some(d) => format!("commit, rolled back unless confirmed within {} s", d.as_secs()),
            None => "commit".to_string(),
        };
        let result = match Self::refuse_if_pending(&st) {
            Err(e) => Err(e),
            Ok(()) => match confirm {
                None => self.apply(&mut st, candidate, true).await,
                Some(d) => {
                    let previous = st.committed.clone();
                    match self.apply(&mut st, candidate, false).await {
                        Ok(mut a) => {
                            let id = st.next_pending;
                            st.next_pending += 1;
                            let deadline = SystemTime::now() + d;
                            st.pending = Some(Pending { id, previous, deadline });
                            a.rollback_at = Some(humantime::format_rfc3339_seconds(deadline).to_string());
                            let me = self.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(d).await;
                                me.expire(id).await;
                            });
                            Ok(a)
                        }
                        Err(e) => Err(e),
                    }
                }
            },
        };
        self.record(who, &action, &result);
        result
    }

    /// Keeps a pending confirmed commit: saves it.
    pub async fn confirm(&self, who: &Who) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        let result = match st.pending.take() {
            None => Err(ApplyError::Conflict("no confirmed commit is pending".into())),
            Some(p) => {
                let running = self.running();
                match save_atomic(&self.path, running.to_yaml().as_bytes()) {
                    Ok(()) => {
                        let changes = diff(&st.committed, &running);
                        st.committed = (*running).clone();
                        Ok(Applied { generation: self.generation(), etag: etag(&running), changes, rollback_at: None })
                    }
                    Err(e) => {
                        st.pending = Some(p);
                        Err(ApplyError::Failed(format!("saving {}: {e}", self.path.display())))
                    }
                }
            }
        };
        self.record(who, "confirm the pending commit", &result);
        result
    }

    /// Rolls a pending confirmed commit back now.
    pub async fn cancel(&self, who: &Who) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        let result = match st.pending.take() {
            None => Err(ApplyError::Conflict("no confirmed commit is pending".into())),
            Some(p) => self.apply(&mut st, p.previous, false).await,
        };
        self.record(who, "cancel the pending commit (roll back)", &result);
        result
    }

    async fn expire(&self, id: u64) {
        let mut st = self.state.lock().await;
        if st.pending.as_ref().map(|p| p.id) != Some(id) {
            return; // confirmed or cancelled meanwhile
        }
        let Some(p) = st.pending.take() else { return };
        let result = self.apply(&mut st, p.previous, false).await;
        let who = Who { token: "-".into(), remote: "-".into(), request: "timer".into() };
        self.record(&who, "roll back: the commit was not confirmed in time", &result);
    }

    /// Flushes every worker's learned neighbors (static ones stay).
    pub async fn flush_neighbors(&self, who: &Who) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        st.neighbor_epoch += 1;
        let result = self.apply(&mut st, (*self.running()).clone(), false).await;
        self.record(who, "flush learned neighbors", &result);
        result
    }

    /// Flushes every worker's learned MAC addresses on one bridge.
    pub async fn flush_macs(&self, who: &Who, bridge: &str) -> Result<Applied, ApplyError> {
        let mut st = self.state.lock().await;
        let result = if self.running().bridges.iter().any(|b| b.name == bridge) {
            *st.mac_flushes.entry(bridge.to_string()).or_insert(0) += 1;
            self.apply(&mut st, (*self.running()).clone(), false).await
        } else {
            Err(ApplyError::NotFound(format!("no bridge is named '{bridge}'")))
        };
        self.record(who, &format!("flush MAC table of {bridge}"), &result);
        result
    }

    fn refuse_if_pending(st: &State) -> Result<(), ApplyError> {
        match &st.pending {
            Some(p) => Err(ApplyError::Conflict(format!(
                "a confirmed commit is pending until {}: confirm or cancel it first",
                humantime::format_rfc3339_seconds(p.deadline)
            ))),
            None => Ok(()),
        }
    }

    /// Whether `candidate` may replace the running config: every problem
    /// by field, fields that need a restart included. Returns the running
    /// config it was checked against.
    async fn admit(&self, candidate: &Config) -> Result<Arc<Config>, ApplyError> {
        validate(candidate).await?;
        let running = self.running();
        let restart = running.restart_only_changes(candidate);
        if !restart.is_empty() {
            return Err(ApplyError::Invalid(restart));
        }
        Ok(running)
    }

    /// The tables `candidate` makes on this gateway's ports, with the
    /// learned routes `rib`.
    fn tables_for(
        &self,
        candidate: &Config,
        rib: &crate::fpm::rib::Rib,
        generation: u64,
    ) -> Result<Tables, ApplyError> {
        let ids: Vec<u16> = self.ports.iter().map(|p| p.id).collect();
        let macs: Vec<MacAddr> = self.ports.iter().map(|p| p.mac).collect();
        tables::build_with(candidate, rib, &ids, &macs, generation)
            .map_err(|e| ApplyError::Invalid(vec![err("routes", e.to_string())]))
    }

    /// The snapshot `cfg` and the learned routes make, with the neighbor
    /// flush epoch `epoch` and each bridge's MAC flush epoch (state lock
    /// held).
    async fn snapshot_for(&self, st: &State, cfg: &Config, epoch: u64, generation: u64) -> Result<Tables, ApplyError> {
        let mut t = {
            let rib = self.learned.read().await;
            self.tables_for(cfg, &rib, generation)?
        };
        stamp_epochs(st, &mut t, epoch);
        Ok(t)
    }

    /// Applies the learned routes as they are now, with the running
    /// config: a new snapshot, nothing saved, nothing in the audit log
    /// (the routing daemon logs its own changes). Returns the generation.
    ///
    /// When only routes of their own changed (not a nexthop object, not
    /// a prefix the config or an interface has), the retired snapshot is
    /// changed in place: the changes that made the running one, then
    /// these. Otherwise the whole snapshot is built again.
    pub async fn apply_learned(&self) -> Result<u64, ApplyError> {
        let mut st = self.state.lock().await;
        let running = self.running();
        let generation = self.generation() + 1;
        let current = self.hooks.snapshot.load_full();
        let (t, behind) = {
            let mut rib = self.learned.write().await;
            // What the next spare will need, if it is known.
            let behind = match rib.take_changes() {
                Changes::Prefixes(p) => {
                    let base = st.spare.as_ref().map_or_else(
                        || Arc::new(tables::base_prefixes(&running, &current.ifaces)),
                        |s| Arc::clone(&s.base),
                    );
                    tables::learned_changes(&rib, &p, &base, &current.ifaces).map(|c| (c, base))
                }
                Changes::Whole => None,
            };
            let in_place = match (behind, st.spare.take()) {
                (Some(b), Some(spare)) => Self::change_in_place(spare, &current, b, generation).map_err(Some),
                (behind, _) => Err(behind),
            };
            match in_place {
                Ok((t, b)) => {
                    self.fpm.in_place.fetch_add(1, Relaxed);
                    (t, Some(b))
                }
                Err(behind) => {
                    let mut t = self.tables_for(&running, &rib, generation)?;
                    stamp_epochs(&st, &mut t, st.neighbor_epoch);
                    (Arc::new(t), behind)
                }
            }
        };
        let old = self.hooks.snapshot.swap(t);
        drop(current);
        self.wait_for_workers(generation).await;
        // The running snapshot before this one is the next one's spare,
        // if what set them apart is known.
        st.spare = behind.map(|(behind, base)| Spare { tables: old, behind, base });
        self.generation.store(generation, Relaxed);
        drop(st);
        Ok(generation)
    }

    /// The spare snapshot made level with `current` and then changed by
    /// `behind`'s changes, as `generation`; or, if a worker or reader may
    /// still hold it, or a change fails, `behind` back for a full build.
    fn change_in_place(
        mut spare: Spare,
        current: &Tables,
        behind: Behind,
        generation: u64,
    ) -> Result<(Arc<Tables>, Behind), Behind> {
        let Some(t) = Arc::get_mut(&mut spare.tables) else { return Err(behind) };
        if t.generation + 1 != current.generation
            || t.apply_routes(&spare.behind, generation).is_err()
            || t.apply_routes(&behind.0, generation).is_err()
        {
            return Err(behind);
        }
        // Epochs as the running snapshot has them (no config came between).
        t.neighbor_epoch = current.neighbor_epoch;
        for (b, c) in t.bridges.iter_mut().zip(&current.bridges) {
            b.flush_epoch = c.flush_epoch;
        }
        Ok((spare.tables, behind))
    }

    /// The one path a config takes to the workers (state lock held).
    async fn apply(&self, st: &mut State, candidate: Config, save: bool) -> Result<Applied, ApplyError> {
        let running = self.admit(&candidate).await?;
        let epoch = st.neighbor_epoch + u64::from(iface_layout(&running) != iface_layout(&candidate));
        let generation = self.generation() + 1;
        let t = self.snapshot_for(st, &candidate, epoch, generation).await?;
        if save {
            save_atomic(&self.path, candidate.to_yaml().as_bytes())
                .map_err(|e| ApplyError::Failed(format!("saving {}: {e}", self.path.display())))?;
        }
        let nat_rules = tables::nat_rules(&candidate, &t);
        // The writer knows where records go before workers make them.
        if let Some(log) = &self.hooks.nat_log {
            log.configure(candidate.nat.log.clone());
        }
        // The previous rules, like the previous snapshot, are kept until
        // every worker has moved on, so their last reference goes here,
        // not in a worker.
        let old_rules = (**self.hooks.nat.load() != nat_rules).then(|| self.hooks.nat.swap(Arc::new(nat_rules)));
        let old = self.hooks.snapshot.swap(Arc::new(t));
        self.wait_for_workers(generation).await;
        drop(old); // the last reference: freed here, not in a worker
        drop(old_rules);
        // A config between them: the retired snapshot is not one route
        // change away from this one.
        st.spare = None;
        st.neighbor_epoch = epoch;
        let changes = diff(&running, &candidate);
        let tag = etag(&candidate);
        if save {
            st.committed = candidate.clone();
        }
        self.running.store(Arc::new(candidate));
        self.generation.store(generation, Relaxed);
        self.last_apply_ms.store(now_ms(), Relaxed);
        Ok(Applied { generation, etag: tag, changes, rollback_at: None })
    }

    async fn wait_for_workers(&self, generation: u64) {
        let t0 = Instant::now();
        while t0.elapsed() < ACK_TIMEOUT {
            // u64::MAX: a stopped worker, which holds no snapshot.
            if self.hooks.workers.iter().all(|w| w.generation.load(Acquire) >= generation) {
                return;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        eprintln!("gatewayd: a worker did not take generation {generation} within {ACK_TIMEOUT:?}");
    }

    fn record(&self, who: &Who, action: &str, result: &Result<Applied, ApplyError>) {
        let (outcome, detail, changes) = match result {
            Ok(a) => ("applied", String::new(), a.changes.clone()),
            Err(ApplyError::Failed(m)) => ("failed", m.clone(), vec![]),
            Err(e) => ("rejected", e.summary(), vec![]),
        };
        let e = AuditEntry {
            seq: 0,
            time: String::new(),
            token: who.token.clone(),
            remote: who.remote.clone(),
            request: who.request.clone(),
            action: action.to_string(),
            changes,
            outcome: outcome.into(),
            detail,
            generation: self.generation(),
        };
        if let Err(err) = self.audit.append(e) {
            eprintln!("gatewayd: writing the audit log {}: {err}", self.audit.path().display());
        }
    }

    /// Every worker's UDP sockets' counts, summed by address.
    pub async fn sockets(&self) -> BTreeMap<SocketAddr, SocketStats> {
        self.dump().await;
        let mut sum: BTreeMap<SocketAddr, SocketStats> = BTreeMap::new();
        for d in &self.hooks.dumps {
            let v = d.sockets.lock().unwrap_or_else(|p| p.into_inner());
            for (a, s) in v.iter() {
                let t = sum.entry(*a).or_default();
                t.rx_datagrams += s.rx_datagrams;
                t.rx_bytes += s.rx_bytes;
                t.rx_dropped += s.rx_dropped;
                t.tx_datagrams += s.tx_datagrams;
                t.tx_bytes += s.tx_bytes;
            }
        }
        sum
    }

    /// Every worker's TCP connections, with the worker's index.
    pub async fn tcp_connections(&self) -> Vec<(usize, ConnInfo)> {
        self.dump().await;
        let mut all = Vec::new();
        for (w, d) in self.hooks.dumps.iter().enumerate() {
            let v = d.connections.lock().unwrap_or_else(|p| p.into_inner());
            all.extend(v.iter().map(|c| (w, *c)));
        }
        all.sort_by_key(|(_, c)| (c.local, c.remote));
        all
    }

    /// Every worker's MAC entries, merged: one per (bridge, MAC), the
    /// most recently seen one (its member and age) winning.
    pub async fn macs(&self) -> Vec<MacEntry> {
        self.dump().await;
        let mut merged: BTreeMap<(u16, [u8; 6]), MacEntry> = BTreeMap::new();
        for d in &self.hooks.dumps {
            let v = d.macs.lock().unwrap_or_else(|p| p.into_inner());
            for e in v.iter() {
                let m = merged.entry((e.bridge, e.mac.0)).or_insert(MacEntry { info: *e, workers: 0 });
                m.workers += 1;
                if e.seen < m.info.seen {
                    m.info = *e;
                }
            }
        }
        merged.into_values().collect()
    }

    /// Asks every worker for a dump and waits for the answers (or for
    /// `ACK_TIMEOUT`).
    async fn dump(&self) {
        let seq = self.dump_seq.fetch_add(1, Relaxed) + 1;
        for d in &self.hooks.dumps {
            d.requested.store(seq, Relaxed);
        }
        let t0 = Instant::now();
        let stopped = |i: usize| self.hooks.workers.get(i).is_none_or(|w| w.generation.load(Relaxed) == u64::MAX);
        while t0.elapsed() < ACK_TIMEOUT {
            if self.hooks.dumps.iter().enumerate().all(|(i, d)| d.served.load(Acquire) >= seq || stopped(i)) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Workers (NAT tables) there are.
    pub fn nat_workers(&self) -> usize {
        self.hooks.nat_queries.len()
    }

    /// Asks worker `w`'s NAT: the answer, and the worker's clock when it
    /// answered. `None` if the worker does not answer in time (stopped).
    pub async fn nat_ask(&self, w: usize, req: nat::Request) -> Option<(nat::Answer, u64)> {
        let mb = self.hooks.nat_queries.get(w)?;
        let stopped = || self.hooks.workers.get(w).is_none_or(|s| s.generation.load(Relaxed) == u64::MAX);
        let _one = self.nat_lock.lock().await;
        let seq = {
            let mut slot = mb.slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.request = Some(req);
            slot.answer = nat::Answer::with_capacity(req.limit);
            let seq = mb.requested.load(Relaxed) + 1;
            mb.requested.store(seq, Relaxed);
            seq
        };
        let t0 = Instant::now();
        while mb.served.load(Acquire) < seq {
            if t0.elapsed() > NAT_TIMEOUT || stopped() {
                return None;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let mut slot = mb.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.request = None;
        Some((std::mem::take(&mut slot.answer), slot.now))
    }

    /// What applying `candidate` would change, applying nothing: refused
    /// as `apply` would refuse it (every problem, by field), else the
    /// [`Plan`](crate::plan::Plan) with the NAT sessions it would end now.
    pub async fn plan(&self, candidate: &Config) -> Result<crate::plan::Plan, ApplyError> {
        let running = self.admit(candidate).await?;
        let mut plan = crate::plan::sections(&running, candidate);
        plan.neighbors_flushed = iface_layout(&running) != iface_layout(candidate);
        let t = {
            let rib = self.learned.read().await;
            self.tables_for(candidate, &rib, 0)?
        };
        let next = tables::nat_rules(candidate, &t);
        let now = self.hooks.nat.load_full();
        plan.nat_reset = now.resets_sessions(&next);
        if plan.nat_reset {
            plan.sessions_ended = self.hooks.workers.iter().map(|w| w.nat_sessions.load(Relaxed)).sum();
        } else if now.forwards != next.forwards {
            let (ended, partial) = self.sessions_displaced(&now.forwards, &next.forwards).await?;
            plan.sessions_ended = ended;
            plan.sessions_counted_in_part = partial;
        }
        Ok(plan)
    }

    /// The sessions a change of port forwards from `old` to `new` ends (as
    /// `Nat::set_rules` ends them): those of each forward removed, and of
    /// the dynamic mappings on a new forward's outside port or inside
    /// endpoint. Counted by asking the workers for the sessions of those
    /// addresses, at most [`PLAN_SCAN`] of them; true if it stopped there.
    async fn sessions_displaced(&self, old: &[nat::Forward], new: &[nat::Forward]) -> Result<(u64, bool), ApplyError> {
        let gone: Vec<&nat::Forward> = old.iter().filter(|f| !new.contains(f)).collect();
        let added: Vec<&nat::Forward> = new.iter().filter(|f| !old.contains(f)).collect();
        let ends = |s: &nat::SessionInfo| {
            gone.iter().any(|f| f.proto == s.proto && f.outside == s.outside)
                || added.iter().any(|f| f.proto == s.proto && (f.outside == s.outside || f.inside == s.inside))
        };
        let mut queries: Vec<nat::Query> = Vec::new();
        for f in gone.iter().chain(&added) {
            queries.push(nat::Query::Sessions { inside: None, outside: Some(f.outside.0) });
        }
        for f in &added {
            queries.push(nat::Query::Sessions { inside: Some(f.inside.0), outside: None });
        }
        queries.dedup();
        let mut seen = std::collections::HashSet::new();
        let mut scanned = 0usize;
        for q in queries {
            for w in 0..self.nat_workers() {
                let mut from = 0;
                loop {
                    if scanned >= PLAN_SCAN {
                        return Ok((seen.len() as u64, true));
                    }
                    let Some((answer, _)) = self.nat_ask(w, nat::Request::new(q, from, 1000)).await else {
                        return Err(ApplyError::Failed(format!("worker {w} did not answer; try again")));
                    };
                    scanned += answer.sessions.len();
                    for s in answer.sessions.iter().filter(|s| ends(s)) {
                        seen.insert((w, s.proto, s.outside, s.remote));
                    }
                    match answer.next {
                        Some(n) => from = n,
                        None => break,
                    }
                }
            }
        }
        Ok((seen.len() as u64, false))
    }

    /// Ends the NAT session with this outside endpoint and remote, on
    /// whichever worker holds it; audited.
    pub async fn delete_nat_session(
        &self,
        who: &Who,
        proto: u8,
        outside: (std::net::Ipv4Addr, u16),
        remote: (std::net::Ipv4Addr, u16),
    ) -> Result<Applied, ApplyError> {
        let what = format!(
            "end NAT session {} {}:{} <-> {}:{}",
            nat::protocol_name(proto),
            outside.0,
            outside.1,
            remote.0,
            remote.1
        );
        let query = nat::Query::Delete { proto, outside, remote };
        let mut result =
            Err(ApplyError::NotFound(format!("no NAT session {}", what.trim_start_matches("end NAT session "))));
        for w in 0..self.nat_workers() {
            match self.nat_ask(w, nat::Request::new(query, 0, 1)).await {
                Some((a, _)) if a.deleted => {
                    result = Ok(Applied {
                        generation: self.generation(),
                        etag: etag(&self.running()),
                        changes: vec![format!("{what}: ended on worker {w}")],
                        rollback_at: None,
                    });
                    break;
                }
                Some(_) => {}
                None => {
                    result = Err(ApplyError::Failed(format!("worker {w} did not answer within {NAT_TIMEOUT:?}")));
                    break;
                }
            }
        }
        self.record(who, &what, &result);
        result
    }

    /// Every worker's neighbors, merged: one entry per (interface, IP),
    /// with the most confident state any worker has.
    pub async fn neighbors(&self) -> Vec<Neighbor> {
        self.dump().await;
        let rank = |s: NeighState| match s {
            NeighState::Static => 4,
            NeighState::Reachable => 3,
            NeighState::Stale | NeighState::Delay => 2,
            NeighState::Probe => 1,
            NeighState::Incomplete => 0,
        };
        let mut merged: BTreeMap<(u16, std::net::IpAddr), Neighbor> = BTreeMap::new();
        for d in &self.hooks.dumps {
            let v = d.entries.lock().unwrap_or_else(|p| p.into_inner());
            for e in v.iter() {
                let n = merged.entry((e.ifindex, e.ip)).or_insert(Neighbor { info: *e, workers: 0 });
                n.workers += 1;
                if rank(e.state) > rank(n.info.state) {
                    n.info = *e;
                }
            }
        }
        merged.into_values().collect()
    }
}

#[cfg(test)]
mod tests;

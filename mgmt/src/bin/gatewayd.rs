//! `gatewayd`: the gateway daemon, and its command-line client.
//!
//! ```text
//! gatewayd --config FILE                 run the gateway
//! gatewayd --check-config FILE           validate FILE, print every problem, exit
//! gatewayd doctor [--config FILE] [--quiet] [--root DIR]
//!                                        check this host for what breaks DPDK
//! gatewayd token add FILE NAME ROLE      add an API token (ROLE: admin|readonly)
//!                                        to FILE; prints the token once
//! gatewayd ctl ...                       talk to a running gatewayd (see `gatewayd ctl --help`)
//! gatewayd --version
//! ```
//!
//! Exit codes: 0 clean stop (SIGINT/SIGTERM), 1 runtime failure, 2 bad
//! usage or config.

use arc_swap::ArcSwap;
use dataplane::{Dataplane, Eal, Mempool, Port, PortConfig, WorkerConfig};
use mgmt::audit::AuditLog;
use mgmt::config::{Config, Role, TokenConf};
use mgmt::control::{Controller, Hooks, PortHandle};
use mgmt::{api, auth, ctl, notify, persist, tables};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: gatewayd --config FILE | --check-config FILE | token add FILE NAME admin|readonly
       | doctor [--config FILE] [--quiet] [--root DIR] | ctl [--help] ... | --version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("ctl") {
        return match ctl::run(&args[1..]) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(f) => {
                eprintln!("{}", f.message);
                ExitCode::from(f.code)
            }
        };
    }
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--version"] => {
            println!("gatewayd {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["--check-config", file] => match Config::load(&PathBuf::from(file)) {
            Ok(_) => {
                println!("{file}: ok");
                ExitCode::SUCCESS
            }
            Err(errs) => report(file, &errs),
        },
        ["token", "add", file, name, role] => token_add(file, name, role),
        ["doctor", rest @ ..] => doctor(rest),
        ["--config", file] => match Config::load(&PathBuf::from(file)) {
            Ok(cfg) => match run(cfg, Path::new(file)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gatewayd: {e}");
                    ExitCode::from(1)
                }
            },
            Err(errs) => report(file, &errs),
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn report(file: &str, errs: &[mgmt::ConfigError]) -> ExitCode {
    eprintln!("{file}: {} problem(s):", errs.len());
    for e in errs {
        eprintln!("  {e}");
    }
    ExitCode::from(2)
}

/// `gatewayd doctor`: prints each check (only problems with `--quiet`)
/// and how to fix it; exits 1 if something blocks starting. `--root`
/// reads `DIR/sys` and `DIR/proc` instead of this host's.
fn doctor(args: &[&str]) -> ExitCode {
    let (mut file, mut quiet, mut root) = (None, false, PathBuf::from("/"));
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        match (a, it.as_slice().first()) {
            ("--config", Some(&f)) => {
                file = Some(f);
                it.next();
            }
            ("--root", Some(&r)) => {
                root = PathBuf::from(r);
                it.next();
            }
            ("--quiet", _) => quiet = true,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let cfg = match file {
        Some(f) => match Config::load(Path::new(f)) {
            Ok(c) => c,
            Err(errs) => return report(f, &errs),
        },
        // No config: the host alone (hugepages for the default pool, IOMMU).
        None => match Config::parse("ports: []\nworkers: { cores: [] }") {
            Ok(c) => c,
            Err(errs) => return report("(defaults)", &errs),
        },
    };
    let findings = mgmt::doctor::examine(&cfg, &mgmt::doctor::Host::local(&root));
    let count = |l| findings.iter().filter(|f| f.level == l).count();
    for f in findings.iter().filter(|f| !quiet || f.level != mgmt::doctor::Level::Ok) {
        println!("{f}");
    }
    let (fails, warns) = (count(mgmt::doctor::Level::Fail), count(mgmt::doctor::Level::Warn));
    if fails > 0 {
        println!("gatewayd doctor: {fails} problem(s) block starting, {warns} warning(s)");
        ExitCode::from(1)
    } else {
        if !quiet || warns > 0 {
            println!("gatewayd doctor: nothing blocks starting, {warns} warning(s)");
        }
        ExitCode::SUCCESS
    }
}

/// Adds a new random token's hash to the config file (saved atomically)
/// and prints the token: the only time it is shown.
fn token_add(file: &str, name: &str, role: &str) -> ExitCode {
    let role = match role {
        "admin" => Role::Admin,
        "readonly" => Role::Readonly,
        other => {
            eprintln!("gatewayd: role '{other}' is not admin or readonly");
            return ExitCode::from(2);
        }
    };
    // A running gatewayd would overwrite this edit with its own config at
    // its next change: refuse, and say what to do instead.
    let _lock = match persist::lock_config(Path::new(file)) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            eprintln!(
                "gatewayd: a running gatewayd uses {file}: its next change would drop this token. Add it \
                 through the API instead (management.tokens in PUT /api/v1/config), or stop gatewayd first"
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("gatewayd: locking {file}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut cfg = match Config::load(Path::new(file)) {
        Ok(c) => c,
        Err(errs) => return report(file, &errs),
    };
    let token = match auth::new_token() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gatewayd: reading /dev/urandom: {e}");
            return ExitCode::from(1);
        }
    };
    cfg.management.tokens.retain(|t| t.name != name);
    cfg.management.tokens.push(TokenConf { name: name.into(), role, sha256: auth::hash_token(&token) });
    if let Err(errs) = cfg.validate() {
        return report(file, &errs);
    }
    if let Err(e) = persist::save_atomic(Path::new(file), cfg.to_yaml().as_bytes()) {
        eprintln!("gatewayd: saving {file}: {e}");
        return ExitCode::from(1);
    }
    println!("{token}");
    ExitCode::SUCCESS
}

fn audit_path(cfg: &Config, config_file: &Path) -> PathBuf {
    if !cfg.management.audit_log.is_empty() {
        return PathBuf::from(&cfg.management.audit_log);
    }
    config_file.parent().unwrap_or(Path::new(".")).join("gatewayd-audit.jsonl")
}

fn run(cfg: Config, config_file: &Path) -> Result<(), String> {
    // One gatewayd per config file; `token add` looks for this lock too.
    let _lock = persist::lock_config_waiting(config_file, Duration::from_secs(15)).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => format!("another gatewayd runs with {}", config_file.display()),
        _ => format!("locking {}: {e}", config_file.display()),
    })?;
    persist::remove_leftovers(config_file);
    let audit = audit_path(&cfg, config_file);
    let audit = AuditLog::open(&audit).map_err(|e| format!("audit log {}: {e}", audit.display()))?;
    let listen: SocketAddr = cfg.management.listen.parse().map_err(|e| format!("management.listen: {e}"))?;
    let eal = Eal::init(&cfg.eal_args()).map_err(|e| e.to_string())?;
    let pool = Arc::new(Mempool::new("gw_pkt", cfg.dpdk.mbufs, 256)?);
    let mut ports = Vec::new();
    for p in &cfg.ports {
        let pc = PortConfig {
            device: p.device(),
            queues: cfg.workers.cores.len() as u16,
            rx_desc: p.rx_desc,
            tx_desc: p.tx_desc,
            promiscuous: p.promiscuous,
            mac: p.mac.as_deref().and_then(|m| m.parse().ok()),
        };
        let port = Port::start(&pc, &pool).map_err(|e| format!("ports '{}': {e}", p.name))?;
        eprintln!("gatewayd: port {} ({}) id {} mac {} up", p.name, port.device(), port.id(), port.mac());
        ports.push(port);
    }
    let ids: Vec<u16> = ports.iter().map(Port::id).collect();
    let macs: Vec<_> = ports.iter().map(Port::mac).collect();
    let t = tables::build(&cfg, &ids, &macs, 1).map_err(|e| format!("routes: {e}"))?;
    let nat_rules = Arc::new(ArcSwap::from_pointee(tables::nat_rules(&cfg, &t)));
    let snapshot = Arc::new(ArcSwap::from_pointee(t));
    let wc = WorkerConfig {
        cores: cfg.workers.cores.clone(),
        ports: ids.clone(),
        router: tables::router_config(&cfg),
        nat: nat::NatConfig {
            max_sessions: cfg.nat.max_sessions,
            max_subscribers: cfg.nat.max_subscribers,
            fragments: cfg.nat.fragment_records,
            ..nat::NatConfig::default()
        },
        idle_polls_before_sleep: if cfg.workers.idle_sleep_us > 0 { 1024 } else { 0 },
        idle_sleep: Duration::from_micros(u64::from(cfg.workers.idle_sleep_us)),
    };
    let dp = Dataplane::start(wc, pool.clone(), snapshot.clone(), nat_rules.clone(), eal.tsc_hz())?;
    eprintln!("gatewayd: {} worker(s) on cores {:?}", cfg.workers.cores.len(), cfg.workers.cores);
    if cfg.management.tokens.is_empty() {
        eprintln!("gatewayd: no API tokens configured: only /healthz answers (add one: gatewayd token add)");
    }
    let handles = cfg
        .ports
        .iter()
        .zip(ids.iter().zip(&macs))
        .map(|(p, (&id, &mac))| PortHandle { name: p.name.clone(), id, mac })
        .collect();
    // The kernel twins, in the routing daemon's namespace.
    let punt_stats = Arc::new(mgmt::punt::PuntStats::default());
    let punt = match &cfg.punt {
        Some(p) => {
            let q = dp.punt_queues().clone();
            let started = mgmt::punt::Punt::start(p, q, pool.clone(), snapshot.clone(), punt_stats.clone());
            let punt = match started {
                Ok(punt) => punt,
                Err(e) => {
                    let _ = dp.stop();
                    return Err(e);
                }
            };
            let place = p.netns.as_deref().map_or(String::new(), |n| format!(" in namespace {n}"));
            eprintln!("gatewayd: kernel twins {:?}{place}", p.interfaces);
            Some(punt)
        }
        None => None,
    };
    let clock = dp.clock();
    let nat_log = mgmt::natlog::NatLog::start(dp.nat_logs().to_vec(), move || clock.now(), cfg.nat.log.clone());
    let hooks = Hooks {
        snapshot: snapshot.clone(),
        nat: nat_rules,
        workers: dp.stats().to_vec(),
        dumps: dp.neighbor_dumps().to_vec(),
        nat_queries: dp.nat_mailboxes().to_vec(),
        nat_log: Some(nat_log.clone()),
        punt: punt.as_ref().map(|_| punt_stats.clone()),
        path_mtus: Some(mgmt::control::PathMtuHook { table: dp.path_mtus(), now: Arc::new(move || clock.now()) }),
    };
    let served = serve(listen, cfg, config_file.to_owned(), handles, hooks, audit);
    // Shut down in dependency order: workers, ports, pool, EAL.
    let t0 = std::time::Instant::now();
    if let Some(p) = punt {
        p.stop();
    }
    let stopped = dp.stop();
    nat_log.stop();
    drop(ports);
    drop(snapshot);
    drop(pool);
    drop(eal);
    eprintln!("gatewayd: stopped in {:?}", t0.elapsed());
    served.and(stopped)
}

/// Serves the API, `/metrics` and `/healthz` until SIGINT or SIGTERM.
fn serve(
    listen: SocketAddr,
    cfg: Config,
    path: PathBuf,
    ports: Vec<PortHandle>,
    hooks: Hooks,
    audit: AuditLog,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let workers = hooks.workers.clone();
        let ctl = Controller::new(cfg, path, ports, hooks, audit);
        // Routes from FRR's zebra, when configured.
        if let Some(f) = ctl.running().routing.fpm.clone() {
            let l = mgmt::fpm::bind(&f.listen).await.map_err(|e| format!("routing.fpm.listen {}: {e}", f.listen))?;
            eprintln!("gatewayd: FPM listener for routes on {}", f.listen);
            tokio::spawn(mgmt::fpm::serve(l, ctl.clone()));
        }
        let app = api::router(ctl);
        let listener = bind(listen).map_err(|e| format!("management.listen {listen}: {e}"))?;
        eprintln!("gatewayd: management on http://{listen}");
        // Under systemd (Type=notify): ready now that the ports are up
        // and the API listens; then the watchdog.
        let notifier = notify::Notifier::from_env().map(Arc::new);
        if let Some(n) = &notifier {
            n.send(&format!("READY=1\nSTATUS={} worker(s), API on {listen}", workers.len()));
            if let Some(every) = notify::watchdog_interval() {
                tokio::spawn(watchdog(n.clone(), workers, every));
            }
        }
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal(notifier))
            .await
            .map_err(|e| e.to_string())
    })
}

/// The API's listening socket, with room for a burst of connections
/// (1024 waiting to be accepted; the standard library's 128 overflows
/// when many clients connect at once).
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Pings systemd's watchdog every `every` while each worker makes
/// progress; a stuck or dead worker (or a stuck API thread) stops the
/// pings and systemd restarts the service (`WatchdogSec=`).
async fn watchdog(n: Arc<notify::Notifier>, workers: Vec<Arc<dataplane::WorkerStats>>, every: Duration) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut progress = notify::Progress::default();
    let mut tick = tokio::time::interval(every);
    let mut stuck = false;
    loop {
        tick.tick().await;
        let cycles = workers.iter().map(|w| w.busy_cycles.load(Relaxed) + w.idle_cycles.load(Relaxed)).collect();
        if progress.advanced(cycles) {
            n.send("WATCHDOG=1");
            stuck = false;
        } else if !std::mem::replace(&mut stuck, true) {
            eprintln!("gatewayd: a worker made no progress in {every:?}: the watchdog is no longer fed");
        }
    }
}

async fn shutdown_signal(notifier: Option<Arc<notify::Notifier>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("gatewayd: stopping");
    if let Some(n) = notifier {
        n.send("STOPPING=1");
    }
}

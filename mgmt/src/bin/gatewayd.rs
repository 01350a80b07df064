//! `gatewayd`: the gateway daemon.
//!
//! ```text
//! gatewayd --config FILE        run the gateway
//! gatewayd --check-config FILE  validate FILE, print every problem, exit
//! gatewayd --version
//! ```
//!
//! Exit codes: 0 clean stop (SIGINT/SIGTERM), 1 runtime failure, 2 bad
//! usage or config.

use arc_swap::ArcSwap;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use dataplane::{Dataplane, Eal, Mempool, Port, PortConfig, WorkerConfig};
use mgmt::config::Config;
use mgmt::metrics::{self, Sources};
use mgmt::tables;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: gatewayd --config FILE | --check-config FILE | --version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
        ["--config", file] => match Config::load(&PathBuf::from(file)) {
            Ok(cfg) => match run(cfg) {
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

fn run(cfg: Config) -> Result<(), String> {
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
    let generation = t.generation;
    let snapshot = Arc::new(ArcSwap::from_pointee(t));
    let wc = WorkerConfig {
        cores: cfg.workers.cores.clone(),
        ports: ids.clone(),
        router: tables::router_config(&cfg),
        idle_polls_before_sleep: if cfg.workers.idle_sleep_us > 0 { 1024 } else { 0 },
        idle_sleep: Duration::from_micros(u64::from(cfg.workers.idle_sleep_us)),
    };
    let dp = Dataplane::start(wc, pool.clone(), snapshot.clone(), eal.tsc_hz())?;
    eprintln!("gatewayd: {} worker(s) on cores {:?}", cfg.workers.cores.len(), cfg.workers.cores);
    let sources = Arc::new(Sources {
        ports: cfg.ports.iter().map(|p| p.name.clone()).zip(ids.iter().copied()).collect(),
        workers: dp.stats().to_vec(),
        generation,
    });
    let listen: SocketAddr = cfg.management.listen.parse().map_err(|e| format!("management.listen: {e}"))?;
    let served = serve(listen, sources);
    // Shut down in dependency order: workers, ports, pool, EAL.
    let t0 = std::time::Instant::now();
    let stopped = dp.stop();
    drop(ports);
    drop(snapshot);
    drop(pool);
    drop(eal);
    eprintln!("gatewayd: stopped in {:?}", t0.elapsed());
    served.and(stopped)
}

/// Serves `/healthz` and `/metrics` until SIGINT or SIGTERM.
fn serve(listen: SocketAddr, sources: Arc<Sources>) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let app = axum::Router::new().route("/healthz", get(|| async { "ok\n" })).route(
            "/metrics",
            get(move || {
                let s = sources.clone();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], metrics::render(&s)) }
            }),
        );
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("management.listen {listen}: {e}"))?;
        eprintln!("gatewayd: management on http://{listen}");
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.map_err(|e| e.to_string())
    })
}

async fn shutdown_signal() {
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
}

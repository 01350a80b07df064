//! Observation: the audit log, counters and worker load, the OpenAPI
//! document, `/metrics` and `/healthz`.

use super::*;
use stack::router::Counter;

/// The observe routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(get_audit)).routes(routes!(get_stats)).routes(routes!(get_openapi)).routes(routes!(get_metrics))
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "observe", params(Paging),
    responses((status = 200, body = Page<AuditEntry>)))]
async fn get_audit(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<AuditEntry>>> {
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", format!("{limit} is outside 1..=1000")));
    }
    // File reads on a blocking thread; appends are not held up meanwhile.
    let ctl = api.ctl.clone();
    let read = tokio::task::spawn_blocking(move || ctl.audit().read(offset, limit)).await;
    let (total, items) = read
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "audit", "Audit log unreadable", e.to_string()))?;
    Ok(Json(Page { items, total, offset, limit }))
}

/// One worker's load.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerInfo {
    pub worker: usize,
    pub packets: u64,
    pub busy_cycles: u64,
    pub idle_cycles: u64,
    /// busy / (busy + idle) since start, 0..=1.
    pub load: f64,
    /// Config generation the worker routes with.
    pub generation: u64,
}

/// A summary of the gateway's counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub version: String,
    pub generation: u64,
    /// Unix time of the last applied change, in seconds.
    pub last_apply: f64,
    pub forwarded: u64,
    pub local: u64,
    pub icmp_errors: u64,
    pub neighbors: u64,
    pub workers: Vec<WorkerInfo>,
    /// Drops by reason, reasons with no drops left out.
    pub drops: std::collections::BTreeMap<String, u64>,
}

/// Counters summed over workers, and each worker's load.
#[utoipa::path(get, path = "/api/v1/stats", tag = "observe", responses((status = 200, body = Stats)))]
async fn get_stats(State(api): St) -> Json<Stats> {
    let ws = api.ctl.workers();
    let sum = |f: &dyn Fn(&dataplane::WorkerStats) -> u64| ws.iter().map(|w| f(w)).sum::<u64>();
    let drops = stack::DropReason::ALL
        .iter()
        .map(|r| (r.label().to_string(), ws.iter().map(|w| w.dropped(*r)).sum::<u64>()))
        .filter(|(_, n)| *n > 0)
        .collect();
    Json(Stats {
        version: env!("CARGO_PKG_VERSION").into(),
        generation: api.ctl.generation(),
        last_apply: api.ctl.last_apply_ms() as f64 / 1000.0,
        forwarded: sum(&|w| w.counter(Counter::Forwarded)),
        local: sum(&|w| w.counter(Counter::Local)),
        icmp_errors: sum(&|w| w.counter(Counter::IcmpErrors)),
        neighbors: sum(&|w| w.neighbors.load(Relaxed)),
        workers: ws
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (b, idle) = (w.busy_cycles.load(Relaxed), w.idle_cycles.load(Relaxed));
                WorkerInfo {
                    worker: i,
                    packets: w.counter(Counter::Rx),
                    busy_cycles: b,
                    idle_cycles: idle,
                    load: if b + idle == 0 { 0.0 } else { b as f64 / (b + idle) as f64 },
                    generation: w.generation.load(Relaxed),
                }
            })
            .collect(),
        drops,
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "observe",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn get_openapi(State(api): St) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], api.openapi.clone()).into_response()
}

/// Prometheus metrics (text format 0.0.4), read at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "observe",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn get_metrics(State(api): St) -> Response {
    let ctl = &api.ctl;
    let running = ctl.running();
    let src = Sources {
        ports: ctl.ports.iter().map(|p| (p.name.clone(), p.id)).collect(),
        nics: api.nics,
        workers: ctl.workers().to_vec(),
        generation: ctl.generation(),
        last_apply_ms: ctl.last_apply_ms(),
        routes: running.routes.len(),
        interfaces: running.interfaces.len(),
        static_neighbors: running.neighbors.len(),
        nat_log: ctl.nat_log().map_or((0, 0), |l| (l.written.load(Relaxed), l.errors.load(Relaxed))),
        fpm: running.routing.fpm.is_some().then(|| ctl.fpm.clone()),
        punt: ctl.punt_stats().cloned(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics::render(&src)).into_response()
}

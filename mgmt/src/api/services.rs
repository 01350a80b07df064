//! `/api/v1/services`: the built-in services (echo and discard over UDP
//! and TCP) and what each of their listeners has done; and
//! `/api/v1/tcp/connections`: the gateway's own TCP connections.

use super::*;
use crate::config::ServiceConf;
use stack::udp::SocketStats;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The services routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_services, add_service))
        .routes(routes!(get_service, put_service, delete_service))
        .routes(routes!(list_tcp_connections))
}

/// One address a service listens on: over UDP its socket's counts
/// summed over workers (kept while the listener stays in the config),
/// over TCP its connections now.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ListenerInfo {
    /// `ADDRESS:PORT` (`10.0.1.1:7`, `[fd00:1::1]:7`).
    pub address: String,
    /// UDP: datagrams the socket received, over all workers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_datagrams: Option<u64>,
    /// UDP: their payload bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_bytes: Option<u64>,
    /// Datagrams dropped because the socket's queue was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_datagrams: Option<u64>,
    /// UDP: datagrams the service sent from it (echo's answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_datagrams: Option<u64>,
    /// UDP: their payload bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_bytes: Option<u64>,
    /// TCP: connections on it now, over all workers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
}

/// A service: its config and its listeners.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    #[serde(flatten)]
    pub config: ServiceConf,
    pub listeners: Vec<ListenerInfo>,
}

/// What the workers hold: UDP sockets' counts, TCP connections by local address.
struct Live {
    sockets: BTreeMap<SocketAddr, SocketStats>,
    connections: BTreeMap<SocketAddr, usize>,
}

impl Live {
    async fn get(api: &Api) -> Live {
        let sockets = api.ctl.sockets().await;
        let mut connections = BTreeMap::new();
        for (_, c) in api.ctl.tcp_connections().await {
            *connections.entry(c.local).or_default() += 1;
        }
        Live { sockets, connections }
    }
}

fn service_info(c: &ServiceConf, live: &Live) -> ServiceInfo {
    let listeners = c
        .listeners()
        .map(|l| {
            let address = l.local.to_string();
            if l.transport == stack::Transport::Tcp {
                let n = live.connections.get(&l.local).copied().unwrap_or(0);
                return ListenerInfo { address, connections: Some(n), ..ListenerInfo::default() };
            }
            let s = live.sockets.get(&l.local).copied().unwrap_or_default();
            ListenerInfo {
                address,
                received_datagrams: Some(s.rx_datagrams),
                received_bytes: Some(s.rx_bytes),
                dropped_datagrams: Some(s.rx_dropped),
                sent_datagrams: Some(s.tx_datagrams),
                sent_bytes: Some(s.tx_bytes),
                connections: None,
            }
        })
        .collect();
    ServiceInfo { config: c.clone(), listeners }
}

const SERVICES: NamedList<ServiceConf> =
    NamedList { kind: "service", field: "services", list: |c| &mut c.services, name: |s| &s.name };

/// List the built-in services, their listeners and counts.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(Paging),
    responses((status = 200, body = Page<ServiceInfo>)))]
async fn list_services(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<ServiceInfo>>> {
    let live = Live::get(&api).await;
    page(api.ctl.running().services.iter().map(|s| service_info(s, &live)).collect(), &p)
}

/// One service.
#[utoipa::path(get, path = "/api/v1/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = ServiceInfo), (status = 404, body = Problem)))]
async fn get_service(State(api): St, Path(name): Path<String>) -> ApiResult<Json<ServiceInfo>> {
    let running = api.ctl.running();
    let Some(c) = running.services.iter().find(|s| s.name == name) else {
        return Err(Problem::not_found(format!("no service is named '{name}'")));
    };
    Ok(Json(service_info(c, &Live::get(&api).await)))
}

/// Add a service: `{"name": "echo", "kind": "echo", "port": 7,
/// "addresses": ["10.0.1.1", "fd00:1::1"]}`.
#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = ServiceConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn add_service(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(s): Body<ServiceConf>,
) -> ApiResult<impl IntoResponse> {
    SERVICES.add(&api, &c, s).await
}

/// Replace a service's settings (kind, port, addresses).
#[utoipa::path(put, path = "/api/v1/services/{name}", tag = "services", request_body = ServiceConf,
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_service(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
    Body(s): Body<ServiceConf>,
) -> ApiResult<Json<Applied>> {
    SERVICES.replace(&api, &c, &name, s).await
}

/// Remove a service.
#[utoipa::path(delete, path = "/api/v1/services/{name}", tag = "services",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_service(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Applied>> {
    SERVICES.remove(&api, &c, &name).await
}

/// One of the gateway's own TCP connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionInfo {
    /// Our end, `ADDRESS:PORT`.
    pub local: String,
    pub remote: String,
    /// RFC 9293's state, lower case (`syn_received`, `established`,
    /// `fin_wait_1`, `fin_wait_2`, `closing`, `time_wait`, `close_wait`,
    /// `last_ack`).
    pub state: String,
    /// The worker that owns it.
    pub worker: usize,
    /// Bytes queued to send (unacknowledged ones included), and received
    /// but not yet taken by the service.
    pub send_queue: usize,
    pub receive_queue: usize,
}

/// Filters for the connection list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectionQuery {
    /// Only connections in this state (`established`, ...).
    pub state: Option<String>,
    /// Only connections to this local `ADDRESS:PORT`.
    pub local: Option<String>,
}

/// The gateway's own TCP connections (paged), by local then remote end.
#[utoipa::path(get, path = "/api/v1/tcp/connections", tag = "services", params(Paging, ConnectionQuery),
    responses((status = 200, body = Page<ConnectionInfo>), (status = 400, body = Problem)))]
async fn list_tcp_connections(
    State(api): St,
    Query(p): Query<Paging>,
    Query(q): Query<ConnectionQuery>,
) -> ApiResult<Json<Page<ConnectionInfo>>> {
    if let Some(s) = q.state.as_deref() {
        if !stack::tcp::State::ALL.iter().any(|x| x.name() == s) {
            return Err(Problem::bad_request("state", format!("'{s}' is not a TCP state")));
        }
    }
    let local: Option<SocketAddr> = match q.local.as_deref().map(str::parse) {
        Some(Ok(a)) => Some(a),
        Some(Err(_)) => return Err(Problem::bad_request("local", "not an ADDRESS:PORT")),
        None => None,
    };
    let all = api.ctl.tcp_connections().await;
    let items = all
        .into_iter()
        .filter(|(_, c)| q.state.as_deref().is_none_or(|s| c.state.name() == s))
        .filter(|(_, c)| local.is_none_or(|l| c.local == l))
        .map(|(worker, c)| ConnectionInfo {
            local: c.local.to_string(),
            remote: c.remote.to_string(),
            state: c.state.name().to_string(),
            worker,
            send_queue: c.send_queue,
            receive_queue: c.recv_queue,
        })
        .collect();
    page(items, &p)
}

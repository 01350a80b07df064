//! `/api/v1/services`: the built-in services (UDP echo and discard) and
//! what each of their listeners has done.

use super::*;
use crate::config::ServiceConf;
use stack::udp::SocketStats;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The services routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_services, add_service)).routes(routes!(get_service, put_service, delete_service))
}

/// One address a service listens on, and its counts summed over workers
/// (kept while the listener stays in the config).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListenerInfo {
    /// `ADDRESS:PORT` (`10.0.1.1:7`, `[fd00:1::1]:7`).
    pub address: String,
    pub received_datagrams: u64,
    pub received_bytes: u64,
    /// Datagrams dropped because the socket's queue was full.
    pub dropped_datagrams: u64,
    pub sent_datagrams: u64,
    pub sent_bytes: u64,
}

/// A service: its config and its listeners.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    #[serde(flatten)]
    pub config: ServiceConf,
    pub listeners: Vec<ListenerInfo>,
}

fn service_info(c: &ServiceConf, sockets: &BTreeMap<SocketAddr, SocketStats>) -> ServiceInfo {
    let listeners = c
        .listeners()
        .map(|l| {
            let s = sockets.get(&l.local).copied().unwrap_or_default();
            ListenerInfo {
                address: l.local.to_string(),
                received_datagrams: s.rx_datagrams,
                received_bytes: s.rx_bytes,
                dropped_datagrams: s.rx_dropped,
                sent_datagrams: s.tx_datagrams,
                sent_bytes: s.tx_bytes,
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
    let sockets = api.ctl.sockets().await;
    page(api.ctl.running().services.iter().map(|s| service_info(s, &sockets)).collect(), &p)
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
    Ok(Json(service_info(c, &api.ctl.sockets().await)))
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

//! The REST API under `/api/v1`, `/metrics` and `/healthz`.
//!
//! Every handler is declared once, with its OpenAPI description next to
//! it; the router and `/api/v1/openapi.json` are both made from those
//! declarations, so a route cannot be served undocumented. Changes all go
//! through [`Controller`]; reads never wait for a change in progress.
//!
//! Access: every endpoint but `/healthz` needs `Authorization: Bearer
//! TOKEN`. Read-only tokens may use GET and `POST /config/validate`;
//! everything else needs an admin token.

use crate::audit::AuditEntry;
use crate::auth;
use crate::config::{
    err, BridgeConf, Config, ConfigError, InterfaceConf, MemberConf, NeighborConf, PortConf, Role, RouteConf, RouteType,
};
use crate::control::{etag, Applied, ApplyError, Controller, Who};
use crate::metrics::{self, Sources};
use crate::nic::NicReader;
use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stack::IpCidr;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod nat44;

/// Shared by every handler.
pub struct Api {
    pub ctl: Arc<Controller>,
    openapi: String,
    nics: NicReader,
}

type St = State<Arc<Api>>;
type ApiResult<T> = Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatewayd",
        description = "Configure and observe the gateway. Changes apply live, between bursts, and are saved \
                       atomically to the config file. Errors are RFC 9457 problem details naming the field.",
        license(name = "Apache-2.0")
    ),
    paths(healthz_doc),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "ports", description = "Network ports: config, NIC counters, link state."),
        (name = "interfaces", description = "Layer-3 interfaces (on ports, VLAN sub-interfaces, bridges) and their addresses."),
        (name = "bridges", description = "Bridge domains, their members and MAC tables."),
        (name = "routes", description = "Static routes."),
        (name = "neighbors", description = "The ARP neighbor caches and static entries."),
        (name = "nat", description = "NAT44: rules, pools, port forwards, static mappings, settings; live sessions and subscribers."),
        (name = "config", description = "The running config as a whole; commit-confirm."),
        (name = "observe", description = "Stats, audit log, metrics, health, this document.")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token from management.tokens (read-only or admin)."))
                    .build(),
            ),
        );
    }
}

/// The router: API, metrics and health, with authentication, the body
/// limit and the OpenAPI document.
pub fn router(ctl: Arc<Controller>) -> axum::Router {
    let (router, doc) = api_routes().split_for_parts();
    let openapi = doc.to_pretty_json().unwrap_or_default();
    let limit = ctl.running().management.max_body_bytes;
    let api = Arc::new(Api { ctl, openapi, nics: NicReader::DPDK });
    router
        .layer(axum::middleware::from_fn_with_state(api.clone(), authenticate))
        .route("/healthz", axum::routing::get(healthz_doc))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .with_state(api)
}

/// The OpenAPI document (also served at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

fn api_routes() -> OpenApiRouter<Arc<Api>> {
    let r = OpenApiRouter::with_openapi(ApiDoc::openapi());
    nat44::routes(r)
        .routes(routes!(list_ports))
        .routes(routes!(get_port))
        .routes(routes!(list_interfaces, add_interface))
        .routes(routes!(get_interface, put_interface, delete_interface))
        .routes(routes!(list_bridges, add_bridge))
        .routes(routes!(get_bridge, put_bridge, delete_bridge))
        .routes(routes!(add_member))
        .routes(routes!(delete_member))
        .routes(routes!(list_macs, flush_macs))
        .routes(routes!(add_address))
        .routes(routes!(delete_address))
        .routes(routes!(list_routes, add_route))
        .routes(routes!(get_route, delete_route))
        .routes(routes!(batch_routes))
        .routes(routes!(list_neighbors, flush_neighbors))
        .routes(routes!(list_static_neighbors, add_static_neighbor))
        .routes(routes!(delete_static_neighbor))
        .routes(routes!(get_config, put_config))
        .routes(routes!(validate_config))
        .routes(routes!(commit_config, get_commit, cancel_commit))
        .routes(routes!(confirm_commit))
        .routes(routes!(get_audit))
        .routes(routes!(get_stats))
        .routes(routes!(get_openapi))
        .routes(routes!(get_metrics))
}

// ---------------------------------------------------------------- access

/// The caller, as authentication found it.
#[derive(Clone, Debug)]
struct Caller {
    token: String,
    remote: SocketAddr,
}

async fn authenticate(State(api): St, mut req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let running = api.ctl.running();
    let Some((token, role)) = presented.and_then(|t| auth::authenticate(&running.management.tokens, t)) else {
        let mut r = Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            if presented.is_some() { "the token is not valid" } else { "send Authorization: Bearer TOKEN" },
        )
        .into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatewayd\""));
        return r;
    };
    let read = matches!(*req.method(), Method::GET | Method::HEAD) || req.uri().path() == "/api/v1/config/validate";
    if role == Role::Readonly && !read {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("token '{token}' is read-only; {} needs an admin token", req.method()),
        )
        .into_response();
    }
    let remote = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    req.extensions_mut().insert(Caller { token, remote });
    next.run(req).await
}

fn who(caller: &Caller, method: &str, path: &str) -> Who {
    Who { token: caller.token.clone(), remote: caller.remote.to_string(), request: format!("{method} {path}") }
}

// ------------------------------------------------------------ extractors

/// A JSON (or, with `Content-Type: application/yaml`, YAML) body whose
/// decoding errors name the field.
struct Body<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let yaml = is_yaml(req.headers().get(header::CONTENT_TYPE));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            Problem::new(status, "body", "Unreadable body", e.body_text())
        })?;
        decode(&bytes, yaml).map(Body)
    }
}

fn is_yaml(ct: Option<&HeaderValue>) -> bool {
    ct.and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("yaml"))
}

fn decode<T: DeserializeOwned>(bytes: &[u8], yaml: bool) -> Result<T, Problem> {
    fn field(p: &serde_path_to_error::Path) -> String {
        let s = p.to_string();
        if s == "." {
            "body".into()
        } else {
            s
        }
    }
    if yaml {
        let text = std::str::from_utf8(bytes).map_err(|_| Problem::bad_request("body", "not UTF-8"))?;
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text))
            .map_err(|e| Problem::bad_request(&field(e.path()), e.inner().to_string()))
    } else {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Problem::bad_request(&field(e.path()), e.inner().to_string()))
    }
}

/// Query parameters whose decoding errors are problems, not plain text.
struct Query<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(Query(q.0)),
            Err(e) => {
                let text = e.body_text();
                let msg = text.trim_start_matches("Failed to deserialize query string: ");
                let (field, why) = msg.split_once(": ").unwrap_or(("query", msg));
                Err(Problem::bad_request(field, why))
            }
        }
    }
}

/// Path parameters whose decoding errors are problems, not plain text.
struct Path<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(Path(p.0)),
            Err(e) => Err(Problem::bad_request("path", e.body_text())),
        }
    }
}

/// Offset pagination for lists that can grow large.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Paging {
    /// Items to skip (default 0).
    offset: Option<usize>,
    /// Items to return, 1..=1000 (default 100).
    limit: Option<usize>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

fn page<T>(all: Vec<T>, p: &Paging) -> ApiResult<Json<Page<T>>> {
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", format!("{limit} is outside 1..=1000")));
    }
    let total = all.len();
    Ok(Json(Page { items: all.into_iter().skip(offset).take(limit).collect(), total, offset, limit }))
}

/// Rewrites `errors` about the config item at `from` (`routes[4]`) into
/// fields of the request body (`via[0]`, or `to` + rest).
fn rebase(e: ApplyError, from: &str, to: &str) -> ApplyError {
    match e {
        ApplyError::Invalid(errs) => ApplyError::Invalid(
            errs.into_iter()
                .map(|mut c| {
                    if let Some(rest) = c.field.strip_prefix(from) {
                        let rest = rest.trim_start_matches('.');
                        c.field = match (to.is_empty(), rest.is_empty()) {
                            (true, true) => "body".into(),
                            (true, false) => rest.into(),
                            (false, true) => to.into(),
                            (false, false) if rest.starts_with('[') => format!("{to}{rest}"),
                            (false, false) => format!("{to}.{rest}"),
                        };
                    }
                    c
                })
                .collect(),
        ),
        other => other,
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApplyError {
    ApplyError::Invalid(vec![err(field, message)])
}

fn created(a: Applied) -> (StatusCode, Json<Applied>) {
    (StatusCode::CREATED, Json(a))
}

// ------------------------------------------------------------------ ports

/// Link state of a port.
#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// NIC counters of a port.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortCounters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Frames the NIC dropped because the RX queues were full.
    pub rx_missed: u64,
    /// RX failures for lack of mbufs.
    pub rx_nombuf: u64,
}

/// A port: its config, DPDK id, MAC in use, link and live counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortInfo {
    pub name: String,
    /// DPDK port id.
    pub id: u16,
    /// The MAC address the gateway uses on this port.
    pub mac: String,
    pub link: Link,
    pub stats: PortCounters,
    pub config: PortConf,
}

fn port_info(api: &Api, name: &str) -> Option<PortInfo> {
    let h = api.ctl.ports.iter().find(|p| p.name == name)?;
    let config = api.ctl.running().ports.iter().find(|p| p.name == name)?.clone();
    let (l, s) = ((api.nics.link)(h.id), (api.nics.stats)(h.id));
    Some(PortInfo {
        name: h.name.clone(),
        id: h.id,
        mac: h.mac.to_string(),
        link: Link { up: l.up, speed_mbps: l.speed_mbps, full_duplex: l.full_duplex },
        stats: PortCounters {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
            rx_missed: s.rx_missed,
            rx_nombuf: s.rx_nombuf,
        },
        config,
    })
}

/// List ports with link state and NIC counters.
#[utoipa::path(get, path = "/api/v1/ports", tag = "ports", params(Paging),
    responses((status = 200, body = Page<PortInfo>), (status = 401, body = Problem)))]
async fn list_ports(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<PortInfo>>> {
    page(api.ctl.ports.iter().filter_map(|h| port_info(&api, &h.name)).collect(), &p)
}

/// One port with link state and NIC counters.
#[utoipa::path(get, path = "/api/v1/ports/{name}", tag = "ports", params(("name" = String, Path, description = "Port name")),
    responses((status = 200, body = PortInfo), (status = 404, body = Problem)))]
async fn get_port(State(api): St, Path(name): Path<String>) -> ApiResult<Json<PortInfo>> {
    port_info(&api, &name).map(Json).ok_or_else(|| Problem::not_found(format!("no port is named '{name}'")))
}

// ------------------------------------------------------------- interfaces

/// An interface: its config and the MAC it answers on.
#[derive(Debug, Serialize, ToSchema)]
pub struct InterfaceInfo {
    #[serde(flatten)]
    pub config: InterfaceConf,
    /// The MAC address it answers on: its port's, or for a bridge's
    /// interface the first member port's.
    pub mac: String,
}

fn iface_info(api: &Api, c: &InterfaceConf) -> InterfaceInfo {
    let t = api.ctl.snapshot();
    let mac = t.ifaces.iter().find(|i| i.name == c.name).map(|i| i.mac.to_string()).unwrap_or_default();
    InterfaceInfo { config: c.clone(), mac }
}

/// List interfaces and their addresses.
#[utoipa::path(get, path = "/api/v1/interfaces", tag = "interfaces", params(Paging),
    responses((status = 200, body = Page<InterfaceInfo>)))]
async fn list_interfaces(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<InterfaceInfo>>> {
    page(api.ctl.running().interfaces.iter().map(|c| iface_info(&api, c)).collect(), &p)
}

/// One interface.
#[utoipa::path(get, path = "/api/v1/interfaces/{name}", tag = "interfaces",
    params(("name" = String, Path, description = "Interface name")),
    responses((status = 200, body = InterfaceInfo), (status = 404, body = Problem)))]
async fn get_interface(State(api): St, Path(name): Path<String>) -> ApiResult<Json<InterfaceInfo>> {
    let running = api.ctl.running();
    let c = running.interfaces.iter().find(|i| i.name == name);
    c.map(|c| Json(iface_info(&api, c))).ok_or_else(|| Problem::not_found(format!("no interface is named '{name}'")))
}

/// Add an interface: on a port's untagged frames, on a VLAN of a port
/// (`{"name": "trunk.200", "port": "trunk", "vlan": 200}`), or on a bridge
/// (`{"name": "br0", "bridge": "br0"}`).
#[utoipa::path(post, path = "/api/v1/interfaces", tag = "interfaces", request_body = InterfaceConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn add_interface(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(ifc): Body<InterfaceConf>,
) -> ApiResult<impl IntoResponse> {
    let w = who(&c, "POST", "/api/v1/interfaces");
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add interface {}", ifc.name), |cfg| {
            if cfg.interfaces.iter().any(|i| i.name == ifc.name) {
                return Err(invalid("name", format!("interface '{}' exists", ifc.name)));
            }
            at = format!("interfaces[{}]", cfg.interfaces.len());
            cfg.interfaces.push(ifc);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Replace an interface's settings (MTU, addresses, port).
#[utoipa::path(put, path = "/api/v1/interfaces/{name}", tag = "interfaces", request_body = InterfaceConf,
    params(("name" = String, Path, description = "Interface name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_interface(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
    Body(ifc): Body<InterfaceConf>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "PUT", &format!("/api/v1/interfaces/{name}"));
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("replace interface {name}"), |cfg| {
            if ifc.name != name {
                return Err(invalid("name", format!("must be '{name}', the interface in the path")));
            }
            let i = cfg.interfaces.iter().position(|i| i.name == name);
            let i = i.ok_or_else(|| ApplyError::NotFound(format!("no interface is named '{name}'")))?;
            at = format!("interfaces[{i}]");
            cfg.interfaces[i] = ifc;
            Ok(())
        })
        .await;
    Ok(Json(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Remove an interface (routes and neighbors through it must go first).
#[utoipa::path(delete, path = "/api/v1/interfaces/{name}", tag = "interfaces",
    params(("name" = String, Path, description = "Interface name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn delete_interface(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "DELETE", &format!("/api/v1/interfaces/{name}"));
    let r = api
        .ctl
        .change(&w, &format!("remove interface {name}"), |cfg| {
            let removed = remove_all(&mut cfg.interfaces, |i| i.name == name);
            found(removed, || format!("no interface is named '{name}'"))
        })
        .await;
    Ok(Json(r?))
}

// ---------------------------------------------------------------- bridges

/// A bridge: its config and its routed interface.
#[derive(Debug, Serialize, ToSchema)]
pub struct BridgeInfo {
    #[serde(flatten)]
    pub config: BridgeConf,
    /// The interface routing for it (`bridge:` names it), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

fn bridge_info(cfg: &Config, b: &BridgeConf) -> BridgeInfo {
    let interface = cfg.interfaces.iter().find(|i| i.bridge.as_deref() == Some(&b.name)).map(|i| i.name.clone());
    BridgeInfo { config: b.clone(), interface }
}

fn no_bridge(name: &str) -> ApplyError {
    ApplyError::NotFound(format!("no bridge is named '{name}'"))
}

/// List bridges.
#[utoipa::path(get, path = "/api/v1/bridges", tag = "bridges", params(Paging),
    responses((status = 200, body = Page<BridgeInfo>)))]
async fn list_bridges(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<BridgeInfo>>> {
    let running = api.ctl.running();
    page(running.bridges.iter().map(|b| bridge_info(&running, b)).collect(), &p)
}

/// One bridge.
#[utoipa::path(get, path = "/api/v1/bridges/{name}", tag = "bridges",
    params(("name" = String, Path, description = "Bridge name")),
    responses((status = 200, body = BridgeInfo), (status = 404, body = Problem)))]
async fn get_bridge(State(api): St, Path(name): Path<String>) -> ApiResult<Json<BridgeInfo>> {
    let running = api.ctl.running();
    let b = running.bridges.iter().find(|b| b.name == name);
    b.map(|b| Json(bridge_info(&running, b))).ok_or_else(|| Problem::not_found(format!("no bridge is named '{name}'")))
}

/// Add a bridge. Its members' ports must be `promiscuous: true`; route
/// for it by adding an interface with `"bridge": NAME`.
#[utoipa::path(post, path = "/api/v1/bridges", tag = "bridges", request_body = BridgeConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn add_bridge(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(b): Body<BridgeConf>,
) -> ApiResult<impl IntoResponse> {
    let w = who(&c, "POST", "/api/v1/bridges");
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add bridge {}", b.name), |cfg| {
            if cfg.bridges.iter().any(|x| x.name == b.name) {
                return Err(invalid("name", format!("bridge '{}' exists", b.name)));
            }
            at = format!("bridges[{}]", cfg.bridges.len());
            cfg.bridges.push(b);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Replace a bridge's settings and members. Learned MAC addresses are
/// flushed when the members change.
#[utoipa::path(put, path = "/api/v1/bridges/{name}", tag = "bridges", request_body = BridgeConf,
    params(("name" = String, Path, description = "Bridge name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_bridge(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
    Body(b): Body<BridgeConf>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "PUT", &format!("/api/v1/bridges/{name}"));
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("replace bridge {name}"), |cfg| {
            if b.name != name {
                return Err(invalid("name", format!("must be '{name}', the bridge in the path")));
            }
            let i = cfg.bridges.iter().position(|x| x.name == name).ok_or_else(|| no_bridge(&name))?;
            at = format!("bridges[{i}]");
            cfg.bridges[i] = b;
            Ok(())
        })
        .await;
    Ok(Json(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Remove a bridge (its routed interface must go first).
#[utoipa::path(delete, path = "/api/v1/bridges/{name}", tag = "bridges",
    params(("name" = String, Path, description = "Bridge name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn delete_bridge(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "DELETE", &format!("/api/v1/bridges/{name}"));
    let r = api
        .ctl
        .change(&w, &format!("remove bridge {name}"), |cfg| {
            found(remove_all(&mut cfg.bridges, |b| b.name == name), || format!("no bridge is named '{name}'"))
        })
        .await;
    Ok(Json(r?))
}

/// Add a member to a bridge: a port (access) or a VLAN of a port (trunk).
#[utoipa::path(post, path = "/api/v1/bridges/{name}/members", tag = "bridges", request_body = MemberConf,
    params(("name" = String, Path, description = "Bridge name")),
    responses((status = 201, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_member(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
    Body(m): Body<MemberConf>,
) -> ApiResult<impl IntoResponse> {
    let w = who(&c, "POST", &format!("/api/v1/bridges/{name}/members"));
    let what = m.vlan.map_or(m.port.clone(), |v| format!("{} VLAN {v}", m.port));
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add {what} to bridge {name}"), |cfg| {
            let i = cfg.bridges.iter().position(|x| x.name == name).ok_or_else(|| no_bridge(&name))?;
            at = format!("bridges[{i}].members[{}]", cfg.bridges[i].members.len());
            cfg.bridges[i].members.push(m);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Which member to remove.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MemberQuery {
    /// The member's VLAN (none: the port's untagged member).
    vlan: Option<u16>,
}

/// Remove a member from a bridge.
#[utoipa::path(delete, path = "/api/v1/bridges/{name}/members/{port}", tag = "bridges",
    params(("name" = String, Path, description = "Bridge name"), ("port" = String, Path, description = "Port name"), MemberQuery),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn delete_member(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((name, port)): Path<(String, String)>,
    Query(q): Query<MemberQuery>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "DELETE", &format!("/api/v1/bridges/{name}/members/{port}"));
    let what = q.vlan.map_or(port.clone(), |v| format!("{port} VLAN {v}"));
    let r = api
        .ctl
        .change(&w, &format!("remove {what} from bridge {name}"), |cfg| {
            let b = cfg.bridges.iter_mut().find(|x| x.name == name).ok_or_else(|| no_bridge(&name))?;
            let removed = remove_all(&mut b.members, |m| m.port == port && m.vlan == q.vlan);
            found(removed, || format!("{what} is not a member of {name}"))
        })
        .await;
    Ok(Json(r?))
}

/// A learned MAC address, merged over workers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MacTableEntry {
    pub mac: String,
    /// The member it was learned on: its port and VLAN.
    pub port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Seconds since a frame from it was last seen.
    pub age_s: f64,
    /// Workers whose table holds it (each worker learns on its own).
    pub workers: usize,
}

/// List a bridge's MAC table.
#[utoipa::path(get, path = "/api/v1/bridges/{name}/macs", tag = "bridges",
    params(("name" = String, Path, description = "Bridge name"), Paging),
    responses((status = 200, body = Page<MacTableEntry>), (status = 404, body = Problem)))]
async fn list_macs(
    State(api): St,
    Path(name): Path<String>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Page<MacTableEntry>>> {
    let all = api.ctl.macs().await;
    let t = api.ctl.snapshot();
    let b = t.bridges.iter().position(|b| b.name == name);
    let b = b.ok_or_else(|| Problem::not_found(format!("no bridge is named '{name}'")))?;
    let port_name = |id: u16| api.ctl.ports.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_default();
    let items = all
        .into_iter()
        .filter(|e| usize::from(e.info.bridge) == b)
        .filter_map(|e| {
            let m = t.members.get(usize::from(e.info.member))?;
            Some(MacTableEntry {
                mac: e.info.mac.to_string(),
                port: port_name(m.port),
                vlan: m.vlan,
                age_s: e.info.seen as f64 / 1e9,
                workers: e.workers,
            })
        })
        .collect();
    page(items, &p)
}

/// Flush a bridge's learned MAC addresses on every worker.
#[utoipa::path(delete, path = "/api/v1/bridges/{name}/macs", tag = "bridges",
    params(("name" = String, Path, description = "Bridge name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn flush_macs(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Applied>> {
    Ok(Json(api.ctl.flush_macs(&who(&c, "DELETE", &format!("/api/v1/bridges/{name}/macs")), &name).await?))
}

/// An address to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    /// `ADDRESS/LENGTH`, e.g. `10.0.2.1/24` or `2001:db8:5::1/64`.
    pub address: String,
}

/// The list an address belongs in: `ipv6` if it has a colon, else `ipv4`.
fn address_list<'a>(i: &'a mut InterfaceConf, address: &str) -> (&'a mut Vec<String>, &'static str) {
    if address.contains(':') {
        (&mut i.ipv6, "ipv6")
    } else {
        (&mut i.ipv4, "ipv4")
    }
}

/// Add an IPv4 or IPv6 address to an interface.
#[utoipa::path(post, path = "/api/v1/interfaces/{name}/addresses", tag = "interfaces", request_body = AddressBody,
    params(("name" = String, Path, description = "Interface name")),
    responses((status = 201, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_address(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
    Body(b): Body<AddressBody>,
) -> ApiResult<impl IntoResponse> {
    let w = who(&c, "POST", &format!("/api/v1/interfaces/{name}/addresses"));
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add address {} to {name}", b.address), |cfg| {
            let i = cfg.interfaces.iter().position(|i| i.name == name);
            let i = i.ok_or_else(|| ApplyError::NotFound(format!("no interface is named '{name}'")))?;
            let (list, family) = address_list(&mut cfg.interfaces[i], &b.address);
            if list.contains(&b.address) {
                return Err(invalid("address", format!("{} is already on {name}", b.address)));
            }
            at = format!("interfaces[{i}].{family}[{}]", list.len());
            list.push(b.address.clone());
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, "address"))?))
}

/// Remove an IPv4 or IPv6 address from an interface.
#[utoipa::path(delete, path = "/api/v1/interfaces/{name}/addresses/{addr}/{len}", tag = "interfaces",
    params(("name" = String, Path, description = "Interface name"), ("addr" = String, Path, description = "IPv4 or IPv6 address"),
           ("len" = u8, Path, description = "Prefix length")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn delete_address(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((name, addr, len)): Path<(String, String, u8)>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "DELETE", &format!("/api/v1/interfaces/{name}/addresses/{addr}/{len}"));
    let want = format!("{addr}/{len}");
    let r = api
        .ctl
        .change(&w, &format!("remove address {want} from {name}"), |cfg| {
            let i = cfg.interfaces.iter_mut().find(|i| i.name == name);
            let i = i.ok_or_else(|| ApplyError::NotFound(format!("no interface is named '{name}'")))?;
            let (list, _) = address_list(i, &want);
            found(remove_all(list, |a| *a == want), || format!("{want} is not on {name}"))
        })
        .await;
    Ok(Json(r?))
}

// ----------------------------------------------------------------- routes

/// A route filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RouteFilter {
    /// Only routes inside this prefix (equal or more specific), e.g.
    /// `10.0.0.0/8` or `2001:db8::/32`.
    prefix: Option<String>,
}

fn same_prefix(a: &str, b: &IpCidr) -> bool {
    a.parse::<IpCidr>().is_ok_and(|c| c.same_prefix(b))
}

fn parse_prefix(field: &str, s: &str) -> Result<IpCidr, Problem> {
    s.parse::<IpCidr>().map_err(|m| Problem::bad_request(field, m))
}

/// List static routes, optionally only those inside a prefix.
#[utoipa::path(get, path = "/api/v1/routes", tag = "routes", params(RouteFilter, Paging),
    responses((status = 200, body = Page<RouteConf>), (status = 400, body = Problem)))]
async fn list_routes(
    State(api): St,
    Query(f): Query<RouteFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Page<RouteConf>>> {
    let within = f.prefix.as_deref().map(|s| parse_prefix("prefix", s)).transpose()?;
    let routes = api.ctl.running().routes.clone();
    let keep = |r: &RouteConf| match (&within, r.dst.parse::<IpCidr>()) {
        (None, _) => true,
        (Some(w), Ok(d)) => d.prefix_len() >= w.prefix_len() && w.contains(d.network()),
        (Some(_), Err(_)) => false,
    };
    page(routes.into_iter().filter(keep).collect(), &p)
}

/// One route, by destination prefix.
#[utoipa::path(get, path = "/api/v1/routes/{addr}/{len}", tag = "routes",
    params(("addr" = String, Path, description = "Network address"), ("len" = u8, Path, description = "Prefix length")),
    responses((status = 200, body = RouteConf), (status = 404, body = Problem)))]
async fn get_route(State(api): St, Path((addr, len)): Path<(String, u8)>) -> ApiResult<Json<RouteConf>> {
    let dst = parse_prefix("dst", &format!("{addr}/{len}"))?;
    let running = api.ctl.running();
    let r = running.routes.iter().find(|r| same_prefix(&r.dst, &dst)).cloned();
    r.map(Json).ok_or_else(|| Problem::not_found(format!("no route to {addr}/{len}")))
}

/// `dst` in `network/len` form.
fn normalise(mut r: RouteConf) -> RouteConf {
    if let Ok(c) = r.dst.parse::<IpCidr>() {
        r.dst = format!("{}/{}", c.network(), c.prefix_len());
    }
    r
}

fn add_routes(cfg: &mut Config, add: Vec<RouteConf>, body: &str) -> Result<(), ApplyError> {
    let mut errs = Vec::new();
    for (i, r) in add.into_iter().enumerate() {
        let f = if body.is_empty() { "dst".to_string() } else { format!("{body}[{i}].dst") };
        let r = normalise(r);
        match r.dst.parse::<IpCidr>() {
            Ok(d) if cfg.routes.iter().any(|x| same_prefix(&x.dst, &d)) => {
                errs.push(err(f, format!("a route to {} exists; remove it first", r.dst)))
            }
            _ => cfg.routes.push(r),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Invalid(errs))
    }
}

/// Add a static route (`unicast` via gateways, `unreachable`, `blackhole`).
#[utoipa::path(post, path = "/api/v1/routes", tag = "routes", request_body = RouteConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem)))]
async fn add_route(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(r): Body<RouteConf>,
) -> ApiResult<impl IntoResponse> {
    let w = who(&c, "POST", "/api/v1/routes");
    let mut at = String::new();
    let action = format!("add route {}", describe(&r));
    let res = api
        .ctl
        .change(&w, &action, |cfg| {
            at = format!("routes[{}]", cfg.routes.len());
            add_routes(cfg, vec![r], "")
        })
        .await;
    Ok(created(res.map_err(|e| rebase(e, &at, ""))?))
}

fn describe(r: &RouteConf) -> String {
    match r.kind {
        RouteType::Unicast => format!("{} via {}", r.dst, r.via.join(",")),
        RouteType::Unreachable => format!("{} unreachable", r.dst),
        RouteType::Blackhole => format!("{} blackhole", r.dst),
    }
}

fn remove_route(cfg: &mut Config, dst: &IpCidr) -> bool {
    remove_all(&mut cfg.routes, |r| same_prefix(&r.dst, dst))
}

/// Removes every item `gone` picks; true if there was one.
fn remove_all<T>(items: &mut Vec<T>, gone: impl Fn(&T) -> bool) -> bool {
    let n = items.len();
    items.retain(|x| !gone(x));
    items.len() != n
}

/// NotFound (with `what`) unless something was removed.
fn found(removed: bool, what: impl FnOnce() -> String) -> Result<(), ApplyError> {
    if removed {
        Ok(())
    } else {
        Err(ApplyError::NotFound(what()))
    }
}

/// Remove a static route.
#[utoipa::path(delete, path = "/api/v1/routes/{addr}/{len}", tag = "routes",
    params(("addr" = String, Path, description = "Network address"), ("len" = u8, Path, description = "Prefix length")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_route(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((addr, len)): Path<(String, u8)>,
) -> ApiResult<Json<Applied>> {
    let dst = parse_prefix("dst", &format!("{addr}/{len}"))?;
    let w = who(&c, "DELETE", &format!("/api/v1/routes/{addr}/{len}"));
    let r = api
        .ctl
        .change(&w, &format!("remove route {addr}/{len}"), |cfg| {
            found(remove_route(cfg, &dst), || format!("no route to {addr}/{len}"))
        })
        .await;
    Ok(Json(r?))
}

/// Routes to add and remove in one change: all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteBatch {
    /// Destination prefixes to remove (removals happen first).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Routes to add.
    #[serde(default)]
    pub add: Vec<RouteConf>,
}

/// Remove and add many routes as one atomic change.
#[utoipa::path(post, path = "/api/v1/routes/batch", tag = "routes", request_body = RouteBatch,
    responses((status = 200, body = Applied), (status = 422, body = Problem)))]
async fn batch_routes(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(b): Body<RouteBatch>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "POST", "/api/v1/routes/batch");
    let mut at = 0;
    let action = format!("batch: remove {} route(s), add {}", b.remove.len(), b.add.len());
    let r = api
        .ctl
        .change(&w, &action, |cfg| {
            let mut errs = Vec::new();
            for (i, d) in b.remove.iter().enumerate() {
                match d.parse::<IpCidr>() {
                    Ok(p) if remove_route(cfg, &p) => {}
                    Ok(_) => errs.push(err(format!("remove[{i}]"), format!("no route to {d}"))),
                    Err(m) => errs.push(err(format!("remove[{i}]"), m)),
                }
            }
            if !errs.is_empty() {
                return Err(ApplyError::Invalid(errs));
            }
            at = cfg.routes.len();
            add_routes(cfg, b.add, "add")
        })
        .await;
    // Errors about routes[at + i] are about add[i].
    let r = r.map_err(|e| match e {
        ApplyError::Invalid(errs) => ApplyError::Invalid(
            errs.into_iter()
                .map(|mut c| {
                    if let Some(rest) = c.field.strip_prefix("routes[") {
                        if let Some((n, tail)) = rest.split_once(']') {
                            if let Some(i) = n.parse::<usize>().ok().and_then(|n| n.checked_sub(at)) {
                                c.field = format!("add[{i}]{tail}");
                            }
                        }
                    }
                    c
                })
                .collect(),
        ),
        other => other,
    });
    Ok(Json(r?))
}

// -------------------------------------------------------------- neighbors

/// A neighbor cache entry, merged over workers.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeighborEntry {
    pub interface: String,
    pub ip: String,
    /// `00:00:00:00:00:00` while incomplete.
    pub mac: String,
    /// `incomplete`, `reachable`, `stale`, `delay` (IPv6), `probe` or `static`.
    pub state: String,
    /// Workers whose cache holds the entry.
    pub workers: usize,
}

/// List the neighbor caches (learned and static entries).
#[utoipa::path(get, path = "/api/v1/neighbors", tag = "neighbors", params(Paging),
    responses((status = 200, body = Page<NeighborEntry>)))]
async fn list_neighbors(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<NeighborEntry>>> {
    let list = api.ctl.neighbors().await;
    let t = api.ctl.snapshot();
    let items = list
        .into_iter()
        .map(|n| NeighborEntry {
            interface: t.iface(n.info.ifindex).map(|i| i.name.clone()).unwrap_or_default(),
            ip: n.info.ip.to_string(),
            mac: n.info.mac.to_string(),
            state: format!("{:?}", n.info.state).to_lowercase(),
            workers: n.workers,
        })
        .collect();
    page(items, &p)
}

/// Flush every learned neighbor (static entries stay).
#[utoipa::path(delete, path = "/api/v1/neighbors", tag = "neighbors",
    responses((status = 200, body = Applied)))]
async fn flush_neighbors(State(api): St, axum::Extension(c): axum::Extension<Caller>) -> ApiResult<Json<Applied>> {
    Ok(Json(api.ctl.flush_neighbors(&who(&c, "DELETE", "/api/v1/neighbors")).await?))
}

/// List static neighbor entries.
#[utoipa::path(get, path = "/api/v1/neighbors/static", tag = "neighbors", params(Paging),
    responses((status = 200, body = Page<NeighborConf>)))]
async fn list_static_neighbors(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<NeighborConf>>> {
    page(api.ctl.running().neighbors.clone(), &p)
}

/// Add a static neighbor entry.
#[utoipa::path(post, path = "/api/v1/neighbors/static", tag = "neighbors", request_body = NeighborConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem)))]
async fn add_static_neighbor(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(n): Body<NeighborConf>,
) -> ApiResult<impl IntoResponse> {
    let w = who(&c, "POST", "/api/v1/neighbors/static");
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add static neighbor {} {} on {}", n.ip, n.mac, n.interface), |cfg| {
            if cfg.neighbors.iter().any(|x| x.interface == n.interface && x.ip == n.ip) {
                return Err(invalid("ip", format!("{} on {} exists; remove it first", n.ip, n.interface)));
            }
            at = format!("neighbors[{}]", cfg.neighbors.len());
            cfg.neighbors.push(n);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Remove a static neighbor entry.
#[utoipa::path(delete, path = "/api/v1/neighbors/static/{interface}/{ip}", tag = "neighbors",
    params(("interface" = String, Path, description = "Interface name"), ("ip" = String, Path, description = "IPv4 address")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_static_neighbor(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((interface, ip)): Path<(String, String)>,
) -> ApiResult<Json<Applied>> {
    let w = who(&c, "DELETE", &format!("/api/v1/neighbors/static/{interface}/{ip}"));
    let r = api
        .ctl
        .change(&w, &format!("remove static neighbor {ip} on {interface}"), |cfg| {
            let removed = remove_all(&mut cfg.neighbors, |x| x.interface == interface && x.ip == ip);
            found(removed, || format!("no static neighbor {ip} on {interface}"))
        })
        .await;
    Ok(Json(r?))
}

// ----------------------------------------------------------------- config

/// The running config, as JSON or (with `Accept: application/yaml`) YAML.
/// The `ETag` header identifies it for `PUT` with `If-Match`.
#[utoipa::path(get, path = "/api/v1/config", tag = "config",
    responses((status = 200, description = "The running config", headers(("ETag" = String, description = "Identifies this config")),
        content((Config = "application/json"), (Config = "application/yaml")))))]
async fn get_config(State(api): St, headers: HeaderMap) -> Response {
    let cfg = api.ctl.running();
    let tag = etag(&cfg);
    let yaml = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("yaml"));
    let mut r = if yaml {
        ([(header::CONTENT_TYPE, "application/yaml")], cfg.to_yaml()).into_response()
    } else {
        Json(&*cfg).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

/// Replace the whole running config (JSON, or YAML with
/// `Content-Type: application/yaml`). Needs `If-Match` with the ETag of
/// the config the change was made from: a concurrent change answers 412.
#[utoipa::path(put, path = "/api/v1/config", tag = "config", request_body = Config,
    params(("If-Match" = String, Header, description = "ETag from GET /api/v1/config")),
    responses((status = 200, body = Applied), (status = 412, body = Problem), (status = 428, body = Problem),
        (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn put_config(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    headers: HeaderMap,
    Body(cfg): Body<Config>,
) -> ApiResult<Json<Applied>> {
    let Some(tag) = if_match(&headers) else {
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "if-match-required",
            "Precondition required",
            "send If-Match with the ETag from GET /api/v1/config",
        ));
    };
    Ok(Json(api.ctl.replace(&who(&c, "PUT", "/api/v1/config"), cfg, &tag).await?))
}

/// The outcome of a validation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// Always true: an invalid config answers 422 with every problem.
    pub valid: bool,
    /// Fields that differ from the running config.
    pub changes: Vec<String>,
}

/// Check a whole config without applying it: every problem, by field,
/// including fields that cannot change without a restart.
#[utoipa::path(post, path = "/api/v1/config/validate", tag = "config", request_body = Config,
    responses((status = 200, body = Validation), (status = 422, body = Problem), (status = 400, body = Problem)))]
async fn validate_config(State(api): St, Body(cfg): Body<Config>) -> ApiResult<Json<Validation>> {
    cfg.validate().map_err(Problem::invalid)?;
    let running = api.ctl.running();
    let restart: Vec<ConfigError> = running.restart_only_changes(&cfg);
    if !restart.is_empty() {
        return Err(Problem::invalid(restart));
    }
    Ok(Json(Validation { valid: true, changes: crate::control::diff(&running, &cfg) }))
}

/// Commit options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CommitParams {
    /// Roll the change back after this many seconds (1..=3600) unless
    /// `POST /api/v1/config/confirm` is called first. Without it the
    /// commit is final at once.
    confirm: Option<u64>,
}

/// Apply a whole config. With `?confirm=SECONDS` it is applied at once
/// but saved only when confirmed, and rolled back automatically if not.
/// `If-Match` is honoured when sent.
#[utoipa::path(post, path = "/api/v1/config/commit", tag = "config", request_body = Config, params(CommitParams),
    responses((status = 200, body = Applied), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem)))]
async fn commit_config(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Query(q): Query<CommitParams>,
    headers: HeaderMap,
    Body(cfg): Body<Config>,
) -> ApiResult<Json<Applied>> {
    if let Some(s) = q.confirm {
        if !(1..=3600).contains(&s) {
            return Err(Problem::bad_request("confirm", format!("{s} is outside 1..=3600 seconds")));
        }
    }
    if let Some(tag) = if_match(&headers) {
        let current = etag(&api.ctl.running());
        if tag != current && tag != "*" {
            return Err(ApplyError::PreconditionFailed(format!(
                "If-Match {tag} does not match the running config's ETag {current}"
            ))
            .into());
        }
    }
    let w = who(&c, "POST", "/api/v1/config/commit");
    Ok(Json(api.ctl.commit(&w, cfg, q.confirm.map(Duration::from_secs)).await?))
}

/// A pending confirmed commit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingCommit {
    pub pending: bool,
    /// When it is rolled back unless confirmed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_at: Option<String>,
}

/// Is a confirmed commit waiting for confirmation?
#[utoipa::path(get, path = "/api/v1/config/commit", tag = "config", responses((status = 200, body = PendingCommit)))]
async fn get_commit(State(api): St) -> Json<PendingCommit> {
    let p = api.ctl.pending().await;
    Json(PendingCommit {
        pending: p.is_some(),
        rollback_at: p.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
    })
}

/// Roll a pending confirmed commit back now.
#[utoipa::path(delete, path = "/api/v1/config/commit", tag = "config",
    responses((status = 200, body = Applied), (status = 409, body = Problem)))]
async fn cancel_commit(State(api): St, axum::Extension(c): axum::Extension<Caller>) -> ApiResult<Json<Applied>> {
    Ok(Json(api.ctl.cancel(&who(&c, "DELETE", "/api/v1/config/commit")).await?))
}

/// Keep a pending confirmed commit: it is saved and stays.
#[utoipa::path(post, path = "/api/v1/config/confirm", tag = "config",
    responses((status = 200, body = Applied), (status = 409, body = Problem)))]
async fn confirm_commit(State(api): St, axum::Extension(c): axum::Extension<Caller>) -> ApiResult<Json<Applied>> {
    Ok(Json(api.ctl.confirm(&who(&c, "POST", "/api/v1/config/confirm")).await?))
}

// ---------------------------------------------------------------- observe

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "observe", params(Paging),
    responses((status = 200, body = Page<AuditEntry>)))]
async fn get_audit(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<AuditEntry>>> {
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", format!("{limit} is outside 1..=1000")));
    }
    let (total, items) =
        api.ctl.audit().read(offset, limit).map_err(|e| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "audit", "Audit log unreadable", e.to_string())
        })?;
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
        forwarded: sum(&|w| w.forwarded.load(Relaxed)),
        local: sum(&|w| w.local.load(Relaxed)),
        icmp_errors: sum(&|w| w.icmp_errors.load(Relaxed)),
        neighbors: sum(&|w| w.neighbors.load(Relaxed)),
        workers: ws
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (b, idle) = (w.busy_cycles.load(Relaxed), w.idle_cycles.load(Relaxed));
                WorkerInfo {
                    worker: i,
                    packets: w.packets.load(Relaxed),
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
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics::render(&src)).into_response()
}

/// Liveness: `ok` while gatewayd serves. Needs no token.
#[utoipa::path(get, path = "/healthz", tag = "observe", security(()),
    responses((status = 200, description = "ok", content_type = "text/plain")))]
async fn healthz_doc() -> &'static str {
    "ok\n"
}

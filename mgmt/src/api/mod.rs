//! The REST API under `/api/v1`, `/metrics` and `/healthz`.
//!
//! Every handler is declared once, with its OpenAPI description next to
//! it; the router and `/api/v1/openapi.json` are both made from those
//! declarations, so a route cannot be served undocumented. Changes all go
//! through [`Controller`]; reads never wait for a change in progress.
//!
//! Access: every endpoint but `/healthz` needs `Authorization: Bearer
//! TOKEN`. Read-only tokens may use GET and `POST /config/validate`;
//! everything else needs an admin token (`access.rs`). Bodies, queries
//! and paths decode into problems naming the field (`extract.rs`).
//!
//! One file per resource lists its routes and handlers: `ports`,
//! `interfaces`, `bridges`, `routes`, `neighbors`, `config`, `nat44`,
//! `observe`; `named.rs` is what the named lists share. The imports here
//! are their prelude (each starts with `use super::*`).

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

mod access;
mod bridges;
mod config;
mod extract;
mod interfaces;
mod named;
mod nat44;
mod neighbors;
mod observe;
mod ports;
mod routes;
mod services;

use access::{authenticate, Caller};
use extract::{page, Body, Page, Paging, Path, Query};
use named::NamedList;

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
        (name = "services", description = "Built-in services on the gateway's own addresses (UDP echo, discard) and their counts."),
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
        .method_not_allowed_fallback(|| async {
            let detail = "this endpoint does not take that method (see /api/v1/openapi.json)";
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", detail)
        })
        .layer(axum::middleware::from_fn(uri_limit))
        .with_state(api)
}

/// The longest path and query the API reads. Longer ones are 414 with a
/// problem body; past 64 KiB the HTTP layer refuses the request line
/// itself (414 without a body).
pub const MAX_URI_BYTES: usize = 8192;

async fn uri_limit(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        let detail = format!("the path and query are {len} bytes; at most {MAX_URI_BYTES} are read");
        return Problem::new(StatusCode::URI_TOO_LONG, "uri-too-long", "URI too long", detail).into_response();
    }
    next.run(req).await
}

/// The OpenAPI document (also served at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// Makes the document say what the server sends: errors as
/// `application/problem+json` (RFC 9457); for every operation 401 (a
/// missing or unknown token) and 414 (an over-long URI); 403 for every
/// one a read-only token may not use; 400 for every one with parameters
/// or a body (they do not parse); 415 for every one with a body (not
/// JSON or YAML).
fn describe_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let answer =
        |what: &str| ResponseBuilder::new().description(what).content("application/problem+json", problem()).build();
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = path == "/healthz";
        let ops = [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, op) in ops.into_iter().filter_map(|(m, op)| Some((m, op.as_mut()?))) {
            for (code, r) in op.responses.responses.iter_mut() {
                let utoipa::openapi::RefOr::T(r) = r else { continue };
                if !code.starts_with('2') {
                    if let Some(c) = r.content.shift_remove("application/json") {
                        r.content.insert("application/problem+json".into(), c);
                    }
                }
            }
            let responses = &mut op.responses.responses;
            responses.entry("414".into()).or_insert_with(|| {
                let what = "the path and query are over 8 KiB (over 64 KiB, the request line is refused with no body)";
                answer(what).into()
            });
            if open {
                continue;
            }
            responses.entry("401".into()).or_insert_with(|| answer("no token, or not a known one").into());
            if access::method_writes(method, path) {
                responses.entry("403".into()).or_insert_with(|| answer("the token is read-only").into());
            }
            if op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                responses
                    .entry("400".into())
                    .or_insert_with(|| answer("a parameter or the body does not parse").into());
            }
            if op.request_body.is_some() {
                let what = "the body is not sent as application/json (or application/yaml)";
                responses.entry("415".into()).or_insert_with(|| answer(what).into());
            }
        }
    }
}

/// Makes the schemas say exactly what the server takes and sends, where
/// the generator does not: see [`bound_integers`] and [`merge_flattened`].
fn exact_schemas(doc: &mut utoipa::openapi::OpenApi) {
    let Ok(mut v) = serde_json::to_value(&*doc) else { return };
    bound_integers(&mut v);
    if let Some(serde_json::Value::Object(schemas)) = v.pointer("/components/schemas").cloned() {
        merge_flattened(&mut v, &schemas);
    }
    if let Ok(d) = serde_json::from_value(v) {
        *doc = d;
    }
}

/// A view that adds fields to a config item (`#[serde(flatten)]`) comes
/// out as `allOf` of the item, which forbids unknown fields, and the
/// additions, so nothing could match it. Such a schema becomes one
/// object with the properties and required fields of all its parts.
fn merge_flattened(v: &mut serde_json::Value, schemas: &serde_json::Map<String, serde_json::Value>) {
    use serde_json::{Map, Value};
    let resolved = |part: &Value| -> Option<Value> {
        match part.get("$ref").and_then(Value::as_str) {
            Some(r) => schemas.get(r.strip_prefix("#/components/schemas/")?).cloned(),
            None => Some(part.clone()),
        }
    };
    match v {
        Value::Object(s) => {
            if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
                let (mut props, mut required, mut closed, mut whole) = (Map::new(), Vec::<Value>::new(), false, true);
                for part in parts {
                    let p = resolved(part);
                    let Some(ps) = p.as_ref().and_then(|p| p.get("properties")).and_then(Value::as_object) else {
                        whole = false;
                        break;
                    };
                    props.extend(ps.clone());
                    let p = p.as_ref().unwrap_or(&Value::Null);
                    required.extend(p.get("required").and_then(Value::as_array).cloned().unwrap_or_default());
                    closed |= p.get("additionalProperties") == Some(&Value::Bool(false));
                }
                if whole && closed {
                    s.remove("allOf");
                    s.insert("type".into(), "object".into());
                    s.insert("properties".into(), Value::Object(props));
                    s.insert("required".into(), Value::Array(required));
                    s.insert("additionalProperties".into(), Value::Bool(false));
                }
            }
            s.values_mut().for_each(|v| merge_flattened(v, schemas));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| merge_flattened(v, schemas)),
        _ => {}
    }
}

/// Gives every unsigned integer its range, as the server parses it: the
/// generator names them `u-int32` and the like (which clients ignore) and
/// gives `usize` no format at all, so a client would take any size as
/// valid, or assume the signed range.
fn bound_integers(v: &mut serde_json::Value) {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                let integer = match m.get("type") {
                    Some(serde_json::Value::String(t)) => t == "integer",
                    Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                    _ => false,
                };
                if integer {
                    let max: Option<(u64, &str)> = match m.get("format").and_then(|f| f.as_str()) {
                        Some("u-int8") => Some((u8::MAX.into(), "uint8")),
                        Some("u-int16") => Some((u16::MAX.into(), "uint16")),
                        Some("u-int32") => Some((u32::MAX.into(), "uint32")),
                        Some("u-int64") => Some((u64::MAX, "uint64")),
                        None if m.get("minimum").and_then(|x| x.as_u64()) == Some(0) => Some((u64::MAX, "uint64")),
                        _ => None,
                    };
                    if let Some((max, format)) = max {
                        m.insert("format".into(), format.into());
                        m.entry("maximum").or_insert(max.into());
                    }
                }
                m.values_mut().for_each(walk);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(v);
}

fn api_routes() -> OpenApiRouter<Arc<Api>> {
    type Routes = fn(OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>>;
    let resources: [Routes; 9] = [
        nat44::routes,
        services::routes,
        ports::routes,
        interfaces::routes,
        bridges::routes,
        routes::routes,
        neighbors::routes,
        config::routes,
        observe::routes,
    ];
    let r = resources.into_iter().fold(OpenApiRouter::with_openapi(ApiDoc::openapi()), |r, add| add(r));
    let (router, mut doc) = r.split_for_parts();
    describe_errors(&mut doc);
    exact_schemas(&mut doc);
    OpenApiRouter::with_openapi(doc).merge(OpenApiRouter::from(router))
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

/// Liveness: `ok` while gatewayd serves. Needs no token.
#[utoipa::path(get, path = "/healthz", tag = "observe", security(()),
    responses((status = 200, description = "ok", content_type = "text/plain")))]
async fn healthz_doc() -> &'static str {
    "ok\n"
}

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
        .with_state(api)
}

/// The OpenAPI document (also served at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// Makes the document say what the server sends: errors as
/// `application/problem+json` (RFC 9457), 401 for every operation (a
/// missing or unknown token), 400 for every one with a body (it does not
/// parse).
fn describe_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let answer =
        |what: &str| ResponseBuilder::new().description(what).content("application/problem+json", problem()).build();
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = path == "/healthz";
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            for (code, r) in op.responses.responses.iter_mut() {
                let utoipa::openapi::RefOr::T(r) = r else { continue };
                if !code.starts_with('2') {
                    if let Some(c) = r.content.shift_remove("application/json") {
                        r.content.insert("application/problem+json".into(), c);
                    }
                }
            }
            let responses = &mut op.responses.responses;
            if open {
                continue;
            }
            responses.entry("401".into()).or_insert_with(|| answer("no token, or not a known one").into());
            if op.request_body.is_some() {
                responses.entry("400".into()).or_insert_with(|| answer("the body does not parse").into());
            }
        }
    }
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

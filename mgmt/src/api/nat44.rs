//! `/api/v1/nat`: the NAT section of the config (rules and their pools,
//! port forwards, static mappings, settings), changed through the
//! controller like every other part of it; and the live state the
//! workers hold (sessions, subscribers), asked of them through their NAT
//! mailboxes and paged by cursor.

use super::*;
use crate::config::{NatConf, NatForwardConf, NatRuleConf, NatStaticConf};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The NAT routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(get_nat, put_nat))
        .routes(routes!(list_rules, add_rule))
        .routes(routes!(get_rule, put_rule, delete_rule))
        .routes(routes!(add_pool_address))
        .routes(routes!(delete_pool_address))
        .routes(routes!(list_forwards, add_forward))
        .routes(routes!(delete_forward))
        .routes(routes!(list_statics, add_static))
        .routes(routes!(delete_static))
        .routes(routes!(list_sessions))
        .routes(routes!(delete_session))
        .routes(routes!(list_subscribers))
}

// --------------------------------------------------------------- config

/// The NAT section: rules, forwards, static mappings and settings.
#[utoipa::path(get, path = "/api/v1/nat", tag = "nat", responses((status = 200, body = NatConf)))]
async fn get_nat(State(api): St) -> Json<NatConf> {
    Json(api.ctl.running().nat.clone())
}

/// Replace the NAT section as a whole (settings such as `filtering`,
/// `port_range`, `timeouts` and the subscriber bounds live only here).
/// Omitted fields take their defaults; `max_sessions` needs a restart.
#[utoipa::path(put, path = "/api/v1/nat", tag = "nat", request_body = NatConf,
    responses((status = 200, body = Applied), (status = 422, body = Problem)))]
async fn put_nat(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(n): Body<NatConf>,
) -> ApiResult<Json<Applied>> {
    let w = c.who();
    let r = api
        .ctl
        .change(&w, "replace the NAT section", |cfg| {
            cfg.nat = n;
            Ok(())
        })
        .await;
    Ok(Json(r.map_err(|e| rebase(e, "nat", ""))?))
}

fn no_rule(index: usize) -> ApplyError {
    ApplyError::NotFound(format!("there is no NAT rule {index}"))
}

/// List the source NAT rules, in the order they match.
#[utoipa::path(get, path = "/api/v1/nat/rules", tag = "nat", params(Paging),
    responses((status = 200, body = Page<NatRuleConf>)))]
async fn list_rules(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<NatRuleConf>>> {
    page(api.ctl.running().nat.rules.clone(), &p)
}

/// Append a source NAT rule (it matches after the existing ones).
#[utoipa::path(post, path = "/api/v1/nat/rules", tag = "nat", request_body = NatRuleConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem)))]
async fn add_rule(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(rule): Body<NatRuleConf>,
) -> ApiResult<impl IntoResponse> {
    let w = c.who();
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add NAT rule {} via {}", rule.inside, rule.outside_interface), |cfg| {
            at = format!("nat.rules[{}]", cfg.nat.rules.len());
            cfg.nat.rules.push(rule);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// One source NAT rule, by its position (from 0).
#[utoipa::path(get, path = "/api/v1/nat/rules/{index}", tag = "nat",
    params(("index" = usize, Path, description = "Position in the rule list, from 0")),
    responses((status = 200, body = NatRuleConf), (status = 404, body = Problem)))]
async fn get_rule(State(api): St, Path(index): Path<usize>) -> ApiResult<Json<NatRuleConf>> {
    let cfg = api.ctl.running();
    Ok(Json(cfg.nat.rules.get(index).cloned().ok_or_else(|| Problem::from(no_rule(index)))?))
}

/// Replace a source NAT rule in place. A changed rule list ends every
/// NAT session.
#[utoipa::path(put, path = "/api/v1/nat/rules/{index}", tag = "nat", request_body = NatRuleConf,
    params(("index" = usize, Path, description = "Position in the rule list, from 0")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_rule(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(index): Path<usize>,
    Body(rule): Body<NatRuleConf>,
) -> ApiResult<Json<Applied>> {
    let w = c.who();
    let r = api
        .ctl
        .change(&w, &format!("replace NAT rule {index}"), |cfg| {
            *cfg.nat.rules.get_mut(index).ok_or_else(|| no_rule(index))? = rule;
            Ok(())
        })
        .await;
    Ok(Json(r.map_err(|e| rebase(e, &format!("nat.rules[{index}]"), ""))?))
}

/// Remove a source NAT rule (later ones move up). Ends every NAT session.
#[utoipa::path(delete, path = "/api/v1/nat/rules/{index}", tag = "nat",
    params(("index" = usize, Path, description = "Position in the rule list, from 0")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_rule(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(index): Path<usize>,
) -> ApiResult<Json<Applied>> {
    let w = c.who();
    let r = api
        .ctl
        .change(&w, &format!("remove NAT rule {index}"), |cfg| {
            if index >= cfg.nat.rules.len() {
                return Err(no_rule(index));
            }
            cfg.nat.rules.remove(index);
            Ok(())
        })
        .await;
    Ok(Json(r?))
}

/// A pool address to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolAddress {
    /// An IPv4 address, routed to the gateway.
    pub address: String,
}

/// Add an address to a rule's pool (a rule with an empty pool
/// masquerades as its interface's address; with one, it uses the pool).
#[utoipa::path(post, path = "/api/v1/nat/rules/{index}/pool", tag = "nat", request_body = PoolAddress,
    params(("index" = usize, Path, description = "Position in the rule list, from 0")),
    responses((status = 201, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_pool_address(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(index): Path<usize>,
    Body(a): Body<PoolAddress>,
) -> ApiResult<impl IntoResponse> {
    let w = c.who();
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add {} to the pool of NAT rule {index}", a.address), |cfg| {
            let pool = &mut cfg.nat.rules.get_mut(index).ok_or_else(|| no_rule(index))?.pool;
            if pool.contains(&a.address) {
                return Err(invalid("address", format!("{} is in the pool already", a.address)));
            }
            at = format!("nat.rules[{index}].pool[{}]", pool.len());
            pool.push(a.address);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, "address"))?))
}

/// Remove an address from a rule's pool.
#[utoipa::path(delete, path = "/api/v1/nat/rules/{index}/pool/{address}", tag = "nat",
    params(("index" = usize, Path, description = "Position in the rule list, from 0"),
        ("address" = String, Path, description = "The pool address")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_pool_address(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((index, address)): Path<(usize, String)>,
) -> ApiResult<Json<Applied>> {
    let w = c.who();
    let r = api
        .ctl
        .change(&w, &format!("remove {address} from the pool of NAT rule {index}"), |cfg| {
            let pool = &mut cfg.nat.rules.get_mut(index).ok_or_else(|| no_rule(index))?.pool;
            found(remove_all(pool, |a| *a == address), || format!("{address} is not in the pool of NAT rule {index}"))
        })
        .await;
    Ok(Json(r.map_err(|e| rebase(e, &format!("nat.rules[{index}]"), ""))?))
}

/// List the port forwards.
#[utoipa::path(get, path = "/api/v1/nat/forwards", tag = "nat", params(Paging),
    responses((status = 200, body = Page<NatForwardConf>)))]
async fn list_forwards(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<NatForwardConf>>> {
    page(api.ctl.running().nat.forwards.clone(), &p)
}

/// Add a port forward. Other sessions keep running, except a dynamic
/// mapping that held the forwarded port, which ends.
#[utoipa::path(post, path = "/api/v1/nat/forwards", tag = "nat", request_body = NatForwardConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem)))]
async fn add_forward(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(f): Body<NatForwardConf>,
) -> ApiResult<impl IntoResponse> {
    let w = c.who();
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add NAT forward {} {} -> {}", f.protocol, f.outside, f.inside), |cfg| {
            at = format!("nat.forwards[{}]", cfg.nat.forwards.len());
            cfg.nat.forwards.push(f);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Remove a port forward (its sessions end).
#[utoipa::path(delete, path = "/api/v1/nat/forwards/{protocol}/{outside}", tag = "nat",
    params(("protocol" = String, Path, description = "tcp or udp"),
        ("outside" = String, Path, description = "The outside endpoint, ADDRESS:PORT")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_forward(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((protocol, outside)): Path<(String, String)>,
) -> ApiResult<Json<Applied>> {
    let w = c.who();
    let r = api
        .ctl
        .change(&w, &format!("remove NAT forward {protocol} {outside}"), |cfg| {
            let removed = remove_all(&mut cfg.nat.forwards, |f| f.protocol == protocol && f.outside == outside);
            found(removed, || format!("no {protocol} forward on {outside}"))
        })
        .await;
    Ok(Json(r?))
}

/// List the static 1:1 mappings.
#[utoipa::path(get, path = "/api/v1/nat/statics", tag = "nat", params(Paging),
    responses((status = 200, body = Page<NatStaticConf>)))]
async fn list_statics(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<NatStaticConf>>> {
    page(api.ctl.running().nat.statics.clone(), &p)
}

/// Add a static 1:1 mapping (stateless: no session changes).
#[utoipa::path(post, path = "/api/v1/nat/statics", tag = "nat", request_body = NatStaticConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem)))]
async fn add_static(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(s): Body<NatStaticConf>,
) -> ApiResult<impl IntoResponse> {
    let w = c.who();
    let mut at = String::new();
    let r = api
        .ctl
        .change(&w, &format!("add NAT static {} <-> {}", s.outside, s.inside), |cfg| {
            at = format!("nat.statics[{}]", cfg.nat.statics.len());
            cfg.nat.statics.push(s);
            Ok(())
        })
        .await;
    Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
}

/// Remove a static 1:1 mapping.
#[utoipa::path(delete, path = "/api/v1/nat/statics/{outside}", tag = "nat",
    params(("outside" = String, Path, description = "The outside address")),
    responses((status = 200, body = Applied), (status = 404, body = Problem)))]
async fn delete_static(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(outside): Path<String>,
) -> ApiResult<Json<Applied>> {
    let w = c.who();
    let r = api
        .ctl
        .change(&w, &format!("remove NAT static {outside}"), |cfg| {
            found(remove_all(&mut cfg.nat.statics, |s| s.outside == outside), || {
                format!("no static mapping of {outside}")
            })
        })
        .await;
    Ok(Json(r?))
}

// ----------------------------------------------------------- live state

/// Which page of a worker-held table to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Cursor {
    /// Only entries of this inside address.
    inside: Option<String>,
    /// Only sessions on this outside address (sessions only).
    outside: Option<String>,
    /// Where to go on: the `next` of the previous page (default: the start).
    cursor: Option<u64>,
    /// Entries to return, 1..=1000 (default 100).
    limit: Option<usize>,
}

/// One page of a worker-held table; pages may be short.
#[derive(Debug, Serialize, ToSchema)]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// A NAT session.
#[derive(Debug, Serialize, ToSchema)]
pub struct NatSession {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// Inside endpoint, `ADDRESS:PORT` (for ICMP, the port is the echo
    /// identifier).
    pub inside: String,
    /// Outside endpoint it is translated to.
    pub outside: String,
    /// The remote endpoint (`:0` for an ICMP echo).
    pub remote: String,
    /// `opening`, `established`, `closing`, `closed` or `reset` for TCP;
    /// `active` otherwise.
    pub state: String,
    /// Seconds until it expires if idle.
    pub expires_in_s: f64,
    /// The worker holding it.
    pub worker: usize,
}

/// One subscriber's use of the NAT (RFC 6888 REQ-4/5 bounds).
#[derive(Debug, Serialize, ToSchema)]
pub struct NatSubscriber {
    pub inside: String,
    /// The outside address all its mappings use (paired pooling).
    pub outside: String,
    pub sessions: u32,
    /// Outside ports it holds.
    pub ports: u32,
    /// Port blocks it holds (`nat.port_block`; 0 without blocks).
    pub blocks: u32,
    pub worker: usize,
}

fn ipv4(field: &str, v: &Option<String>) -> ApiResult<Option<Ipv4Addr>> {
    v.as_deref()
        .map(|s| s.parse().map_err(|_| Problem::bad_request(field, format!("'{s}' is not an IPv4 address"))))
        .transpose()
}

/// Asks the workers in turn from `cursor` until `limit` entries are in
/// (or the last worker's table ends); `take` moves a worker's answer
/// into the items.
async fn ask_pages<T>(
    api: &Api,
    query: nat::Query,
    c: &Cursor,
    mut take: impl FnMut(nat::Answer, u64, usize, &mut Vec<T>),
) -> ApiResult<Json<CursorPage<T>>> {
    let limit = c.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit", format!("{limit} is outside 1..=1000")));
    }
    let cursor = c.cursor.unwrap_or(0);
    let (mut w, mut from) = ((cursor >> 32) as usize, cursor as u32);
    let mut items = Vec::new();
    while w < api.ctl.nat_workers() && items.len() < limit {
        let req = nat::Request::new(query, from, limit - items.len());
        let Some((answer, now)) = api.ctl.nat_ask(w, req).await else {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "worker",
                "Worker did not answer",
                format!("worker {w} did not answer; try again"),
            ));
        };
        let next = answer.next;
        take(answer, now, w, &mut items);
        match next {
            Some(n) => return Ok(Json(CursorPage { items, next: Some((w as u64) << 32 | u64::from(n)) })),
            None => (w, from) = (w + 1, 0),
        }
    }
    let next = (w < api.ctl.nat_workers()).then_some((w as u64) << 32);
    Ok(Json(CursorPage { items, next }))
}

/// List NAT sessions, optionally of one inside or outside address.
/// Paged by cursor: each worker scans its table a slice per loop, so a
/// listing never stalls forwarding.
#[utoipa::path(get, path = "/api/v1/nat/sessions", tag = "nat", params(Cursor),
    responses((status = 200, body = CursorPage<NatSession>), (status = 400, body = Problem), (status = 503, body = Problem)))]
async fn list_sessions(State(api): St, Query(c): Query<Cursor>) -> ApiResult<Json<CursorPage<NatSession>>> {
    let query = nat::Query::Sessions { inside: ipv4("inside", &c.inside)?, outside: ipv4("outside", &c.outside)? };
    ask_pages(&api, query, &c, |a, now, worker, items| {
        items.extend(a.sessions.into_iter().map(|s| NatSession {
            protocol: nat::protocol_name(s.proto).into(),
            inside: format!("{}:{}", s.inside.0, s.inside.1),
            outside: format!("{}:{}", s.outside.0, s.outside.1),
            remote: format!("{}:{}", s.remote.0, s.remote.1),
            state: s.state().into(),
            expires_in_s: s.expires.saturating_sub(now) as f64 / 1e9,
            worker,
        }))
    })
    .await
}

/// End one NAT session, named by protocol, outside endpoint and remote
/// endpoint (as the session list shows them).
#[utoipa::path(delete, path = "/api/v1/nat/sessions/{protocol}/{outside}/{remote}", tag = "nat",
    params(("protocol" = String, Path, description = "tcp, udp or icmp"),
        ("outside" = String, Path, description = "Outside endpoint, ADDRESS:PORT"),
        ("remote" = String, Path, description = "Remote endpoint, ADDRESS:PORT")),
    responses((status = 200, body = Applied), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn delete_session(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path((protocol, outside, remote)): Path<(String, String, String)>,
) -> ApiResult<Json<Applied>> {
    let proto = match protocol.as_str() {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        other => return Err(Problem::bad_request("protocol", format!("'{other}' is not tcp, udp or icmp"))),
    };
    let endpoint = |field: &str, s: &str| {
        s.parse::<SocketAddrV4>()
            .map(|e| (*e.ip(), e.port()))
            .map_err(|_| Problem::bad_request(field, format!("'{s}' is not ADDRESS:PORT (IPv4)")))
    };
    let (o, r) = (endpoint("outside", &outside)?, endpoint("remote", &remote)?);
    let w = c.who();
    Ok(Json(api.ctl.delete_nat_session(&w, proto, o, r).await?))
}

/// List subscribers (inside addresses) with their session and port use.
#[utoipa::path(get, path = "/api/v1/nat/subscribers", tag = "nat", params(Cursor),
    responses((status = 200, body = CursorPage<NatSubscriber>), (status = 400, body = Problem), (status = 503, body = Problem)))]
async fn list_subscribers(State(api): St, Query(c): Query<Cursor>) -> ApiResult<Json<CursorPage<NatSubscriber>>> {
    let query = nat::Query::Subscribers { inside: ipv4("inside", &c.inside)? };
    ask_pages(&api, query, &c, |a, _, worker, items| {
        items.extend(a.subscribers.into_iter().map(|s| NatSubscriber {
            inside: s.inside.to_string(),
            outside: s.outside.to_string(),
            sessions: s.sessions,
            ports: s.ports,
            blocks: s.blocks,
            worker,
        }))
    })
    .await
}

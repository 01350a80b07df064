//! `/api/v1/routes`: static routes, one at a time or in batches.

use super::*;

/// The routes routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_routes, add_route)).routes(routes!(get_route, delete_route)).routes(routes!(batch_routes))
}

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
    let w = c.who();
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
    let w = c.who();
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
    let w = c.who();
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

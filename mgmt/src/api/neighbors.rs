//! `/api/v1/neighbors`: the workers' neighbor caches and the static
//! entries.

use super::*;

/// The neighbors routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_neighbors, flush_neighbors))
        .routes(routes!(list_static_neighbors, add_static_neighbor))
        .routes(routes!(delete_static_neighbor))
}

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
    Ok(Json(api.ctl.flush_neighbors(&c.who()).await?))
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
    let w = c.who();
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
    let w = c.who();
    let r = api
        .ctl
        .change(&w, &format!("remove static neighbor {ip} on {interface}"), |cfg| {
            let removed = remove_all(&mut cfg.neighbors, |x| x.interface == interface && x.ip == ip);
            found(removed, || format!("no static neighbor {ip} on {interface}"))
        })
        .await;
    Ok(Json(r?))
}

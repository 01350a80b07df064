//! `/api/v1/bridges`: bridge domains, their members and the workers'
//! MAC tables.

use super::*;

/// The bridges routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_bridges, add_bridge))
        .routes(routes!(get_bridge, put_bridge, delete_bridge))
        .routes(routes!(add_member))
        .routes(routes!(delete_member))
        .routes(routes!(list_macs, flush_macs))
}

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

const BRIDGES: NamedList<BridgeConf> =
    NamedList { kind: "bridge", field: "bridges", list: |c| &mut c.bridges, name: |b| &b.name };

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
    BRIDGES.add(&api, &c, b).await
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
    BRIDGES.replace(&api, &c, &name, b).await
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
    BRIDGES.remove(&api, &c, &name).await
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
    let w = c.who();
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
    let w = c.who();
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
    /// The member it was learned on: its port and VLAN, or the remote
    /// VXLAN VTEP (`port` is then empty).
    pub port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vtep: Option<String>,
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
                port: if m.vtep.is_some() { String::new() } else { port_name(m.port) },
                vlan: m.vlan,
                vtep: m.vtep.map(|a| a.to_string()),
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
    Ok(Json(api.ctl.flush_macs(&c.who(), &name).await?))
}

//! `/api/v1/interfaces`: layer-3 interfaces and their addresses.

use super::*;

/// The interfaces routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_interfaces, add_interface))
        .routes(routes!(get_interface, put_interface, delete_interface))
        .routes(routes!(add_address))
        .routes(routes!(delete_address))
}

/// An interface: its config and the MAC it answers on.
#[derive(Debug, Serialize, ToSchema)]
pub struct InterfaceInfo {
    #[serde(flatten)]
    pub config: InterfaceConf,
    /// The MAC address it answers on: its port's, or for a bridge's
    /// interface the first member port's.
    pub mac: String,
    /// A tunnel's: the MTU its packets must fit now. Its own (`mtu`, or
    /// less to fit the underlay interface with the outer headers), or
    /// less again while the underlay's last report of a narrower path
    /// holds (10 minutes; RFC 2003 §4, RFC 2473 §8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_mtu: Option<u16>,
}

fn iface_info(api: &Api, c: &InterfaceConf) -> InterfaceInfo {
    let t = api.ctl.snapshot();
    let ifc = t.ifaces.iter().find(|i| i.name == c.name);
    let mac = ifc.map(|i| i.mac.to_string()).unwrap_or_default();
    InterfaceInfo { config: c.clone(), mac, path_mtu: ifc.and_then(|i| api.ctl.tunnel_mtu(i)) }
}

const INTERFACES: NamedList<InterfaceConf> =
    NamedList { kind: "interface", field: "interfaces", list: |c| &mut c.interfaces, name: |i| &i.name };

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
/// (`{"name": "trunk.200", "port": "trunk", "vlan": 200}`), on a bridge
/// (`{"name": "br0", "bridge": "br0"}`), or inside a tunnel
/// (`{"name": "gre1", "tunnel": {"type": "gre", "local": "203.0.113.1",
/// "remote": "198.51.100.7"}, "ipv4": ["172.16.0.1/30"]}`).
#[utoipa::path(post, path = "/api/v1/interfaces", tag = "interfaces", request_body = InterfaceConf,
    responses((status = 201, body = Applied), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn add_interface(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Body(ifc): Body<InterfaceConf>,
) -> ApiResult<impl IntoResponse> {
    INTERFACES.add(&api, &c, ifc).await
}

/// An interface as `PUT` takes it: its config, and the `mac` that `GET`
/// shows, so what was read can be sent back unchanged.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InterfacePut {
    #[serde(flatten)]
    pub config: InterfaceConf,
    /// Read-only: the MAC the interface answers on, as `GET` shows it.
    /// It may be sent back; another value is refused (it is the port's).
    #[serde(default)]
    pub mac: Option<String>,
}

/// Replace an interface's settings (MTU, addresses, port). The body is
/// what `GET` returns, changed where wanted.
#[utoipa::path(put, path = "/api/v1/interfaces/{name}", tag = "interfaces", request_body = InterfacePut,
    params(("name" = String, Path, description = "Interface name")),
    responses((status = 200, body = Applied), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_interface(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Path(name): Path<String>,
    Body(body): Body<InterfacePut>,
) -> ApiResult<Json<Applied>> {
    if let Some(sent) = &body.mac {
        let running = api.ctl.running();
        let current = running.interfaces.iter().find(|i| i.name == name).map(|i| iface_info(&api, i).mac);
        let same = |cur: &String| sent.parse::<stack::wire::MacAddr>().ok() == cur.parse::<stack::wire::MacAddr>().ok();
        if current.as_ref().is_some_and(|cur| !same(cur)) {
            let msg = format!("is read-only ({}): it is the port's MAC", current.unwrap_or_default());
            return Err(ApplyError::Invalid(vec![crate::config::err("mac", msg)]).into());
        }
    }
    INTERFACES.replace(&api, &c, &name, body.config).await
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
    INTERFACES.remove(&api, &c, &name).await
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
    let w = c.who();
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
    let w = c.who();
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

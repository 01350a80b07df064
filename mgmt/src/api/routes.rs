//! `/api/v1/routes`: the config's static routes, one at a time or in
//! batches, and (read-only) the routes learned from FRR over FPM.

use super::*;
use crate::fpm::netlink::Target;
use crate::fpm::rib::{Learned, Rib};
use crate::tables;
use std::collections::HashSet;
use std::net::IpAddr;

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
    /// Only routes of this origin: `config` (the config file's static
    /// routes) or a routing protocol of the routes learned from FRR
    /// (`static` for FRR's staticd, `bgp`, `ospf`, `isis`, ...).
    protocol: Option<String>,
}

/// A route as the gateway holds it: from the config file or learned.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteView {
    /// Destination prefix, `ADDRESS/LENGTH`.
    pub dst: String,
    /// Gateways (ECMP when more than one). For a learned route, those
    /// the daemon gave that lie in a connected subnet of ours.
    pub via: Vec<String>,
    /// Route type.
    #[serde(rename = "type")]
    pub kind: RouteType,
    /// `config` for the config file's routes; for a learned route, the
    /// protocol that made it (`static`, `bgp`, `ospf`, ...).
    pub protocol: String,
    /// The metric the daemon sent (`RTA_PRIORITY`; zebra sends 20 for
    /// every route, having chosen it by administrative distance itself).
    /// Absent for config routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// Whether the workers route with it: false when the other source
    /// has the same prefix and wins (`routing.prefer`), or when none of
    /// a learned route's next hops is in a connected subnet.
    pub selected: bool,
    /// A learned route from before the daemon's last reconnect, not sent
    /// again yet: it goes when the resync ends or the grace time does.
    pub stale: bool,
}

/// What a route's view is made from: the running config, the snapshot
/// the workers route with, and the learned routes (read-locked).
struct Viewer<'a> {
    running: Arc<Config>,
    snapshot: arc_swap::Guard<Arc<stack::Tables>>,
    rib: tokio::sync::RwLockReadGuard<'a, Rib>,
    /// The config's route prefixes.
    config: HashSet<IpCidr>,
}

impl<'a> Viewer<'a> {
    async fn new(api: &'a Api) -> Viewer<'a> {
        let running = api.ctl.running();
        let config = running.routes.iter().filter_map(|r| r.dst.parse::<IpCidr>().ok()).map(|c| c.prefix()).collect();
        Viewer { snapshot: api.ctl.snapshot(), rib: api.ctl.learned.read().await, running, config }
    }

    fn prefer_learned(&self) -> bool {
        self.running.routing.prefer == crate::config::RoutePreference::Learned
    }

    /// Whether the workers could route with the learned route to `d`.
    fn learned_ok(&self, d: &IpCidr) -> bool {
        let rib = &self.rib;
        rib.get(&d.prefix()).is_some_and(|r| match &*r.target {
            Target::Blackhole | Target::Prohibit | Target::Unreachable => true,
            t => {
                rib.is_blackhole_object(t)
                    || !tables::resolve(&rib.hops(t), &self.snapshot.ifaces, &rib.twins).is_empty()
            }
        })
    }

    /// The config's routes (or only the one to `one`), in its order.
    fn config_views(&self, one: Option<&IpCidr>) -> Vec<RouteView> {
        let prefer_learned = self.prefer_learned();
        self.running
            .routes
            .iter()
            .filter(|r| one.is_none_or(|d| same_prefix(&r.dst, d)))
            .map(|r| RouteView {
                dst: r.dst.clone(),
                via: r.via.clone(),
                kind: r.kind,
                protocol: "config".into(),
                metric: None,
                selected: !(prefer_learned && r.dst.parse::<IpCidr>().is_ok_and(|d| self.learned_ok(&d))),
                stale: false,
            })
            .collect()
    }

    /// The view of learned route `r` to `d`.
    fn learned_view(&self, d: &IpCidr, r: &Learned) -> RouteView {
        let rib = &self.rib;
        let (kind, via) = match &*r.target {
            Target::Unreachable => (RouteType::Unreachable, Vec::new()),
            Target::Blackhole | Target::Prohibit => (RouteType::Blackhole, Vec::new()),
            t if rib.is_blackhole_object(t) => (RouteType::Blackhole, Vec::new()),
            t => {
                // A link-local gateway with its interface, as the config writes it.
                let name = |i: u16| self.snapshot.iface(i).map_or("", |x| x.name.as_str());
                let via =
                    tables::resolve(&rib.hops(t), &self.snapshot.ifaces, &rib.twins).into_iter().map(
                        |(i, g)| match g {
                            IpAddr::V6(a) if stack::wire::ipv6::is_link_local(&a) => format!("{a}%{}", name(i)),
                            g => g.to_string(),
                        },
                    );
                (RouteType::Unicast, via.collect())
            }
        };
        let usable = kind != RouteType::Unicast || !via.is_empty();
        RouteView {
            dst: d.to_string(),
            via,
            kind,
            protocol: r.protocol.name().into(),
            metric: Some(r.metric),
            selected: usable && (self.prefer_learned() || !self.config.contains(d)),
            stale: rib.is_stale(r),
        }
    }
}

/// Where a learned route lists: IPv4 first, then by network and length.
fn listing_order(d: &IpCidr) -> (bool, IpAddr, u8) {
    (matches!(d, IpCidr::V6(_)), d.network(), d.prefix_len())
}

/// Places `from..to` of `v` in `key`'s order, as if `v` were sorted,
/// and returns them; the rest only partitioned around them. Linear in
/// `v` (two selections) and `to - from` sorted: a page of a million
/// learned routes without sorting the million.
fn sorted_window<T, K: Ord>(v: &mut [T], from: usize, to: usize, key: impl Fn(&T) -> K) -> &mut [T] {
    let to = to.min(v.len());
    if from >= to {
        return &mut [];
    }
    if from > 0 {
        v.select_nth_unstable_by_key(from, &key);
    }
    let rest = &mut v[from..];
    let n = to - from;
    if n < rest.len() {
        rest.select_nth_unstable_by_key(n, &key);
    }
    let page = &mut rest[..n];
    page.sort_unstable_by_key(key);
    page
}

fn same_prefix(a: &str, b: &IpCidr) -> bool {
    a.parse::<IpCidr>().is_ok_and(|c| c.same_prefix(b))
}

fn parse_prefix(field: &str, s: &str) -> Result<IpCidr, Problem> {
    s.parse::<IpCidr>().map_err(|m| Problem::bad_request(field, m))
}

/// List routes: the config's static routes, then those learned from
/// FRR; optionally only those inside a prefix, or of one protocol.
#[utoipa::path(get, path = "/api/v1/routes", tag = "routes", params(RouteFilter, Paging),
    responses((status = 200, body = Page<RouteView>), (status = 400, body = Problem)))]
async fn list_routes(
    State(api): St,
    Query(f): Query<RouteFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Page<RouteView>>> {
    let within = f.prefix.as_deref().map(|s| parse_prefix("prefix", s)).transpose()?;
    if let Some(proto) = f.protocol.as_deref() {
        if proto != "config" && !crate::fpm::netlink::Protocol::NAMES.contains(&proto) {
            let known = crate::fpm::netlink::Protocol::NAMES.join(", ");
            return Err(Problem::bad_request("protocol", format!("'{proto}' is not config or one of {known}")));
        }
    }
    let (offset, limit) = p.window()?;
    let inside = |d: &IpCidr| within.is_none_or(|w| d.prefix_len() >= w.prefix_len() && w.contains(d.network()));
    let of = |protocol: &str| f.protocol.as_deref().is_none_or(|p| p == protocol);
    // The config's routes (a few), then the learned ones (maybe a full
    // table): only the page's learned routes are put in order and made
    // into views.
    let v = Viewer::new(&api).await;
    let config: Vec<RouteView> = v
        .config_views(None)
        .into_iter()
        .filter(|r| of("config") && r.dst.parse::<IpCidr>().is_ok_and(|d| inside(&d)))
        .collect();
    let mut learned: Vec<(&IpCidr, &Learned)> =
        v.rib.routes().filter(|(d, r)| inside(d) && of(r.protocol.name())).collect();
    let total = config.len() + learned.len();
    let (from, to) = (offset.saturating_sub(config.len()), offset.saturating_add(limit).saturating_sub(config.len()));
    let mut items: Vec<RouteView> = config.into_iter().skip(offset).take(limit).collect();
    let page = sorted_window(&mut learned, from, to, |(d, _)| listing_order(d));
    items.extend(page.iter().map(|(d, r)| v.learned_view(d, r)));
    Ok(Json(Page { items, total, offset, limit }))
}

/// One route, by destination prefix: the config's, or else the learned one.
#[utoipa::path(get, path = "/api/v1/routes/{addr}/{len}", tag = "routes",
    params(("addr" = String, Path, description = "Network address"), ("len" = u8, Path, description = "Prefix length")),
    responses((status = 200, body = RouteView), (status = 404, body = Problem)))]
async fn get_route(State(api): St, Path((addr, len)): Path<(String, u8)>) -> ApiResult<Json<RouteView>> {
    let dst = parse_prefix("dst", &format!("{addr}/{len}"))?;
    let v = Viewer::new(&api).await;
    let r = v.config_views(Some(&dst)).into_iter().next();
    let r = r.or_else(|| v.rib.get_key_value(&dst.prefix()).map(|(d, l)| v.learned_view(d, l)));
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
    let learned = api.ctl.learned.read().await.get(&dst.prefix()).map(|r| r.protocol.name());
    if let (Some(p), false) = (learned, api.ctl.running().routes.iter().any(|r| same_prefix(&r.dst, &dst))) {
        return Err(Problem::not_found(format!(
            "{addr}/{len} is learned from FRR ({p}), not in the config: withdraw it there"
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window, from a shuffled list, is what a full sort has there.
    #[test]
    fn a_sorted_window_is_the_sorted_list_s_slice() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let all: Vec<u64> = (0..500).map(|_| next() % 100_000).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        for (from, to) in
            [(0, 1), (0, 100), (37, 38), (100, 200), (450, 500), (450, 600), (499, 500), (500, 600), (7, 3)]
        {
            let mut v = all.clone();
            let page = sorted_window(&mut v, from, to, |&k| k).to_vec();
            let want = sorted.get(from.min(500)..to.clamp(from.min(500), 500)).unwrap_or_default();
            assert_eq!(page, want, "{from}..{to}");
        }
    }

    /// Learned routes list IPv4 first, then by network, then by length.
    #[test]
    fn learned_routes_list_v4_first_then_by_network_and_length() {
        let mut v: Vec<IpCidr> = ["2001:db8::/32", "10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8", "::/0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let page = sorted_window(&mut v, 0, 5, listing_order).iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(page, ["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "::/0", "2001:db8::/32"]);
    }
}

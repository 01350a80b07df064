//! The `routing` section: routes learned from a routing daemon (FRR's
//! zebra over FPM), how long they outlive its connection, and which
//! source wins on an equal prefix.

use super::*;

/// Routes from a routing daemon.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingConf {
    /// Where zebra's `dplane_fpm_nl` module connects. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fpm: Option<FpmConf>,
    /// How long learned routes stay after the daemon's connection drops,
    /// in seconds (0..=3600, default 120), as BGP graceful restart keeps
    /// a restarting peer's routes. A new connection within that time
    /// replaces them without a gap.
    #[serde(default = "default_grace")]
    pub grace_s: u32,
    /// Which route wins when the config and the daemon both have one to
    /// the same prefix (default `config`).
    #[serde(default)]
    pub prefer: RoutePreference,
    /// Most learned routes, IPv4 and IPv6 together (1..=4194304, default
    /// 2097152); as many nexthop objects again. Routes past it are
    /// refused and counted (`gateway_fpm_refused_total{reason="full"}`).
    #[serde(default = "default_max_routes")]
    pub max_routes: u32,
}

/// The FPM listener.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FpmConf {
    /// `ADDRESS:PORT` to listen on, e.g. `127.0.0.1:2620` (FPM's port).
    /// FPM has no authentication: whoever connects can install routes,
    /// so this must be a loopback address or one on a management network
    /// only the routing daemon reaches.
    pub listen: String,
}

/// The source that wins on an equal prefix.
#[derive(Copy, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoutePreference {
    /// The config file's static route.
    #[default]
    Config,
    /// The daemon's route.
    Learned,
}

fn default_grace() -> u32 {
    120
}

fn default_max_routes() -> u32 {
    1 << 21
}

/// Largest `routing.max_routes`.
pub const MAX_LEARNED_ROUTES: u32 = 1 << 22;

impl Default for RoutingConf {
    fn default() -> Self {
        RoutingConf {
            fpm: None,
            grace_s: default_grace(),
            prefer: RoutePreference::Config,
            max_routes: default_max_routes(),
        }
    }
}

impl RoutingConf {
    pub(super) fn is_default(&self) -> bool {
        *self == RoutingConf::default()
    }
}

impl Config {
    /// The listener parses; the bounds are in range.
    pub(super) fn validate_routing(&self, errs: &mut Vec<ConfigError>) {
        let r = &self.routing;
        if let Some(f) = &r.fpm {
            match f.listen.parse::<SocketAddr>() {
                Ok(a) if a.port() == 0 => errs.push(err("routing.fpm.listen", "port 0 is not a port to listen on")),
                Ok(a) if Some(a) == self.management.listen.parse::<SocketAddr>().ok() => {
                    errs.push(err("routing.fpm.listen", "the API listens there"))
                }
                Ok(_) => {}
                Err(_) => errs.push(err("routing.fpm.listen", format!("'{}' is not ADDRESS:PORT", f.listen))),
            }
        }
        if r.grace_s > 3600 {
            errs.push(err("routing.grace_s", format!("{} s; at most 3600", r.grace_s)));
        }
        if r.max_routes == 0 || r.max_routes > MAX_LEARNED_ROUTES {
            errs.push(err("routing.max_routes", format!("{}; must be 1..={MAX_LEARNED_ROUTES}", r.max_routes)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(extra: &str) -> Vec<String> {
        let text = format!("ports: [{{ name: p, vdev: net_null0 }}]\n{extra}");
        let errs = match Config::parse(&text) {
            Ok(c) => c.validate().err().unwrap_or_default(),
            Err(e) => e,
        };
        errs.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_routing_section_is_checked_by_field() {
        assert!(fields("routing: { fpm: { listen: \"127.0.0.1:2620\" }, grace_s: 30 }").is_empty());
        let got = fields("routing: { fpm: { listen: \"127.0.0.1:8080\" }, grace_s: 4000, max_routes: 0 }");
        assert_eq!(got, ["routing.fpm.listen", "routing.grace_s", "routing.max_routes"]);
        assert_eq!(fields("routing: { fpm: { listen: \"localhost\" } }"), ["routing.fpm.listen"]);
        // Only the listener needs a restart.
        let a = Config::parse("ports: [{ name: p, vdev: net_null0 }]").unwrap();
        let mut b = a.clone();
        b.routing.grace_s = 5;
        b.routing.prefer = RoutePreference::Learned;
        assert!(a.restart_only_changes(&b).is_empty());
        b.routing.fpm = Some(FpmConf { listen: "127.0.0.1:2620".into() });
        assert_eq!(a.restart_only_changes(&b)[0].field, "routing.fpm");
    }
}

//! The `punt` section: kernel twins of layer-3 interfaces, for the
//! control plane (FRR's bgpd and ospfd, sshd) to speak through the
//! gateway's own addresses, and the bounds on what goes up to them.

use super::*;

/// The punt path to the kernel.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PuntConf {
    /// The network namespace (an `ip netns` name, `/run/netns/NAME`) the
    /// kernel interfaces are made in: where the routing daemon runs.
    /// Absent: gatewayd's own. It must exist before gatewayd starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// The layer-3 interfaces that get a kernel twin: a TAP of the same
    /// name (at most 15 characters), with the interface's MAC, MTU and
    /// addresses, kept in step with them. Not tunnel interfaces.
    pub interfaces: Vec<String>,
    /// Packets per second each worker hands to the kernel from each
    /// interface, all sources together (1..=1000000, default 10000), and
    /// the burst (default 1000). The conversations the kernel holds (an
    /// established BGP session) have a budget of this size of their own.
    #[serde(default = "default_rate")]
    pub rate: u32,
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Packets per second each worker hands to the kernel from any one
    /// source address (1..=rate, default 1000), and the burst (default
    /// 200): a flooding source spends its own budget, not its neighbors'.
    #[serde(default = "default_source_rate")]
    pub source_rate: u32,
    #[serde(default = "default_source_burst")]
    pub source_burst: u32,
    /// The CPU core the punt thread runs on, not a worker's. Absent: the
    /// EAL's main lcore, which it shares with the API. A core of its own
    /// keeps the routing daemon's packets (BGP keepalives, BFD) moving
    /// while the API is busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<usize>,
}

fn default_rate() -> u32 {
    stack::PuntLimits::default().rate
}
fn default_burst() -> u32 {
    stack::PuntLimits::default().burst
}
fn default_source_rate() -> u32 {
    stack::PuntLimits::default().source_rate
}
fn default_source_burst() -> u32 {
    stack::PuntLimits::default().source_burst
}

/// Longest Linux interface name (IFNAMSIZ less the NUL).
pub const MAX_KERNEL_IFNAME: usize = 15;
const MAX_PUNT_RATE: u32 = 1_000_000;

impl PuntConf {
    /// The workers' bounds.
    pub fn limits(&self) -> stack::PuntLimits {
        stack::PuntLimits {
            rate: self.rate,
            burst: self.burst,
            source_rate: self.source_rate,
            source_burst: self.source_burst,
        }
    }
}

impl Config {
    /// Twins of existing, non-tunnel interfaces with kernel-sized names;
    /// a namespace name that cannot leave `/run/netns`; bounds in range.
    pub(super) fn validate_punt(&self, errs: &mut Vec<ConfigError>) {
        let Some(p) = &self.punt else { return };
        if let Some(ns) = &p.netns {
            if let Some(why) = bad_name(ns) {
                errs.push(err("punt.netns", why));
            }
        }
        if p.interfaces.is_empty() {
            errs.push(err("punt.interfaces", "name at least one interface (or leave out the punt section)"));
        }
        let mut seen = HashSet::new();
        for (i, name) in p.interfaces.iter().enumerate() {
            let field = format!("punt.interfaces[{i}]");
            match self.interfaces.iter().find(|x| x.name == *name) {
                None => errs.push(err(field, format!("no interface {name:?}"))),
                Some(x) if x.tunnel.is_some() => errs.push(err(field, format!("{name:?} is a tunnel interface"))),
                Some(_) if name.len() > MAX_KERNEL_IFNAME => errs.push(err(
                    field,
                    format!(
                        "{name:?} is {} characters; a kernel interface name has at most {MAX_KERNEL_IFNAME}",
                        name.len()
                    ),
                )),
                Some(_) if !seen.insert(name) => errs.push(err(field, format!("{name:?} is named twice"))),
                Some(_) => {}
            }
        }
        for (field, v, max) in [("punt.rate", p.rate, MAX_PUNT_RATE), ("punt.source_rate", p.source_rate, p.rate)] {
            if v == 0 || v > max {
                errs.push(err(field, format!("{v}; must be 1..={max}")));
            }
        }
        for (field, v) in [("punt.burst", p.burst), ("punt.source_burst", p.source_burst)] {
            if v == 0 || v > MAX_PUNT_RATE {
                errs.push(err(field, format!("{v}; must be 1..={MAX_PUNT_RATE}")));
            }
        }
        if let Some(c) = p.core {
            let cpus = super::dpdk::online_cpus();
            if c >= cpus {
                errs.push(err("punt.core", format!("core {c} does not exist (this machine has {cpus})")));
            } else if self.workers.cores.contains(&c) {
                errs.push(err("punt.core", format!("core {c} runs a worker (workers.cores)")));
            }
        }
    }

    /// The twins and the thread are made at start: which, where and on
    /// which core is a restart's to change.
    pub(super) fn punt_restart_only(&self, new: &Config) -> bool {
        let place = |c: &Config| c.punt.as_ref().map(|p| (p.netns.clone(), p.interfaces.clone(), p.core));
        place(self) == place(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(punt: &str) -> Vec<String> {
        let text = format!(
            "ports: [{{ name: p, vdev: net_null0 }}]\n\
             interfaces:\n\
             - {{ name: lan, port: p, ipv4: [10.0.1.1/24] }}\n\
             - {{ name: a-very-long-interface-name, port: p, vlan: 7, ipv4: [10.0.7.1/24] }}\n\
             - {{ name: gre1, tunnel: {{ type: gre, local: 10.0.1.1, remote: 10.0.1.2 }}, ipv4: [10.9.0.1/30] }}\n\
             {punt}"
        );
        let errs = match Config::parse(&text) {
            Ok(c) => c.validate().err().unwrap_or_default(),
            Err(e) => e,
        };
        errs.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_punt_section_is_checked_by_field() {
        assert!(
            fields("punt: { netns: frr, interfaces: [lan] }").is_empty(),
            "{:?}",
            fields("punt: { netns: frr, interfaces: [lan] }")
        );
        assert_eq!(
            fields("punt: { netns: ../etc, interfaces: [lan, lan, nope, gre1, a-very-long-interface-name] }"),
            ["punt.netns", "punt.interfaces[1]", "punt.interfaces[2]", "punt.interfaces[3]", "punt.interfaces[4]"]
        );
        assert_eq!(
            fields("punt: { interfaces: [], rate: 0, source_rate: 20, burst: 0, source_burst: 2000000 }"),
            ["punt.interfaces", "punt.rate", "punt.source_rate", "punt.burst", "punt.source_burst"]
        );
        // Core 1 runs the default worker; no machine has core 100000.
        assert_eq!(fields("punt: { interfaces: [lan], core: 1 }"), ["punt.core"]);
        assert_eq!(fields("punt: { interfaces: [lan], core: 100000 }"), ["punt.core"]);
        assert!(fields("punt: { interfaces: [lan], core: 0 }").is_empty());
    }

    #[test]
    fn where_the_twins_are_needs_a_restart_and_their_bounds_do_not() {
        let base = Config::parse("ports: [{ name: p, vdev: net_null0 }]\npunt: { interfaces: [lan] }").unwrap();
        let mut faster = base.clone();
        faster.punt.as_mut().unwrap().rate = 20;
        assert!(base.restart_only_changes(&faster).is_empty());
        let mut moved = base.clone();
        moved.punt.as_mut().unwrap().netns = Some("frr".into());
        assert_eq!(base.restart_only_changes(&moved)[0].field, "punt");
        let mut pinned = base.clone();
        pinned.punt.as_mut().unwrap().core = Some(0);
        assert_eq!(base.restart_only_changes(&pinned)[0].field, "punt");
        let mut none = base.clone();
        none.punt = None;
        assert_eq!(base.restart_only_changes(&none)[0].field, "punt");
    }
}

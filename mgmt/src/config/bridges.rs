//! The `bridges` and `l2` sections: bridge domains, their members (ports
//! or VLANs of ports) and the MAC table's sizes.

use super::*;

/// A bridge domain (IEEE 802.1Q transparent bridging, without spanning
/// tree: do not close loops between members).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeConf {
    /// Name for the API; an interface with `bridge: NAME` routes for it.
    pub name: String,
    /// Member ports and VLANs. Each (port, VLAN) belongs to one bridge
    /// or one interface.
    #[serde(default)]
    pub members: Vec<MemberConf>,
    /// Most MAC addresses learned on this bridge, per worker
    /// (1..=1000000). At the bound, new stations are not learned: frames
    /// to them are flooded, and `gateway_mac_learn_full_total` counts it.
    #[serde(default = "default_mac_limit")]
    pub mac_limit: u32,
    /// Seconds a learned address lives without a frame from it (10..=1000000;
    /// IEEE 802.1Q's default is 300).
    #[serde(default = "default_aging")]
    pub aging_s: u32,
}

/// A bridge member: a port's untagged frames (access), or one VLAN of a
/// port (trunk: the tag is popped on the way in and pushed on the way out).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberConf {
    /// The port's name. It must be `promiscuous: true`: a bridge receives
    /// frames for every station.
    pub port: String,
    /// 802.1Q VLAN id (1..=4094) for a trunk member; none for access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

fn default_mac_limit() -> u32 {
    4096
}

fn default_aging() -> u32 {
    300
}

/// MAC table sizing.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct L2Conf {
    /// Most MAC addresses per worker over all bridges (1..=16000000); the
    /// memory is taken at start. When it is full, no bridge learns more.
    #[serde(default = "default_mac_capacity")]
    pub mac_capacity: usize,
}

fn default_mac_capacity() -> usize {
    65536
}

impl Default for L2Conf {
    fn default() -> Self {
        L2Conf { mac_capacity: default_mac_capacity() }
    }
}

/// Most members of one bridge (a flood makes one copy per member).
pub const MAX_MEMBERS: usize = 64;

/// Records that `field` uses (port, vlan); a second user is an error.
pub(super) fn claim(
    attached: &mut HashMap<(String, Option<u16>), String>,
    port: &str,
    vlan: Option<u16>,
    field: String,
    errs: &mut Vec<ConfigError>,
) {
    let what = vlan.map_or(format!("port '{port}' (untagged)"), |v| format!("VLAN {v} of port '{port}'"));
    match attached.get(&(port.to_string(), vlan)) {
        Some(other) => errs.push(err(field, format!("{what} is already used by {other}"))),
        None => {
            attached.insert((port.to_string(), vlan), field);
        }
    }
}

impl Config {
    /// Checks the bridges and claims their members' (port, VLAN)s.
    pub(super) fn validate_bridges(
        &self,
        attached: &mut HashMap<(String, Option<u16>), String>,
        errs: &mut Vec<ConfigError>,
    ) {
        if self.bridges.len() > stack::mac_table::MAX_BRIDGES {
            errs.push(err("bridges", format!("at most {} bridges", stack::mac_table::MAX_BRIDGES)));
        }
        let mut names = HashSet::new();
        for (i, b) in self.bridges.iter().enumerate() {
            let f = |s: &str| format!("bridges[{i}].{s}");
            if b.name.is_empty() {
                errs.push(err(f("name"), "must not be empty"));
            } else if !names.insert(b.name.as_str()) {
                errs.push(err(f("name"), format!("bridge name '{}' is used twice", b.name)));
            }
            if b.members.len() > MAX_MEMBERS {
                errs.push(err(f("members"), format!("at most {MAX_MEMBERS} members")));
            }
            if !(1..=1_000_000).contains(&b.mac_limit) {
                errs.push(err(f("mac_limit"), format!("{} is outside 1..=1000000", b.mac_limit)));
            }
            if !(10..=1_000_000).contains(&b.aging_s) {
                errs.push(err(f("aging_s"), format!("{} is outside 10..=1000000", b.aging_s)));
            }
            for (j, m) in b.members.iter().enumerate() {
                let g = |s: &str| format!("bridges[{i}].members[{j}].{s}");
                match self.ports.iter().find(|p| p.name == m.port) {
                    None => errs.push(err(g("port"), format!("no port is named '{}'", m.port))),
                    Some(p) if !p.promiscuous => errs.push(err(
                        g("port"),
                        format!("port '{}' must be promiscuous: true to be a bridge member", m.port),
                    )),
                    Some(_) => {}
                }
                match m.vlan {
                    Some(v) if !(1..=4094).contains(&v) => {
                        errs.push(err(g("vlan"), format!("{v} is outside 1..=4094")))
                    }
                    _ => claim(attached, &m.port, m.vlan, g(if m.vlan.is_some() { "vlan" } else { "port" }), errs),
                }
            }
        }
    }
}

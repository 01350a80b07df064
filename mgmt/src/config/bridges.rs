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
    /// Extend the bridge over an IPv4 network with VXLAN (RFC 7348): the
    /// remote VTEPs act as members (see `docs/vxlan.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<VxlanConf>,
}

/// A bridge's VXLAN segment.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VxlanConf {
    /// VXLAN Network Identifier (0..=16777215); both ends must agree.
    pub vni: u32,
    /// Our VTEP address: an IPv4 address of an interface that is not this
    /// bridge's.
    pub local: String,
    /// The remote VTEPs (IPv4): frames for stations learned behind one go
    /// to it, and broadcast, multicast and unknown unicast go to each
    /// (head-end replication). Frames are taken from these only.
    pub remotes: Vec<String>,
    /// UDP destination port (default 4789, RFC 7348 §5).
    #[serde(default = "default_vxlan_port")]
    pub port: u16,
}

fn default_vxlan_port() -> u16 {
    stack::wire::vxlan::PORT
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
        let mut vnis = HashMap::new();
        for (i, b) in self.bridges.iter().enumerate() {
            let f = |s: &str| format!("bridges[{i}].{s}");
            if let Some(why) = bad_name(&b.name) {
                errs.push(err(f("name"), why));
            } else if !names.insert(b.name.as_str()) {
                errs.push(err(f("name"), format!("bridge name '{}' is used twice", b.name)));
            }
            let remotes = b.vxlan.as_ref().map_or(0, |v| v.remotes.len());
            if b.members.len() + remotes > MAX_MEMBERS {
                errs.push(err(f("members"), format!("at most {MAX_MEMBERS} members, VXLAN remotes included")));
            }
            if !(1..=1_000_000).contains(&b.mac_limit) {
                errs.push(err(f("mac_limit"), format!("{} is outside 1..=1000000", b.mac_limit)));
            }
            if !(10..=1_000_000).contains(&b.aging_s) {
                errs.push(err(f("aging_s"), format!("{} is outside 10..=1000000", b.aging_s)));
            }
            if let Some(v) = &b.vxlan {
                self.validate_vxlan(i, b, v, &mut vnis, errs);
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

impl Config {
    /// VNI in range and once per address, our end on an interface outside
    /// this bridge, remotes unicast IPv4 and each once.
    fn validate_vxlan(
        &self,
        i: usize,
        b: &BridgeConf,
        v: &VxlanConf,
        vnis: &mut HashMap<(std::net::Ipv4Addr, u32), usize>,
        errs: &mut Vec<ConfigError>,
    ) {
        let f = |s: &str| format!("bridges[{i}].vxlan.{s}");
        if v.vni > stack::wire::vxlan::MAX_VNI {
            errs.push(err(f("vni"), format!("{} is outside 0..=16777215 (24 bits)", v.vni)));
        }
        if v.port == 0 {
            errs.push(err(f("port"), "must be a UDP port (1..=65535)"));
        }
        match v.local.parse::<std::net::Ipv4Addr>() {
            Err(_) => errs.push(err(f("local"), format!("'{}' is not an IPv4 address", v.local))),
            Ok(a) => {
                let owner = self
                    .interfaces
                    .iter()
                    .find(|x| x.ipv4.iter().filter_map(|c| c.parse::<Ipv4Cidr>().ok()).any(|c| c.addr == a));
                match owner {
                    None => errs.push(err(f("local"), format!("{a} is not an address of an interface"))),
                    Some(x) if x.bridge.as_deref() == Some(b.name.as_str()) => {
                        errs.push(err(f("local"), "the underlay cannot be the bridge itself"))
                    }
                    Some(_) => {}
                }
                if let Some(other) = vnis.insert((a, v.vni), i) {
                    errs.push(err(f("vni"), format!("bridges[{other}] has VNI {} at {a} already", v.vni)));
                }
            }
        }
        if v.remotes.is_empty() {
            errs.push(err(f("remotes"), "give at least one remote VTEP"));
        }
        let mut seen = HashSet::new();
        for (j, r) in v.remotes.iter().enumerate() {
            let g = format!("bridges[{i}].vxlan.remotes[{j}]");
            match r.parse::<std::net::Ipv4Addr>() {
                Ok(a) if a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_loopback() => {
                    errs.push(err(g, format!("{a} is not a unicast address")))
                }
                Ok(a) if !seen.insert(a) => errs.push(err(g, format!("{a} is listed twice"))),
                Ok(_) => {}
                Err(_) => errs.push(err(g, format!("'{r}' is not an IPv4 address"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = include_str!("../../../deploy/lab/vxlan.yaml");

    fn errors(vxlan: &str) -> Vec<String> {
        let text = LAB.replace("vxlan: { vni: 100, local: 203.0.113.1, remotes: [203.0.113.2] }", vxlan);
        let cfg = Config::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        cfg.validate().err().unwrap_or_default().into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect()
    }

    #[test]
    fn the_vxlan_lab_is_valid_and_bad_segments_are_refused_by_field() {
        assert_eq!(errors("vxlan: { vni: 100, local: 203.0.113.1, remotes: [203.0.113.2] }"), Vec::<String>::new());
        let e = errors(
            "vxlan: { vni: 16777216, local: 192.168.100.254, remotes: [224.0.0.5, 203.0.113.2, 203.0.113.2], port: 0 }",
        );
        for want in [
            "bridges[0].vxlan.vni: 16777216 is outside 0..=16777215 (24 bits)",
            "bridges[0].vxlan.port: must be a UDP port (1..=65535)",
            "bridges[0].vxlan.local: the underlay cannot be the bridge itself",
            "bridges[0].vxlan.remotes[0]: 224.0.0.5 is not a unicast address",
            "bridges[0].vxlan.remotes[2]: 203.0.113.2 is listed twice",
        ] {
            assert!(e.iter().any(|x| x == want), "missing {want:?} in {e:#?}");
        }
        let e = errors("vxlan: { vni: 1, local: 198.51.100.1, remotes: [] }");
        assert!(
            e.iter().any(|x| x == "bridges[0].vxlan.local: 198.51.100.1 is not an address of an interface"),
            "{e:#?}"
        );
        assert!(e.iter().any(|x| x == "bridges[0].vxlan.remotes: give at least one remote VTEP"), "{e:#?}");
    }
}

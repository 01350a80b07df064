//! What applying a config would change, before anything changes: the
//! items each section gains, loses or changes, the settings that change,
//! whether learned neighbors are flushed, and which NAT sessions end.
//! [`Controller::plan`](crate::control::Controller::plan) fills in the
//! parts that need the workers.

use crate::config::Config;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A list section's items, named by their key, that a config adds,
/// removes or changes.
#[derive(Debug, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct Delta {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Delta {
    /// Nothing added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What applying a candidate config would do to the running one.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Plan {
    /// Every field that changes, `path: old -> new` (at most 100, as
    /// `validate` lists them).
    pub changes: Vec<String>,
    /// Interfaces, by name.
    pub interfaces: Delta,
    /// Bridges, by name.
    pub bridges: Delta,
    /// Routes, by destination prefix.
    pub routes: Delta,
    /// Static neighbors, by `INTERFACE IP`.
    pub neighbors: Delta,
    /// Built-in services, by name.
    pub services: Delta,
    /// NAT rules, by position (`rules[0]`): the first match wins.
    pub nat_rules: Delta,
    /// Port forwards, by `PROTOCOL OUTSIDE`.
    pub nat_forwards: Delta,
    /// Static mappings, by outside address.
    pub nat_statics: Delta,
    /// Other settings that change (`arp`, `icmp`, `nat.timeouts`, ...).
    pub settings: Vec<String>,
    /// Learned neighbors are flushed: interfaces are added, removed or
    /// renumbered.
    pub neighbors_flushed: bool,
    /// Every NAT session ends: the rules, their pools, the port range or
    /// port blocks change.
    pub nat_reset: bool,
    /// NAT sessions that would end if it were applied now: all of them on
    /// a reset; else those of the port forwards removed, and of the
    /// dynamic mappings that new port forwards displace.
    pub sessions_ended: u64,
    /// True when `sessions_ended` stopped counting at its bound (the
    /// count is then a lower bound).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sessions_counted_in_part: bool,
}

impl Plan {
    /// Nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The parts of the plan that the two configs tell alone.
pub fn sections(old: &Config, new: &Config) -> Plan {
    let j = |v: &Config| serde_json::to_value(v).unwrap_or_default();
    let (a, b) = (j(old), j(new));
    let list = |v: &Value, path: &str| v.pointer(path).and_then(Value::as_array).cloned().unwrap_or_default();
    let field = |item: &Value, f: &str| item.get(f).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string));
    let by = |path: &str, key: &dyn Fn(usize, &Value) -> String| delta(&list(&a, path), &list(&b, path), key);
    let name = |_: usize, v: &Value| field(v, "name").unwrap_or_default();
    let mut plan = Plan {
        changes: crate::control::diff(old, new),
        interfaces: by("/interfaces", &name),
        bridges: by("/bridges", &name),
        routes: by("/routes", &|_, v| field(v, "dst").unwrap_or_default()),
        neighbors: by("/neighbors", &|_, v| {
            format!("{} {}", field(v, "interface").unwrap_or_default(), field(v, "ip").unwrap_or_default())
        }),
        services: by("/services", &name),
        nat_rules: by("/nat/rules", &|i, _| format!("rules[{i}]")),
        nat_forwards: by("/nat/forwards", &|_, v| {
            format!("{} {}", field(v, "protocol").unwrap_or_default(), field(v, "outside").unwrap_or_default())
        }),
        nat_statics: by("/nat/statics", &|_, v| field(v, "outside").unwrap_or_default()),
        ..Plan::default()
    };
    // The rest, section by section (and the NAT's settings key by key).
    const LISTS: [&str; 6] = ["interfaces", "bridges", "routes", "neighbors", "services", "nat"];
    let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let mut all: Vec<String> = keys(&a).into_iter().chain(keys(&b)).filter(|k| !LISTS.contains(&k.as_str())).collect();
    all.sort();
    all.dedup();
    plan.settings = all.into_iter().filter(|k| a.get(k) != b.get(k)).collect();
    let (na, nb) = (a.get("nat").cloned().unwrap_or_default(), b.get("nat").cloned().unwrap_or_default());
    let mut nat_keys: Vec<String> = keys(&na).into_iter().chain(keys(&nb)).collect();
    nat_keys.sort();
    nat_keys.dedup();
    for k in nat_keys {
        if !["rules", "forwards", "statics"].contains(&k.as_str()) && na.get(&k) != nb.get(&k) {
            plan.settings.push(format!("nat.{k}"));
        }
    }
    plan
}

/// The items of `new` not in `old` by key, those of `old` not in `new`,
/// and those in both that differ.
fn delta(old: &[Value], new: &[Value], key: &dyn Fn(usize, &Value) -> String) -> Delta {
    let index = |l: &[Value]| l.iter().enumerate().map(|(i, v)| (key(i, v), v.clone())).collect::<BTreeMap<_, _>>();
    let (a, b) = (index(old), index(new));
    let mut d = Delta::default();
    for (k, v) in &b {
        match a.get(k) {
            None => d.added.push(k.clone()),
            Some(w) if w != v => d.changed.push(k.clone()),
            Some(_) => {}
        }
    }
    d.removed = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    d
}

/// A one-screen account of `plan` for `gatewayd ctl plan`.
pub fn text(plan: &Value) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let names = |v: &Value| v.as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ");
    if plan["changes"].as_array().is_none_or(|c| c.is_empty()) {
        return "no change\n".into();
    }
    for (section, title) in [
        ("interfaces", "interfaces"),
        ("bridges", "bridges"),
        ("routes", "routes"),
        ("neighbors", "static neighbors"),
        ("services", "services"),
        ("nat_rules", "NAT rules"),
        ("nat_forwards", "port forwards"),
        ("nat_statics", "static mappings"),
    ] {
        for (what, sign) in [("added", "+"), ("removed", "-"), ("changed", "~")] {
            let items = names(&plan[section][what]);
            if !items.is_empty() {
                let _ = writeln!(o, "{title} {sign} {items}");
            }
        }
    }
    let settings = names(&plan["settings"]);
    if !settings.is_empty() {
        let _ = writeln!(o, "settings ~ {settings}");
    }
    if plan["neighbors_flushed"] == Value::Bool(true) {
        let _ = writeln!(o, "learned neighbors are flushed (interfaces renumbered)");
    }
    let ended = plan["sessions_ended"].as_u64().unwrap_or(0);
    let at_least = if plan["sessions_counted_in_part"] == Value::Bool(true) { "at least " } else { "" };
    if plan["nat_reset"] == Value::Bool(true) {
        let _ = writeln!(o, "every NAT session ends: {at_least}{ended} now");
    } else {
        let _ = writeln!(o, "NAT sessions ended: {at_least}{ended}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = include_str!("../../deploy/lab/gateway.yaml");

    #[test]
    fn each_section_names_what_it_gains_loses_and_changes() {
        let old = Config::parse(LAB).unwrap();
        let mut new = old.clone();
        new.routes = Config::parse(&format!("{LAB}\nroutes:\n  - {{ dst: 198.51.100.0/24, via: [203.0.113.2] }}\n"))
            .unwrap()
            .routes;
        new.interfaces[0].mtu = 1400;
        new.interfaces.remove(1);
        new.services.retain(|s| s.name != "chargen");
        new.icmp.rate = 10;
        let p = sections(&old, &new);
        assert_eq!(p.routes.added, ["198.51.100.0/24"]);
        assert_eq!(p.interfaces, Delta { added: vec![], removed: vec!["wan".into()], changed: vec!["lan".into()] });
        assert_eq!(p.services.removed, ["chargen"]);
        assert_eq!(p.settings, ["icmp"]);
        assert!(!p.is_empty());
        let same = sections(&old, &old);
        assert!(same.is_empty() && same.routes.is_empty() && same.settings.is_empty());
        let t = text(&serde_json::to_value(&p).unwrap());
        assert!(t.contains("routes + 198.51.100.0/24\n") && t.contains("interfaces - wan\n"), "{t}");
        assert!(t.contains("interfaces ~ lan\n") && t.contains("settings ~ icmp\n"), "{t}");
    }
}

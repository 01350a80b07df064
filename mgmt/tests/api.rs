//! The REST API against a running gatewayd in the namespace lab: access
//! control, CRUD round trips per resource, refused changes, ETags,
//! commit-confirm, live route changes under traffic, and restarts.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn etag() -> String {
    let r = api("GET", "/api/v1/config", "readonly", None, &[]);
    assert_eq!(r.status, 200);
    r.etag
}

fn route_dsts() -> Vec<String> {
    let r = api("GET", "/api/v1/routes", "readonly", None, &[]);
    r.json["items"].as_array().unwrap().iter().map(|x| x["dst"].as_str().unwrap().to_string()).collect()
}

#[test]
fn no_token_is_401_readonly_writes_are_403_and_healthz_is_open() {
    let Some(_lab) = Lab::up() else { return };
    let r = api("GET", "/api/v1/routes", "", None, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.content_type, "application/problem+json");
    let r = api("GET", "/metrics", "", None, &[]);
    assert_eq!(r.status, 401, "metrics need a token too");
    let mut bad = ureq::get("http://127.0.0.1:8080/api/v1/routes").set("Authorization", "Bearer 0000");
    bad = bad.timeout(Duration::from_secs(5));
    assert!(matches!(bad.call(), Err(ureq::Error::Status(401, _))));
    assert_eq!(api("GET", "/healthz", "", None, &[]).text, "ok\n");
    assert_eq!(api("GET", "/api/v1/routes", "readonly", None, &[]).status, 200);
    assert_eq!(api("GET", "/metrics", "readonly", None, &[]).status, 200);
    let add = json!({"dst": "198.51.100.0/24", "via": ["203.0.113.2"]});
    let r = api("POST", "/api/v1/routes", "readonly", Some(add.clone()), &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.json["status"], 403);
    assert!(route_dsts().is_empty(), "a refused write changes nothing");
    assert_eq!(api("POST", "/api/v1/routes", "admin", Some(add), &[]).status, 201);
}

#[test]
fn routes_round_trip_with_filters_batches_and_forwarding() {
    let Some(_lab) = Lab::up() else { return };
    ok("ip netns exec lab-wan ip addr add 198.51.100.1/32 dev lo");
    assert!(!sh("ip netns exec lab-lan ping -c 1 -W 1 198.51.100.1").status.success(), "no route yet");
    let r =
        api("POST", "/api/v1/routes", "admin", Some(json!({"dst": "198.51.100.0/24", "via": ["203.0.113.2"]})), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json["generation"].as_u64().unwrap() >= 2);
    ping("lab-lan", "198.51.100.1"); // the dataplane routes with it at once
    let r = api("GET", "/api/v1/routes/198.51.100.0/24", "readonly", None, &[]);
    assert_eq!(
        r.json,
        json!({"dst": "198.51.100.0/24", "via": ["203.0.113.2"], "type": "unicast",
               "protocol": "config", "selected": true, "stale": false})
    );
    // Adding it twice names the field.
    let r = api("POST", "/api/v1/routes", "admin", Some(json!({"dst": "198.51.100.0/24", "type": "blackhole"})), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("dst")));
    // A batch: all or nothing, then filtered listing and pagination.
    let batch = json!({"add": [
        {"dst": "10.50.0.0/16", "type": "blackhole"},
        {"dst": "10.51.0.0/16", "type": "unreachable"},
        {"dst": "192.0.2.0/24", "via": ["203.0.113.2", "203.0.113.3"]}
    ]});
    assert_eq!(api("POST", "/api/v1/routes/batch", "admin", Some(batch), &[]).status, 200);
    let bad = json!({"remove": ["10.50.0.0/16"], "add": [{"dst": "10.52.0.0/16", "via": ["8.8.8.8"]}]});
    let r = api("POST", "/api/v1/routes/batch", "admin", Some(bad), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("add[0].via[0]")), "{}", r.text);
    assert_eq!(route_dsts().len(), 4, "the failed batch removed nothing");
    let r = api("GET", "/api/v1/routes?prefix=10.0.0.0/8", "readonly", None, &[]);
    assert_eq!(r.json["total"], 2);
    let r = api("GET", "/api/v1/routes?limit=1&offset=1", "readonly", None, &[]);
    assert_eq!((r.json["total"].as_u64(), r.json["items"].as_array().unwrap().len()), (Some(4), 1));
    assert_eq!(api("GET", "/api/v1/routes?limit=0", "readonly", None, &[]).status, 400);
    // Blackhole in the dataplane: counted.
    ok("ip netns exec lab-lan ping -c 2 -i 0.2 -W 1 10.50.0.1 || true");
    let text = api("GET", "/metrics", "readonly", None, &[]).text;
    assert!(text.contains("gateway_drops_total{reason=\"route_blackhole\"} 2"), "{text}");
    // Delete, then 404.
    assert_eq!(api("DELETE", "/api/v1/routes/198.51.100.0/24", "admin", None, &[]).status, 200);
    assert_eq!(api("DELETE", "/api/v1/routes/198.51.100.0/24", "admin", None, &[]).status, 404);
    assert_eq!(api("GET", "/api/v1/routes/198.51.100.0/24", "readonly", None, &[]).status, 404);
    assert!(!sh("ip netns exec lab-lan ping -c 1 -W 1 198.51.100.1").status.success(), "route gone");
}

#[test]
fn interfaces_addresses_and_neighbors_round_trip() {
    let Some(_lab) = Lab::up() else { return };
    let r = api("GET", "/api/v1/interfaces/lan", "readonly", None, &[]);
    assert_eq!((r.json["port"].as_str(), r.json["mtu"].as_u64()), (Some("lan"), Some(1500)));
    assert_eq!(r.json["mac"].as_str().unwrap().len(), 17);
    // A second address on the LAN: the gateway answers on it at once.
    let r = api("POST", "/api/v1/interfaces/lan/addresses", "admin", Some(json!({"address": "10.0.2.1/24"})), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    ok("ip netns exec lab-lan ip addr add 10.0.2.2/24 dev eth0");
    ping("lab-lan", "10.0.2.1");
    let r = api("POST", "/api/v1/interfaces/lan/addresses", "admin", Some(json!({"address": "203.0.113.9/24"})), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("address")), "{}", r.text);
    assert_eq!(api("DELETE", "/api/v1/interfaces/lan/addresses/10.0.2.1/24", "admin", None, &[]).status, 200);
    assert!(!sh("ip netns exec lab-lan ping -c 1 -W 1 10.0.2.1").status.success());
    // Replace the interface (MTU) with what GET gave, `mac` and all; read
    // it back. The MAC itself is the port's: another one is refused.
    let mut lan = api("GET", "/api/v1/interfaces/lan", "readonly", None, &[]).json;
    lan["mtu"] = json!(1400);
    let r = api("PUT", "/api/v1/interfaces/lan", "admin", Some(lan.clone()), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api("GET", "/api/v1/interfaces/lan", "readonly", None, &[]).json["mtu"], 1400);
    lan["mac"] = json!("02:00:00:00:99:99");
    let r = api("PUT", "/api/v1/interfaces/lan", "admin", Some(lan), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("mac")), "{}", r.text);
    assert_eq!(api("GET", "/api/v1/interfaces/nope", "readonly", None, &[]).status, 404);

    // Neighbors: learned by traffic, listed, flushed; static entries stay.
    ping("lab-lan", "203.0.113.2");
    let r = api("GET", "/api/v1/neighbors", "readonly", None, &[]);
    let ips: Vec<&str> = r.json["items"].as_array().unwrap().iter().map(|n| n["ip"].as_str().unwrap()).collect();
    assert!(ips.contains(&"10.0.1.2") && ips.contains(&"203.0.113.2"), "{}", r.text);
    let st = json!({"interface": "wan", "ip": "203.0.113.7", "mac": "02:00:00:00:07:07"});
    assert_eq!(api("POST", "/api/v1/neighbors/static", "admin", Some(st), &[]).status, 201);
    assert_eq!(api("DELETE", "/api/v1/neighbors", "admin", None, &[]).status, 200);
    let r = api("GET", "/api/v1/neighbors", "readonly", None, &[]);
    let items = r.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the static entry is left: {}", r.text);
    assert_eq!((items[0]["ip"].as_str(), items[0]["state"].as_str()), (Some("203.0.113.7"), Some("static")));
    ping("lab-lan", "203.0.113.2"); // and resolution works again
    let bad = json!({"interface": "wan", "ip": "203.0.113.8", "mac": "01:00:5e:00:00:01"});
    let r = api("POST", "/api/v1/neighbors/static", "admin", Some(bad), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("mac")));
    assert_eq!(api("DELETE", "/api/v1/neighbors/static/wan/203.0.113.7", "admin", None, &[]).status, 200);
    assert_eq!(api("GET", "/api/v1/neighbors/static", "readonly", None, &[]).json["total"], 0);
    // Ports: live counters and link.
    let r = api("GET", "/api/v1/ports/lan", "readonly", None, &[]);
    assert_eq!(r.json["link"]["up"], true);
    assert!(r.json["stats"]["rx_packets"].as_u64().unwrap() > 0);
    assert_eq!(api("GET", "/api/v1/ports", "readonly", None, &[]).json["total"], 2);
}

#[test]
fn a_bad_config_is_refused_by_field_and_the_running_config_stays() {
    let Some(_lab) = Lab::up() else { return };
    let before = api("GET", "/api/v1/config", "readonly", None, &[]);
    let mut cfg = before.json.clone();
    cfg["interfaces"][1]["mtu"] = json!(20);
    cfg["routes"] = json!([{"dst": "10.9.0.0/33", "type": "blackhole"}]);
    let r = api("PUT", "/api/v1/config", "admin", Some(cfg.clone()), &[("If-Match", &before.etag)]);
    assert_eq!(r.status, 422);
    assert_eq!(r.content_type, "application/problem+json");
    let fields: Vec<&str> = r.json["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["interfaces[1].mtu", "routes[0].dst"]);
    let r = api("POST", "/api/v1/config/validate", "readonly", Some(cfg), &[]);
    assert_eq!(r.status, 422, "validate is allowed read-only and reports the same");
    // Restart-only fields are named too.
    let mut cfg = before.json.clone();
    cfg["management"]["listen"] = json!("0.0.0.0:9999");
    let r = api("PUT", "/api/v1/config", "admin", Some(cfg), &[("If-Match", &before.etag)]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("management.listen")));
    // A syntax error names where.
    let r = api("PUT", "/api/v1/config", "admin", Some(json!({"ports": [{"name": 5}]})), &[("If-Match", &before.etag)]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (400, Some("ports[0].name")), "{}", r.text);
    let after = api("GET", "/api/v1/config", "readonly", None, &[]);
    assert_eq!((after.etag, after.json), (before.etag, before.json));
    ping("lab-lan", "203.0.113.2");
    let audit = api("GET", "/api/v1/audit", "readonly", None, &[]);
    let first = &audit.json["items"][0];
    assert_eq!((first["token"].as_str(), first["outcome"].as_str()), (Some("admin"), Some("rejected")));
    assert!(first["remote"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[test]
fn an_admin_token_cannot_point_the_nat_log_at_a_file_of_its_choosing() {
    let Some(_lab) = Lab::up() else { return };
    let before = api("GET", "/api/v1/config", "readonly", None, &[]);
    let target = "/tmp/gatewayd-api-nat-log-target";
    let _ = std::fs::remove_file(target);
    for log in [json!({"file": target}), json!({"syslog": "/tmp/gatewayd-api-nat-log.sock"})] {
        let mut cfg = before.json.clone();
        cfg["nat"]["log"] = log;
        let r = api("PUT", "/api/v1/config", "admin", Some(cfg), &[("If-Match", &before.etag)]);
        assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("nat.log")), "{}", r.text);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!std::path::Path::new(target).exists(), "the daemon created {target}");
    let after = api("GET", "/api/v1/config", "readonly", None, &[]);
    assert_eq!(after.etag, before.etag);
}

#[test]
fn etags_guard_whole_config_replacement() {
    let Some(_lab) = Lab::up() else { return };
    let r = api("GET", "/api/v1/config", "readonly", None, &[]);
    let (tag, mut cfg) = (r.etag, r.json);
    cfg["routes"] = json!([{"dst": "198.51.100.0/24", "via": ["203.0.113.2"]}]);
    assert_eq!(api("PUT", "/api/v1/config", "admin", Some(cfg.clone()), &[]).status, 428);
    let r = api("PUT", "/api/v1/config", "admin", Some(cfg.clone()), &[("If-Match", &tag)]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_ne!(etag(), tag);
    // Someone else's change meanwhile: the stale ETag gets 412.
    cfg["routes"] = json!([]);
    let r = api("PUT", "/api/v1/config", "admin", Some(cfg), &[("If-Match", &tag)]);
    assert_eq!(r.status, 412);
    assert_eq!(route_dsts(), ["198.51.100.0/24"]);
    // YAML both ways.
    let y = ureq::get("http://127.0.0.1:8080/api/v1/config")
        .set("Authorization", &format!("Bearer {}", token("readonly")))
        .set("Accept", "application/yaml")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(y.contains("dst: 198.51.100.0/24"), "{y}");
    let r = ureq::put("http://127.0.0.1:8080/api/v1/config")
        .set("Authorization", &format!("Bearer {}", token("admin")))
        .set("Content-Type", "application/yaml")
        .set("If-Match", &etag())
        .send_string(&y.replace("198.51.100.0/24", "198.51.101.0/24"))
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(route_dsts(), ["198.51.101.0/24"]);
}

#[test]
fn commit_confirm_rolls_back_unless_confirmed() {
    let Some(_lab) = Lab::up() else { return };
    let base = api("GET", "/api/v1/config", "readonly", None, &[]).json;
    let mut cfg = base.clone();
    cfg["routes"] = json!([{"dst": "198.51.100.0/24", "via": ["203.0.113.2"]}]);
    let r = api("POST", "/api/v1/config/commit?confirm=2", "admin", Some(cfg.clone()), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["rollback_at"].is_string());
    assert_eq!(route_dsts(), ["198.51.100.0/24"]);
    assert_eq!(api("GET", "/api/v1/config/commit", "readonly", None, &[]).json["pending"], true);
    let r = api("POST", "/api/v1/routes", "admin", Some(json!({"dst": "10.60.0.0/16", "type": "blackhole"})), &[]);
    assert_eq!(r.status, 409, "changes wait while a commit is pending");
    let saved = std::fs::read_to_string("/run/gatewayd-lab/gateway.yaml").unwrap();
    assert!(!saved.contains("198.51.100.0/24"), "not saved before confirmation");
    std::thread::sleep(Duration::from_millis(3000));
    assert!(route_dsts().is_empty(), "rolled back after the timeout");
    assert_eq!(api("GET", "/api/v1/config/commit", "readonly", None, &[]).json["pending"], false);
    assert_eq!(api("POST", "/api/v1/config/confirm", "admin", None, &[]).status, 409);
    let audit = api("GET", "/api/v1/audit?limit=2", "readonly", None, &[]).json;
    assert!(audit["items"][1]["action"].as_str().unwrap().starts_with("roll back"), "{audit}");
    assert_eq!(audit["items"][1]["token"], "-");

    let r = api("POST", "/api/v1/config/commit?confirm=2", "admin", Some(cfg), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(api("POST", "/api/v1/config/confirm", "admin", None, &[]).status, 200);
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(route_dsts(), ["198.51.100.0/24"], "kept once confirmed");
    let saved = std::fs::read_to_string("/run/gatewayd-lab/gateway.yaml").unwrap();
    assert!(saved.contains("198.51.100.0/24"), "saved on confirmation");
    assert_eq!(api("POST", "/api/v1/config/commit?confirm=0", "admin", Some(base), &[]).status, 400);
}

/// A change reaches the workers between bursts, without a
/// restart and without losing packets of traffic it does not touch.
#[test]
fn routes_change_in_a_loop_while_traffic_flows_without_loss() {
    let Some(_lab) = Lab::up() else { return };
    ok("ip netns exec lab-wan iperf3 -s -D -1 -p 5203");
    wait_listening("lab-wan", 5203);
    // ~2500 packets/s of 200-byte UDP for 6 s: every one is counted.
    let client = Command::new("ip")
        .args(["netns", "exec", "lab-lan", "iperf3", "-c", "203.0.113.2", "-p", "5203", "-u", "-b", "4M", "-l", "200"])
        .args(["-t", "6", "-J"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut changes = 0;
    while t0.elapsed() < Duration::from_millis(5500) {
        let n = changes % 200;
        let add = json!({"dst": format!("10.{}.{}.0/24", 100 + n / 100, n % 100), "via": ["203.0.113.2"]});
        assert_eq!(api("POST", "/api/v1/routes", "admin", Some(add), &[]).status, 201);
        let batch = json!({"remove": [format!("10.{}.{}.0/24", 100 + n / 100, n % 100)],
                           "add": [{"dst": "172.16.0.0/12", "type": "blackhole"}]});
        assert_eq!(api("POST", "/api/v1/routes/batch", "admin", Some(batch), &[]).status, 200);
        assert_eq!(api("DELETE", "/api/v1/routes/172.16.0.0/12", "admin", None, &[]).status, 200);
        changes += 3;
    }
    let out = client.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
    let sum = &report["end"]["sum"];
    let (packets, lost) = (sum["packets"].as_u64().unwrap(), sum["lost_packets"].as_u64().unwrap());
    eprintln!("{changes} changes applied; {packets} packets, {lost} lost");
    assert!(changes >= 30, "only {changes} changes in 5.5 s");
    assert!(packets > 5000, "{packets} packets sent");
    assert_eq!(lost, 0, "packets lost while routes changed");
    let gen = api("GET", "/api/v1/stats", "readonly", None, &[]).json["generation"].as_u64().unwrap();
    assert!(gen > changes as u64, "generation {gen} after {changes} changes");
}

/// Commit, kill -9, start again: the same config and the same forwarding.
#[test]
fn a_restart_after_kill_9_comes_back_to_the_committed_config() {
    let Some(lab) = Lab::up() else { return };
    ok("ip netns exec lab-wan ip addr add 198.51.100.1/32 dev lo");
    let add = json!({"dst": "198.51.100.0/24", "via": ["203.0.113.2"]});
    assert_eq!(api("POST", "/api/v1/routes", "admin", Some(add), &[]).status, 201);
    let st = json!({"interface": "wan", "ip": "203.0.113.2", "mac": ok("ip netns exec lab-wan cat /sys/class/net/eth0/address").trim()});
    assert_eq!(api("POST", "/api/v1/neighbors/static", "admin", Some(st), &[]).status, 201);
    ping("lab-lan", "198.51.100.1");
    let before = api("GET", "/api/v1/config", "readonly", None, &[]);
    let pid = lab.pid();
    // SAFETY: sends a signal to the gateway's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let t0 = Instant::now();
    while api_up() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!sh("ip netns exec lab-lan ping -c 1 -W 1 198.51.100.1").status.success(), "the gateway is down");
    lab.start_gatewayd();
    let after = api("GET", "/api/v1/config", "readonly", None, &[]);
    assert_eq!(after.etag, before.etag);
    assert_eq!(after.json, before.json);
    ping("lab-lan", "198.51.100.1");
    let r = api("GET", "/api/v1/neighbors", "readonly", None, &[]);
    assert!(r.text.contains("\"static\""), "{}", r.text);
    let audit = api("GET", "/api/v1/audit", "readonly", None, &[]).json;
    assert_eq!(audit["total"], 2, "the audit log survives the restart");
}

/// systemd restarts a crashed gatewayd at once: the new instance must
/// wait for the dead one's DPDK files instead of failing in EAL.
#[test]
fn a_start_right_after_kill_9_waits_for_the_dead_instance_and_comes_up() {
    let Some(lab) = Lab::up() else { return };
    ping("lab-lan", "203.0.113.2");
    for round in 0..3 {
        let pid = lab.pid();
        // SAFETY: sends a signal to the gateway's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        lab.start_gatewayd(); // no wait: the dead one may still be exiting
        assert!(ping("lab-lan", "203.0.113.2").contains("3 received"), "round {round}");
    }
}

/// `gatewayd token add` on the file a running gatewayd uses would be
/// lost at its next save: it is refused, saying what to do instead.
#[test]
fn token_add_on_a_running_gateways_file_is_refused() {
    let Some(_lab) = Lab::up() else { return };
    let file = "/run/gatewayd-lab/gateway.yaml";
    let before = std::fs::read_to_string(file).unwrap();
    let o = sh(&format!("{} token add {file} late admin", env!("CARGO_BIN_EXE_gatewayd")));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("a running gatewayd uses") && err.contains("PUT /api/v1/config"), "{err}");
    assert!(o.stdout.is_empty(), "no token printed");
    assert_eq!(std::fs::read_to_string(file).unwrap(), before, "the file is untouched");
}

fn api_up() -> bool {
    ureq::get("http://127.0.0.1:8080/healthz").timeout(Duration::from_millis(300)).call().is_ok()
}

fn ctl(args: &str) -> std::process::Output {
    sh(&format!("GATEWAYD_TOKEN_FILE=/run/gatewayd-lab/admin.token {} ctl {args}", env!("CARGO_BIN_EXE_gatewayd")))
}

#[test]
fn gatewayd_ctl_shows_tables_changes_routes_and_commits() {
    let Some(_lab) = Lab::up() else { return };
    ping("lab-lan", "203.0.113.2");
    let out = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let ports = out(ctl("ports"));
    assert!(ports.starts_with("NAME") && ports.contains("lan") && ports.contains(" up "), "{ports}");
    assert!(out(ctl("neighbors")).contains("203.0.113.2"));
    assert!(out(ctl("interfaces")).contains("10.0.1.1/24"));
    assert!(out(ctl("stats")).contains("WORKER"));
    assert!(out(ctl("route add 198.51.100.0/24 via 203.0.113.2")).starts_with("applied: generation"));
    assert!(out(ctl("route add 10.70.0.0/16 blackhole")).contains("routes[1].type"));
    let routes: Value = serde_json::from_str(&out(ctl("--json routes 198.51.0.0/16"))).unwrap();
    assert_eq!(
        routes,
        json!([{"dst": "198.51.100.0/24", "via": ["203.0.113.2"], "type": "unicast",
                "protocol": "config", "selected": true, "stale": false}])
    );
    out(ctl("route del 10.70.0.0/16"));
    // A refused change: exit 1, the field on stderr.
    let o = ctl("route add 10.71.0.0/16 via 8.8.8.8");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("via[0]: 8.8.8.8 is not in a connected subnet"));
    // Read-only tokens can look, not touch.
    let o = sh(&format!(
        "{} ctl --token-file /run/gatewayd-lab/readonly.token route del 198.51.100.0/24",
        env!("CARGO_BIN_EXE_gatewayd")
    ));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Forbidden (403)"));
    // Commit a file with confirmation, then confirm.
    let yaml = out(ctl("config show --yaml"));
    let file = "/run/gatewayd-lab/candidate.yaml";
    std::fs::write(file, yaml.replace("198.51.100.0/24", "198.51.101.0/24")).unwrap();
    assert!(out(ctl(&format!("config validate {file}"))).contains("routes[0].dst"));
    assert!(out(ctl(&format!("config commit {file} --confirm 30"))).contains("unless confirmed"));
    out(ctl("config confirm"));
    assert_eq!(route_dsts(), ["198.51.101.0/24"]);
    assert!(out(ctl("audit")).contains("confirm the pending commit"));
    assert_eq!(ctl("bogus").status.code(), Some(2));
}

/// schemathesis, from `make test` (`GATEWAY_SCHEMATHESIS`, which `make
/// tools` installs), else on the PATH; None (the test says it skips)
/// when neither has it.
fn schemathesis() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("GATEWAY_SCHEMATHESIS") {
        let p = std::path::PathBuf::from(p);
        assert!(p.exists(), "GATEWAY_SCHEMATHESIS={} does not exist: run make tools", p.display());
        return Some(p);
    }
    if sh("command -v st && st --version | grep -q schemathesis").status.success() {
        return Some("st".into());
    }
    eprintln!("SKIP: schemathesis not installed (make tools installs it)");
    None
}

/// The API does what its OpenAPI document says, as schemathesis finds it
/// generating requests from the document for 60 s: no 5xx, every status
/// code, content type, header and body as documented, auth enforced,
/// undocumented methods refused, and requests that violate the schema
/// refused. Not `positive_data_acceptance`: a config can fit the schema
/// and still be refused for what it means (422 names the field).
#[test]
fn schemathesis_finds_the_api_as_documented() {
    let Some(st) = schemathesis() else { return };
    let Some(_lab) = Lab::up() else { return };
    let report = std::env::temp_dir().join(format!("gw-schemathesis-{}", std::process::id()));
    let auth = format!("Authorization: Bearer {}", token("admin"));
    let out = Command::new(&st)
        .args(["run", "http://127.0.0.1:8080/api/v1/openapi.json", "-H", &auth])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--phases", "examples,coverage,fuzzing", "--max-time", "60", "--workers", "1", "--seed", "1"])
        .args(["--no-color", "--report-dir"])
        .arg(&report)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&report);
    assert!(out.status.success(), "schemathesis found the API and its document apart:\n{text}");
    let generated: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" generated").and_then(|(n, _)| n.trim().parse().ok()))
        .unwrap_or(0);
    assert!(generated > 1000, "{generated} cases:\n{text}");
    // The gateway still answers after all that.
    assert_eq!(api("GET", "/api/v1/config", "readonly", None, &[]).status, 200);
}

/// Under systemd (`Type=notify`, deploy/systemd/gatewayd.service):
/// `READY=1` once the ports are up and the API answers, `WATCHDOG=1` at
/// half `WATCHDOG_USEC` while the workers run, `STOPPING=1` on SIGTERM.
/// The test plays systemd's part with its own notification socket.
#[test]
fn systemd_hears_ready_then_the_watchdog_then_stopping() {
    use std::os::unix::net::UnixDatagram;
    let Some(lab) = Lab::up() else { return };
    // SAFETY: sends a signal to the gateway's pid.
    assert_eq!(unsafe { libc::kill(lab.pid(), libc::SIGTERM) }, 0);
    let t0 = Instant::now();
    while api_up() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sock = std::env::temp_dir().join(format!("gw-notify-{}", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let systemd = UnixDatagram::bind(&sock).unwrap();
    systemd.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    ok(&format!(
        "NOTIFY_SOCKET={} WATCHDOG_USEC=1000000 ip netns exec lab-gw {} --config /run/gatewayd-lab/gateway.yaml \
         >>/run/gatewayd-lab/gatewayd.log 2>&1 & echo $! >/run/gatewayd-lab/gatewayd.pid",
        sock.display(),
        env!("CARGO_BIN_EXE_gatewayd")
    ));
    let recv = || {
        let mut buf = [0u8; 512];
        let n = systemd.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    let ready = recv();
    assert!(ready.starts_with("READY=1\nSTATUS=1 worker(s), API on 127.0.0.1:8080"), "{ready}");
    assert!(api_up(), "ready means the API answers");
    let (t0, mut pings) = (Instant::now(), 0);
    while t0.elapsed() < Duration::from_secs(3) {
        let m = recv();
        assert_eq!(m, "WATCHDOG=1");
        pings += 1;
    }
    assert!((5..=8).contains(&pings), "every 0.5 s: {pings} in 3 s");
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"));
    // SAFETY: sends a signal to the gateway's pid.
    assert_eq!(unsafe { libc::kill(lab.pid(), libc::SIGTERM) }, 0);
    let mut last = recv();
    while last == "WATCHDOG=1" {
        last = recv();
    }
    assert_eq!(last, "STOPPING=1");
    let _ = std::fs::remove_file(&sock);
}

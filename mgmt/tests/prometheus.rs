//! Monitoring as it is used: Debian's Prometheus scrapes the NAT lab's
//! gatewayd with the read-only token file (`deploy/prometheus/
//! prometheus.yml`'s job, at a 1 s interval), and every PromQL query of
//! the Grafana dashboard (`deploy/grafana/gateway.json`, its variables
//! filled in as Grafana would) is evaluated through Prometheus's HTTP
//! API: none may fail and none may come back without a series.
//!
//! Needs root and Prometheus (`make deps`); skipped otherwise.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Prom(Child, std::path::PathBuf);

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Every `expr` of the dashboard's panels, with Grafana's variables put in.
fn dashboard_queries() -> Vec<String> {
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("deploy/grafana/gateway.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push(e.replace("$__rate_interval", "15s").replace("$job", "gatewayd"));
            }
        }
    }
    out
}

fn query(q: &str) -> serde_json::Value {
    let r = ureq::get("http://127.0.0.1:19090/api/v1/query").query("query", q).call();
    match r {
        Ok(r) => r.into_json().unwrap_or_default(),
        Err(ureq::Error::Status(_, r)) => r.into_json().unwrap_or_default(),
        Err(e) => panic!("{q}: {e}"),
    }
}

#[test]
fn every_dashboard_query_answers_with_series_from_a_real_prometheus() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("SKIP: Prometheus is not installed (make deps)");
        return;
    }
    let Some(lab) = Lab::up_with(Some(&root().join("deploy/lab/nat.yaml"))) else { return };
    let dir = std::env::temp_dir().join(format!("gw-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The shipped job, scraped every second.
    let cfg = std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml"))
        .unwrap()
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("evaluation_interval: 5s", "evaluation_interval: 1s");
    std::fs::write(dir.join("prometheus.yml"), cfg).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg("--web.listen-address=127.0.0.1:19090")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus runs");
    let _prom = Prom(child, dir);
    // Traffic of every kind the dashboard shows: routed and translated
    // (NAT), ICMP, our own UDP and TCP services.
    ping("lab-lan", "203.0.113.2");
    tcp_transfer("lab-lan", "lab-wan", "203.0.113.2", 5201, 1 << 20);
    sh("ip netns exec lab-lan sh -c 'echo hi | nc -u -w 1 10.0.1.1 7'");
    sh("ip netns exec lab-lan curl -s -m 2 http://10.0.1.1/ >/dev/null");
    // Enough samples for a 15 s rate.
    let t0 = Instant::now();
    loop {
        let up = query("up{job=\"gatewayd\"}");
        let scraped = up["data"]["result"][0]["value"][1] == "1";
        if scraped && t0.elapsed() > Duration::from_secs(8) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "Prometheus never scraped gatewayd: {up}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Drops in the last seconds, for the panel that shows only reasons
    // that drop (`> 0`): packets whose TTL ends at the gateway.
    sh("ip netns exec lab-lan ping -c 5 -i 0.2 -t 1 -W 1 203.0.113.2");
    std::thread::sleep(Duration::from_secs(3));
    let queries = dashboard_queries();
    assert!(queries.len() > 50, "the dashboard has {} queries", queries.len());
    let mut bad = Vec::new();
    for q in &queries {
        let r = query(q);
        if r["status"] != "success" {
            bad.push(format!("{q}: {}", r["error"]));
        } else if r["data"]["result"].as_array().is_none_or(|a| a.is_empty()) {
            bad.push(format!("{q}: no series"));
        }
    }
    assert!(bad.is_empty(), "{} of {} dashboard queries fail:\n{}", bad.len(), queries.len(), bad.join("\n"));
    drop(lab);
}

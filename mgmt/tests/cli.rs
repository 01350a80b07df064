//! The gatewayd command line: config checking needs no DPDK and no root.

use std::process::Command;

fn gatewayd(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_gatewayd")).args(args).output().expect("gatewayd runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn check_config_accepts_the_lab_config() {
    let lab = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/lab/gateway.yaml");
    let (code, out, err) = gatewayd(&["--check-config", lab]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": ok"));
}

#[test]
fn check_config_reports_every_problem_with_its_field_and_exits_2() {
    let path = std::env::temp_dir().join(format!("gw-bad-{}.yaml", std::process::id()));
    std::fs::write(
        &path,
        "ports:\n  - { name: a, vdev: net_null0 }\ninterfaces:\n  - { name: x, port: b, mtu: 10, ipv4: [\"10.0.0.1/40\"] }\n",
    )
    .unwrap();
    let (code, _, err) = gatewayd(&["--check-config", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 2);
    for field in ["interfaces[0].port", "interfaces[0].mtu", "interfaces[0].ipv4[0]"] {
        assert!(err.contains(field), "{field} not named in:\n{err}");
    }
    assert!(err.contains("3 problem(s)"), "{err}");
}

#[test]
fn unknown_field_is_an_error() {
    let path = std::env::temp_dir().join(format!("gw-unknown-{}.yaml", std::process::id()));
    std::fs::write(&path, "ports: []\nfirewall: on\n").unwrap();
    let (code, _, err) = gatewayd(&["--check-config", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 2);
    assert!(err.contains("unknown field `firewall`"), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(gatewayd(&[]).0, 2);
    assert_eq!(gatewayd(&["--config"]).0, 2);
    let (code, out, _) = gatewayd(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("gatewayd "));
}

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

/// `gatewayd doctor` on a copy of a host's /sys and /proc: it prints each
/// check with its fix, and exits 1 while something blocks starting, 0
/// once fixed; `--quiet` prints only the problems.
#[test]
fn doctor_names_what_blocks_starting_and_how_to_fix_it() {
    let root = std::env::temp_dir().join(format!("gw-doctor-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("sys/devices/system/node/node0/cpulist", "0-3");
    write("sys/devices/system/cpu/online", "0-3");
    write("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0");
    write("proc/mounts", "hugetlbfs /dev/hugepages hugetlbfs rw 0 0\n");
    let dev = root.join("sys/bus/pci/devices/0000:03:00.0");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::create_dir_all(root.join("sys/bus/pci/drivers/vfio-pci")).unwrap();
    std::os::unix::fs::symlink(root.join("sys/bus/pci/drivers/vfio-pci"), dev.join("driver")).unwrap();
    write("sys/kernel/iommu_groups/3/type", "DMA");
    let cfg = root.join("gateway.yaml");
    std::fs::write(
        &cfg,
        "dpdk: { mbufs: 8191 }\nworkers: { cores: [1] }\nports:\n  - { name: wan, pci: \"0000:03:00.0\" }\n",
    )
    .unwrap();
    let args = |quiet: bool| {
        let mut a = vec!["doctor", "--root", root.to_str().unwrap(), "--config", cfg.to_str().unwrap()];
        if quiet {
            a.push("--quiet");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |quiet| {
        let a = args(quiet);
        gatewayd(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, out, _) = run(false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  hugepages: 0 MiB free, 83 MiB needed"), "{out}");
    assert!(out.contains("fix: echo 42 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "{out}");
    assert!(out.contains("ok    port wan (0000:03:00.0): bound to vfio-pci"), "{out}");
    assert!(out.contains("problem(s) block starting"), "{out}");
    write("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "64");
    let (code, out, _) = run(true);
    // SAFETY: geteuid has no preconditions. Not root, the memory lock
    // limit may block as well.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(code, 0, "{out}");
    }
    assert!(!out.contains("ok  "), "--quiet prints problems only:\n{out}");
    assert!(out.contains("warn  isolation"), "{out}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// The systemd unit passes `systemd-analyze verify` (with ExecStart
/// pointing at this build, since verify wants the binary to exist).
#[test]
fn the_systemd_unit_verifies() {
    if !Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP: systemd-analyze is not installed");
        return;
    }
    let unit = include_str!("../../deploy/systemd/gatewayd.service");
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="), "{unit}");
    let dir = std::env::temp_dir().join(format!("gw-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gatewayd.service");
    std::fs::write(&path, unit.replace("/usr/bin/gatewayd", env!("CARGO_BIN_EXE_gatewayd"))).unwrap();
    let o = Command::new("systemd-analyze").arg("verify").arg(&path).current_dir(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(o.status.success() && text.trim().is_empty(), "{text}");
}

//! The namespace lab for end-to-end tests: bring it up,
//! run commands in it, read metrics and call the API. The lab is global
//! (fixed namespace names), so tests take a lock and each brings up a
//! fresh lab.
#![allow(dead_code)] // each test binary uses a different part

use std::process::{Command, Output};
use std::sync::Mutex;

static LAB: Mutex<()> = Mutex::new(());

pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn sh(cmd: &str) -> Output {
    Command::new("bash").arg("-c").arg(cmd).output().expect("bash runs")
}

pub fn ok(cmd: &str) -> String {
    let o = sh(cmd);
    assert!(
        o.status.success(),
        "`{cmd}` failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits until `f` holds, checking every 100 ms; fails naming `what`
/// after `secs` seconds.
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(secs), "{what} within {secs} s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Waits until something in namespace `ns` listens on TCP `port`: a
/// server started in the background takes a while to bind on a loaded
/// machine, and a fixed sleep lost that race in CI.
pub fn wait_listening(ns: &str, port: u16) {
    wait_socket(ns, "-Hltn", "TCP", port)
}

/// Waits until a socket in namespace `ns` is bound to UDP `port`.
pub fn wait_udp_bound(ns: &str, port: u16) {
    wait_socket(ns, "-Hlun", "UDP", port)
}

fn wait_socket(ns: &str, ss_flags: &str, proto: &str, port: u16) {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(15) {
        let o = sh(&format!("ip netns exec {ns} ss {ss_flags} 'sport = :{port}'"));
        if !String::from_utf8_lossy(&o.stdout).trim().is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing is bound to {proto} port {port} in {ns} after 15 s");
}

/// Why the lab cannot run here, if it cannot.
pub fn missing_capability() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network namespaces need CAP_SYS_ADMIN".into());
    }
    for tool in ["ip", "iperf3", "socat", "curl", "nc", "python3", "ethtool"] {
        if !sh(&format!("command -v {tool}")).status.success() {
            return Some(format!("{tool} is not installed"));
        }
    }
    if !sh("ip netns add lab-probe && ip netns del lab-probe").status.success() {
        return Some("cannot create network namespaces here".into());
    }
    None
}

pub struct Lab {
    _guard: std::sync::MutexGuard<'static, ()>,
}

impl Lab {
    pub fn up() -> Option<Lab> {
        Lab::up_with(None)
    }

    /// The bridge lab (`LAB=bridge`): lab-h1..h3 on bridge br0, lab-h4 on
    /// a trunk (VLAN 100 in br0, VLAN 200 routed, VLAN 300 nowhere).
    pub fn up_bridge() -> Option<Lab> {
        Lab::up_kind("bridge", None)
    }

    /// The VXLAN lab (`LAB=vxlan`): the router lab, plus lab-h1 in bridge
    /// br0, extended by VNI 100 to lab-wan's kernel VXLAN device vx0.
    pub fn up_vxlan() -> Option<Lab> {
        Lab::up_kind("vxlan", None)
    }

    /// The lab with another config file for gatewayd.
    pub fn up_with(config: Option<&std::path::Path>) -> Option<Lab> {
        Lab::up_kind("router", config)
    }

    /// The lab's config with two workers, each with its own queue on both
    /// ports (af_packet `qpairs=2` spreads flows by the kernel's hash),
    /// written to a temporary file named after `name`.
    pub fn two_workers_config(name: &str) -> std::path::PathBuf {
        let cfg = std::env::temp_dir().join(format!("gw-{name}-{}.yaml", std::process::id()));
        let text = include_str!("../../../deploy/lab/gateway.yaml")
            .replace("cores: [1]", "cores: [0, 1]")
            .replace("iface=gw-lan\"", "iface=gw-lan,qpairs=2\"")
            .replace("iface=gw-wan\"", "iface=gw-wan,qpairs=2\"");
        std::fs::write(&cfg, text).unwrap();
        cfg
    }

    /// The scale-out lab (deploy/lab/scaleout.sh): two gateways behind
    /// lab-wan's ECMP; gateway 1's API on 8080, gateway 2's on 8081.
    pub fn up_scaleout() -> Option<Lab> {
        let mut cmd = Command::new(root().join("deploy/lab/scaleout.sh"));
        cmd.arg("up");
        Lab::up_by(cmd)
    }

    /// The lab of `kind` (up.sh's `LAB`), with another config file if given.
    pub fn up_kind(kind: &str, config: Option<&std::path::Path>) -> Option<Lab> {
        let mut cmd = Command::new(root().join("deploy/lab/up.sh"));
        cmd.env("LAB", kind);
        if let Some(c) = config {
            cmd.env("GATEWAY_CONFIG", c);
        }
        Lab::up_by(cmd)
    }

    /// Runs `cmd` (a lab script, given this build's gatewayd) holding the lab.
    fn up_by(mut cmd: Command) -> Option<Lab> {
        let guard = LAB.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = missing_capability() {
            eprintln!("SKIP: lab test needs the namespace lab: {why}");
            return None;
        }
        let o = cmd.env("GATEWAYD", env!("CARGO_BIN_EXE_gatewayd")).output().expect("the lab script runs");
        assert!(
            o.status.success(),
            "lab up failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        Some(Lab { _guard: guard })
    }

    pub fn metric(&self, line_prefix: &str) -> u64 {
        let text = self.metrics();
        text.lines()
            .find_map(|l| l.strip_prefix(line_prefix).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("metric {line_prefix} not in:\n{text}"))
    }

    /// Starts gatewayd again in the lab (after it was killed), on the
    /// lab's running config, and waits for its API.
    pub fn start_gatewayd(&self) {
        ok(&format!(
            "ip netns exec lab-gw {} --config /run/gatewayd-lab/gateway.yaml >>/run/gatewayd-lab/gatewayd.log 2>&1 & echo $! >/run/gatewayd-lab/gatewayd.pid",
            env!("CARGO_BIN_EXE_gatewayd")
        ));
        for _ in 0..100 {
            if sh("curl -sf http://127.0.0.1:8080/healthz").status.success() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("gatewayd did not come back:\n{}", ok("cat /run/gatewayd-lab/gatewayd.log"));
    }

    /// `/metrics`, read with the read-only token.
    pub fn metrics(&self) -> String {
        ok("curl -sf -H \"Authorization: Bearer $(cat /run/gatewayd-lab/readonly.token)\" http://127.0.0.1:8080/metrics")
    }

    /// Learned routes of `protocol` in the tables the workers route with
    /// (`gateway_learned_routes`, set once a batch is applied; the API's
    /// route list shows what the daemon sent, which may not be yet).
    pub fn installed(&self, protocol: &str) -> u64 {
        self.metric(&format!("gateway_learned_routes{{protocol=\"{protocol}\"}}"))
    }

    pub fn drops(&self, reason: &str) -> u64 {
        self.metric(&format!("gateway_drops_total{{reason=\"{reason}\"}}"))
    }

    pub fn pid(&self) -> i32 {
        ok("cat /run/gatewayd-lab/gatewayd.pid").trim().parse().expect("pid")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("gatewayd log:\n{}", String::from_utf8_lossy(&sh("cat /run/gatewayd-lab/gatewayd.log").stdout));
        }
        sh(&format!("{}", root().join("deploy/lab/down.sh").display()));
    }
}

pub fn ping(ns: &str, dst: &str) -> String {
    ok(&format!("ip netns exec {ns} ping -c 3 -i 0.2 -W 2 {dst}"))
}

pub fn token(role: &str) -> String {
    std::fs::read_to_string(format!("/run/gatewayd-lab/{role}.token")).expect("lab token").trim().to_string()
}

/// An API response: status, body as JSON (Null if not JSON), raw text, ETag.
pub struct Resp {
    pub status: u16,
    pub json: serde_json::Value,
    pub text: String,
    pub content_type: String,
    pub etag: String,
}

/// Calls the lab's API. `token` is a role (`admin`, `readonly`) or `""`
/// for none.
pub fn api(method: &str, path: &str, role: &str, body: Option<serde_json::Value>, headers: &[(&str, &str)]) -> Resp {
    let mut req = ureq::request(method, &format!("http://127.0.0.1:8080{path}"));
    if !role.is_empty() {
        req = req.set("Authorization", &format!("Bearer {}", token(role)));
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = r.status();
    let content_type = r.header("content-type").unwrap_or_default().to_string();
    let etag = r.header("etag").unwrap_or_default().to_string();
    let text = r.into_string().unwrap_or_default();
    Resp { status, json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text, content_type, etag }
}

/// Sets interface `name`'s MTU through the API.
pub fn set_mtu(name: &str, mtu: u16) {
    let path = format!("/api/v1/interfaces/{name}");
    let mut ifc = api("GET", &path, "readonly", None, &[]).json;
    ifc["mtu"] = serde_json::json!(mtu);
    ifc.as_object_mut().unwrap().remove("mac");
    assert_eq!(api("PUT", &path, "admin", Some(ifc), &[]).status, 200);
}

/// The bytes [`udp_datagram`] sends.
pub fn udp_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Sends one `len`-byte UDP datagram ([`udp_payload`]) without DF from
/// namespace `from` to `dst:port`, and returns what the socket bound there
/// in namespace `to` received (nothing after 10 s). IPv4 or IPv6 by `dst`.
pub fn udp_datagram(from: &str, to: &str, dst: &str, port: u16, len: usize) -> Vec<u8> {
    let family = if dst.contains(':') { "AF_INET6" } else { "AF_INET" };
    let out = std::env::temp_dir().join(format!("gw-udp-{}-{port}", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let mut server = Command::new("ip")
        .args(["netns", "exec", to, "python3", "-c"])
        .arg(format!(
            "import socket; s = socket.socket(socket.{family}, socket.SOCK_DGRAM); s.bind(('{dst}', {port})); \
             s.settimeout(10); open('{}', 'wb').write(s.recv(65535))",
            out.display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // IP_MTU_DISCOVER (10) = IP_PMTUDISC_DONT (0): DF clear. IPv6 sources
    // fragment whatever the option.
    ok(&format!(
        "ip netns exec {from} python3 -c 'import socket; s = socket.socket(socket.{family}, socket.SOCK_DGRAM); \
         s.setsockopt(socket.IPPROTO_IP, 10, 0) if \"{family}\" == \"AF_INET\" else None; \
         s.sendto(bytes(i * 7 % 251 for i in range({len})), (\"{dst}\", {port}))'"
    ));
    let _ = server.wait();
    let got = std::fs::read(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    got
}

/// Sends `bytes` random bytes over TCP from namespace `from` to
/// `dst:port`, where `nc` listens in namespace `to`, and checks they
/// arrive whole and byte-identical (sha256).
pub fn tcp_transfer(from: &str, to: &str, dst: &str, port: u16, bytes: usize) {
    let dir = std::env::temp_dir().join(format!("gw-tcp-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, got) = (dir.join("sent"), dir.join("received"));
    ok(&format!("head -c {bytes} /dev/urandom > {}", src.display()));
    let family = if dst.contains(':') { "-6" } else { "-4" };
    let mut server = Command::new("bash")
        .arg("-c")
        .arg(format!("ip netns exec {to} timeout 60 nc {family} -l -N -p {port} > {}", got.display()))
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    ok(&format!("ip netns exec {from} timeout 60 nc {family} -N {dst} {port} < {}", src.display()));
    assert!(server.wait().unwrap().success());
    let sums = ok(&format!("sha256sum {} {} | cut -d' ' -f1", src.display(), got.display()));
    let sums: Vec<&str> = sums.lines().collect();
    assert_eq!(std::fs::metadata(&got).unwrap().len(), bytes as u64, "to {dst}");
    assert_eq!(sums[0], sums[1], "to {dst}: checksums differ");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The resident memory of process `pid`, bytes.
pub fn rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).expect("VmRSS");
    kb.trim().trim_end_matches("kB").trim().parse::<u64>().expect("kB") * 1024
}

/// How much an attack may grow the gateway's resident memory. Its tables
/// are sized at start, so what grows is the first touch of memory taken
/// then and never used yet (packet buffers, table slots: the lab's
/// config sizes them at well under 64 MiB), not anything the attacker
/// makes.
pub const RSS_SLACK: u64 = 64 << 20;

//! The gateway's own TCP on the wire: tshark in lab-lan records what
//! Linux and the gateway send each other, and each test checks the
//! segments against what RFC 9293 says for half-close (§3.6), TIME-WAIT
//! and its reuse (§3.6, RFC 6191), and RST (§3.10.7.1), with timestamps
//! on every segment (RFC 7323 §3.2). Needs root and tshark; skipped
//! otherwise.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};

/// One captured segment (absolute sequence numbers).
#[derive(Debug, Clone)]
struct Seg {
    /// Sent by the gateway (else by Linux in lab-lan).
    from_gw: bool,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    seq: u32,
    ackno: u32,
    len: u32,
    tsval: Option<u32>,
    local_port: u16,
}

/// tshark on lab-lan's side of the link, for TCP matching `filter`.
struct Capture {
    child: Child,
    file: std::path::PathBuf,
}

impl Capture {
    fn start(name: &str, filter: &str) -> Option<Capture> {
        if !sh("command -v tshark").status.success() {
            eprintln!("skipped: tshark is not installed");
            return None;
        }
        let file = std::env::temp_dir().join(format!("{name}-{}.pcap", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let child = Command::new("ip")
            .args(["netns", "exec", "lab-lan", "tshark", "-q", "-i", "eth0", "-f", filter, "-w"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tshark");
        // Capturing once the file has its header.
        for _ in 0..100 {
            if std::fs::metadata(&file).is_ok_and(|m| m.len() > 0) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        Some(Capture { child, file })
    }

    /// Stops the capture; the segments in the order seen.
    fn stop(mut self, gw_ports: &[u16]) -> Vec<Seg> {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = sh(&format!("kill -INT {}", self.child.id()));
        let _ = self.child.wait();
        let fields = ["tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin"]
            .into_iter()
            .chain(["tcp.flags.reset", "tcp.seq", "tcp.ack", "tcp.len", "tcp.options.timestamp.tsval"])
            .map(|f| format!("-e {f}"))
            .collect::<Vec<_>>()
            .join(" ");
        let out = ok(&format!(
            "tshark -r {} -o tcp.relative_sequence_numbers:FALSE -T fields -E separator=, {fields} 2>/dev/null",
            self.file.display()
        ));
        let _ = std::fs::remove_file(&self.file);
        out.lines()
            .filter_map(|l| {
                let v: Vec<&str> = l.split(',').collect();
                let num = |i: usize| v.get(i).and_then(|x| x.parse::<u64>().ok());
                let flag = |i: usize| v.get(i).is_some_and(|x| *x == "1" || *x == "True");
                let (src, dst) = (num(0)? as u16, num(1)? as u16);
                let from_gw = gw_ports.contains(&src);
                Some(Seg {
                    from_gw,
                    syn: flag(2),
                    ack: flag(3),
                    fin: flag(4),
                    rst: flag(5),
                    seq: num(6)? as u32,
                    ackno: num(7).unwrap_or(0) as u32,
                    len: num(8).unwrap_or(0) as u32,
                    tsval: num(9).map(|t| t as u32),
                    local_port: if from_gw { dst } else { src },
                })
            })
            .collect()
    }
}

fn client(args: &str) -> String {
    let script = root().join("deploy/lab/tcp_close.py");
    ok(&format!("ip netns exec lab-lan python3 {} {args}", script.display())).trim().to_string()
}

/// `a` after `b` in sequence space.
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

#[test]
fn half_close_the_gateway_sends_on_after_the_peers_fin_then_closes_rfc9293_3_6() {
    let Some(_lab) = Lab::up() else { return };
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let Some(cap) = Capture::start("halfclose", "tcp port 7") else { return };
        let out = client(&format!("halfclose {dst}"));
        let segs = cap.stop(&[7]);
        assert_eq!(out, "ok 100000", "{dst}");
        let find = |f: &dyn Fn(&Seg) -> bool| segs.iter().position(f);
        let peer_fin = find(&|s| !s.from_gw && s.fin).expect("the client's FIN");
        let our_fin = find(&|s| s.from_gw && s.fin).expect("our FIN");
        let last_data = segs.iter().rposition(|s| s.from_gw && s.len > 0).expect("data");
        assert!(peer_fin < last_data, "{dst}: data went on after the peer's FIN (half-close)");
        assert!(last_data < our_fin, "{dst}: our FIN after the last byte");
        let (d, f) = (&segs[last_data], &segs[our_fin]);
        assert_eq!(f.seq, d.seq.wrapping_add(d.len), "{dst}: the FIN takes the next number");
        assert!(segs.iter().any(|s| !s.from_gw && !s.fin && s.ack && s.ackno == f.seq.wrapping_add(1)));
        assert!(segs.iter().all(|s| !s.rst), "{dst}: no RST");
        // Timestamps on every segment both ways, ours never going back.
        assert!(segs.iter().all(|s| s.tsval.is_some()), "{dst}: RFC 7323 §3.2");
        let ours: Vec<u32> = segs.iter().filter(|s| s.from_gw).filter_map(|s| s.tsval).collect();
        assert!(ours.windows(2).all(|w| !seq_after(w[0], w[1])), "{dst}: {ours:?}");
    }
}

#[test]
fn closing_first_the_gateway_waits_in_time_wait_and_a_newer_syn_reopens_rfc6191() {
    let Some(_lab) = Lab::up() else { return };
    let Some(cap) = Capture::start("timewait", "tcp port 80") else { return };
    assert_eq!(client("serverfirst 10.0.1.1 40123"), "200");
    // Our end of it waits in TIME-WAIT (60 s by default).
    let list = api("GET", "/api/v1/tcp/connections?state=time_wait&local=10.0.1.1:80", "readonly", None, &[]);
    let remotes: Vec<&str> =
        list.json["items"].as_array().into_iter().flatten().filter_map(|c| c["remote"].as_str()).collect();
    assert_eq!(remotes, ["10.0.1.2:40123"], "{}", list.json);
    // The same ends again at once: the SYN's timestamp is newer, so it
    // opens a new connection rather than waiting out the 60 s.
    let again = client("reopen 10.0.1.1 40123");
    let segs = cap.stop(&[80]);
    let (code, secs) = again.split_once(' ').unwrap();
    assert_eq!(code, "200");
    assert!(secs.parse::<f64>().unwrap() < 0.9, "no SYN retransmission needed: {again}");
    let ours_fin = segs.iter().position(|s| s.from_gw && s.fin).expect("our FIN");
    let peer_fin = segs.iter().position(|s| !s.from_gw && s.fin).expect("the client's FIN");
    assert!(ours_fin < peer_fin, "we closed first");
    let syn_acks: Vec<&Seg> = segs.iter().filter(|s| s.from_gw && s.syn && s.ack).collect();
    assert_eq!(syn_acks.len(), 2, "{segs:?}");
    let old_fin = &segs[ours_fin];
    assert!(seq_after(syn_acks[1].seq, old_fin.seq), "the new ISN is above the old connection's numbers");
    assert!(segs.iter().all(|s| !s.rst && s.local_port == 40123));
    let after = api("GET", "/api/v1/tcp/connections?state=time_wait&local=10.0.1.1:80", "readonly", None, &[]);
    assert_eq!(after.json["items"].as_array().map(Vec::len), Some(1), "the new one in TIME-WAIT now");
}

#[test]
fn a_syn_to_a_closed_port_gets_rst_ack_of_its_sequence_number_rfc9293_3_10_7_1() {
    let Some(_lab) = Lab::up() else { return };
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let Some(cap) = Capture::start("rst", "tcp port 8") else { return };
        let out = sh(&format!("ip netns exec lab-lan nc -z -w 2 {dst} 8"));
        let segs = cap.stop(&[8]);
        assert!(!out.status.success(), "{dst}: refused");
        let syn = segs.iter().find(|s| !s.from_gw && s.syn).expect("the SYN");
        let rst = segs.iter().find(|s| s.from_gw && s.rst).expect("a RST");
        // No ACK on the SYN: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        assert_eq!((rst.seq, rst.ackno, rst.ack, rst.len), (0, syn.seq.wrapping_add(1), true, 0), "{dst}");
        assert_eq!(rst.tsval, None, "{dst}: a RST carries no timestamps");
    }
}

//! The built-in UDP services in the namespace lab, against the kernel's
//! own UDP as the client (nc and Python sockets in lab-lan): echo (RFC
//! 862) on 10.0.1.1 and fd00:1::1 port 7, including datagrams that travel
//! in fragments both ways; discard (RFC 863) on port 9; Port Unreachable
//! (seen by the client as a refused connection) on a port without a
//! service; a service added and removed through the API, live; the
//! counts in the API and the metrics. Needs root; skipped otherwise.

mod common;

use common::*;

/// A Python UDP client in lab-lan: sends each of `sizes` (bytes of a
/// pattern) to `dst`:`port` on a connected socket and prints, per
/// datagram, `echo N` if the same bytes came back, `refused` if the
/// kernel reported Port Unreachable, `silence` if nothing came.
fn client(dst: &str, port: u16, sizes: &[usize]) -> Vec<String> {
    let sizes: Vec<String> = sizes.iter().map(ToString::to_string).collect();
    let script = format!(
        r#"
import socket
dst, port = "{dst}", {port}
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.connect((dst, port))
for n in [{sizes}]:
    data = bytes((i * 7 + n) % 251 for i in range(n))
    try:
        s.send(data)
        r = s.recv(65535)
        print("echo %d" % len(r) if r == data else "garbled %d" % len(r))
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("silence")
"#,
        sizes = sizes.join(", ")
    );
    let path = std::env::temp_dir().join(format!("udp-client-{}-{port}.py", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let out = ok(&format!("ip netns exec lab-lan python3 {}", path.display()));
    out.lines().map(str::to_string).collect()
}

fn listener(service: &serde_json::Value, address: &str) -> serde_json::Value {
    let l = service["listeners"].as_array().cloned().unwrap_or_default();
    l.into_iter().find(|l| l["address"] == address).unwrap_or_else(|| panic!("{address} in {service}"))
}

#[test]
fn udp_echo_and_discard_answer_the_kernels_udp_on_both_families() {
    let Some(lab) = Lab::up() else { return };
    // nc, as a person would try it.
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let out = ok(&format!("printf 'hello gateway' | ip netns exec lab-lan nc -u -w 1 {dst} 7"));
        assert_eq!(out, "hello gateway", "nc to {dst}");
    }
    // Sizes up to 1,900 bytes: past the 1,500-byte MTU, so the request
    // arrives in fragments (put together by the gateway) and the answer
    // leaves in fragments (put together by lab-lan's kernel); 5,000 and
    // 20,000 too big for one buffer, echoed fragment by fragment.
    let sizes = [0, 1, 100, 1400, 1472, 1473, 1900, 5000, 20000];
    let want: Vec<String> = sizes.iter().map(|n| format!("echo {n}")).collect();
    assert_eq!(client("10.0.1.1", 7, &sizes), want, "IPv4");
    assert_eq!(client("fd00:1::1", 7, &sizes), want, "IPv6");
    // Discard answers nothing; a port without a service is refused.
    assert_eq!(client("10.0.1.1", 9, &[10, 20, 30]), ["silence"; 3]);
    assert_eq!(client("fd00:1::1", 9, &[10]), ["silence"]);
    assert_eq!(client("10.0.1.1", 8, &[10]), ["refused"]);
    assert_eq!(client("fd00:1::1", 8, &[10]), ["refused"]);
    // The API's counts, summed over workers.
    let echo = api("GET", "/api/v1/services/echo", "readonly", None, &[]).json;
    let v4 = listener(&echo, "10.0.1.1:7");
    assert_eq!((v4["received_datagrams"].as_u64(), v4["sent_datagrams"].as_u64()), (Some(10), Some(10)), "{echo}");
    let bytes: u64 = sizes.iter().sum::<usize>() as u64 + "hello gateway".len() as u64;
    assert_eq!(v4["received_bytes"].as_u64(), Some(bytes));
    assert_eq!(listener(&echo, "[fd00:1::1]:7")["sent_datagrams"].as_u64(), Some(10));
    let discard = api("GET", "/api/v1/services/discard", "readonly", None, &[]).json;
    assert_eq!(listener(&discard, "10.0.1.1:9")["received_bytes"].as_u64(), Some(60));
    assert_eq!(listener(&discard, "10.0.1.1:9")["sent_datagrams"].as_u64(), Some(0));
    assert!(lab.metric("gateway_udp_received_total") >= 24);
    assert!(lab.metric("gateway_udp_sent_total") >= 20);
    assert!(lab.metric("gateway_reassembled_total") >= 4, "the 1,900-byte requests came in fragments");
    assert_eq!(lab.drops("udp_bad_checksum") + lab.drops("udp_malformed") + lab.drops("udp_queue_full"), 0);
    assert_eq!(lab.drops("reassembly_no_room"), 0);
}

#[test]
fn a_service_added_through_the_api_answers_at_once_and_goes_when_removed() {
    let Some(_lab) = Lab::up() else { return };
    assert_eq!(client("10.0.1.1", 2007, &[10]), ["refused"]);
    let body = serde_json::json!({ "name": "echo2", "kind": "echo", "port": 2007, "addresses": ["10.0.1.1"] });
    let r = api("POST", "/api/v1/services", "admin", Some(body), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(client("10.0.1.1", 2007, &[10]), ["echo 10"]);
    // A read-only token cannot change services; a bad one is refused by field.
    let body = serde_json::json!({ "name": "x", "kind": "echo", "port": 7, "addresses": ["10.0.9.9"] });
    assert_eq!(api("POST", "/api/v1/services", "readonly", Some(body.clone()), &[]).status, 403);
    let r = api("POST", "/api/v1/services", "admin", Some(body), &[]);
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("addresses[0]") && r.text.contains("not an address of any interface"), "{}", r.text);
    assert_eq!(api("DELETE", "/api/v1/services/echo2", "admin", None, &[]).status, 200);
    assert_eq!(client("10.0.1.1", 2007, &[10]), ["refused"]);
    // The lab's own services were untouched throughout.
    assert_eq!(client("10.0.1.1", 7, &[10]), ["echo 10"]);
}

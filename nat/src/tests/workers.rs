//! Two workers: subscribers owned by one, packets handed to it.

use super::*;

#[test]
fn two_workers_keep_one_mapping_per_endpoint_and_hand_return_traffic_to_its_owner() {
    for burst in [false, true] {
        let mut p = Pair::new(rules(&[WAN_IP]), burst);
        let (a, _) = split_hosts(&p);
        let owner = usize::from(p.nat(0).owner_of(ip(a)));
        let other = 1 - owner;
        // The same inside endpoint to two remotes, entering on both workers:
        // one mapping, on the owner, from its half of the ports (RFC 4787 REQ-1).
        let out1 = p.pass(other, LAN, udp(a, 5000, R1, 53), WAN);
        let out2 = p.pass(owner, LAN, udp(a, 5000, R2, 53), WAN);
        assert_eq!(src(&out1), src(&out2));
        let port = src(&out1).1;
        let half = if owner == 0 { 1024..=33279 } else { 33280..=65535 };
        assert!(half.contains(&port), "{port} in worker {owner}'s slice");
        assert_eq!((p.nat(owner).len(), p.nat(other).len()), (2, 0));
        // Answers entering on the other worker reach the inside host.
        let back = p.pass(other, WAN, udp(R1, 53, WAN_IP, port), LAN);
        assert_eq!(dst(&back), (ip(a), 5000));
        assert!(p.handed() >= 2);
        if burst {
            // Once the flow is known, its frames on the other worker are
            // handed over and carried by the owner's fast path.
            let fast = (p.r[other].counters.fast_path, p.r[owner].counters.fast_path, p.handed());
            let out3 = p.pass(other, LAN, udp(a, 5000, R1, 53), WAN);
            assert_eq!(src(&out3), src(&out1));
            assert_eq!(p.handed(), fast.2 + 1);
            assert_eq!(p.r[owner].counters.fast_path, fast.1 + 1, "the owner's fast path carried it");
            assert_eq!(p.r[other].counters.fast_path, fast.0, "handed over, not forwarded, there");
        }
        // An ICMP error about the flow, on the wrong worker, is translated too.
        let err = p.pass(other, WAN, icmp_error(R1, WAN_IP, 3, 3, &out1), LAN);
        assert_eq!(Ipv4Addr::new(err[16], err[17], err[18], err[19]), ip(a));
    }
}

#[test]
fn two_workers_hairpin_between_subscribers_each_holds() {
    for burst in [false, true] {
        let mut p = Pair::new(rules(&[WAN_IP]), burst);
        let (a, b) = split_hosts(&p);
        let out = p.pass(0, LAN, udp(a, 5000, R1, 53), WAN);
        let a_out = src(&out);
        let out = p.pass(1, LAN, udp(b, 6000, R1, 53), WAN);
        let b_out = src(&out);
        // b reaches a by a's outside endpoint, entering on either worker: a
        // sees b's outside endpoint (RFC 4787 REQ-9), b's mapping kept.
        for w in 0..2 {
            let got = p.pass(w, LAN, udp(b, 6000, WAN_IP, a_out.1), LAN);
            assert_eq!((src(&got), dst(&got)), (b_out, (ip(a), 5000)));
        }
        // And a answers b the same way.
        let got = p.pass(0, LAN, udp(a, 5000, WAN_IP, b_out.1), LAN);
        assert_eq!((src(&got), dst(&got)), (a_out, (ip(b), 6000)));
        assert_eq!(p.nat(0).counters.hairpins + p.nat(1).counters.hairpins, 3);
    }
}

#[test]
fn two_workers_port_forward_and_inbound_fragments_on_any_worker() {
    for burst in [false, true] {
        let mut p = Pair::new(with_forward(rules(&[WAN_IP]), TCP, 8080, (A, 80)), burst);
        let server = usize::from(p.nat(0).owner_of(ip(A)));
        // A connection to the forward entering on the worker not holding the
        // server: the server's worker has it, and the answer leaves from the
        // forwarded endpoint, whichever worker it enters.
        let got = p.pass(1 - server, WAN, tcp(R1, 4444, WAN_IP, 8080, SYN), LAN);
        assert_eq!(dst(&got), (ip(A), 80));
        let back = p.pass(1 - server, LAN, tcp(A, 80, R1, 4444, SYNACK), WAN);
        assert_eq!(src(&back), (ip(WAN_IP), 8080));
        assert_eq!(p.nat(server).len(), 1);
        // A fragmented answer to a mapping: the later fragments enter the
        // worker that does not hold it, before and after the first.
        let out = p.pass(server, LAN, udp(A, 7000, R1, 53), WAN);
        let port = src(&out).1;
        let frags = fragments(&udp_big(R1, 53, WAN_IP, port, 100), 0x5151, &[32, 64]);
        let mut got: Vec<Vec<u8>> = p.send(1 - server, WAN, frags[2].clone()).into_iter().map(|x| x.1).collect();
        assert!(got.is_empty(), "held for its first fragment");
        got.extend(p.send(server, WAN, frags[0].clone()).into_iter().map(|x| x.1));
        got.extend(p.send(1 - server, WAN, frags[1].clone()).into_iter().map(|x| x.1));
        assert_eq!(got.len(), 3);
        let whole = reassemble(&got);
        assert_checksums(&whole);
        assert_eq!(dst(&whole), (ip(A), 7000));
    }
}

#[test]
fn two_workers_hairpin_a_fragmented_datagram_between_their_subscribers() {
    for burst in [false, true] {
        let mut p = Pair::new(rules(&[WAN_IP]), burst);
        let (a, b) = split_hosts(&p);
        let a_out = src(&p.pass(0, LAN, udp(a, 5000, R1, 53), WAN));
        let b_out = src(&p.pass(1, LAN, udp(b, 6000, R1, 53), WAN));
        // b sends a fragmented datagram to a's outside endpoint; its later
        // fragments enter each worker, one before its first fragment.
        for (w, id) in [(0usize, 0x7001u16), (1, 0x7002)] {
            let frags = fragments(&udp_big(b, 6000, WAN_IP, a_out.1, 100), id, &[32, 64]);
            let mut got: Vec<Vec<u8>> = p.send(1 - w, LAN, frags[2].clone()).into_iter().map(|x| x.1).collect();
            got.extend(p.send(w, LAN, frags[0].clone()).into_iter().map(|x| x.1));
            got.extend(p.send(1 - w, LAN, frags[1].clone()).into_iter().map(|x| x.1));
            assert_eq!(got.len(), 3, "entering worker {w}");
            let whole = reassemble(&got);
            assert_checksums(&whole);
            assert_eq!((src(&whole), dst(&whole)), (b_out, (ip(a), 5000)));
        }
    }
}

//! The fast path and the flow cache carry NAT traffic exactly as the full
//! path would: frames, counters and sessions compared.

use super::*;

/// The fast path carries established sessions both ways,
/// new outbound flows (their sessions made as the full path makes them)
/// and traffic no rule concerns, translated exactly as the full path
/// translates them (every `Lab::send` checks that against the full
/// path); whatever else the translator must decide takes the full path.
#[test]
fn sessions_and_new_outbound_flows_take_the_fast_path_and_everything_else_the_full_one() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    // New flows: the fast path makes their sessions.
    let u = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    let syn = l.pass(LAN, tcp(A, 6000, R1, 80, SYN), WAN);
    let t = src(&syn);
    let e = l.pass(LAN, echo(A, R1, 8, 77), WAN);
    assert_eq!(l.fast(), 3);
    // Their traffic both ways goes fast, the TCP state followed.
    assert_eq!(dst(&l.pass(WAN, udp(R1, 53, WAN_IP, u.1), LAN)), (ip(A), 5000));
    assert_eq!(dst(&l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, SYNACK), LAN)), (ip(A), 6000));
    assert_eq!(src(&l.pass(LAN, tcp(A, 6000, R1, 80, ACK), WAN)), t);
    assert_eq!(echo_id(&l.pass(WAN, echo(R1, WAN_IP, 0, echo_id(&e)), LAN)), 77);
    assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)), u);
    assert_eq!(l.fast(), 8);
    let tcp_state = |l: &Lab| l.nat().sessions().find(|s| s.proto == TCP).map(|s| s.state());
    assert_eq!(tcp_state(&l), Some("established"));
    // Routed untouched: from outside to an inside host, from a source
    // no rule names.
    l.pass(WAN, udp(R1, 53, A, 5000), LAN);
    l.pass(LAN, udp("10.0.2.9", 1, R1, 53), WAN);
    assert_eq!(l.fast(), 10);
    // The translator's decisions: a TTL about to run out, an ICMP error
    // about a session, a fragment, a hairpin, an unknown endpoint, the
    // gateway's own address, a RST (fast: it only changes the state).
    l.pass(LAN, with_ttl(udp(A, 5000, R1, 53), 1), LAN);
    l.pass(WAN, icmp_error(R1, WAN_IP, 3, 3, &syn), LAN);
    let frags = fragments(&udp_big(A, 5000, R1, 53, 100), 0x4242, &[48]);
    assert_eq!(l.send(LAN, frags[0].clone()).len(), 1);
    l.pass(LAN, udp(B, 7000, WAN_IP, u.1), LAN);
    l.pass(LAN, udp(B, 7000, WAN_IP, u.1), LAN);
    l.pass(WAN, udp(R1, 53, WAN_IP, 9999), WAN); // port unreachable
    l.pass(WAN, echo(R1, WAN_IP, 8, 5), WAN);
    assert_eq!(l.fast(), 10);
    l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, RST), LAN);
    assert_eq!(l.fast(), 11);
    assert_eq!(tcp_state(&l), Some("reset"));
}

/// The router's flow cache carries an established flow's packets after
/// the one that made its entry, both ways, UDP and TCP, translated as the
/// fast path translated that one (the twin checks every byte, counter
/// and session against the full path), until what the entry copied
/// changes: a FIN or RST (the session's state moves: the fast path takes
/// it), the session's end (a new one, maybe with another port), new
/// rules, new tables (here a next hop's new MAC). (A burst right after
/// one that made sessions goes without the cache: see `flows`.)
#[test]
fn the_flow_cache_carries_established_flows_until_what_it_copied_changes() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let hits = |l: &Lab| l.twin.counters.flow_hits;
    // The first packet makes the session and the entry; the second
    // comes right after a new session; the next ones hit.
    let u = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    for _ in 0..3 {
        assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)), u);
    }
    assert_eq!(hits(&l), 2);
    // The first reply makes the inbound entry.
    for _ in 0..3 {
        assert_eq!(dst(&l.pass(WAN, udp(R1, 53, WAN_IP, u.1), LAN)), (ip(A), 5000));
    }
    assert_eq!(hits(&l), 4);
    // A UDP packet without a checksum keeps none, through the cache too.
    let mut bare = udp(A, 5000, R1, 53);
    bare[26..28].copy_from_slice(&[0, 0]);
    let out = l.send(LAN, bare);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].1[26..28], &[0, 0]);
    assert_eq!(hits(&l), 5);
    // TCP: the handshake (SYNs: never cached) makes the session; the
    // first ACK each way makes an entry, the ones after hit, each
    // refreshing the established session; a FIN does not.
    let t = src(&l.pass(LAN, tcp(A, 6000, R1, 80, SYN), WAN));
    l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, SYNACK), LAN);
    for _ in 0..3 {
        assert_eq!(src(&l.pass(LAN, tcp(A, 6000, R1, 80, ACK), WAN)), t);
        assert_eq!(dst(&l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, ACK), LAN)), (ip(A), 6000));
    }
    assert_eq!(hits(&l), 5 + 4);
    l.pass(LAN, tcp(A, 6000, R1, 80, FIN | ACK), WAN);
    assert_eq!(hits(&l), 9);
    let state = |l: &Lab| l.nat().sessions().find(|s| s.proto == TCP).map(|s| s.state());
    assert_eq!(state(&l), Some("closing"));
    // The UDP session ends; its flow's next packet finds the old entry,
    // which the session it named no longer stands for, and makes a new
    // session and entry.
    l.advance(310);
    assert_eq!(l.nat().len(), 1, "the TCP session is left");
    for _ in 0..3 {
        l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    }
    assert_eq!(hits(&l), 10);
    // New rules (a new pool address: the sessions end with them): the
    // entries go with them.
    let new = Arc::new(rules(&["203.0.113.5"]));
    l.both(|r| r.translator_mut().set_rules(new.clone()));
    let v = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    assert_eq!((v.0, hits(&l)), (ip("203.0.113.5"), 10));
    for _ in 0..2 {
        assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)), v);
    }
    assert_eq!(hits(&l), 11);
    // The outside next hop moves to another MAC: the cached MACs must
    // not be used again. (Two frames in one burst: the first makes the
    // new entry, the second hits it.)
    let moved = MacAddr([2, 0, 0, 0, 7, 7]);
    l.t = tables_with_wan_peer(moved, 2);
    let t2 = tables_with_wan_peer(moved, 2);
    l.both(|r| r.sync(&t2, 0, &mut TestIo::default()));
    let frames = [udp(A, 5000, R1, 53), udp(A, 5000, R1, 53)];
    for ip in &frames {
        l.r.process(&l.t, frame_in(LAN, ip), l.now, &mut l.io);
    }
    let mut burst: Vec<_> = frames.iter().map(|ip| Some(frame_in(LAN, ip))).collect();
    l.twin.process_burst(&l.t, LAN, &mut burst, l.now, &mut l.twin_io);
    let full: Vec<_> = l.io.sent.drain(..).map(|b| b.data().to_vec()).collect();
    let fast: Vec<_> = l.twin_io.sent.drain(..).map(|b| b.data().to_vec()).collect();
    assert_eq!(full, fast);
    l.assert_twins();
    assert!(fast.len() == 2 && fast.iter().all(|f| f[..6] == moved.0), "sent to the new MAC");
    assert_eq!(hits(&l), 12);
}

/// With a hold (`NatConfig::hold_ns`, here 20 ms against a 300 ms UDP
/// timeout), the flow cache carries a flow's packets for up to a hold
/// after the one that made its entry without asking the translator,
/// which counts them all the same; every refresh keeps the session a
/// hold past its timeout, so it ends no sooner than its timeout after
/// the flow's last packet, and at most a hold (and a tick) later.
/// Replies, which do not refresh a UDP session (RFC 4787 REQ-6), are
/// carried only while it lasts; an operator's delete ends the entry with
/// the session.
#[test]
fn a_held_flow_is_refreshed_once_a_hold_and_its_session_ends_no_sooner_than_its_timeout() {
    const HOLD: u64 = 20;
    let t = tables();
    let cfg = NatConfig { tick_ns: MS, seed: 7, hold_ns: HOLD * MS, ..NatConfig::default() };
    let mut nat = Nat::new(cfg);
    nat.set_rules(Arc::new(rules(&[WAN_IP])));
    let mut r = Router::with_translator(RouterConfig { flow_fill: 1, ..RouterConfig::default() }, nat);
    r.sync(&t, 0, &mut TestIo::default());
    r.translator_mut().poll(0);
    let out = udp(A, 5000, R1, 53);
    let expires = |r: &Router<VecBuf, Nat>| r.translator().sessions().next().map(|s| s.expires / MS);
    let hits = |r: &Router<VecBuf, Nat>| r.counters.flow_hits;
    // The first packet makes the session (refreshed: a hold past its
    // timeout) and the entry, held until 20 ms; the second comes right
    // after a new session, the fast path's.
    let sent = burst_of_one(&mut r, &t, 0, LAN, &out);
    let u = src(&sent[0]);
    assert_eq!(expires(&r), Some(320));
    assert_eq!(burst_of_one(&mut r, &t, MS, LAN, &out).len(), 1);
    assert_eq!((expires(&r), hits(&r)), (Some(321), 0));
    // Held hits leave the session as it was, and are counted.
    let reply = udp(R1, 53, WAN_IP, u.1);
    for ms in [5, 10, 19] {
        assert_eq!(src(&burst_of_one(&mut r, &t, ms * MS, LAN, &out)[0]), u);
    }
    assert_eq!((expires(&r), hits(&r)), (Some(321), 3));
    // At 20 ms the hold is over: the fast path refreshes the session and
    // makes a new entry; the reply's entry (made at 21 ms) is held too.
    burst_of_one(&mut r, &t, 20 * MS, LAN, &out);
    assert_eq!((expires(&r), hits(&r)), (Some(340), 3));
    for ms in [21, 25, 30] {
        assert_eq!(dst(&burst_of_one(&mut r, &t, ms * MS, WAN, &reply)[0]), (ip(A), 5000));
    }
    // The flow's last packet, a hit at 39 ms.
    burst_of_one(&mut r, &t, 39 * MS, LAN, &out);
    assert_eq!((expires(&r), hits(&r)), (Some(340), 6));
    let c = &r.translator().counters;
    assert_eq!((c.translated, c.created.iter().sum::<u64>()), (10, 1), "every packet translated is counted");
    // Replies go on (the fast path's, then held), but do not keep the
    // session: it lasts 300 ms past the last outbound packet, and goes
    // at its end, a hold and a tick later at most.
    for ms in (40..=320).step_by(20) {
        r.translator_mut().poll(ms * MS);
        assert_eq!(burst_of_one(&mut r, &t, ms * MS, WAN, &reply).len(), 1, "reply at {ms} ms");
    }
    r.translator_mut().poll(339 * MS);
    assert_eq!(r.translator().len(), 1, "no sooner than 300 ms after the last packet");
    r.translator_mut().poll(341 * MS);
    assert_eq!(r.translator().len(), 0);
    let late = burst_of_one(&mut r, &t, 341 * MS, WAN, &reply);
    assert!(late.iter().all(|p| dst(p).0 != ip(A)), "no session, no entry");
    // A new session, cached; an operator deletes it: the cache forgets
    // it, and the flow's next packet makes a new session.
    let now = 400 * MS;
    let v = src(&burst_of_one(&mut r, &t, now, LAN, &out)[0]);
    burst_of_one(&mut r, &t, now, LAN, &out);
    burst_of_one(&mut r, &t, now, LAN, &out);
    let before = hits(&r);
    assert!(r.translator_mut().delete(UDP, v, (ip(R1), 53)));
    assert_eq!(src(&burst_of_one(&mut r, &t, now, LAN, &out)[0]), v);
    assert_eq!(hits(&r), before, "the deleted session's entry is not used");
    assert_eq!((r.translator().len(), r.translator().counters.created.iter().sum::<u64>()), (1, 3));
}

#[test]
fn bursts_of_new_and_established_flows_go_as_frame_by_frame() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let hosts = ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"];
    // 24 new flows in one burst (longer than the lookahead), then 24
    // again with 12 new ones among them, then the answers: the
    // translator's hints (on while sessions are being made, then off)
    // change nothing.
    let flows = |from: u16, n: u16| -> Vec<Vec<u8>> {
        (from..from + n).map(|i| udp(hosts[usize::from(i) % 4], 2000 + i, R1, 53)).collect()
    };
    // (The first burst goes without hints: nothing was made before it.)
    let first = l.send_burst(LAN, &flows(0, 24));
    assert_eq!(first.len(), 24);
    assert_eq!((l.nat().len(), l.fast()), (24, 24));
    let second = l.send_burst(LAN, &flows(12, 24));
    assert_eq!((l.nat().len(), l.fast()), (36, 48));
    // Garbage among new flows: hints about frames that are not IPv4
    // flows are no more than wasted.
    let mut mixed = flows(100, 6);
    mixed.insert(2, vec![0x45]);
    mixed.insert(4, udp(A, 9, R1, 53)[..22].to_vec());
    assert_eq!(l.send_burst(LAN, &mixed).len(), 6);
    assert_eq!(l.nat().len(), 42);
    // The answers, inbound, hinted too (sessions were just made).
    let answers: Vec<_> = second.iter().map(|(_, o)| udp(R1, 53, WAN_IP, src(o).1)).collect();
    let back = l.send_burst(WAN, &answers);
    assert_eq!(back.len(), 24);
    for (i, (port, p)) in back.iter().enumerate() {
        assert_eq!((*port, dst(p)), (LAN, (ip(hosts[(12 + i) % 4]), 2012 + i as u16)));
    }
    assert_eq!(l.fast(), 78);
}

#[test]
fn the_translator_asks_for_hints_only_while_it_makes_sessions() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let nat = l.twin.translator_mut();
    assert!(!stack::BurstHints::lookahead(nat), "nothing made yet");
    let out = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let nat = l.twin.translator_mut();
    assert!(stack::BurstHints::lookahead(nat), "a session was made");
    assert!(!stack::BurstHints::lookahead(nat), "asked again: none since");
    l.pass(WAN, udp(R1, 53, WAN_IP, src(&out).1), LAN);
    assert!(!stack::BurstHints::lookahead(l.twin.translator_mut()), "established traffic only");
}

#[test]
fn many_flows_come_and_go_and_every_table_stays_consistent() {
    let mut l = Lab::sized(rules(&[WAN_IP]), 512);
    for round in 0..20u16 {
        for i in 0..300u16 {
            let host = format!("10.0.1.{}", 2 + i % 5);
            let out = l.send(LAN, udp(&host, 1024 + i * 7 + round, R1, 53 + (i % 3)));
            if let Some((WAN, o)) = out.first() {
                let back = l.pass(WAN, udp(R1, 53 + (i % 3), WAN_IP, src(o).1), LAN);
                assert_eq!(dst(&back).0, ip(&host));
            }
        }
        l.advance(170);
        assert!(l.nat().len() <= 512);
    }
    l.advance(400);
    assert!(l.nat().is_empty());
    let c = &l.nat().counters;
    assert_eq!(c.created[1], c.expired[1]);
}

//! IPv4 options at the router: Record Route and Timestamp filled in as a
//! packet is forwarded or answered (RFC 791 §3.1, RFC 1812 §5.3.13, RFC
//! 1122 §3.2.2.6), source routes refused (RFC 7126 §4.3), and the policy
//! that drops every option.

use super::*;
use crate::settings::OptionsPolicy;
use crate::wire::ipv4_options;

/// Record Route with room for three addresses, then End of List.
const RR3: [u8; 16] = [7, 15, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn with_policy(policy: OptionsPolicy) -> Tables {
    let mut t = tables(true, 1500);
    t.settings.ipv4_options = policy;
    t
}

#[test]
fn a_forwarded_packet_records_the_egress_address_rfc1812_5_3_13() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let frame = with_options(&udp_frame("198.51.100.7", 64), &RR3);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert!(p.verify_checksum());
    assert_eq!(p.ttl(), 63);
    assert_eq!(&p.options()[..7], &[7, 15, 8, 203, 0, 113, 1], "the wan's address, where it left");
    assert_eq!(r.counters.ipv4_options_recorded, 1);
}

#[test]
fn an_echo_reply_carries_the_route_and_a_timestamp_rfc1122_3_2_2_6() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // Read the wall clock: timestamps are then milliseconds since midnight
    // UT, counted from the poll's reading (so `before` is read before it:
    // after it, a test thread descheduled for a millisecond saw a later
    // time than the reply carries).
    let before = ipv4_options::ms_since_midnight(unix_ms());
    r.poll(&t, 5 * SEC, &mut io);
    // Record Route, then a Timestamp with addresses and room for one.
    let mut opts = RR3.to_vec();
    opts.truncate(15);
    opts.extend_from_slice(&[68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let frame = with_options(&echo_request("10.0.1.2", "203.0.113.1"), &opts);
    run(&mut r, &t, &mut io, 0, &frame, 5 * SEC);
    let after = ipv4_options::ms_since_midnight(unix_ms());
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert!(p.verify_checksum());
    assert_eq!((p.src(), p.dst(), icmp_of(&p)[0]), (ip("203.0.113.1"), ip("10.0.1.2"), 0));
    let o = p.options();
    assert_eq!(&o[..7], &[7, 15, 8, 203, 0, 113, 1], "recorded as the address asked");
    assert_eq!(&o[15..23], &[68, 12, 13, 1, 203, 0, 113, 1]);
    let ms = u32::from_be_bytes(o[23..27].try_into().unwrap());
    assert!(before <= ms && ms <= after.max(before) + 1, "{before} <= {ms} <= {after}");
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn a_timestamp_before_the_clock_is_read_is_marked_nonstandard_rfc791() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let frame = with_options(&udp_frame("198.51.100.7", 64), &[68, 8, 5, 0, 0, 0, 0, 0]);
    run(&mut r, &t, &mut io, 0, &frame, 7 * SEC + 3_000_000);
    let p = sent_ip(&io.sent[0]);
    assert_eq!(p.options(), &[68, 8, 9, 0, 0x80, 0, 0x1b, 0x5b], "7003 ms, high bit set");
}

#[test]
fn source_routed_packets_are_dropped_forwarded_or_local_rfc7126_4_3() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // LSRR through 198.51.100.9, and SSRR.
    for opts in [[131, 7, 4, 198, 51, 100, 9, 0], [137, 7, 4, 198, 51, 100, 9, 0]] {
        run(&mut r, &t, &mut io, 0, &with_options(&udp_frame("198.51.100.7", 64), &opts), 0);
        run(&mut r, &t, &mut io, 0, &with_options(&echo_request("10.0.1.2", "10.0.1.1"), &opts), 0);
    }
    assert!(io.sent.is_empty(), "neither followed nor answered");
    assert_eq!(r.counters.dropped(DropReason::Ipv4SourceRoute), 4);
}

#[test]
fn the_drop_policy_refuses_every_option_but_padding_rfc7126_3() {
    let t = with_policy(OptionsPolicy::Drop);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &with_options(&udp_frame("198.51.100.7", 64), &RR3), 0);
    run(&mut r, &t, &mut io, 0, &with_options(&echo_request("10.0.1.2", "10.0.1.1"), &[148, 4, 0, 0]), 0);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::Ipv4OptionsRefused), 2);
    // Padding alone is no option.
    run(&mut r, &t, &mut io, 0, &with_options(&udp_frame("198.51.100.7", 64), &[1, 1, 1, 0]), 0);
    assert_eq!(io.sent.len(), 1);
    assert_eq!(r.counters.ipv4_options_recorded, 0);
}

#[test]
fn a_record_route_with_half_an_entry_gets_parameter_problem_rfc791() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // Length 6, pointer 4: room for three bytes of an address.
    let frame = with_options(&udp_frame("198.51.100.7", 64), &[7, 6, 4, 0, 0, 0, 0, 0]);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv4BadOptions), 1);
    let p = sent_ip(&io.sent[0]);
    let icmp = icmp_of(&p);
    assert_eq!((icmp[0], icmp[1], icmp[4]), (12, 0, 22), "pointing at the pointer");
}

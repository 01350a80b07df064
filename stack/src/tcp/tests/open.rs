//! Active and simultaneous opens (RFC 9293 §3.5, §3.10.7.3), and two of
//! our connections talking to each other.

use super::*;

/// What a segment we sent looks like to the other end.
fn arriving(o: &SegOut) -> SegIn {
    SegIn { seq: o.seq, ack: o.ack, flags: o.flags, window: o.window, options: o.options }
}

fn connecting(iss: u32, cfg: &TcpConfig) -> Conn<VecBuf> {
    let open = Opening { iss, ts_offset: 1000, our_mss: 1460, now: 0 };
    Conn::connect(&open, cfg, TxChain::new(cfg.buffer), RxChain::new(cfg.buffer))
}

/// Delivers what each sends to the other until both are quiet.
fn pump(a: &mut Conn<VecBuf>, b: &mut Conn<VecBuf>, now: u64) {
    let mut counts = ConnCounts::default();
    for _ in 0..10_000 {
        let (sa, sb) = (out_of(a, now), out_of(b, now));
        if sa.is_empty() && sb.is_empty() {
            return;
        }
        for (o, d) in sa {
            b.feed(&arriving(&o), &d, now, &mut counts);
        }
        for (o, d) in sb {
            a.feed(&arriving(&o), &d, now, &mut counts);
        }
    }
    panic!("no end to it");
}

#[test]
fn an_active_open_sends_a_syn_with_every_option_and_establishes_on_the_syn_ack_rfc9293_3_5() {
    let cfg = TcpConfig::default();
    let mut c = connecting(ISS, &cfg);
    assert_eq!(c.state, State::SynSent);
    let syn = out_of(&mut c, 0);
    let o = &syn[0].0;
    assert_eq!((o.seq, o.ack, o.flags), (ISS, 0, f::SYN));
    let want = TcpOptions {
        mss: Some(1460),
        window_shift: Some(0),
        sack_permitted: true,
        timestamps: Some((1000, 0)),
        ..TcpOptions::default()
    };
    assert_eq!(o.options, want, "TSecr 0 on a SYN (RFC 7323 §3.2)");
    assert!(out_of(&mut c, 0).is_empty(), "once");
    let mut counts = ConnCounts::default();
    let opts = TcpOptions {
        mss: Some(1000),
        window_shift: Some(2),
        sack_permitted: true,
        timestamps: Some((77, 1000)),
        ..TcpOptions::default()
    };
    let syn_ack = SegIn { seq: IRS, ack: ISS + 1, flags: f::SYN | f::ACK, window: 30000, options: opts };
    assert_eq!(c.feed(&syn_ack, b"", 10 * MS, &mut counts), Event::None);
    assert_eq!(c.state, State::Established);
    let ack = out_of(&mut c, 10 * MS);
    assert_eq!((ack[0].0.seq, ack[0].0.ack, ack[0].0.flags), (ISS + 1, IRS + 1, f::ACK));
    assert_eq!(ack[0].0.options.timestamps, Some((1010, 77)));
    // The peer's MSS, less the timestamps, bounds our segments.
    assert_eq!(c.queue(&[1; 3000]), 3000);
    let data = out_of(&mut c, 10 * MS);
    assert_eq!(data.iter().map(|(_, d)| d.len()).collect::<Vec<_>>(), [988, 988, 988, 36]);
}

#[test]
fn in_syn_sent_a_bad_ack_gets_rst_a_rst_with_a_good_one_resets_rfc9293_3_10_7_3() {
    let cfg = TcpConfig::default();
    let mut c = connecting(ISS, &cfg);
    out_of(&mut c, 0);
    let mut counts = ConnCounts::default();
    let seg = |ack: u32, flags: u8| SegIn { seq: IRS, ack, flags, window: 1000, options: TcpOptions::default() };
    assert_eq!(c.feed(&seg(ISS + 5, f::SYN | f::ACK), b"", 0, &mut counts), Event::SendReset(ISS + 5));
    assert_eq!(c.feed(&seg(ISS, f::ACK), b"", 0, &mut counts), Event::SendReset(ISS), "SEG.ACK =< ISS");
    assert_eq!(c.feed(&seg(ISS + 5, f::RST | f::ACK), b"", 0, &mut counts), Event::None, "ignored");
    assert_eq!(c.feed(&seg(0, f::RST), b"", 0, &mut counts), Event::None, "a RST without ACK: ignored");
    assert_eq!(c.state, State::SynSent);
    assert_eq!(c.feed(&seg(ISS + 1, f::RST | f::ACK), b"", 0, &mut counts), Event::Reset, "refused");
    assert!(c.is_closed());
}

#[test]
fn a_lost_syn_goes_again_with_backoff_then_the_open_fails() {
    let cfg = TcpConfig::default();
    let mut c = connecting(ISS, &cfg);
    out_of(&mut c, 0);
    let mut counts = ConnCounts::default();
    let mut now = 0;
    for _ in 0..conn::SYN_RETRIES {
        now = c.deadline().unwrap();
        c.on_timer(now, &mut counts);
        let again = out_of(&mut c, now);
        assert_eq!((again[0].0.seq, again[0].0.flags), (ISS, f::SYN));
    }
    c.on_timer(c.deadline().unwrap(), &mut counts);
    assert!(c.is_closed(), "given up after {} tries", conn::SYN_RETRIES);
    assert!(now > 60_000 * MS, "1 + 2 + 4 + ... s");
}

#[test]
fn crossing_syns_are_a_simultaneous_open_and_both_ends_establish_rfc9293_3_5_figure_7() {
    let cfg = TcpConfig::default();
    let (mut a, mut b) = (connecting(100, &cfg), connecting(300, &cfg));
    let (sa, sb) = (out_of(&mut a, 0), out_of(&mut b, 0));
    let mut counts = ConnCounts::default();
    // Each gets the other's SYN: SYN-RECEIVED, and a SYN-ACK with its own ISS.
    a.feed(&arriving(&sb[0].0), b"", 0, &mut counts);
    b.feed(&arriving(&sa[0].0), b"", 0, &mut counts);
    assert_eq!((a.state, b.state), (State::SynReceived, State::SynReceived));
    let (sa, sb) = (out_of(&mut a, 0), out_of(&mut b, 0));
    assert_eq!((sa[0].0.seq, sa[0].0.ack, sa[0].0.flags), (100, 301, f::SYN | f::ACK));
    assert_eq!((sb[0].0.seq, sb[0].0.ack, sb[0].0.flags), (300, 101, f::SYN | f::ACK));
    // Each SYN-ACK acknowledges the other's SYN: both established.
    assert_eq!(a.feed(&arriving(&sb[0].0), b"", 0, &mut counts), Event::None);
    assert_eq!(b.feed(&arriving(&sa[0].0), b"", 0, &mut counts), Event::None);
    assert_eq!((a.state, b.state), (State::Established, State::Established));
    a.queue(b"after a simultaneous open");
    pump(&mut a, &mut b, 0);
    let (x, y) = (b.received(), Vec::<u8>::new());
    assert_eq!([x, y].concat(), b"after a simultaneous open");
}

#[test]
fn two_of_our_connections_move_data_both_ways_and_close() {
    let cfg = TcpConfig { buffer: 65536, ..TcpConfig::default() };
    let mut a = connecting(ISS, &cfg);
    let syn = out_of(&mut a, 0);
    let open = Opening { iss: 9000, ts_offset: 5, our_mss: 1460, now: 0 };
    let mut b = Conn::accept(&arriving(&syn[0].0), &open, &cfg, TxChain::new(cfg.buffer), RxChain::new(cfg.buffer));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut at_a, mut at_b, mut sent_a, mut sent_b) = (Vec::new(), Vec::new(), 0, 0);
    let mut now = 0;
    while at_a.len() < data.len() || at_b.len() < data.len() {
        sent_a += a.queue(&data[sent_a..]);
        sent_b += b.queue(&data[sent_b..]);
        now += MS;
        pump(&mut a, &mut b, now);
        for (c, got) in [(&mut a, &mut at_a), (&mut b, &mut at_b)] {
            let (x, y) = (c.received(), Vec::<u8>::new());
            got.extend_from_slice(&x);
            got.extend_from_slice(&y);
            let n = c.recv.len();
            c.take_received(n);
            c.window_opened();
        }
        assert!(now < 10_000 * MS, "stuck at {} and {}", at_a.len(), at_b.len());
    }
    assert!(at_a == data && at_b == data);
    // a closes first: b sees EOF, closes; a waits in TIME-WAIT.
    a.close();
    pump(&mut a, &mut b, now);
    assert!(b.peer_closed());
    b.close();
    pump(&mut a, &mut b, now);
    assert_eq!((a.state, b.state), (State::TimeWait, State::Closed));
}

#[test]
fn the_table_opens_our_connections_outside_the_syn_backlog() {
    let cfg = TcpConfig { connections: 4, buffer: 1024, syn_backlog: 1, ..TcpConfig::default() };
    let mut t: TcpTable<VecBuf> = TcpTable::new(cfg);
    let ends = |p: u16| ("10.0.1.1:40000".parse().unwrap(), std::net::SocketAddr::from(([10, 0, 1, 2], p)));
    t.connect(&inc(ends(80), 0), Serving::Discard).unwrap();
    t.connect(&inc(ends(81), 0), Serving::Discard).unwrap();
    assert_eq!(t.connect(&inc(ends(80), 0), Serving::Discard), Err(Refused::InUse));
    let syn = SegIn { seq: 1, ack: 0, flags: f::SYN, window: 1000, options: TcpOptions::default() };
    t.accept(&inc(ends(82), 0), &syn, None).expect("the backlog is the peers'");
    assert_eq!(t.accept(&inc(ends(83), 0), &syn, None), Err(Refused::Backlog));
    assert_eq!(t.len(), 3);
}

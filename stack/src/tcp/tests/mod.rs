//! Segment-scripted tests of one connection (segments in, segments out,
//! time injected), each named after the rule it checks, and of the
//! table's bounds.

use super::*;
use crate::buf::VecBuf;
use crate::wire::tcp::{flags as f, TcpOptions};

/// A connection's side the tests play: segments in as buffers, the
/// application's reads and writes.
trait Play {
    fn feed(&mut self, s: &SegIn, data: &[u8], now: u64, counts: &mut ConnCounts) -> Event;
    fn queue(&mut self, data: &[u8]) -> usize;
    fn received(&self) -> Vec<u8>;
    fn take_received(&mut self, n: usize);
}

impl Play for Conn<VecBuf> {
    fn feed(&mut self, s: &SegIn, data: &[u8], now: u64, counts: &mut ConnCounts) -> Event {
        let mut pkt = Some(VecBuf::from_frame(0, data));
        assert_eq!(pkt.as_ref().map(|p| p.len()), Some(data.len()), "a segment fits one buffer");
        let mut held = Held::new(usize::MAX);
        self.input(s, Payload { pkt: &mut pkt, at: 0, len: data.len() }, &mut InputCx { now, counts, held: &mut held })
    }

    fn queue(&mut self, data: &[u8]) -> usize {
        let per = self.segment_size();
        self.send.write(data, per, &mut || Some(VecBuf::new(0)), &mut Held::new(usize::MAX))
    }

    fn received(&self) -> Vec<u8> {
        self.recv.chunks().flatten().copied().collect()
    }

    fn take_received(&mut self, n: usize) {
        self.recv.consume(n, &mut Held::new(usize::MAX));
        self.window_opened();
    }
}

/// A segment's payload, as bytes.
fn bytes_of(d: TxData<'_, VecBuf>) -> Vec<u8> {
    match d {
        TxData::Copy(p) => p.flatten().copied().collect(),
        TxData::Shared(b) => b.data().to_vec(),
    }
}

const MS: u64 = 1_000_000;
const ISS: u32 = 1000;
const IRS: u32 = 5000;

struct Peer {
    conn: Conn<VecBuf>,
    counts: ConnCounts,
    now: u64,
}

/// What `output` sent: each segment's header and payload.
type Sent = Vec<(SegOut, Vec<u8>)>;

impl Peer {
    /// A connection accepted from a SYN with `options`, its SYN-ACK sent.
    fn accept(options: TcpOptions, buffer: usize) -> (Peer, Sent) {
        Peer::accept_with(options, TcpConfig { buffer, rto_min_ns: 200 * MS, ..TcpConfig::default() })
    }

    fn accept_with(options: TcpOptions, cfg: TcpConfig) -> (Peer, Sent) {
        let buffer = cfg.buffer;
        let syn = SegIn { seq: IRS, ack: 0, flags: f::SYN, window: 64240, options };
        let conn = Conn::accept(&syn, &Opening::new(ISS, 1460), &cfg, TxChain::new(buffer), RxChain::new(buffer));
        let mut p = Peer { conn, counts: ConnCounts::default(), now: 0 };
        let sent = p.out();
        (p, sent)
    }

    /// Accepted and established: the SYN-ACK acknowledged.
    fn established(buffer: usize) -> Peer {
        let (mut p, _) = Peer::accept(TcpOptions { mss: Some(1000), ..TcpOptions::default() }, buffer);
        p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
        p.out();
        assert_eq!(p.conn.state, State::Established);
        p
    }

    fn seg(&mut self, seq: u32, ack: u32, flags: u8, window: u16, data: &[u8]) -> Event {
        self.seg_with(seq, ack, flags, window, data, TcpOptions::default())
    }

    fn seg_with(&mut self, seq: u32, ack: u32, flags: u8, window: u16, data: &[u8], options: TcpOptions) -> Event {
        let s = SegIn { seq, ack, flags, window, options };
        self.conn.feed(&s, data, self.now, &mut self.counts)
    }

    /// Accepted with SACK permitted, and established.
    fn established_sack(buffer: usize) -> Peer {
        let o = TcpOptions { mss: Some(1000), sack_permitted: true, ..TcpOptions::default() };
        let (mut p, _) = Peer::accept(o, buffer);
        p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
        p.out();
        p
    }

    fn out(&mut self) -> Sent {
        let mut sent = Vec::new();
        self.conn.output(self.now, &mut self.counts, &mut |o: &SegOut, d: TxData<'_, VecBuf>| {
            sent.push((*o, bytes_of(d)));
            true
        });
        sent
    }

    fn tick(&mut self, by: u64) -> Sent {
        self.now += by;
        self.conn.on_timer(self.now, &mut self.counts);
        self.out()
    }

    /// Queues `data` to send, as the application does.
    fn write(&mut self, data: &[u8]) {
        assert_eq!(self.conn.queue(data), data.len());
    }
}

/// An opening segment between `ends` for an echo listener at `now`.
fn inc(ends: Ends, now: u64) -> Incoming {
    Incoming { ends, our_mss: 1460, ifindex: 0, service: ServiceKind::Echo, now }
}

/// What connection `c` sends at `now`.
fn out_of(c: &mut Conn<VecBuf>, now: u64) -> Sent {
    let mut counts = ConnCounts::default();
    let mut sent = Vec::new();
    c.output(now, &mut counts, &mut |o: &SegOut, d: TxData<'_, VecBuf>| {
        sent.push((*o, bytes_of(d)));
        true
    });
    sent
}

fn flags_of(s: &Sent) -> Vec<u8> {
    s.iter().map(|(o, _)| o.flags).collect()
}

#[test]
fn a_syn_is_answered_by_syn_ack_with_mss_and_window_scale_rfc9293_3_5_rfc7323_2() {
    let opts = TcpOptions { mss: Some(1460), window_shift: Some(7), sack_permitted: true, ..TcpOptions::default() };
    let (p, sent) = Peer::accept(opts, 1 << 20);
    assert_eq!(sent.len(), 1);
    let (o, _) = &sent[0];
    assert_eq!((o.flags, o.seq, o.ack), (f::SYN | f::ACK, ISS, IRS + 1));
    assert_eq!(o.options.mss, Some(1460));
    // A 1 MiB buffer needs a shift of 5 to be offered whole; the SYN's
    // own window is never scaled.
    assert_eq!(o.options.window_shift, Some(5));
    assert!(o.options.sack_permitted, "offered back (RFC 2018 §2)");
    assert_eq!(o.window, u16::MAX);
    assert_eq!(p.conn.state, State::SynReceived);
    // Without the peer's window scale, we offer none.
    let (_, sent) = Peer::accept(TcpOptions::default(), 4096);
    assert_eq!(sent[0].0.options, TcpOptions { mss: Some(1460), ..TcpOptions::default() });
}

#[test]
fn the_handshake_completes_on_the_ack_of_our_syn_and_a_bad_ack_gets_rst_rfc9293_3_10_7_4() {
    let (mut p, _) = Peer::accept(TcpOptions::default(), 4096);
    assert_eq!(p.seg(IRS + 1, ISS + 7, f::ACK, 1000, b""), Event::SendReset(ISS + 7));
    assert_eq!(p.conn.state, State::SynReceived);
    assert_eq!(p.seg(IRS + 1, ISS + 1, f::ACK, 1000, b"hi"), Event::None);
    assert_eq!(p.conn.state, State::Established);
    let (a, b) = (p.conn.received(), Vec::<u8>::new());
    assert_eq!([a, b].concat(), b"hi", "data on the handshake's ACK is taken");
}

#[test]
fn a_lost_syn_ack_is_sent_again_on_the_peers_syn_or_the_timer_then_given_up() {
    let (mut p, _) = Peer::accept(TcpOptions::default(), 4096);
    // The peer's SYN again: the SYN-ACK again, at once.
    p.seg(IRS, 0, f::SYN, 1000, b"");
    assert_eq!(flags_of(&p.out()), [f::SYN | f::ACK]);
    // RFC 6298 §2.1: 1 s before any RTT measurement, then doubling.
    assert!(p.tick(999 * MS).is_empty());
    assert_eq!(flags_of(&p.tick(MS)), [f::SYN | f::ACK]);
    assert_eq!(p.counts.timeouts, 1);
    assert!(p.tick(1999 * MS).is_empty());
    assert_eq!(flags_of(&p.tick(MS)), [f::SYN | f::ACK]);
    for _ in 0..10 {
        p.tick(120_000 * MS);
    }
    assert!(p.conn.is_closed(), "max_retries reached");
}

#[test]
fn in_order_data_is_queued_and_acknowledged_with_the_window_left() {
    let mut p = Peer::established(4096);
    p.seg(IRS + 1, ISS + 1, f::ACK | f::PSH, 64000, &[7; 1000]);
    assert!(p.out().is_empty(), "the ACK is delayed");
    let sent = p.tick(40 * MS);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0.flags, sent[0].0.ack, sent[0].0.window), (f::ACK, IRS + 1001, 3096));
    assert_eq!(p.conn.recv.len(), 1000);
}

#[test]
fn data_past_a_gap_is_kept_and_delivered_when_the_gap_fills() {
    let mut p = Peer::established(8192);
    assert_eq!(p.seg(IRS + 1001, ISS + 1, f::ACK, 64000, &[2; 1000]), Event::OutOfOrder);
    assert_eq!(p.seg(IRS + 3001, ISS + 1, f::ACK, 64000, &[4; 500]), Event::OutOfOrder);
    // A duplicate ACK for the gap at once.
    assert_eq!(p.out()[0].0.ack, IRS + 1);
    assert_eq!(p.conn.recv.len(), 0);
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 1000]);
    assert_eq!(p.conn.recv.len(), 2000, "up to the second gap");
    p.seg(IRS + 2001, ISS + 1, f::ACK, 64000, &[3; 1000]);
    assert_eq!(p.conn.recv.len(), 3500);
    let (a, b) = (p.conn.received(), Vec::<u8>::new());
    let got = [a, b].concat();
    assert!(got[..1000].iter().all(|&x| x == 1) && got[1000..2000].iter().all(|&x| x == 2));
    assert!(got[2000..3000].iter().all(|&x| x == 3) && got[3000..].iter().all(|&x| x == 4));
    assert_eq!(p.out()[0].0.ack, IRS + 3501);
}

#[test]
fn more_separate_pieces_than_kept_are_dropped() {
    let mut p = Peer::established(65536);
    for k in 0..MAX_HOLES as u32 {
        assert_eq!(p.seg(IRS + 1 + 2000 * (k + 1), ISS + 1, f::ACK, 64000, &[1; 100]), Event::OutOfOrder);
    }
    let fifth = IRS + 1 + 2000 * (MAX_HOLES as u32 + 1);
    assert_eq!(p.seg(fifth, ISS + 1, f::ACK, 64000, &[1; 100]), Event::OutOfOrderDropped);
    // Next to a kept piece it still merges.
    assert_eq!(p.seg(IRS + 2101, ISS + 1, f::ACK, 64000, &[1; 100]), Event::OutOfOrder);
}

#[test]
fn a_segment_outside_the_window_is_answered_with_an_ack_rfc9293_3_10_7_4() {
    let mut p = Peer::established(4096);
    assert_eq!(p.seg(IRS + 1 + 5000, ISS + 1, f::ACK, 64000, b"far"), Event::Unacceptable);
    assert_eq!(p.seg(IRS - 100, ISS + 1, f::ACK, 64000, b"old"), Event::Unacceptable);
    let sent = p.out();
    assert_eq!((sent.len(), sent[0].0.ack), (1, IRS + 1));
}

#[test]
fn a_rst_resets_only_at_the_windows_edge_else_a_challenge_ack_rfc5961_3_2() {
    let mut p = Peer::established(4096);
    assert_eq!(p.seg(IRS + 100, 0, f::RST, 0, b""), Event::ChallengeAck);
    assert_eq!(p.out()[0].0.ack, IRS + 1);
    assert_eq!(p.seg(IRS + 100_000, 0, f::RST, 0, b""), Event::None, "outside: ignored");
    assert!(p.out().is_empty());
    assert_eq!(p.seg(IRS + 1, 0, f::RST, 0, b""), Event::Reset);
    assert!(p.conn.is_closed());
}

#[test]
fn a_syn_on_an_established_connection_gets_a_challenge_ack_rfc5961_4_2() {
    let mut p = Peer::established(4096);
    assert_eq!(p.seg(IRS + 1, 0, f::SYN, 1000, b""), Event::ChallengeAck);
    assert_eq!(p.conn.state, State::Established);
    assert_eq!(flags_of(&p.out()), [f::ACK]);
}

#[test]
fn an_ack_of_data_never_sent_is_answered_and_ignored_rfc5961_5_2() {
    let mut p = Peer::established(4096);
    p.write(b"abc");
    p.out();
    assert_eq!(p.seg(IRS + 1, ISS + 1 + 500, f::ACK, 64000, b"xyz"), Event::Unacceptable);
    assert_eq!(p.conn.recv.len(), 0, "its data is not taken");
    assert_eq!(p.conn.send.len(), 3, "nothing acknowledged");
}

#[test]
fn data_goes_out_in_mss_segments_within_the_windows_and_leaves_when_acked() {
    let mut p = Peer::established(16384);
    p.write(&[5; 2500]);
    let sent = p.out();
    assert_eq!(
        sent.iter().map(|(o, d)| (o.seq, d.len())).collect::<Vec<_>>(),
        [(ISS + 1, 1000), (ISS + 1001, 1000), (ISS + 2001, 500)]
    );
    assert_eq!(sent[2].0.flags, f::ACK | f::PSH);
    p.seg(IRS + 1, ISS + 2001, f::ACK, 64000, b"");
    assert_eq!(p.conn.send.len(), 500);
    // The peer's window bounds what is in flight; the 500 bytes it
    // leaves room for wait for more (silly window avoidance).
    p.seg(IRS + 1, ISS + 2501, f::ACK, 1500, b"");
    p.write(&[6; 3000]);
    let sent = p.out();
    assert_eq!(sent.iter().map(|(_, d)| d.len()).collect::<Vec<_>>(), [1000]);
}

#[test]
fn a_timeout_resends_from_the_oldest_unacknowledged_byte_and_backs_off_rfc6298_5() {
    let mut p = Peer::established(16384);
    p.write(&[5; 3000]);
    assert_eq!(p.out().len(), 3);
    // The handshake's RTT (0 here) put the timeout at its 200 ms floor.
    assert!(p.tick(199 * MS).is_empty());
    let again = p.tick(MS);
    // RFC 5681 §3.1: cwnd one segment after a timeout.
    assert_eq!(again.iter().map(|(o, d)| (o.seq, d.len())).collect::<Vec<_>>(), [(ISS + 1, 1000)]);
    assert_eq!((p.counts.timeouts, p.counts.retransmits), (1, 1));
    // Backed off: the next is 400 ms later.
    assert!(p.tick(399 * MS).is_empty());
    assert_eq!(p.tick(MS).len(), 1);
}

#[test]
fn three_duplicate_acks_resend_the_lost_segment_and_a_partial_ack_the_next_rfc5681_3_2_rfc6582() {
    let mut p = Peer::established(16384);
    p.write(&[5; 6000]);
    assert_eq!(p.out().len(), 6);
    // Segments 1 and 3 lost: the peer acknowledges up to 1 three times more.
    for _ in 0..4 {
        p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    }
    let sent = p.out();
    assert_eq!((p.counts.fast_retransmits, p.counts.sack_recoveries), (1, 0), "no SACK agreed");
    assert_eq!((sent[0].0.seq, sent[0].1.len()), (ISS + 1, 1000));
    // A partial ACK (up to the second hole): that segment goes at once.
    p.seg(IRS + 1, ISS + 2001, f::ACK, 64000, b"");
    let sent = p.out();
    assert_eq!(p.counts.partial_acks, 1);
    assert_eq!(sent[0].0.seq, ISS + 2001);
    // The full ACK ends recovery.
    p.seg(IRS + 1, ISS + 6001, f::ACK, 64000, b"");
    assert!(p.conn.send.is_empty());
}

#[test]
fn the_peer_closes_first_we_finish_sending_and_close_rfc9293_3_6() {
    let mut p = Peer::established(4096);
    p.seg(IRS + 1, ISS + 1, f::ACK | f::FIN, 64000, b"bye");
    assert_eq!(p.conn.state, State::CloseWait);
    assert!(p.conn.peer_closed());
    assert_eq!(p.out()[0].0.ack, IRS + 5, "data and FIN acknowledged");
    p.write(b"last words");
    p.conn.close();
    let sent = p.out();
    assert_eq!(flags_of(&sent), [f::ACK | f::PSH, f::FIN | f::ACK]);
    assert_eq!(p.conn.state, State::LastAck);
    p.seg(IRS + 5, ISS + 12, f::ACK, 64000, b"");
    assert!(p.conn.is_closed());
}

#[test]
fn we_close_first_then_wait_in_time_wait_for_two_msl() {
    let mut p = Peer::established(4096);
    p.conn.close();
    assert_eq!(flags_of(&p.out()), [f::FIN | f::ACK]);
    assert_eq!(p.conn.state, State::FinWait1);
    p.seg(IRS + 1, ISS + 2, f::ACK, 64000, b"");
    assert_eq!(p.conn.state, State::FinWait2);
    p.seg(IRS + 1, ISS + 2, f::ACK | f::FIN, 64000, b"");
    assert_eq!(p.conn.state, State::TimeWait);
    assert_eq!(p.out()[0].0.ack, IRS + 2);
    // A FIN again (our ACK was lost): acknowledged, the wait restarts.
    p.now += 30_000 * MS;
    p.seg(IRS + 1, ISS + 2, f::ACK | f::FIN, 64000, b"");
    assert_eq!(p.out().len(), 1);
    p.tick(59_999 * MS);
    assert_eq!(p.conn.state, State::TimeWait);
    p.tick(MS);
    assert!(p.conn.is_closed());
}

#[test]
fn simultaneous_close_goes_through_closing_rfc9293_3_6() {
    let mut p = Peer::established(4096);
    p.conn.close();
    p.out();
    p.seg(IRS + 1, ISS + 1, f::ACK | f::FIN, 64000, b"");
    assert_eq!(p.conn.state, State::Closing);
    p.seg(IRS + 2, ISS + 2, f::ACK, 64000, b"");
    assert_eq!(p.conn.state, State::TimeWait);
}

#[test]
fn a_zero_window_is_probed_with_one_byte_rfc9293_3_8_6_1() {
    let mut p = Peer::established(4096);
    p.seg(IRS + 1, ISS + 1, f::ACK, 0, b"");
    p.write(b"waiting");
    assert!(p.out().is_empty());
    let probe = p.tick(1000 * MS);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].1, b"w");
    // The window opens: the rest follows.
    p.seg(IRS + 1, ISS + 2, f::ACK, 1000, b"");
    assert_eq!(p.out()[0].1, b"aiting");
}

#[test]
fn reading_the_queue_opens_the_window_and_tells_the_peer_rfc1122_4_2_3_3() {
    let mut p = Peer::established(4096);
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 2048]);
    p.seg(IRS + 2049, ISS + 1, f::ACK, 64000, &[1; 2048]);
    assert_eq!(p.out()[0].0.window, 0);
    p.conn.take_received(100);
    p.conn.window_opened();
    assert!(p.out().is_empty(), "less than an MSS: not worth telling");
    p.conn.take_received(2000);
    p.conn.window_opened();
    assert_eq!(p.out()[0].0.window, 2100);
}

#[test]
fn an_rtt_sample_sets_the_timeout_within_its_floor_rfc6298_2() {
    let mut r = conn::Rto::new(200 * MS);
    assert_eq!(r.current(), 1000 * MS, "before a measurement");
    r.sample(100 * MS);
    // SRTT 100 ms, RTTVAR 50 ms: 100 + 4 × 50.
    assert_eq!(r.current(), 300 * MS);
    // RTTVAR 3/4 × 50 + 1/4 × 0.
    r.sample(100 * MS);
    assert_eq!(r.current(), 250 * MS);
    // A fast path never goes under the floor.
    for _ in 0..20 {
        r.sample(MS / 10);
    }
    assert_eq!(r.current(), 200 * MS);
}

#[test]
fn the_syn_backlog_and_the_table_are_bounded() {
    let cfg = TcpConfig { connections: 4, buffer: 1024, syn_backlog: 2, ..TcpConfig::default() };
    let mut t: TcpTable<VecBuf> = TcpTable::new(cfg);
    let syn = SegIn { seq: 1, ack: 0, flags: f::SYN, window: 1000, options: TcpOptions::default() };
    let ends = |p: u16| ("10.0.1.1:7".parse().unwrap(), std::net::SocketAddr::from(([10, 0, 1, 2], p)));
    let a = t.accept(&inc(ends(1), 0), &syn, None).unwrap();
    t.accept(&inc(ends(2), 0), &syn, None).unwrap();
    assert_eq!(t.accept(&inc(ends(3), 0), &syn, None), Err(Refused::Backlog));
    // One completes its handshake: room in the backlog again.
    let iss = t.isn(&ends(1), 0);
    let e = t.get_mut(a).unwrap();
    let mut c = ConnCounts::default();
    e.conn.output(0, &mut c, &mut |_: &SegOut, _: TxData<'_, VecBuf>| true);
    let ack = SegIn { seq: 2, ack: iss + 1, flags: f::ACK, window: 1000, options: TcpOptions::default() };
    e.conn.feed(&ack, b"", 0, &mut c);
    t.settle(a);
    t.accept(&inc(ends(3), 0), &syn, None).unwrap();
    assert_eq!(t.accept(&inc(ends(4), 0), &syn, None), Err(Refused::Backlog));
    assert_eq!(t.len(), 3);
    // ISNs differ by ends (RFC 6528).
    let isn = |t: &TcpTable<VecBuf>, p| t.isn(&ends(p), 0);
    assert_ne!(isn(&t, 1), isn(&t, 2));
    assert_eq!(isn(&t, 1).wrapping_add(250), t.isn(&ends(1), 1_000_000), "a 4 µs clock");
}

fn sack(blocks: &[(u32, u32)]) -> TcpOptions {
    let mut o = TcpOptions::default();
    for (slot, &b) in o.sack.iter_mut().zip(blocks) {
        *slot = b;
        o.sack_len += 1;
    }
    o
}

#[test]
fn pieces_kept_past_a_gap_are_reported_in_sack_blocks_newest_first_rfc2018_4() {
    let mut p = Peer::established_sack(8192);
    p.seg(IRS + 1001, ISS + 1, f::ACK, 64000, &[2; 500]);
    p.seg(IRS + 3001, ISS + 1, f::ACK, 64000, &[4; 500]);
    let sent = p.out();
    let o = sent[0].0.options;
    assert_eq!((sent[0].0.ack, o.sack_len), (IRS + 1, 2));
    assert_eq!(&o.sack[..2], &[(IRS + 3001, IRS + 3501), (IRS + 1001, IRS + 1501)]);
    // Without SACK agreed, no blocks.
    let mut q = Peer::established(8192);
    q.seg(IRS + 1001, ISS + 1, f::ACK, 64000, &[2; 500]);
    assert_eq!(q.out()[0].0.options.sack_len, 0);
}

#[test]
fn sack_blocks_on_data_count_as_duplicate_acks_and_the_holes_go_again_rfc6675() {
    let mut p = Peer::established_sack(16384);
    p.write(&[5; 6000]);
    assert_eq!(p.out().len(), 6);
    // Segments 1 and 4 lost. The peer sends data of its own on every ACK,
    // so only its SACK blocks say the ACKs are duplicates.
    let mut seq = IRS + 1;
    let acks: [&[(u32, u32)]; 3] = [
        &[(ISS + 1001, ISS + 2001)],
        &[(ISS + 1001, ISS + 3001)],
        &[(ISS + 4001, ISS + 5001), (ISS + 1001, ISS + 3001)],
    ];
    for blocks in acks {
        p.seg_with(seq, ISS + 1, f::ACK, 64000, b"data", sack(blocks));
        seq += 4;
    }
    let sent = p.out();
    assert_eq!((p.counts.fast_retransmits, p.counts.sack_recoveries), (1, 1));
    // The first hole at once; the pipe (6 out, 3 SACKed, nothing lost
    // unsent) leaves room, and with no new data to send the other hole
    // below the highest SACKed byte goes too (NextSeg rule 3), then the
    // last segment, nothing SACKed above it, as the one rescue (rule 4).
    // Never what was SACKed.
    let holes: Vec<(u32, usize)> = sent.iter().filter(|(_, d)| !d.is_empty()).map(|(o, d)| (o.seq, d.len())).collect();
    assert_eq!(holes, [(ISS + 1, 1000), (ISS + 3001, 1000), (ISS + 5001, 1000)]);
    // More SACKs: nothing is left to send again.
    p.seg_with(seq, ISS + 1, f::ACK, 64000, b"", sack(&[(ISS + 4001, ISS + 6001), (ISS + 1001, ISS + 3001)]));
    let sent = p.out();
    assert!(sent.iter().all(|(_, d)| d.is_empty()), "{sent:?}");
    p.seg(seq, ISS + 6001, f::ACK, 64000, b"");
    assert!(p.conn.send.is_empty());
}

#[test]
fn a_tail_lost_with_nothing_sacked_above_it_gets_one_rescue_retransmission_rfc6675_4_rule_4() {
    let mut p = Peer::established_sack(16384);
    p.write(&[6; 6000]);
    assert_eq!(p.out().len(), 6);
    // Segment 0 lost, and the last two: the peer SACKs 1-3 only.
    for upto in [2001, 3001, 4001] {
        p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"", sack(&[(ISS + 1001, ISS + upto)]));
    }
    let sent = p.out();
    // The hole at once; then nothing is lost, no hole is left below the
    // highest SACKed byte and no new data waits: one segment holding the
    // highest unSACKed byte goes, rather than waiting for the timer.
    let resent: Vec<(u32, usize)> = sent.iter().map(|(o, d)| (o.seq, d.len())).collect();
    assert_eq!(resent, [(ISS + 1, 1000), (ISS + 5001, 1000)]);
    assert_eq!(p.counts.retransmits, 2);
    // The rescue arrived: the segment between is now a hole below the
    // highest SACKed byte, and goes (rule 3; the rescue did not move
    // HighRxt past it). No second rescue in this recovery.
    p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"", sack(&[(ISS + 5001, ISS + 6001), (ISS + 1001, ISS + 4001)]));
    let resent: Vec<(u32, usize)> = p.out().iter().map(|(o, d)| (o.seq, d.len())).collect();
    assert_eq!(resent, [(ISS + 4001, 1000)]);
    p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"", sack(&[(ISS + 5001, ISS + 6001), (ISS + 1001, ISS + 4001)]));
    assert!(p.out().iter().all(|(_, d)| d.is_empty()));
    p.seg(IRS + 1, ISS + 6001, f::ACK, 64000, b"");
    assert!(p.conn.send.is_empty());
    assert_eq!((p.counts.retransmits, p.counts.timeouts), (3, 0), "no timeout needed");
}

/// Segments sent at once for `bytes` queued now.
fn burst_of(p: &mut Peer, bytes: usize) -> usize {
    p.write(&vec![3; bytes]);
    p.out().iter().filter(|(_, d)| !d.is_empty()).count()
}

/// `bytes` more sent from `una`, each segment acknowledged on its own
/// and the window refilled after each ACK; the new `una`.
fn send_and_ack(p: &mut Peer, una: u32, bytes: u32) -> u32 {
    p.write(&vec![1; bytes as usize]);
    let (mut acked, end) = (una, una.wrapping_add(bytes));
    p.out();
    while acked != end {
        acked = acked.wrapping_add(1000);
        p.seg(IRS + 1, acked, f::ACK, 64000, b"");
        p.out();
    }
    end
}

#[test]
fn the_window_does_not_grow_while_the_application_sends_less_than_it_allows_rfc9438_5_8() {
    for cc in [Congestion::Cubic, Congestion::NewReno] {
        let o = TcpOptions { mss: Some(1000), ..TcpOptions::default() };
        let cfg = TcpConfig { buffer: 65536, congestion: cc, ..TcpConfig::default() };
        let (mut p, _) = Peer::accept_with(o, cfg);
        p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
        // Twenty single segments, each acknowledged: the initial window
        // of 10 was never the limit, so it stays 10.
        let mut una = ISS + 1;
        for _ in 0..20 {
            una = send_and_ack(&mut p, una, 1000);
        }
        assert_eq!(burst_of(&mut p, 30_000), 10, "{cc:?}");
    }
    // Filled, it grows: the first window's ten ACKs (while the flight
    // was at least half the window) add a segment each.
    let mut p = Peer::established(65536);
    send_and_ack(&mut p, ISS + 1, 20_000);
    assert_eq!(burst_of(&mut p, 40_000), 20);
}

#[test]
fn after_an_idle_longer_than_the_rto_the_window_restarts_at_the_initial_one_rfc5681_4_1() {
    let grown = || {
        let mut p = Peer::established(65536);
        send_and_ack(&mut p, ISS + 1, 20_000);
        p
    };
    // Idle a moment: the grown window (20 segments) stays.
    let mut p = grown();
    p.now += 10 * MS;
    assert_eq!(burst_of(&mut p, 40_000), 20);
    // Idle for longer than the RTO (1 s before any sample here): back to
    // the initial window.
    let mut p = grown();
    p.now += 5000 * MS;
    assert_eq!(burst_of(&mut p, 40_000), 10);
}

#[test]
fn a_connection_that_hears_nothing_for_the_idle_limit_is_dropped_and_what_it_hears_restarts_it() {
    let o = TcpOptions { mss: Some(1000), ..TcpOptions::default() };
    let cfg = TcpConfig { buffer: 8192, idle_ns: 10_000 * MS, ..TcpConfig::default() };
    let (mut p, _) = Peer::accept_with(o, cfg);
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    assert_eq!(p.conn.deadline(), Some(10_000 * MS), "the idle limit is its only timer");
    p.tick(9_000 * MS);
    assert_eq!(p.conn.state, State::Established);
    // A segment out of the window proves nothing; an in-window one (a
    // bare ACK will do) restarts the count.
    p.seg(IRS + 50_000, ISS + 1, f::ACK, 64000, b"x");
    p.out();
    assert_eq!(p.conn.deadline(), Some(10_000 * MS));
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    assert_eq!(p.conn.deadline(), Some(19_000 * MS));
    p.tick(9_999 * MS);
    assert_eq!(p.conn.state, State::Established);
    p.tick(2 * MS);
    assert_eq!((p.conn.state, p.counts.idle_drops), (State::Closed, 1));
    // 0: never.
    let cfg = TcpConfig { buffer: 8192, idle_ns: 0, ..TcpConfig::default() };
    let (mut q, _) = Peer::accept_with(o, cfg);
    q.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    assert_eq!(q.conn.deadline(), None);
}

/// RFC 1122 §4.2.3.6: off unless asked; on, a quiet connection sends a
/// probe after the idle time (an ACK at SND.UNA - 1, no data), then one
/// every interval; the peer's answer resets the count; unanswered
/// probes past the limit drop the connection. Nothing outstanding of
/// ours is a condition: while data is unacknowledged, retransmission
/// watches instead.
#[test]
fn keepalives_probe_a_quiet_peer_and_drop_it_after_the_last_unanswered_rfc1122_4_2_3_6() {
    let o = TcpOptions { mss: Some(1000), ..TcpOptions::default() };
    let off = TcpConfig { buffer: 8192, idle_ns: 0, ..TcpConfig::default() };
    let (mut q, _) = Peer::accept_with(o, off);
    q.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    assert_eq!(q.conn.deadline(), None, "off by default");
    let keepalive = Keepalive { idle_ns: 1000 * MS, interval_ns: 100 * MS, probes: 2 };
    let cfg = TcpConfig { buffer: 8192, idle_ns: 0, keepalive, ..TcpConfig::default() };
    let (mut p, _) = Peer::accept_with(o, cfg);
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    assert_eq!(p.conn.deadline(), Some(1000 * MS));
    assert!(p.tick(999 * MS).is_empty());
    let probe = p.tick(MS);
    assert_eq!(probe.len(), 1);
    assert_eq!((probe[0].0.seq, probe[0].0.ack, probe[0].0.flags, probe[0].1.len()), (ISS, IRS + 1, f::ACK, 0));
    // The peer answers (an ACK at its next sequence number): counted
    // from now again.
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    assert_eq!(p.conn.deadline(), Some(2000 * MS));
    assert_eq!(p.tick(1000 * MS).len(), 1, "a probe");
    assert_eq!(p.tick(100 * MS).len(), 1, "the second, an interval later");
    assert!(p.tick(99 * MS).is_empty());
    p.tick(MS);
    assert_eq!(p.conn.state, State::Closed, "the second went unanswered too");
    assert_eq!((p.counts.keepalive_probes, p.counts.keepalive_drops), (3, 1));
    // Data of ours unacknowledged: no probes, the retransmission timer.
    let (mut r, _) = Peer::accept_with(o, cfg);
    r.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    r.write(b"data");
    r.out();
    r.tick(1000 * MS);
    assert_eq!(r.counts.keepalive_probes, 0);
    assert!(r.counts.timeouts > 0);
}

#[test]
fn a_syn_cookie_completes_a_connection_without_state_and_only_a_good_one_rfc4987_3_6() {
    let cfg = TcpConfig { connections: 4, buffer: 4096, syn_backlog: 1, ..TcpConfig::default() };
    let mut t: TcpTable<VecBuf> = TcpTable::new(cfg);
    let ends = ("10.0.1.1:80".parse().unwrap(), "10.0.1.2:4000".parse().unwrap());
    let opts = TcpOptions { mss: Some(1460), window_shift: Some(7), sack_permitted: true, ..TcpOptions::default() };
    let syn = SegIn { seq: 77, ack: 0, flags: f::SYN, window: 64240, options: opts };
    let now = 5 * COOKIE_PERIOD + 1;
    let out = t.syn_cookie(&inc(ends, now), &syn);
    let iss = out.seq;
    assert_eq!(
        out.options,
        TcpOptions { mss: Some(1460), ..TcpOptions::default() },
        "no WS or SACK without timestamps"
    );
    assert!(t.is_empty(), "no state for a cookie");
    let ack = |a: u32| SegIn { seq: 78, ack: a, flags: f::ACK, window: 500, options: TcpOptions::default() };
    // A wrong cookie, another peer's, or one two periods old: nothing.
    assert!(t.accept_cookie(&inc(ends, now), &ack(iss.wrapping_add(2))).is_none());
    let other = (ends.0, "10.0.1.3:4000".parse().unwrap());
    assert!(t.accept_cookie(&inc(other, now), &ack(iss.wrapping_add(1))).is_none());
    assert!(t.accept_cookie(&inc(ends, now + 2 * COOKIE_PERIOD), &ack(iss.wrapping_add(1))).is_none());
    // The good one, in the next period: a connection, established by the ACK.
    let id = t.accept_cookie(&inc(ends, now + COOKIE_PERIOD), &ack(iss.wrapping_add(1)));
    let id = id.unwrap().unwrap();
    let e = t.get_mut(id).unwrap();
    let mut c = ConnCounts::default();
    assert_eq!(e.conn.feed(&ack(iss.wrapping_add(1)), b"hi", now, &mut c), Event::None);
    assert_eq!(e.conn.state, State::Established);
    assert_eq!(e.conn.recv.len(), 2);
    t.settle(id);
    assert_eq!(t.embryonic, 0);
    // A smaller MSS is carried down to one of the eight values.
    let small = SegIn { options: TcpOptions { mss: Some(1300), ..TcpOptions::default() }, ..syn };
    assert_eq!(t.syn_cookie(&inc(ends, now), &small).options.mss, Some(1220));
}

#[test]
fn an_ack_of_in_order_data_waits_for_a_second_segment_or_the_delay_rfc1122_4_2_3_2() {
    let mut p = Peer::established(16384);
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 1000]);
    assert!(p.out().is_empty());
    assert_eq!(p.conn.deadline(), Some(p.now + 40 * MS));
    // The second segment is acknowledged at once, with the first.
    p.seg(IRS + 1001, ISS + 1, f::ACK, 64000, &[1; 1000]);
    let sent = p.out();
    assert_eq!(sent.iter().map(|(o, _)| o.ack).collect::<Vec<_>>(), [IRS + 2001]);
    assert_eq!(p.conn.deadline(), Some(p.now + 600_000 * MS), "nothing owed: only the idle limit");
    // A lone segment: the timer sends its ACK, within 500 ms.
    p.seg(IRS + 2001, ISS + 1, f::ACK, 64000, &[1; 10]);
    assert!(p.tick(39 * MS).is_empty());
    assert_eq!(p.tick(MS).iter().map(|(o, _)| o.ack).collect::<Vec<_>>(), [IRS + 2011]);
    // Off: every segment at once.
    let cfg = TcpConfig { delayed_ack_ns: 0, idle_ns: 0, ..TcpConfig::default() };
    let (mut q, _) = Peer::accept_with(TcpOptions::default(), cfg);
    q.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    q.seg(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 10]);
    assert_eq!(q.out().len(), 1);
    assert_eq!(q.conn.deadline(), None);
}

#[test]
fn data_past_a_gap_a_fill_or_a_duplicate_is_acknowledged_at_once_rfc5681_4_2() {
    let mut p = Peer::established(16384);
    p.seg(IRS + 1001, ISS + 1, f::ACK, 64000, &[2; 1000]);
    assert_eq!(p.out()[0].0.ack, IRS + 1, "out of order: a duplicate ACK at once");
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 1000]);
    assert_eq!(p.out()[0].0.ack, IRS + 2001, "the gap filled: at once");
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 1000]);
    assert_eq!(p.out()[0].0.ack, IRS + 2001, "a duplicate: at once");
    p.seg(IRS + 2001, ISS + 1, f::ACK | f::FIN, 64000, b"");
    assert_eq!(p.out()[0].0.ack, IRS + 2002, "a FIN: at once");
}

#[test]
fn a_delayed_ack_rides_on_the_data_we_send() {
    let mut p = Peer::established(16384);
    p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"ping");
    p.write(b"pong");
    let sent = p.out();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0.ack, sent[0].1.as_slice()), (IRS + 5, &b"pong"[..]));
    assert!(p.tick(40 * MS).is_empty(), "no ACK owed");
}

#[test]
fn nagle_holds_a_short_segment_while_a_short_one_is_unacknowledged_rfc1122_4_2_3_4() {
    let mut p = Peer::established(16384);
    let lens = |s: &Sent| s.iter().map(|(o, d)| (o.seq, d.len())).collect::<Vec<_>>();
    // A response's short tail goes with its full segments (Minshall).
    p.write(&[1; 2500]);
    assert_eq!(lens(&p.out()), [(ISS + 1, 1000), (ISS + 1001, 1000), (ISS + 2001, 500)]);
    // The next short write waits for the short segment's ACK, not the
    // full ones'; more data makes a full segment, which goes.
    p.write(&[2; 100]);
    assert!(p.out().is_empty());
    p.seg(IRS + 1, ISS + 2001, f::ACK, 64000, b"");
    assert!(p.out().is_empty());
    p.write(&[3; 900]);
    assert_eq!(lens(&p.out()), [(ISS + 2501, 1000)]);
    p.write(&[4; 10]);
    assert!(p.out().is_empty());
    p.seg(IRS + 1, ISS + 2501, f::ACK, 64000, b"");
    assert_eq!(lens(&p.out()), [(ISS + 3501, 10)], "the short one acknowledged: the next goes");
    // Closing pushes the last bytes out.
    p.write(&[5; 10]);
    assert!(p.out().is_empty());
    p.conn.close();
    assert_eq!(flags_of(&p.out()), [f::ACK | f::PSH, f::ACK | f::FIN]);
    // Off (TCP_NODELAY): every write at once.
    let mut q = Peer::established(16384);
    q.conn.set_nagle(false);
    q.write(&[1; 10]);
    q.write(&[1; 10]);
    assert_eq!(q.out().len(), 1);
    q.write(&[1; 10]);
    assert_eq!(lens(&q.out()), [(ISS + 21, 10)]);
}

/// Timestamps `(val, ecr)`, with `more` options.
fn ts(val: u32, ecr: u32, more: TcpOptions) -> TcpOptions {
    TcpOptions { timestamps: Some((val, ecr)), ..more }
}

/// Accepted with timestamps (the SYN's TSval 500, our offset 0) and
/// established by an ACK with TSval 600 at 1 s.
fn established_ts() -> Peer {
    let (mut p, sent) = Peer::accept(ts(500, 0, TcpOptions { mss: Some(1000), ..TcpOptions::default() }), 16384);
    assert_eq!(sent[0].0.options.timestamps, Some((0, 500)), "our clock, and the SYN's echoed");
    p.now = 1000 * MS;
    p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"", ts(600, 0, TcpOptions::default()));
    assert_eq!(p.conn.state, State::Established);
    p
}

#[test]
fn timestamps_are_agreed_on_the_syn_and_then_on_every_segment_rfc7323_3_2() {
    let mut p = established_ts();
    p.write(b"data");
    let sent = p.out();
    assert_eq!(sent[0].0.options.timestamps, Some((1000, 600)), "TSval our ms clock, TSecr TS.Recent");
    // Not offered on the SYN: never sent.
    let (mut q, sent) = Peer::accept(TcpOptions::default(), 4096);
    assert_eq!(sent[0].0.options.timestamps, None);
    q.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
    q.write(b"x");
    assert_eq!(q.out()[0].0.options.timestamps, None);
}

#[test]
fn an_old_timestamp_is_refused_by_paws_and_one_missing_dropped_rfc7323_5_3() {
    let mut p = established_ts();
    let old = p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"old", ts(599, 0, TcpOptions::default()));
    assert_eq!(old, Event::Paws);
    assert_eq!(p.conn.recv.len(), 0);
    assert_eq!(flags_of(&p.out()), [f::ACK], "answered with an ACK");
    assert_eq!(p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"none"), Event::NoTimestamps);
    assert!(p.out().is_empty(), "silently");
    // A timestamp that wrapped past 2^31 ahead is older, too.
    let wrapped = p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"x", ts(600 + (1 << 31), 0, TcpOptions::default()));
    assert_eq!(wrapped, Event::Paws);
    // After 24 days idle the old timestamp no longer guards (RFC 7323 §5.5).
    p.now += 25 * 86_400 * 1000 * MS;
    let late = p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"late", ts(5, 0, TcpOptions::default()));
    assert_eq!((late, p.conn.recv.len()), (Event::None, 4));
    // A RST needs none (RFC 7323 §5.3 R1 skips it).
    assert_eq!(p.seg(IRS + 5, 0, f::RST, 0, b""), Event::Reset);
}

#[test]
fn the_echoed_timestamp_is_the_oldest_unacknowledged_segments_rfc7323_4_3() {
    let mut p = established_ts();
    p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, &[1; 500], ts(700, 0, TcpOptions::default()));
    p.seg_with(IRS + 501, ISS + 1, f::ACK, 64000, &[1; 500], ts(701, 0, TcpOptions::default()));
    let sent = p.out();
    assert_eq!((sent[0].0.ack, sent[0].0.options.timestamps.map(|t| t.1)), (IRS + 1001, Some(700)));
    p.seg_with(IRS + 1001, ISS + 1, f::ACK, 64000, &[1; 500], ts(702, 0, TcpOptions::default()));
    assert_eq!(p.tick(40 * MS)[0].0.options.timestamps.map(|t| t.1), Some(702));
}

#[test]
fn every_ack_of_new_data_measures_the_round_trip_by_its_echo_rfc7323_4() {
    let mut p = established_ts();
    p.write(&[1; 1000]);
    let sent_at = p.out()[0].0.options.timestamps.unwrap().0;
    p.now += 300 * MS;
    p.write(&[2; 1000]);
    p.out();
    // The ACK of the first segment echoes its TSval: a 300 ms sample
    // after the handshake's 1 s; the timer restarts for the second.
    p.seg_with(IRS + 1, ISS + 1001, f::ACK, 64000, b"", ts(800, sent_at, TcpOptions::default()));
    let mut rto = conn::Rto::new(200 * MS);
    rto.sample(1000 * MS);
    rto.sample_of(300 * MS, 1);
    assert_eq!(p.conn.deadline(), Some(p.now + rto.current()));
    // An echo from the future measures nothing.
    p.write(&[3; 1000]);
    p.out();
    p.seg_with(IRS + 1, ISS + 2001, f::ACK, 64000, b"", ts(801, sent_at + 10_000_000, TcpOptions::default()));
    assert_eq!(p.conn.deadline(), Some(p.now + rto.current()));
}

#[test]
fn a_new_syn_in_time_wait_reopens_if_newer_by_timestamp_or_sequence_rfc6191() {
    let cfg = TcpConfig { connections: 2, buffer: 4096, ..TcpConfig::default() };
    let mut t: TcpTable<VecBuf> = TcpTable::new(cfg);
    let ends = ("10.0.1.1:80".parse().unwrap(), "10.0.1.2:4000".parse().unwrap());
    let syn = SegIn { seq: 1, ack: 0, flags: f::SYN, window: 1000, options: ts(100, 0, TcpOptions::default()) };
    let id = t.accept(&inc(ends, 0), &syn, None).unwrap();
    let e = t.get_mut(id).unwrap();
    let mut c = ConnCounts::default();
    let iss = out_of(&mut e.conn, 0)[0].0.seq;
    let seg = |fl: u8, tsval: u32| SegIn {
        seq: 2,
        ack: iss.wrapping_add(if fl & f::FIN != 0 { 2 } else { 1 }),
        flags: fl,
        window: 1000,
        options: ts(tsval, 0, TcpOptions::default()),
    };
    e.conn.feed(&seg(f::ACK, 101), b"", 0, &mut c);
    // We close first; the peer acknowledges and closes: TIME-WAIT.
    e.conn.close();
    e.conn.output(0, &mut c, &mut |_: &SegOut, _: TxData<'_, VecBuf>| true);
    e.conn.feed(&seg(f::ACK | f::FIN, 102), b"", 0, &mut c);
    assert_eq!(e.conn.state, State::TimeWait);
    t.settle(id);
    let again = |tsval: u32, seq: u32| SegIn { seq, ..syn_with(tsval) };
    fn syn_with(tsval: u32) -> SegIn {
        SegIn { seq: 0, ack: 0, flags: f::SYN, window: 1000, options: ts(tsval, 0, TcpOptions::default()) }
    }
    assert_eq!(t.reopen(id, &again(102, 9)), None, "not newer");
    assert_eq!(t.reopen(id, &SegIn { options: TcpOptions::default(), ..again(103, 9) }), None, "timestamps lost");
    let floor = t.reopen(id, &again(103, 9)).expect("newer: reopened");
    assert!(t.find(&ends).is_none(), "the old one is gone");
    assert!(Seq(floor).gt(Seq(iss.wrapping_add(2))), "above every number it used");
    let new = t.accept(&inc(ends, 0), &again(103, 9), Some(floor)).unwrap();
    let first = out_of(&mut t.get_mut(new).unwrap().conn, 0)[0].0.seq;
    assert!(Seq(first).ge(Seq(floor)));
}

#[test]
fn a_syn_cookie_carries_window_scale_and_sack_in_its_timestamp() {
    let cfg = TcpConfig { connections: 4, buffer: 262_144, syn_backlog: 1, ..TcpConfig::default() };
    let mut t: TcpTable<VecBuf> = TcpTable::new(cfg);
    let ends = ("10.0.1.1:80".parse().unwrap(), "10.0.1.2:4000".parse().unwrap());
    let opts = TcpOptions { mss: Some(1460), window_shift: Some(7), sack_permitted: true, ..TcpOptions::default() };
    let syn = SegIn { seq: 77, ack: 0, flags: f::SYN, window: 64240, options: ts(4242, 0, opts) };
    let now = 3 * COOKIE_PERIOD + 12_345 * MS;
    let out = t.syn_cookie(&inc(ends, now), &syn);
    assert_eq!((out.options.window_shift, out.options.sack_permitted), (Some(3), true), "ours offered");
    let (tsval, ecr) = out.options.timestamps.unwrap();
    assert_eq!((tsval & 0x1f, ecr), (7 | 0x10, 4242));
    // The ACK echoes it: the connection has both, and timestamps.
    let ack = SegIn {
        seq: 78,
        ack: out.seq.wrapping_add(1),
        flags: f::ACK,
        window: 500,
        options: ts(4243, tsval, TcpOptions::default()),
    };
    let id = t.accept_cookie(&inc(ends, now + MS), &ack).unwrap().unwrap();
    let e = t.get_mut(id).unwrap();
    let mut c = ConnCounts::default();
    e.conn.feed(&ack, b"", now + MS, &mut c);
    assert_eq!(e.conn.state, State::Established);
    // Data past a gap: a SACK block beside the timestamps.
    let late = SegIn { seq: 1078, flags: f::ACK, ..ack };
    assert_eq!(e.conn.feed(&late, b"x", now + MS, &mut c), Event::OutOfOrder);
    let sent = out_of(&mut e.conn, now + MS);
    assert_eq!(sent[0].0.options.sack_len, 1);
    assert_eq!(sent[0].0.options.timestamps.map(|t| t.1), Some(4243));
    // The peer's window is scaled: 500 << 7 bytes, room for the initial
    // window's 10 segments.
    assert_eq!(e.conn.queue(&[0; 20_000]), 20_000);
    let bytes: usize = out_of(&mut e.conn, now + MS).iter().map(|(_, d)| d.len()).sum();
    assert!(bytes > 10_000, "{bytes}");
}

/// Our timestamp clock wraps (RFC 7323 §5.4 compares TSvals modulo
/// 2^32): a SYN cookie sent when the clock plus a connection's offset
/// passes 2^32 carries the wrapped value, as the connection's own
/// segments would (it was an overflow, a panic where overflows are
/// checked, found by 100,000 connections from Linux in the lab).
#[test]
fn a_syn_cookies_timestamp_wraps_with_the_clock_rfc7323_5_4() {
    let cfg = TcpConfig { connections: 4, syn_backlog: 1, ..TcpConfig::default() };
    let t: TcpTable<VecBuf> = TcpTable::new(cfg);
    let opts = TcpOptions { mss: Some(1460), window_shift: Some(7), ..TcpOptions::default() };
    let syn = SegIn { seq: 77, ack: 0, flags: f::SYN, window: 64240, options: ts(4242, 0, opts) };
    // At the clock's last tick, any offset but 0 wraps.
    let now = u64::from(u32::MAX) * MS;
    for port in 4000..4064 {
        let ends = ("10.0.1.1:80".parse().unwrap(), format!("10.0.1.2:{port}").parse().unwrap());
        let out = t.syn_cookie(&inc(ends, now), &syn);
        let (tsval, _) = out.options.timestamps.unwrap();
        let clock = crate::tcp::conn::ts_clock(now, t.opening(&inc(ends, now), None).ts_offset);
        assert!(Seq(tsval).le(Seq(clock)) && clock.wrapping_sub(tsval) <= 32, "{tsval} {clock}");
    }
}

#[test]
fn a_loss_halves_the_window_with_newreno_and_cuts_it_to_0_7_with_cubic_rfc5681_3_2_rfc9438_4_6() {
    for (cc, new_data) in [(Congestion::NewReno, false), (Congestion::Cubic, true)] {
        let cfg = TcpConfig { buffer: 32768, congestion: cc, ..TcpConfig::default() };
        let (mut p, _) = Peer::accept_with(TcpOptions { mss: Some(1000), ..TcpOptions::default() }, cfg);
        p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
        p.write(&[1; 20_000]);
        assert_eq!(p.out().len(), 10, "the initial window");
        for _ in 0..3 {
            p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
        }
        let sent = p.out();
        assert_eq!(sent.iter().map(|(o, _)| o.seq).collect::<Vec<_>>(), [ISS + 1], "{cc:?}: fast retransmit");
        // The fourth: the window is the threshold plus four segments: 11
        // with CUBIC (7 + 4), 9 with NewReno (5 + 4), 10 in flight.
        p.seg(IRS + 1, ISS + 1, f::ACK, 64000, b"");
        let sent = p.out();
        assert_eq!(sent.iter().any(|(o, _)| o.seq == ISS + 10_001), new_data, "{cc:?}: {sent:?}");
        assert!(sent.iter().all(|(o, _)| o.seq != ISS + 1), "{cc:?}: the hole is not sent twice");
    }
}

#[test]
fn one_worker_holds_100000_established_connections_within_its_bound() {
    let cfg = TcpConfig { connections: 100_000, buffer: 1024, ..TcpConfig::default() };
    // Boxed: a buffer handle of one pointer, as an mbuf's.
    let mut t: TcpTable<Box<VecBuf>> = TcpTable::new(cfg);
    let reserved = t.reserved_bytes();
    let mut c = ConnCounts::default();
    let ends = |i: u32| {
        let peer = std::net::SocketAddr::from(([10, 1, (i >> 16) as u8, (i >> 8) as u8], 1024 + (i & 0xff) as u16));
        ("10.0.1.1:7".parse().unwrap(), peer)
    };
    let syn = SegIn { seq: 1, ack: 0, flags: f::SYN, window: 1000, options: TcpOptions::default() };
    for i in 0..100_000 {
        let id = t.accept(&inc(ends(i), 0), &syn, None).unwrap();
        let e = t.get_mut(id).unwrap();
        let mut iss = 0;
        e.conn.output(0, &mut c, &mut |o: &SegOut, _: TxData<'_, Box<VecBuf>>| {
            iss = o.seq;
            true
        });
        let ack =
            SegIn { seq: 2, ack: iss.wrapping_add(1), flags: f::ACK, window: 1000, options: TcpOptions::default() };
        let mut held = Held::new(0);
        let cx = &mut InputCx { now: 0, counts: &mut c, held: &mut held };
        e.conn.input(&ack, Payload { pkt: &mut None, at: 0, len: 0 }, cx);
        t.settle(id);
    }
    assert_eq!(t.len(), 100_000);
    assert!(t.entries().all(|e| e.conn.state == State::Established));
    assert_eq!(t.accept(&inc(ends(100_000), 0), &syn, None), Err(Refused::Full), "counted, not grown");
    assert_eq!(t.reserved_bytes(), reserved, "nothing allocated since the start");
    // An idle connection takes under 1.5 KiB, the handles of its queues
    // included: they hold no buffer until data waits in them.
    assert!(t.slot_bytes() < 1536, "{} bytes a slot", t.slot_bytes());
    eprintln!("an idle connection: {} bytes", t.slot_bytes());
}

mod open;

#[test]
fn in_sack_recovery_the_pipe_not_the_flight_limits_what_goes_rfc6675_5() {
    let mut p = Peer::established_sack(65536);
    p.write(&[7; 20_000]);
    assert_eq!(p.out().len(), 10, "the initial window");
    // Segment 1 lost; three duplicate ACKs SACK segments 2-4.
    let seg = |n: u32| (ISS + 1 + 1000 * n, ISS + 1001 + 1000 * n);
    let mut upto = 0;
    let dup = |p: &mut Peer, upto: &mut u32| {
        *upto += 1;
        p.seg_with(IRS + 1, ISS + 1, f::ACK, 64000, b"", sack(&[(seg(1).0, seg(*upto).1)]))
    };
    for _ in 0..3 {
        dup(&mut p, &mut upto);
    }
    // cwnd = ssthresh = 7 segments (CUBIC's 0.7 of 10); the hole goes
    // at once, and the pipe (10 out − 3 SACKed, the hole sent again:
    // 7) leaves no room for more.
    let sent = p.out();
    assert_eq!(sent.iter().map(|(o, d)| (o.seq, d.len())).collect::<Vec<_>>(), [(ISS + 1, 1000)]);
    // Each further SACKed segment takes one out of the pipe: one new
    // segment each (no inflation needed).
    for k in 0..3 {
        dup(&mut p, &mut upto);
        let sent = p.out();
        assert_eq!(sent.iter().map(|(o, _)| o.seq).collect::<Vec<_>>(), [ISS + 10_001 + 1000 * k], "{k}");
    }
    // The cumulative ACK of the hole and the SACKed segments, short of
    // what was out when recovery began: a partial ACK; the pipe is now
    // what is in flight (6 segments), so one more may go.
    p.seg_with(IRS + 1, seg(upto).1, f::ACK, 64000, b"", TcpOptions::default());
    assert_eq!(p.counts.partial_acks, 1);
    assert_eq!(p.out().len(), 1);
    // All of it: recovery over.
    p.seg(IRS + 1, ISS + 14_001, f::ACK, 64000, b"");
    p.out();
    assert_eq!((p.counts.fast_retransmits, p.counts.retransmits), (1, 1), "only the hole went twice");
}

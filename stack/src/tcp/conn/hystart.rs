//! HyStart++ (RFC 9406): the first slow start leaves early when the
//! round trip grows (the queue at the bottleneck is filling), before the
//! loss that would end it, into Conservative Slow Start (a quarter of
//! the growth) for a few rounds, then congestion avoidance; if the round
//! trip falls back, slow start resumes (the rise was jitter).

use crate::tcp::seq::Seq;

/// RFC 9406 §4.3's constants: the delay increase that counts as a rise,
/// bounds and divisor; RTT samples a round needs before deciding; CSS's
/// growth divisor and length in rounds.
const MIN_RTT_THRESH: u64 = 4_000_000;
const MAX_RTT_THRESH: u64 = 16_000_000;
const MIN_RTT_DIVISOR: u64 = 8;
const N_RTT_SAMPLE: u32 = 8;
const CSS_GROWTH_DIVISOR: u32 = 4;
const CSS_ROUNDS: u8 = 5;

/// No RTT measured yet.
const NONE: u64 = u64::MAX;

/// One connection's HyStart++ state, for its first slow start.
#[derive(Copy, Clone, Debug)]
pub(in crate::tcp) struct HyStart {
    /// The round ends when this is acknowledged (SND.NXT as it began);
    /// None before the first.
    window_end: Option<Seq>,
    last_round_min: u64,
    current_round_min: u64,
    samples: u32,
    /// In CSS: the round trip it started at, and its rounds so far.
    css: Option<(u64, u8)>,
}

/// What an ACK in slow start does to the window.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(in crate::tcp) struct Growth {
    /// Bytes to add.
    pub(in crate::tcp) add: u32,
    /// Slow start left for CSS with this ACK.
    pub(in crate::tcp) css_entered: bool,
    /// CSS is over: congestion avoidance from here (ssthresh = cwnd).
    pub(in crate::tcp) avoid: bool,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart { window_end: None, last_round_min: NONE, current_round_min: NONE, samples: 0, css: None }
    }
}

impl HyStart {
    /// An ACK in slow start or CSS: `base` bytes of slow start's own
    /// growth (RFC 5681), acknowledging up to `ack`, `snd_max` the highest
    /// sequence sent, `rtt` the round trip it measured (ns), if it did.
    pub(in crate::tcp) fn on_ack(&mut self, base: u32, ack: Seq, snd_max: Seq, rtt: Option<u64>) -> Growth {
        let mut g = Growth { add: base, css_entered: false, avoid: false };
        // §4.2: a round ends when its window end is acknowledged.
        if self.window_end.is_none_or(|end| ack.ge(end)) {
            if let Some((_, rounds)) = &mut self.css {
                *rounds += 1;
                if *rounds >= CSS_ROUNDS {
                    return Growth { add: base / CSS_GROWTH_DIVISOR, css_entered: false, avoid: true };
                }
            }
            self.last_round_min = self.current_round_min;
            self.current_round_min = NONE;
            self.samples = 0;
            self.window_end = Some(snd_max);
        }
        if self.css.is_some() {
            g.add = base / CSS_GROWTH_DIVISOR;
        }
        if let Some(r) = rtt {
            self.current_round_min = self.current_round_min.min(r);
            self.samples = self.samples.saturating_add(1);
        }
        let measured = self.samples >= N_RTT_SAMPLE && self.current_round_min != NONE;
        match self.css {
            None if measured && self.last_round_min != NONE => {
                let thresh = (self.last_round_min / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if self.current_round_min >= self.last_round_min.saturating_add(thresh) {
                    self.css = Some((self.current_round_min, 0));
                    g.css_entered = true;
                }
            }
            // The rise was a false alarm: back to slow start.
            Some((baseline, _)) if measured && self.current_round_min < baseline => self.css = None,
            _ => {}
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const MSS: u32 = 1000;

    /// Runs one round of `n` ACKs, each measuring `rtt`, the window end
    /// at `*next` (advanced by a round); the growths.
    fn round(h: &mut HyStart, next: &mut u32, n: u32, rtt: u64) -> Vec<Growth> {
        let start = *next;
        *next += 100 * MSS;
        (0..n).map(|i| h.on_ack(MSS, Seq(start + i * MSS), Seq(*next), Some(rtt))).collect()
    }

    /// RFC 9406 §4.2: a round whose least RTT is up by the threshold
    /// (an eighth of the last round's, at least 4 ms) on its eighth
    /// sample leaves slow start for CSS, which grows by a quarter; after
    /// CSS_ROUNDS rounds, congestion avoidance.
    #[test]
    fn a_rising_round_trip_ends_slow_start_into_css_then_avoidance_rfc9406_4_2() {
        let (mut h, mut next) = (HyStart::default(), 0);
        let first = round(&mut h, &mut next, 10, 10 * MS);
        assert!(first.iter().all(|g| g.add == MSS && !g.css_entered), "no last round to compare with");
        // Up 3 ms: under the 4 ms floor, still slow start.
        let calm = round(&mut h, &mut next, 10, 13 * MS);
        assert!(calm.iter().all(|g| g.add == MSS && !g.css_entered));
        // Up 4 ms on 13: CSS at the eighth sample, not before.
        let rise = round(&mut h, &mut next, 10, 17 * MS);
        assert_eq!(rise.iter().position(|g| g.css_entered), Some(7));
        assert!(rise[..8].iter().all(|g| g.add == MSS), "the ACK that decides grows as slow start");
        assert!(rise[8..].iter().all(|g| g.add == MSS / 4));
        for _ in 1..CSS_ROUNDS {
            let css = round(&mut h, &mut next, 10, 17 * MS);
            assert!(css.iter().all(|g| g.add == MSS / 4 && !g.avoid));
        }
        let end = round(&mut h, &mut next, 1, 17 * MS);
        assert!(end[0].avoid, "CSS_ROUNDS rounds of CSS: congestion avoidance");
    }

    /// RFC 9406 §4.2: in CSS, a round whose least RTT falls below the
    /// baseline CSS began at resumes slow start; fewer than N_RTT_SAMPLE
    /// samples decide nothing.
    #[test]
    fn a_round_trip_back_under_the_baseline_resumes_slow_start_rfc9406_4_2() {
        let (mut h, mut next) = (HyStart::default(), 0);
        round(&mut h, &mut next, 10, 20 * MS);
        let rise = round(&mut h, &mut next, 10, 40 * MS);
        assert!(rise.iter().any(|g| g.css_entered));
        let few = round(&mut h, &mut next, 7, 20 * MS);
        assert!(few.iter().all(|g| g.add == MSS / 4), "seven samples: still CSS");
        let back = round(&mut h, &mut next, 10, 20 * MS);
        assert!(back[..7].iter().all(|g| g.add == MSS / 4));
        assert!(back[8..].iter().all(|g| g.add == MSS), "slow start again");
        // Without samples (no timestamps) it never leaves slow start.
        let mut blind = HyStart::default();
        for i in 0..1000 {
            let g = blind.on_ack(MSS, Seq(i * MSS), Seq((i + 1) * MSS), None);
            assert_eq!((g.add, g.css_entered, g.avoid), (MSS, false, false));
        }
    }
}

//! CUBIC congestion control (RFC 9438), the alternative to NewReno's
//! growth and halving: after a loss the window is cut to 0.7 of itself
//! (β_cubic), then grows along a cubic of the time since, concave up to
//! the window the loss happened at (W_max, reached after K seconds) and
//! convex past it, never slower than Reno would (the Reno-friendly
//! estimate W_est, §4.3). Loss recovery itself (fast retransmit, NewReno
//! or SACK) is the connection's; this module only says what the window
//! and threshold become. Windows are in segments here, bytes outside.

/// RFC 9438 §5: C and β_cubic.
const C: f64 = 0.4;
const BETA: f64 = 0.7;
/// §4.3: Reno's additive increase for the same average window,
/// 3 × (1 − β) / (1 + β).
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// One connection's CUBIC state.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Cubic {
    /// The window just before the last reduction (segments; 0: none yet).
    w_max: f64,
    /// The current congestion-avoidance epoch: when it began (ns), the
    /// window the cubic aims at (W_max, or the window then if larger),
    /// K (seconds to reach it), and the Reno-friendly estimate.
    epoch: Option<u64>,
    origin: f64,
    k: f64,
    w_est: f64,
}

impl Cubic {
    /// A congestion event (three duplicate ACKs or a timeout) with the
    /// window at `cwnd` bytes: the new slow-start threshold (§4.6), and
    /// W_max remembered, lowered when the window is shrinking (fast
    /// convergence, §4.7). The epoch ends.
    pub fn reduce(&mut self, cwnd: u32, mss: u32) -> u32 {
        let m = f64::from(mss.max(1));
        let w = f64::from(cwnd) / m;
        self.w_max = if w < self.w_max { w * (1.0 + BETA) / 2.0 } else { w };
        self.epoch = None;
        ((w * BETA * m) as u32).max(2 * mss)
    }

    /// The sender was idle for `idle` ns up to `now`: the epoch moves
    /// later by that much (never past `now`), so the curve resumes where
    /// it left off instead of counting the idle time as growth.
    pub fn shift(&mut self, idle: u64, now: u64) {
        if let Some(e) = self.epoch {
            self.epoch = Some(e.saturating_add(idle).min(now));
        }
    }

    /// Congestion avoidance: `acked` bytes newly acknowledged at `now`
    /// (ns), the window `cwnd` bytes, the smoothed round trip `rtt` (ns):
    /// the new window (§4.2-4.4), never smaller.
    pub fn grow(&mut self, cwnd: u32, acked: u32, mss: u32, now: u64, rtt: u64) -> u32 {
        let m = f64::from(mss.max(1));
        let w = f64::from(cwnd) / m;
        let start = match self.epoch {
            Some(s) => s,
            None => {
                // §4.2: K from the window this epoch starts at.
                self.origin = self.w_max.max(w);
                self.k = ((self.origin - w) / C).cbrt();
                self.w_est = w;
                self.epoch = Some(now);
                now
            }
        };
        let t = now.saturating_sub(start) as f64 / 1e9;
        let segs = f64::from(acked) / m;
        // §4.3: what Reno would have grown to.
        self.w_est += ALPHA * segs / w;
        let cubic = |t: f64| C * (t - self.k).powi(3) + self.origin;
        let next = if cubic(t) < self.w_est {
            self.w_est
        } else {
            // §4.4/4.5: toward W_cubic one round trip ahead, by at most
            // half the window a round trip.
            let target = cubic(t + rtt as f64 / 1e9).clamp(w, 1.5 * w);
            w + (target - w) / w * segs
        };
        ((next * m) as u32).max(cwnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    const MS: u64 = 1_000_000;

    /// Full windows acknowledged once a round trip of `rtt` for `secs`:
    /// the window (segments) at the end.
    fn run(c: &mut Cubic, mut cwnd: u32, rtt: u64, secs: f64, start: u64) -> u32 {
        let mut now = start;
        while ((now - start) as f64) < secs * 1e9 {
            now += rtt;
            // The window's ACKs, one a segment.
            for _ in 0..cwnd / MSS {
                cwnd = c.grow(cwnd, MSS, MSS, now, rtt);
            }
        }
        cwnd / MSS
    }

    #[test]
    fn a_loss_cuts_the_window_to_beta_and_fast_convergence_lowers_w_max_rfc9438_4_6_4_7() {
        let mut c = Cubic::default();
        assert_eq!(c.reduce(100 * MSS, MSS), 70 * MSS);
        assert_eq!(c.w_max, 100.0);
        // A second loss below W_max: the flow is giving way, W_max lower still.
        assert_eq!(c.reduce(80 * MSS, MSS), 56 * MSS);
        assert_eq!(c.w_max, 80.0 * 0.85);
        assert_eq!(c.reduce(MSS, MSS), 2 * MSS, "never below two segments");
    }

    #[test]
    fn the_window_climbs_back_to_w_max_in_k_seconds_then_probes_beyond_rfc9438_4_2() {
        let mut c = Cubic::default();
        let cwnd = c.reduce(100 * MSS, MSS);
        // K = ∛((100 − 70) / 0.4) ≈ 4.2 s, with a 100 ms round trip (the
        // Reno-friendly estimate stays below: 0.53 segments a round trip).
        let k = (30.0f64 / C).cbrt();
        let at_k = run(&mut c, cwnd, 100 * MS, k, 0);
        assert!((95..=103).contains(&at_k), "{at_k}");
        let mut d = Cubic::default();
        let cwnd = d.reduce(100 * MSS, MSS);
        let half = run(&mut d, cwnd, 100 * MS, k / 2.0, 0);
        assert!(half > 90 && half < at_k, "concave: most of the way in half the time ({half})");
        let beyond = run(&mut c, at_k * MSS, 100 * MS, k, 0);
        assert!(beyond > 110, "convex past W_max: {beyond}");
    }

    /// Idle time is not growth: after the epoch is shifted by an idle
    /// second and a half, the curve stands where it stood half a second
    /// in (Linux's fix for the jump after idle, RFC 9438 §5.8).
    #[test]
    fn an_idle_period_shifts_the_curve_rather_than_growing_it_rfc9438_5_8() {
        let mut c = Cubic::default();
        let cwnd = c.reduce(100 * MSS, MSS);
        c.grow(cwnd, MSS, MSS, 0, 100 * MS);
        assert_eq!(c.epoch, Some(0));
        let (mut idle, mut busy, mut fresh) = (c, c, c);
        idle.shift(1500 * MS, 2000 * MS);
        let after_idle = idle.grow(cwnd, MSS, MSS, 2000 * MS, 100 * MS);
        assert_eq!(after_idle, fresh.grow(cwnd, MSS, MSS, 500 * MS, 100 * MS));
        assert!(after_idle < busy.grow(cwnd, MSS, MSS, 2000 * MS, 100 * MS));
        // Never past now; and without an epoch, nothing to shift.
        idle.shift(u64::MAX, 2100 * MS);
        assert_eq!(idle.epoch, Some(2100 * MS));
        let mut none = Cubic::default();
        none.shift(1000 * MS, 5000 * MS);
        assert_eq!(none.epoch, None);
    }

    #[test]
    fn on_a_short_round_trip_it_grows_no_slower_than_reno_rfc9438_4_3() {
        let mut c = Cubic::default();
        let cwnd = c.reduce(10 * MSS, MSS);
        // 1 ms round trips for a second: the cubic has not reached W_max
        // (K ≈ 2 s), Reno would have added ~0.53 segments 1000 times.
        let w = run(&mut c, cwnd, MS, 1.0, 0);
        assert!(w > 400, "{w}");
    }
}

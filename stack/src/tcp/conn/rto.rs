//! The retransmission timer's estimator (RFC 6298 §2): SRTT, RTTVAR and
//! the timeout, samples weighted by how many a round trip brings.

/// The retransmission timer's estimator (RFC 6298 §2), in ns.
#[derive(Copy, Clone, Debug)]
pub(in crate::tcp) struct Rto {
    pub(in crate::tcp) srtt: u64,
    rttvar: u64,
    pub(in crate::tcp) rto: u64,
    min: u64,
}

pub(super) const MAX_RTO: u64 = 60_000_000_000;
/// Clock granularity (RFC 6298's G).
const GRANULARITY: u64 = 1_000_000;

impl Rto {
    pub(in crate::tcp) fn new(min: u64) -> Rto {
        // RFC 6298 §2.1: 1 s before a measurement.
        Rto { srtt: 0, rttvar: 0, rto: 1_000_000_000u64.max(min), min }
    }

    /// The timeout now.
    #[cfg(test)]
    pub(in crate::tcp) fn current(&self) -> u64 {
        self.rto
    }

    pub(in crate::tcp) fn sample(&mut self, r: u64) {
        self.sample_of(r, 1);
    }

    /// One of `expected` samples this round trip brings (RFC 7323
    /// Appendix G: with timestamps every ACK is a sample, so each weighs
    /// alpha / expected and beta / expected).
    pub(in crate::tcp) fn sample_of(&mut self, r: u64, expected: u64) {
        let e = expected.max(1);
        if self.srtt == 0 {
            self.srtt = r.max(1);
            self.rttvar = r / 2;
        } else {
            let dev = self.srtt.abs_diff(r);
            self.rttvar = self.rttvar - self.rttvar / (4 * e) + dev / (4 * e);
            self.srtt = (self.srtt - self.srtt / (8 * e) + r / (8 * e)).max(1);
        }
        self.rto = (self.srtt + GRANULARITY.max(4 * self.rttvar)).clamp(self.min, MAX_RTO);
    }
}

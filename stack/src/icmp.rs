//! ICMP errors the router originates (RFC 1812 §4.3.2) and their rate limit.
//!
//! An error is built in place: the offending frame gets 28 bytes prepended
//! (new IPv4 + ICMP headers), which leaves the original IP datagram exactly
//! where the error's payload must start, then is cut to 576 bytes of IP
//! (RFC 1812 §4.3.2.3: as much of the original as fits).

use crate::buf::PacketBuf;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, Message};
use crate::wire::ipv4::{self, Ipv4Packet, Ipv4Repr, Protocol};
use crate::wire::ipv6::{self, Ipv6Packet};
use std::net::{IpAddr, Ipv4Addr};

/// Most bytes of IP an error may carry (RFC 1812 §4.3.2.3).
pub const MAX_ERROR_LEN: usize = 576;
const ADDED: usize = ipv4::HEADER_LEN + crate::wire::icmpv4::HEADER_LEN;

/// The header an ICMP error quotes (RFC 792; RFC 4443 §2.4(c)), of
/// either family: its ends, its protocol (IPv6: the fixed header's next
/// header), where its payload starts in the quote, and whether it is IPv6.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub at: usize,
    pub v6: bool,
}

/// Reads the header at the start of `q`, the quote of an ICMP error;
/// None if it holds no whole fixed header.
pub fn quoted(q: &[u8]) -> Option<Quoted> {
    match q.first().map(|b| b >> 4) {
        Some(4) if q.len() >= ipv4::HEADER_LEN => {
            let p = Ipv4Packet::new_unchecked(q);
            let protocol = *q.get(ipv4::field::PROTOCOL)?;
            Some(Quoted { src: p.src().into(), dst: p.dst().into(), protocol, at: p.header_len(), v6: false })
        }
        Some(6) if q.len() >= ipv6::HEADER_LEN => {
            let p = Ipv6Packet::new_unchecked(q);
            let (src, dst) = (p.src().into(), p.dst().into());
            Some(Quoted { src, dst, protocol: p.next_header(), at: ipv6::HEADER_LEN, v6: true })
        }
        _ => None,
    }
}

/// Whether RFC 1812 §4.3.2.7 allows an ICMP error about this frame: not
/// about an ICMP error, a non-initial fragment, a link-layer or IP
/// broadcast/multicast, or a source that is not a unique host.
/// `ip` is an IPv4 datagram or the quote of one (its whole header at
/// least): false if it holds less.
pub fn error_allowed(l2_multicast: bool, ip: &[u8]) -> bool {
    let hl = match ip.first() {
        Some(&b) if b >> 4 == 4 => usize::from(b & 0x0f) * 4,
        _ => return false,
    };
    if l2_multicast || hl < ipv4::HEADER_LEN || ip.len() < hl {
        return false;
    }
    let p = Ipv4Packet::new_unchecked(ip);
    if p.frag_offset() != 0 {
        return false;
    }
    let (src, dst) = (p.src(), p.dst());
    if dst.is_broadcast() || dst.is_multicast() || src.is_unspecified() || ipv4::is_martian_source(src) {
        return false;
    }
    if p.protocol() == Protocol::Icmp {
        // An error about an error is forbidden; so is one about a message
        // too short to tell.
        return match ip.get(hl) {
            Some(&t) => !Message::from(t).is_error(),
            None => false,
        };
    }
    true
}

/// Turns `pkt` (an Ethernet frame holding a validated IPv4 datagram,
/// trimmed to its total length, or the quote of one relayed from a
/// tunnel) into an ICMP error from `src`, leaving the
/// Ethernet header for the caller to fill. False if the headroom is short.
pub fn build_error<B: PacketBuf>(pkt: &mut B, src: Ipv4Addr, ident: u16, repr: Icmpv4Repr) -> bool {
    let orig_len = pkt.len().saturating_sub(ETH_LEN);
    let Some(orig_src) = pkt.data().get(ETH_LEN + 12..ETH_LEN + 16).map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    else {
        return false;
    };
    if !pkt.prepend(ADDED) {
        return false;
    }
    let keep = orig_len.min(MAX_ERROR_LEN - ADDED);
    pkt.truncate(ETH_LEN + ADDED + keep);
    let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return false };
    Ipv4Repr {
        src,
        dst: orig_src,
        protocol: Protocol::Icmp,
        payload_len: crate::wire::icmpv4::HEADER_LEN + keep,
        ttl: 64,
        tos: 0xc0, // internetwork control, as Linux sends its errors
        ident,
        dont_frag: false,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut *ip));
    match Icmpv4Packet::new_checked(&mut ip[ipv4::HEADER_LEN..]) {
        Ok(mut icmp) => repr.emit(&mut icmp),
        Err(_) => return false,
    }
    true
}

/// A token bucket for ICMP errors, per worker (RFC 1812 §4.3.2.8).
#[derive(Clone, Debug)]
pub struct RateLimiter {
    /// Tokens per second.
    rate: u64,
    /// Bucket depth, in tokens.
    burst: u64,
    /// Current tokens, in units of 1/rate_ns (so refills are exact).
    tokens: u64,
    last: u64,
}

const NS: u64 = 1_000_000_000;

impl RateLimiter {
    /// `rate` errors per second with bursts of `burst`; rate 0 disables errors.
    pub fn new(rate: u32, burst: u32) -> Self {
        let (rate, burst) = (u64::from(rate), u64::from(burst.max(1)));
        RateLimiter { rate, burst, tokens: burst * NS, last: 0 }
    }

    /// Changes rate and burst (a config change), keeping the tokens saved
    /// up to the new burst.
    pub fn set(&mut self, rate: u32, burst: u32) {
        self.rate = u64::from(rate);
        self.burst = u64::from(burst.max(1));
        self.tokens = self.tokens.min(self.burst * NS);
    }

    /// Takes a token if one is there.
    pub fn allow(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.last);
        self.last = now;
        let cap = self.burst * NS;
        self.tokens = self.tokens.saturating_add(elapsed.saturating_mul(self.rate)).min(cap);
        if self.rate > 0 && self.tokens >= NS {
            self.tokens -= NS;
            true
        } else {
            false
        }
    }
}

/// Token buckets per destination of ICMP errors (as Linux keeps one per
/// peer), so one noisy source spends its own budget, not everyone's.
/// Direct-mapped by a seeded hash of the address, a fixed number of
/// slots: a destination that lands on a taken slot takes it over with a
/// full bucket (at worst a little more lenient), and no per-error cost
/// grows with the number of destinations.
pub struct PerDestination {
    slots: Box<[DestBucket]>,
    rate: u32,
    burst: u32,
    seed: crate::Secret,
}

#[derive(Clone)]
struct DestBucket {
    /// The destination (`None`: free).
    dst: Option<IpAddr>,
    bucket: RateLimiter,
}

/// Slots of [`PerDestination`] per worker.
pub const DESTINATIONS: usize = 1024;

impl PerDestination {
    /// `rate` errors per second to each destination, bursts of `burst`.
    pub fn new(rate: u32, burst: u32) -> Self {
        let empty = DestBucket { dst: None, bucket: RateLimiter::new(rate, burst) };
        PerDestination { slots: vec![empty; DESTINATIONS].into_boxed_slice(), rate, burst, seed: Default::default() }
    }

    /// Takes the new rate and burst (a config change); buckets start over.
    pub fn set(&mut self, rate: u32, burst: u32) {
        if (rate, burst) != (self.rate, self.burst) {
            (self.rate, self.burst) = (rate, burst);
            self.slots.iter_mut().for_each(|s| s.dst = None);
        }
    }

    /// Takes a token from `dst`'s bucket if one is there.
    pub fn allow(&mut self, dst: IpAddr, now: u64) -> bool {
        use std::hash::BuildHasher;
        let i = self.seed.hash_one(dst) as usize % DESTINATIONS;
        let (rate, burst) = (self.rate, self.burst);
        let Some(s) = self.slots.get_mut(i) else { return false };
        if s.dst != Some(dst) {
            *s = DestBucket { dst: Some(dst), bucket: RateLimiter::new(rate, burst) };
            s.bucket.last = now;
        }
        s.bucket.allow(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::VecBuf;
    use crate::wire::checksum;

    #[test]
    fn each_destination_has_its_own_bucket() {
        let mut d = PerDestination::new(10, 2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap());
        assert!(d.allow(a, 0) && d.allow(a, 0));
        assert!(!d.allow(a, 0), "a's burst is spent");
        assert!(d.allow(b, 0) && d.allow(b, 0), "b's is its own");
        assert!(d.allow(a, NS / 10), "a's refills at its rate");
        d.set(10, 2);
        assert!(!d.allow(a, NS / 10), "an unchanged setting keeps the buckets");
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let mut r = RateLimiter::new(10, 3);
        assert!(r.allow(0) && r.allow(0) && r.allow(0));
        assert!(!r.allow(0));
        assert!(!r.allow(NS / 20), "half a token");
        assert!(r.allow(NS / 10));
        assert!(!r.allow(NS / 10));
        assert!(r.allow(10 * NS) && r.allow(10 * NS) && r.allow(10 * NS) && !r.allow(10 * NS));
        let mut off = RateLimiter::new(0, 5);
        assert!(!off.allow(NS));
    }

    fn udp_frame(payload: usize) -> VecBuf {
        let mut f = vec![0u8; 14 + 20 + 8 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        Ipv4Repr {
            src: "10.0.1.2".parse().unwrap(),
            dst: "198.51.100.1".parse().unwrap(),
            protocol: Protocol::Udp,
            payload_len: 8 + payload,
            ttl: 1,
            tos: 0,
            ident: 7,
            dont_frag: false,
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut f[14..]));
        VecBuf::from_frame(0, &f)
    }

    #[test]
    fn error_quotes_original_and_caps_at_576_rfc1812_4_3_2_3() {
        for (payload, want_ip_len) in [(10usize, 28 + 38), (1400, 576)] {
            let mut b = udp_frame(payload);
            let orig = b.data()[14..].to_vec();
            let repr = Icmpv4Repr::Error { msg: Message::TimeExceeded, code: 0, rest: 0 };
            assert!(build_error(&mut b, "10.0.1.1".parse().unwrap(), 1, repr));
            let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
            let r = Ipv4Repr::parse(&ip).unwrap();
            assert_eq!(usize::from(ip.total_len()), want_ip_len);
            assert_eq!(r.dst, "10.0.1.2".parse::<Ipv4Addr>().unwrap());
            assert_eq!(r.protocol, Protocol::Icmp);
            let icmp = ip.payload();
            assert_eq!(checksum::checksum(icmp), 0);
            assert_eq!(icmp[0], 11);
            assert_eq!(&icmp[8..], &orig[..want_ip_len - 28]);
        }
    }

    #[test]
    fn no_error_about_errors_fragments_or_broadcasts_rfc1812_4_3_2_7() {
        let b = udp_frame(4);
        let ok = &b.data()[14..];
        assert!(error_allowed(false, ok));
        assert!(!error_allowed(true, ok), "link-layer broadcast");
        assert!(error_allowed(false, &ok[..28]), "a quote: the header and 8 bytes");
        assert!(!error_allowed(false, &ok[..19]), "less than a header");
        let mut d = b.data()[14..].to_vec();
        d[6..8].copy_from_slice(&[0x00, 0x10]); // offset 128
        assert!(!error_allowed(false, &d[..]));
        let mut e = b.data()[14..].to_vec();
        e[9] = 1;
        e[20] = 3; // an ICMP Destination Unreachable
        assert!(!error_allowed(false, &e[..]));
        e[20] = 8; // an echo request is fine
        assert!(error_allowed(false, &e[..]));
        let mut m = b.data()[14..].to_vec();
        m[16..20].copy_from_slice(&[224, 0, 0, 1]);
        assert!(!error_allowed(false, &m[..]));
        let mut s = b.data()[14..].to_vec();
        s[12..16].copy_from_slice(&[0, 0, 0, 0]);
        assert!(!error_allowed(false, &s[..]));
    }
}

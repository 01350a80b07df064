//! ICMPv6 errors the router originates (RFC 4443 §2.4).
//!
//! Built in place like ICMPv4 errors ([`crate::icmp`]): 48 bytes (IPv6 +
//! ICMPv6 headers) are prepended to the offending frame's IPv6 datagram,
//! which then is the error's payload, cut so the whole error fits the
//! IPv6 minimum MTU of 1280 bytes (§2.4(c)). The rate limit is a second
//! [`crate::icmp::RateLimiter`], so an IPv4 flood cannot starve IPv6
//! errors or the other way round (§2.4(f)).

use crate::buf::PacketBuf;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv6::{self, Icmpv6Packet, Message};
use crate::wire::ipv6::{self, nh, Ipv6Packet, Ipv6Repr};
use std::net::Ipv6Addr;

const ADDED: usize = ipv6::HEADER_LEN + icmpv6::HEADER_LEN;

/// Whether RFC 4443 §2.4(e) allows an error about this packet: not about
/// an ICMPv6 error or a Redirect, not to a multicast destination or a
/// link-layer multicast (except Packet Too Big and a Parameter Problem
/// for an unrecognized option, `multicast_ok`), and not from an
/// unspecified or multicast source. `ip` is a checked IPv6 packet or the
/// quote of one (its fixed header at least): false if it holds less.
pub fn error_allowed(l2_multicast: bool, ip: &[u8], multicast_ok: bool) -> bool {
    if ip.len() < ipv6::HEADER_LEN {
        return false;
    }
    let p = Ipv6Packet::new_unchecked(ip);
    let (src, dst) = (p.src(), p.dst());
    if src.is_unspecified() || src.is_multicast() {
        return false;
    }
    if (dst.is_multicast() || l2_multicast) && !multicast_ok {
        return false;
    }
    // Find the upper layer; a chain too broken to follow is not ICMPv6
    // as far as this rule can tell.
    let upper = match ipv6::walk_chain(ip, false) {
        Ok(c) => (c.protocol == nh::ICMPV6 && c.fragment.is_none_or(|f| f.offset == 0)).then_some(c.offset),
        // A quote cut short: ICMPv6 right after the fixed header, at least.
        Err(ipv6::ChainError::Truncated) => (p.next_header() == nh::ICMPV6).then_some(ipv6::HEADER_LEN),
        Err(_) => None,
    };
    match upper {
        Some(at) => match ip.get(at) {
            Some(&t) => !icmpv6::is_error_type(t) && Message::from(t) != Message::Redirect,
            None => false,
        },
        None => true,
    }
}

/// Turns `pkt` (an Ethernet frame holding a checked IPv6 datagram trimmed
/// to its length) into an ICMPv6 error from `src` to the datagram's
/// source, leaving the Ethernet header for the caller. False if the
/// headroom is short.
pub fn build_error<B: PacketBuf>(pkt: &mut B, src: &Ipv6Addr, msg: Message, code: u8, rest: u32) -> bool {
    let orig_len = pkt.len().saturating_sub(ETH_LEN);
    let Some(orig_src) = pkt.data().get(ETH_LEN + 8..ETH_LEN + 24).map(|b| {
        let mut o = [0u8; 16];
        o.copy_from_slice(b);
        Ipv6Addr::from(o)
    }) else {
        return false;
    };
    if !pkt.prepend(ADDED) {
        return false;
    }
    let keep = orig_len.min(ipv6::MIN_MTU - ADDED);
    pkt.truncate(ETH_LEN + ADDED + keep);
    let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return false };
    Ipv6Repr {
        src: *src,
        dst: orig_src,
        next_header: nh::ICMPV6,
        payload_len: icmpv6::HEADER_LEN + keep,
        hop_limit: 64,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut *ip));
    let Ok(mut icmp) = Icmpv6Packet::new_checked(&mut ip[ipv6::HEADER_LEN..]) else { return false };
    icmp.set_msg_type(msg);
    icmp.set_code(code);
    icmp.set_rest(rest);
    icmp.fill_checksum(src, &orig_src);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::VecBuf;

    fn frame(payload: usize, dst: &str, next: u8, first: u8) -> VecBuf {
        let mut f = vec![0u8; 14 + 40 + payload];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        Ipv6Repr {
            src: "fd00:1::2".parse().unwrap(),
            dst: dst.parse().unwrap(),
            next_header: next,
            payload_len: payload,
            hop_limit: 1,
        }
        .emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]));
        if payload > 0 {
            f[54] = first;
        }
        VecBuf::from_frame(0, &f)
    }

    #[test]
    fn error_quotes_original_and_fits_1280_rfc4443_2_4_c() {
        for (payload, want) in [(16usize, 48 + 56), (1400, 1280)] {
            let mut b = frame(payload, "2001:db8:1::2", nh::UDP, 0);
            let orig = b.data()[14..].to_vec();
            let src: Ipv6Addr = "fd00:1::1".parse().unwrap();
            assert!(build_error(&mut b, &src, Message::TimeExceeded, 0, 0));
            let ip = &b.data()[14..];
            assert_eq!(ip.len(), want);
            let p = Ipv6Packet::new_checked(ip).unwrap();
            assert_eq!(usize::from(p.payload_len()), want - 40);
            assert_eq!(p.dst(), "fd00:1::2".parse::<Ipv6Addr>().unwrap());
            assert!(ipv6::verify_upper_checksum(&src, &p.dst(), nh::ICMPV6, p.payload()));
            assert_eq!(p.payload()[0], 3);
            assert_eq!(&p.payload()[8..], &orig[..want - 48]);
        }
    }

    #[test]
    fn no_error_about_errors_or_to_multicast_rfc4443_2_4_e() {
        let ok = frame(16, "2001:db8:1::2", nh::UDP, 0);
        assert!(error_allowed(false, &ok.data()[14..], false));
        assert!(!error_allowed(true, &ok.data()[14..], false), "link-layer multicast");
        assert!(error_allowed(true, &ok.data()[14..], true), "Packet Too Big may");
        let err = frame(16, "2001:db8:1::2", nh::ICMPV6, 1);
        assert!(!error_allowed(false, &err.data()[14..], false), "about an error");
        let redirect = frame(16, "2001:db8:1::2", nh::ICMPV6, 137);
        assert!(!error_allowed(false, &redirect.data()[14..], false), "about a redirect");
        let echo = frame(16, "2001:db8:1::2", nh::ICMPV6, 128);
        assert!(error_allowed(false, &echo.data()[14..], false));
        let mcast = frame(16, "ff0e::1", nh::UDP, 0);
        assert!(!error_allowed(false, &mcast.data()[14..], false));
        assert!(error_allowed(false, &mcast.data()[14..], true));
    }
}

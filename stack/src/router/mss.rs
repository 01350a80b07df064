//! TCP MSS clamping: a SYN forwarded in or out of an interface with
//! `mss_clamp` gets its Maximum Segment Size lowered to what fits the
//! smaller MTU of the two, less the IP and TCP headers, so neither end
//! sends segments the path cannot carry, even where ICMP is filtered and
//! Path MTU Discovery fails (RFC 4459 §3.2). NAT, which runs after,
//! updates the checksum from the clamped segment.

use super::Router;
use crate::hooks::Translator;
use crate::iface::{Interface, Tables};
use crate::wire::ip::protocol;
use crate::wire::{ipv4, ipv6, tcp};

impl<B, N: Translator> Router<B, N> {
    /// Clamps the SYN in `ip` (IPv4 or IPv6 by `v6`, forwarded out of
    /// `egress`, whose MTU is `out_mtu` now: a tunnel's may be lowered
    /// by its path's) if either interface asks for it.
    #[inline]
    pub(super) fn clamp_mss(&mut self, t: &Tables, egress: &Interface, out_mtu: u16, ip: &mut [u8], v6: bool) {
        let ingress = t.iface(self.rx_if);
        if !egress.mss_clamp && !ingress.is_some_and(|i| i.mss_clamp) {
            return;
        }
        let mtu = ingress.map_or(out_mtu, |i| i.mtu.min(out_mtu));
        let (at, proto, headers) = if v6 {
            // Only a TCP header right after the fixed one (SYNs carry
            // no extension headers in practice).
            (ipv6::HEADER_LEN, ip.get(ipv6::field::NEXT_HEADER).copied(), ipv6::HEADER_LEN)
        } else {
            let first = ip.len() >= ipv4::HEADER_LEN && ipv4::Ipv4Packet::new_unchecked(&*ip).frag_offset() == 0;
            let hl = if first { ipv4::ihl(ip) } else { usize::MAX };
            (hl, ip.get(ipv4::field::PROTOCOL).copied(), ipv4::HEADER_LEN)
        };
        if proto != Some(protocol::TCP) {
            return;
        }
        let max = mtu.saturating_sub((headers + tcp::HEADER_LEN) as u16);
        if ip.get_mut(at..).is_some_and(|seg| tcp::clamp_mss(seg, max)) {
            self.counters.mss_clamped += 1;
        }
    }
}

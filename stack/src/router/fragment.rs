//! Output in fragments. IPv4 (RFC 791 §3.2, RFC 1812 §5.2.6): a packet
//! larger than the egress MTU, without DF, leaves as fragments that fit,
//! each a multiple of 8 bytes but the last, the first with every option and
//! the others with the copied ones. Forwarded packets and the gateway's
//! own alike.
//!
//! Fragments leave in order. Each but the last is copied into a fresh
//! buffer from the pool; the last is the packet's own buffer, its head
//! stripped (no copy). A pool that runs dry drops the rest, counted
//! (`buffer_exhausted`).

use super::io::Burst;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::iface::Interface;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::ipv4::{self, Ipv4Packet, MAX_HEADER_LEN};
use crate::wire::ipv6::{self, frag, Ipv6Packet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Sends an IPv4 packet (Ethernet header still to write) to `nh` on
    /// `egress`, in fragments if it does not fit the MTU. One with DF set
    /// that does not fit is dropped (`fragmentation_needed`): forwarding
    /// answered it before it came here.
    pub(super) fn output4(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        egress: &Interface,
        out: u16,
        nh: Ipv4Addr,
        pkt: B,
    ) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(ip);
        let mtu = self.mtu_of(egress, cx.now);
        if ip.len() < ipv4::HEADER_LEN || p.total_len() <= mtu {
            return self.output(cx, egress, out, IpAddr::V4(nh), pkt);
        }
        if p.dont_frag() {
            return self.drop(DropReason::FragmentationNeeded);
        }
        self.fragment(cx, egress, out, nh, pkt, mtu);
    }

    /// Cuts `pkt` into fragments of at most `mtu` bytes.
    fn fragment(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        egress: &Interface,
        out: u16,
        nh: Ipv4Addr,
        mut pkt: B,
        mtu: u16,
    ) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(ip);
        let (hl, tl, mtu) = (p.header_len(), usize::from(p.total_len()), usize::from(mtu));
        if hl < ipv4::HEADER_LEN || tl > ip.len() || hl > tl {
            return self.drop(DropReason::Ipv4BadTotalLength);
        }
        // The header of the later fragments: the copied options only.
        let mut later = [0u8; MAX_HEADER_LEN];
        let (fixed, opts) = later.split_at_mut(ipv4::HEADER_LEN);
        fixed.copy_from_slice(&ip[..ipv4::HEADER_LEN]);
        let later_hl = ipv4::HEADER_LEN + opts.try_into().map_or(0, |o| ipv4::copied_options(p.options(), o));
        // Data per fragment: a multiple of 8 (the offset's unit). The MTU
        // is at least 68 (RFC 791 §3.2), which leaves room for 8 with any
        // header.
        let (first_room, later_room) = ((mtu.saturating_sub(hl)) & !7, (mtu.saturating_sub(later_hl)) & !7);
        if first_room == 0 || later_room == 0 {
            return self.drop(DropReason::FragmentationNeeded);
        }
        let (offset, more) = (p.frag_offset(), p.more_frags());
        let data = tl - hl;
        self.counters.fragmented += 1;
        // Every fragment but the last, copied: (start, length) of its data.
        let mut at = 0;
        while data - at > if at == 0 { first_room } else { later_room } {
            let (head, len) = if at == 0 { (hl, first_room) } else { (later_hl, later_room) };
            let Some(mut f) = cx.io.alloc() else { return self.drop(DropReason::BufferExhausted) };
            if !f.append(ETH_LEN + head + len) {
                return self.drop(DropReason::BufferExhausted);
            }
            let src = pkt.data();
            let header = if at == 0 { src.get(ETH_LEN..ETH_LEN + hl) } else { later.get(..later_hl) };
            let (Some(header), Some(chunk)) = (header, src.get(ETH_LEN + hl + at..ETH_LEN + hl + at + len)) else {
                return self.drop(DropReason::Ipv4BadTotalLength);
            };
            if !write_fragment(f.data_mut(), header, chunk, offset + at as u16, true) {
                return self.drop(DropReason::BufferExhausted);
            }
            self.counters.fragments_sent += 1;
            self.output(cx, egress, out, IpAddr::V4(nh), f);
            at += len;
        }
        // The last: the packet's own buffer, its head moved up to its data
        // (the loop ran: the packet did not fit). The Ethernet header is
        // written by output.
        if !pkt.adj(hl + at - later_hl) {
            return self.drop(DropReason::Ipv4BadTotalLength);
        }
        pkt.truncate(ETH_LEN + later_hl + data - at);
        let Some((header, d)) = later.get(..later_hl).zip(pkt.data_mut().get_mut(ETH_LEN..)) else { return };
        let (h, _) = d.split_at_mut(later_hl.min(d.len()));
        h.copy_from_slice(&header[..h.len()]);
        set_fragment_header(d, later_hl, data - at, offset + at as u16, more);
        self.counters.fragments_sent += 1;
        self.output(cx, egress, out, IpAddr::V4(nh), pkt);
    }
}

/// Writes a fragment into frame `d` (Ethernet room, then `header`, then
/// `chunk`, exactly), and fills in its header. False if `d` is not that
/// size.
fn write_fragment(d: &mut [u8], header: &[u8], chunk: &[u8], offset: u16, more: bool) -> bool {
    let Some(ip) = d.get_mut(ETH_LEN..) else { return false };
    let Some((h, c)) = ip.split_at_mut_checked(header.len()) else { return false };
    if c.len() != chunk.len() {
        return false;
    }
    h.copy_from_slice(header);
    c.copy_from_slice(chunk);
    set_fragment_header(ip, header.len(), chunk.len(), offset, more);
    true
}

/// Fills in a fragment's header (its first `head` bytes are the header to
/// use): IHL, total length, MF and offset (bytes), checksum.
fn set_fragment_header(ip: &mut [u8], head: usize, len: usize, offset: u16, more: bool) {
    let mut p = Ipv4Packet::new_unchecked(ip);
    p.set_ver_ihl(head);
    p.set_total_len((head + len) as u16);
    p.set_flags_offset(false, more, offset);
    p.fill_checksum();
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Sends an IPv6 packet of the gateway's own (Ethernet header still
    /// to write) to `nh` on `egress`, in fragments if it does not fit the
    /// MTU (RFC 8200 §4.5: the source fragments; routers never do). Its
    /// only extension header, if any, is a fragment header (a reply to a
    /// fragmented request), whose fragments are cut smaller.
    pub(super) fn output6(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        egress: &Interface,
        out: u16,
        nh: Ipv6Addr,
        pkt: B,
    ) {
        let mtu = self.mtu6_of(egress, cx.now);
        if pkt.len() <= ETH_LEN + usize::from(mtu) {
            return self.output(cx, egress, out, IpAddr::V6(nh), pkt);
        }
        self.fragment6(cx, egress, out, nh, pkt, mtu);
    }

    /// Cuts `pkt` into fragments of at most `mtu` bytes (1280 at least).
    fn fragment6(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        egress: &Interface,
        out: u16,
        nh: Ipv6Addr,
        mut pkt: B,
        mtu: u16,
    ) {
        let Some(ip) = pkt.data().get(ETH_LEN..).filter(|ip| ip.len() > ipv6::HEADER_LEN + frag::HEADER_LEN) else {
            return self.drop(DropReason::Ipv6Truncated);
        };
        // What the fragments carry: the payload after the fixed header,
        // or after the fragment header it already has.
        let (next, base, more, ident, data_at) = match ipv6::find_fragment(ip) {
            Some((ipv6::HEADER_LEN, f)) => {
                let next = ip[ipv6::HEADER_LEN + frag::NEXT_HEADER];
                (next, f.offset * 8, f.more, f.ident, ipv6::HEADER_LEN + frag::HEADER_LEN)
            }
            Some(_) => return self.drop(DropReason::Ipv6ExtTooLong),
            None => (ip[ipv6::field::NEXT_HEADER], 0, false, self.next_ident6(), ipv6::HEADER_LEN),
        };
        let head = ipv6::HEADER_LEN + frag::HEADER_LEN;
        let room = usize::from(mtu).max(ipv6::MIN_MTU).saturating_sub(head) & !7;
        let data = ip.len() - data_at;
        let mut fixed = [0u8; ipv6::HEADER_LEN];
        fixed.copy_from_slice(&ip[..ipv6::HEADER_LEN]);
        self.counters.fragmented6 += 1;
        let mut at = 0;
        while data - at > room {
            let Some(mut f) = cx.io.alloc() else { return self.drop(DropReason::BufferExhausted) };
            let chunk = pkt.data().get(ETH_LEN + data_at + at..ETH_LEN + data_at + at + room);
            let (true, Some(chunk)) = (f.append(ETH_LEN + head + room), chunk) else {
                return self.drop(DropReason::BufferExhausted);
            };
            let d = f.data_mut();
            d[ETH_LEN..ETH_LEN + ipv6::HEADER_LEN].copy_from_slice(&fixed);
            d[ETH_LEN + head..].copy_from_slice(chunk);
            set_fragment6(&mut d[ETH_LEN..], next, base + at as u16, true, ident);
            self.output(cx, egress, out, IpAddr::V6(nh), f);
            at += room;
        }
        // The last: the packet's own buffer, its head moved up to its data.
        if !pkt.adj(data_at + at - head) {
            return self.drop(DropReason::Ipv6Truncated);
        }
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
        ip[..ipv6::HEADER_LEN].copy_from_slice(&fixed);
        set_fragment6(ip, next, base + at as u16, more, ident);
        self.output(cx, egress, out, IpAddr::V6(nh), pkt);
    }
}

/// Makes `ip` (a fixed IPv6 header, room for a fragment header, data) a
/// fragment: payload length, next header, the fragment header.
fn set_fragment6(ip: &mut [u8], next: u8, offset: u16, more: bool, ident: u32) {
    let payload = (ip.len() - ipv6::HEADER_LEN) as u16;
    let mut p = Ipv6Packet::new_unchecked(&mut *ip);
    p.set_payload_len(payload);
    p.set_next_header(ipv6::nh::FRAGMENT);
    if let Some(h) = ip.get_mut(ipv6::HEADER_LEN..) {
        ipv6::write_fragment_header(h, next, offset, more, ident);
    }
}

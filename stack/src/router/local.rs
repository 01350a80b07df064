//! IPv4 packets for the gateway's own addresses: echo replies (RFC 792),
//! RST for TCP (RFC 9293 §3.10.7.1), Port and Protocol Unreachable for the
//! rest.

use super::io::Burst;
use super::tcp::PathMtu;
use super::tunnel::{is_tunnel_protocol, Outer};
use super::tunnel_error::Unreachable;
use super::udp::Arrival;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv4::{self, Icmpv4Packet, Icmpv4Repr, Message};
use crate::wire::ipv4::{Ipv4Packet, Protocol};
use crate::wire::tcp::{self, TcpPacket};

impl<B: PacketBuf, N: Translator> Router<B, N> {
    pub(super) fn local_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(ip);
        if p.is_fragment() {
            return self.reassemble4(cx, pkt);
        }
        let (src, dst, hl) = (p.src(), p.dst(), p.header_len());
        match p.protocol() {
            Protocol::Icmp => {
                let Some(Ok(icmp)) = ip.get(hl..).map(Icmpv4Packet::new_checked) else {
                    return self.drop(DropReason::IcmpMalformed);
                };
                match Icmpv4Repr::parse(&icmp) {
                    Ok(Icmpv4Repr::EchoRequest { .. }) => {}
                    Ok(Icmpv4Repr::Error {
                        msg: Message::DstUnreachable,
                        code: icmpv4::unreachable::FRAG_NEEDED,
                        rest,
                    }) => {
                        let quoted = ip.get(hl + 8..).unwrap_or_default();
                        // About one of our tunnels' outer packets: its path.
                        if self.tunnel_path_mtu(cx.t, quoted, rest & 0xffff, cx.now) {
                            self.counters.local += 1;
                            return;
                        }
                        return match self.tcp_path_mtu(cx, quoted, rest & 0xffff) {
                            PathMtu::Applied => {}
                            // Perhaps the kernel's connection's.
                            PathMtu::Ignored => {
                                self.punt_or_drop(cx, self.rx_if, pkt, src.into(), DropReason::IcmpIgnored)
                            }
                            PathMtu::Owner(w) => self.tcp_handoff(cx, pkt, w),
                        };
                    }
                    Ok(Icmpv4Repr::Error { msg, code, .. }) => {
                        // About one of our tunnels' outer packets: its sender's.
                        let pkt = match Unreachable::of_icmp4(msg, code) {
                            Some(what) => self.tunnel_error(cx, pkt, ETH_LEN + hl + 8, what),
                            None => Some(pkt),
                        };
                        if let Some(pkt) = pkt {
                            self.punt_or_drop(cx, self.rx_if, pkt, src.into(), DropReason::IcmpIgnored)
                        }
                        return;
                    }
                    Ok(_) => return self.punt_or_drop(cx, self.rx_if, pkt, src.into(), DropReason::IcmpIgnored),
                    Err(_) => return self.drop(DropReason::IcmpMalformed),
                }
                // Echo reply in place (RFC 792): swap addresses, type 0.
                let ident = self.next_ident();
                let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
                let mut p = Ipv4Packet::new_unchecked(&mut *ip);
                p.set_src(dst);
                p.set_dst(src);
                p.set_ttl(64);
                p.set_ident(ident);
                p.set_flags_offset(false, false, 0);
                p.fill_checksum();
                // RFC 1122 §3.2.2.6: Record Route and Timestamp in the
                // reply, with this host added, for the whole round trip.
                self.record_options4(cx.t, ip, dst, cx.now);
                if let Some(Ok(mut icmp)) = ip.get_mut(hl..).map(Icmpv4Packet::new_checked) {
                    let c = crate::wire::checksum::update16(icmp.checksum(), 0x0800, 0x0000);
                    icmp.set_msg_type(Message::EchoReply);
                    icmp.set_checksum(c);
                }
                self.counters.local += 1;
                self.route_own(cx, pkt, src);
            }
            Protocol::Udp => {
                let end = ETH_LEN + usize::from(p.total_len());
                let Some(pkt) = self.vxlan_input(cx, pkt, src, dst, hl) else { return };
                let a = Arrival { src: src.into(), dst: dst.into(), ifindex: self.rx_if, at: ETH_LEN + hl, end };
                let pkt = self.udp_input(cx, pkt, a).and_then(|pkt| self.punt(cx, self.rx_if, pkt, src.into()));
                if let Some(pkt) = pkt {
                    let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PORT);
                    self.icmp_error(cx, pkt, DropReason::LocalPortUnreachable, m, c, 0)
                }
            }
            Protocol::Tcp => {
                let end = ETH_LEN + usize::from(p.total_len());
                let a = Arrival { src: src.into(), dst: dst.into(), ifindex: self.rx_if, at: ETH_LEN + hl, end };
                let pkt = self.tcp_input(cx, pkt, a).and_then(|pkt| self.punt(cx, self.rx_if, pkt, src.into()));
                if let Some(pkt) = pkt {
                    self.tcp_reset(cx, pkt)
                }
            }
            Protocol::Unknown(proto) if is_tunnel_protocol(proto) => {
                let outer =
                    Outer { src: src.into(), dst: dst.into(), protocol: proto, len: ETH_LEN + hl, tos: p.tos() };
                let pkt = self.tunnel_input(cx, pkt, outer).and_then(|pkt| self.punt(cx, self.rx_if, pkt, src.into()));
                if let Some(pkt) = pkt {
                    let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PROTOCOL);
                    self.icmp_error(cx, pkt, DropReason::LocalProtocolUnreachable, m, c, 0)
                }
            }
            Protocol::Unknown(_) => {
                if let Some(pkt) = self.punt(cx, self.rx_if, pkt, src.into()) {
                    let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PROTOCOL);
                    self.icmp_error(cx, pkt, DropReason::LocalProtocolUnreachable, m, c, 0)
                }
            }
        }
    }

    /// Answers a segment to a closed port with RST (RFC 9293 §3.10.7.1).
    pub(super) fn tcp_reset(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B) {
        self.drop(DropReason::LocalTcpClosed);
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv4Packet::new_unchecked(ip);
        let (src, dst, hl) = (p.src(), p.dst(), p.header_len());
        let Some(Ok(seg)) = ip.get(hl..usize::from(p.total_len())).map(TcpPacket::new_checked) else { return };
        if !seg.verify_checksum(src, dst) {
            return;
        }
        let Some(reset) = tcp::Reset::answering(&seg) else { return };
        self.send_reset(cx, pkt, reset);
    }

    /// Turns `pkt` (a segment for us) into `reset` and sends it back.
    pub(super) fn send_reset(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B, reset: tcp::Reset) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv4Packet::new_unchecked(ip);
        let (src, dst, hl) = (p.src(), p.dst(), p.header_len());
        let ident = self.next_ident();
        pkt.truncate(ETH_LEN + hl + tcp::HEADER_LEN);
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
        if let Some(seg) = ip.get_mut(hl..) {
            reset.emit(seg);
            if let Ok(mut s) = TcpPacket::new_checked(seg) {
                s.fill_checksum(dst, src);
            }
        }
        let mut p = Ipv4Packet::new_unchecked(&mut *ip);
        p.set_total_len((hl + tcp::HEADER_LEN) as u16);
        p.set_src(dst);
        p.set_dst(src);
        p.set_ttl(64);
        p.set_ident(ident);
        p.set_flags_offset(true, false, 0);
        p.fill_checksum();
        self.route_own(cx, pkt, src);
    }
}

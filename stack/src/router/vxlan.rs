//! VXLAN (RFC 7348): a bridge extended across an IPv4 underlay. The
//! bridge's remote VTEPs are members of it: frames the bridge sends to one
//! (a learned station's, or a flood's copy) wait in the router's queue,
//! then are wrapped in VXLAN, UDP and IPv4 headers written into the
//! headroom and routed to the VTEP as the gateway's own packets; frames
//! that come from a configured VTEP to our address and port, with the
//! bridge's VNI, are unwrapped and switched as received on that member,
//! which learns their source (RFC 7348 §4.1). Floods go to every VTEP of
//! the flood list (head-end replication), and a frame from one VTEP is
//! never flooded to another (split horizon).
//!
//! The UDP source port is a hash of the inner frame's addresses, for
//! entropy in the underlay's ECMP (RFC 7348 §5); the UDP checksum is sent
//! as zero and not checked on receipt (§5 allows both).

use super::io::Burst;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::ipv4::{self, Ipv4Packet, Ipv4Repr, Protocol};
use crate::wire::{be16, put16, udp, vxlan};
use std::net::Ipv4Addr;

/// What VXLAN puts in front of the inner frame, after the outer
/// Ethernet header.
const OVERHEAD: usize = ipv4::HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN;

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// A UDP datagram for our address `dst` from `src` (IPv4 header of
    /// `hl` bytes): if its port is VXLAN's, the frame inside is switched
    /// into its bridge. Given back otherwise.
    pub(super) fn vxlan_input(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        mut pkt: B,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        hl: usize,
    ) -> Option<B> {
        let at = ETH_LEN + hl;
        let dport = pkt.data().get(at..at + udp::HEADER_LEN).map(|u| be16(u, 2))?;
        if !cx.t.vxlan_port(dport) {
            return Some(pkt);
        }
        let inner = at + udp::HEADER_LEN + vxlan::HEADER_LEN;
        let vni = pkt.data().get(at + udp::HEADER_LEN..).map(vxlan::parse);
        let (Some(Ok(vni)), true) = (vni, pkt.len() >= inner + ETH_LEN) else {
            self.drop(DropReason::VxlanMalformed);
            return None;
        };
        let Some(&crate::iface::VtepIn { member, .. }) = cx.t.vxlan_member(dst, vni, src) else {
            self.drop(DropReason::VxlanUnknown);
            return None;
        };
        if !pkt.adj(inner) {
            return None;
        }
        self.counters.decapsulated += 1;
        self.bridge_input(cx, member, pkt);
        None
    }

    /// Wraps and routes the frames the bridges left for remote VTEPs.
    pub(super) fn send_vteps(&mut self, cx: &mut Burst<'_, impl Io<B>>) {
        if self.vteps.is_empty() || self.encapsulating {
            return;
        }
        // Drained from a spare of the same room (neither ever grows), as
        // held packets are replayed: frames queued while these are routed
        // land in the emptied queue.
        std::mem::swap(&mut self.vteps, &mut self.vteps_spare);
        let mut queue = std::mem::take(&mut self.vteps_spare);
        self.encapsulating = true;
        for (m, pkt) in queue.drain(..) {
            if let Some((pkt, vtep)) = self.vxlan_wrap(cx, m, pkt) {
                self.counters.encapsulated += 1;
                self.route_own(cx, pkt, vtep);
            }
        }
        self.encapsulating = false;
        self.vteps_spare = queue;
        // Those are frames a VTEP's own route sent back into a VXLAN
        // bridge: a loop.
        let looped = self.vteps.len() as u64;
        self.vteps.clear();
        if let Some(c) = self.counters.drops.get_mut(DropReason::TunnelLoop.index()) {
            *c += looped;
        }
    }

    /// Writes the outer headers in front of frame `pkt` for member `m`
    /// (a remote VTEP); the packet and where it goes.
    fn vxlan_wrap(&mut self, cx: &mut Burst<'_, impl Io<B>>, m: u16, mut pkt: B) -> Option<(B, Ipv4Addr)> {
        let member = cx.t.members.get(usize::from(m))?;
        let vtep = member.vtep?;
        let conf = cx.t.bridges.get(usize::from(member.bridge))?.vxlan?;
        let inner_len = pkt.len();
        // RFC 7348 §5: a source port from the inner frame, 49152..=65535.
        let h = pkt
            .data()
            .iter()
            .take(ETH_LEN + 20)
            .fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        let sport = 0xc000 | (h ^ h >> 16) as u16 & 0x3fff;
        let ident = self.next_ident();
        if !pkt.prepend(ETH_LEN + OVERHEAD) {
            self.drop(DropReason::NoHeadroom);
            return None;
        }
        let h = pkt.data_mut().get_mut(ETH_LEN..ETH_LEN + OVERHEAD)?;
        let (ip, rest) = h.split_at_mut(ipv4::HEADER_LEN);
        let payload_len = udp::HEADER_LEN + vxlan::HEADER_LEN + inner_len;
        let repr = Ipv4Repr {
            src: conf.local,
            dst: vtep,
            protocol: Protocol::Udp,
            payload_len,
            ttl: 64,
            tos: 0,
            ident,
            dont_frag: false,
        };
        repr.emit(&mut Ipv4Packet::new_unchecked(ip));
        let (u, vx) = rest.split_at_mut(udp::HEADER_LEN);
        put16(u, 0, sport);
        put16(u, 2, conf.port);
        put16(u, 4, payload_len as u16);
        put16(u, 6, 0);
        vxlan::emit(vx, conf.vni);
        Some((pkt, vtep))
    }
}

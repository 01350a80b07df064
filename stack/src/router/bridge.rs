//! Layer 2: 802.1Q tags, bridge domains and the way every frame leaves.
//!
//! A frame's (port, VLAN) decides where it goes ([`Attach`]): to a layer-3
//! interface, or into a bridge as one of its members. Inside the gateway
//! frames are untagged: a tag is popped on the way in and pushed on the
//! way out (IEEE 802.1Q §6.9), so every later stage sees the IP header at
//! [`ETH_LEN`].
//!
//! A bridge (IEEE 802.1Q §8, a transparent bridge without spanning tree)
//! learns source addresses per member, forwards known unicast to its
//! member, and floods broadcast, multicast and unknown unicast to every
//! member but the ingress one. Its routed interface (BVI) gets frames
//! addressed to its MAC, plus a copy of each flooded one, and sends
//! through the bridge like any station.

use super::io::Burst;
use super::{Counters, Io, Router, Translator};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::iface::{Attach, Interface, Member, Tables};
use crate::mac_table::{Learned, MacTable};
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::vlan::TAG_LEN;
use crate::wire::MacAddr;

/// Frames for remote VTEPs (bridge member, frame), waiting for the
/// router to wrap them in VXLAN and route them (`vxlan.rs`): the bridge
/// is reached from places that hold the neighbor cache the routing needs.
pub(super) type VtepQueue<B> = Vec<(u16, B)>;

/// Most frames waiting in the [`VtepQueue`] (a flood makes one per VTEP).
pub(super) const VTEP_QUEUE: usize = 256;

/// What every way out of layer 2 writes to: the MAC table (read), the
/// counters, and the queue of frames for remote VTEPs.
pub(super) struct L2<'a, B> {
    pub macs: &'a MacTable,
    pub counters: &'a mut Counters,
    pub vteps: &'a mut VtepQueue<B>,
}

/// MAC table slots aged per [`Router::poll`] call.
pub(super) const AGING_BUDGET: usize = 1024;

/// Where the EtherType (or the tag) sits: after the two addresses.
const ADDRS_LEN: usize = 12;

#[inline(always)]
fn count(c: &mut Counters, r: DropReason) {
    if let Some(d) = c.drops.get_mut(r.index()) {
        *d += 1;
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Classifies a received frame by (port, VLAN), pops its tag, and
    /// hands it on: to layer 3, or into its bridge.
    #[inline]
    pub(super) fn l2_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B) {
        let Ok(eth) = EthernetFrame::new_checked(pkt.data()) else {
            return self.drop(DropReason::EthTruncated);
        };
        let port = pkt.port();
        let attach = match eth.ethertype() {
            EtherType::Vlan => {
                let Some(tci) = pkt.data().get(ETH_LEN..ETH_LEN + 2) else {
                    return self.drop(DropReason::VlanTruncated);
                };
                // VID 0: priority-tagged, belongs to the untagged set.
                let vid = u16::from_be_bytes([tci[0], tci[1]]) & 0x0fff;
                let a = if vid == 0 { cx.t.ingress(port) } else { cx.t.ingress_tagged(port, vid) };
                if a == Attach::None {
                    return self.drop(DropReason::VlanNotConfigured);
                }
                if pkt.len() < ETH_LEN + TAG_LEN || !pop_tag(&mut pkt) {
                    return self.drop(DropReason::VlanTruncated);
                }
                a
            }
            EtherType::QinQ => return self.drop(DropReason::VlanNotConfigured),
            _ => cx.t.ingress(port),
        };
        match attach {
            Attach::Iface(ifindex) => self.l3_input(cx, ifindex, pkt),
            Attach::Member(m) => self.bridge_input(cx, m, pkt),
            Attach::None => self.drop(DropReason::NoInterface),
        }
    }

    /// Switches a frame that came in on bridge member `m`.
    pub(super) fn bridge_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, m: u16, pkt: B) {
        let Some(member) = cx.t.members.get(usize::from(m)) else { return self.drop(DropReason::NoInterface) };
        let Some(br) = cx.t.bridges.get(usize::from(member.bridge)) else {
            return self.drop(DropReason::NoInterface);
        };
        let Ok(eth) = EthernetFrame::new_checked(pkt.data()) else { return self.drop(DropReason::EthTruncated) };
        let (src, dst) = (eth.src(), eth.dst());
        if src.is_multicast() || src == MacAddr::ZERO {
            return self.drop(DropReason::EthBadSource);
        }
        match self.macs.learn(member.bridge, src, m, br.mac_limit, cx.now) {
            Learned::Refreshed => {}
            Learned::New => self.counters.mac_learned += 1,
            Learned::Moved => self.counters.mac_moves += 1,
            Learned::Full => self.counters.mac_learn_full += 1,
        }
        let bvi = br.bvi.and_then(|i| Some((i, cx.t.iface(i)?)));
        if let Some((ifindex, ifc)) = bvi {
            if dst == ifc.mac {
                return self.l3_input(cx, ifindex, pkt);
            }
        }
        if dst.is_multicast() {
            // Every other member gets it; so does the BVI, which takes the
            // original (ARP requests and NDP multicast are often for it).
            self.counters.l2_flooded += 1;
            return match bvi {
                Some((ifindex, _)) => {
                    flood(cx.t, &mut self.counters, &mut self.vteps, &br.members, Some(m), &pkt, cx.io);
                    self.l3_input(cx, ifindex, pkt)
                }
                None => flood_owned(cx.t, &mut self.counters, &mut self.vteps, &br.members, Some(m), pkt, cx.io),
            };
        }
        match self.macs.lookup(member.bridge, dst) {
            Some(out) if out == m => self.drop(DropReason::L2Filtered),
            Some(out) => {
                self.counters.l2_forwarded += 1;
                send_member(cx.t, &mut self.counters, &mut self.vteps, out, pkt, cx.io);
            }
            None => {
                self.counters.l2_flooded += 1;
                flood_owned(cx.t, &mut self.counters, &mut self.vteps, &br.members, Some(m), pkt, cx.io);
            }
        }
    }

    /// Ages the MAC table a slice at a time.
    pub(super) fn age_macs(&mut self, t: &Tables, now: u64) {
        let removed = self.macs.age(now, AGING_BUDGET, |b| t.bridges.get(usize::from(b)).map_or(0, |br| br.aging));
        self.counters.mac_aged += removed as u64;
    }

    /// Takes bridge changes from a new snapshot: a different member layout
    /// empties the MAC table (member indices changed meaning); a bridge
    /// whose `flush_epoch` moved loses its entries.
    pub(super) fn sync_bridges(&mut self, t: &Tables) {
        let layout = layout_hash(t);
        if layout != self.bridge_layout {
            self.bridge_layout = layout;
            self.macs.clear();
        }
        for (i, br) in t.bridges.iter().enumerate() {
            if let Some(e) = self.mac_epochs.get_mut(i) {
                if *e != br.flush_epoch {
                    *e = br.flush_epoch;
                    self.macs.flush_bridge(i as u16);
                }
            }
        }
    }

    /// The MAC table (for the control plane's view and tests).
    pub fn macs(&self) -> &MacTable {
        &self.macs
    }
}

/// A fingerprint of the bridges' members, to notice a change.
fn layout_hash(t: &Tables) -> u64 {
    let mut h: u64 = t.bridges.len() as u64;
    for m in &t.members {
        let vtep = m.vtep.map_or(0, |a| u64::from(u32::from(a)) << 8);
        let v = u64::from(m.bridge) << 32 | u64::from(m.port) << 16 | u64::from(m.vlan.map_or(0xffff, |v| v)) ^ vtep;
        h = (h ^ v).wrapping_mul(0x0100_0000_01b3).rotate_left(5);
    }
    h
}

/// Sends a frame whose Ethernet header is written out of interface `ifc`:
/// on its port (tagged for a VLAN sub-interface), or through its bridge.
/// Every frame the router sends leaves here.
#[inline(always)]
pub(super) fn transmit<B: PacketBuf>(t: &Tables, l2: &mut L2<'_, B>, ifc: &Interface, mut pkt: B, io: &mut impl Io<B>) {
    if let Some(b) = ifc.bridge {
        return bridge_output(t, l2, b, pkt, io);
    }
    if let Some(vid) = ifc.vlan {
        if !push_tag(&mut pkt, vid) {
            return count(l2.counters, DropReason::NoHeadroom);
        }
    }
    pkt.set_port(ifc.port);
    io.send(pkt);
}

/// A frame from a BVI: to the member its destination was learned on, else
/// to every member.
fn bridge_output<B: PacketBuf>(t: &Tables, l2: &mut L2<'_, B>, b: u16, pkt: B, io: &mut impl Io<B>) {
    let Some(br) = t.bridges.get(usize::from(b)) else { return count(l2.counters, DropReason::NoInterface) };
    let dst = EthernetFrame::new_checked(pkt.data()).map_or(MacAddr::BROADCAST, |e| e.dst());
    match (!dst.is_multicast()).then(|| l2.macs.lookup(b, dst)).flatten() {
        Some(out) => {
            l2.counters.l2_forwarded += 1;
            send_member(t, l2.counters, l2.vteps, out, pkt, io)
        }
        None => {
            l2.counters.l2_flooded += 1;
            flood_owned(t, l2.counters, l2.vteps, &br.members, None, pkt, io)
        }
    }
}

/// Sends on one member: a port, its tag pushed; or a remote VTEP, by way
/// of the router's queue (`vteps`).
#[inline(always)]
pub(super) fn send_member<B: PacketBuf>(
    t: &Tables,
    c: &mut Counters,
    vteps: &mut VtepQueue<B>,
    m: u16,
    mut pkt: B,
    io: &mut impl Io<B>,
) {
    let Some(&Member { port, vlan, vtep, .. }) = t.members.get(usize::from(m)) else {
        return count(c, DropReason::NoInterface);
    };
    if vtep.is_some() {
        if vteps.len() < vteps.capacity() {
            vteps.push((m, pkt));
        } else {
            count(c, DropReason::BufferExhausted);
        }
        return;
    }
    if let Some(vid) = vlan {
        if !push_tag(&mut pkt, vid) {
            return count(c, DropReason::NoHeadroom);
        }
    }
    pkt.set_port(port);
    io.send(pkt);
}

/// True if `m` may get a flooded frame: not `except`, and, for a frame
/// from a remote VTEP, not another one (split horizon: VTEPs are a full
/// mesh, each floods its own frames to all).
#[inline(always)]
fn floods_to(t: &Tables, m: u16, except: Option<u16>, from_vtep: bool) -> bool {
    Some(m) != except && !(from_vtep && t.members.get(usize::from(m)).is_some_and(|x| x.vtep.is_some()))
}

/// Is `m` a remote VTEP?
#[inline(always)]
fn is_vtep(t: &Tables, m: Option<u16>) -> bool {
    m.and_then(|m| t.members.get(usize::from(m))).is_some_and(|x| x.vtep.is_some())
}

/// Floods copies of `pkt` to every member but `except`.
fn flood<B: PacketBuf>(
    t: &Tables,
    c: &mut Counters,
    vteps: &mut VtepQueue<B>,
    members: &[u16],
    except: Option<u16>,
    pkt: &B,
    io: &mut impl Io<B>,
) {
    let from_vtep = is_vtep(t, except);
    for &m in members.iter().filter(|&&m| floods_to(t, m, except, from_vtep)) {
        match copy(pkt, io) {
            Some(p) => send_member(t, c, vteps, m, p, io),
            None => count(c, DropReason::BufferExhausted),
        }
    }
}

/// Floods `pkt` to every member but `except`: copies to all but the last,
/// which gets the original.
#[inline]
fn flood_owned<B: PacketBuf>(
    t: &Tables,
    c: &mut Counters,
    vteps: &mut VtepQueue<B>,
    members: &[u16],
    except: Option<u16>,
    pkt: B,
    io: &mut impl Io<B>,
) {
    let from_vtep = is_vtep(t, except);
    let Some(&last) = members.iter().rev().find(|&&m| floods_to(t, m, except, from_vtep)) else {
        return count(c, DropReason::L2Filtered);
    };
    for &m in members.iter().filter(|&&m| floods_to(t, m, except, from_vtep) && m != last) {
        match copy(&pkt, io) {
            Some(p) => send_member(t, c, vteps, m, p, io),
            None => count(c, DropReason::BufferExhausted),
        }
    }
    send_member(t, c, vteps, last, pkt, io);
}

/// A fresh buffer holding the same frame.
#[inline]
fn copy<B: PacketBuf>(pkt: &B, io: &mut impl Io<B>) -> Option<B> {
    let mut p = io.alloc()?;
    if !p.append(pkt.len()) {
        return None;
    }
    p.data_mut().copy_from_slice(pkt.data());
    p.set_port(pkt.port());
    Some(p)
}

/// Removes the 802.1Q tag after the addresses.
#[inline]
fn pop_tag<B: PacketBuf>(pkt: &mut B) -> bool {
    let d = pkt.data_mut();
    if d.len() < ETH_LEN + TAG_LEN {
        return false;
    }
    d.copy_within(0..ADDRS_LEN, TAG_LEN);
    pkt.adj(TAG_LEN)
}

/// Inserts an 802.1Q tag with `vid` (priority 0) after the addresses.
#[inline]
fn push_tag<B: PacketBuf>(pkt: &mut B, vid: u16) -> bool {
    if !pkt.prepend(TAG_LEN) {
        return false;
    }
    let d = pkt.data_mut();
    let Some(tag) = d.get_mut(..ETH_LEN + TAG_LEN) else { return false };
    tag.copy_within(TAG_LEN..TAG_LEN + ADDRS_LEN, 0);
    tag[ADDRS_LEN..ADDRS_LEN + 2].copy_from_slice(&u16::from(EtherType::Vlan).to_be_bytes());
    tag[ADDRS_LEN + 2..ADDRS_LEN + 4].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
    true
}

//! The fast path's unwrapping: a GRE or IP-in-IP packet (IPv4 outside)
//! from a tunnel's far end, or a VXLAN datagram from a listed VTEP, is
//! unwrapped here and its inside carried on by the fast path as any
//! received packet or frame: routed by `decide4` / `decide6`, switched
//! by `decide_l2`. What the fast path cannot carry (the inside, or an
//! outside with GRE options, fragments, an ECN mark to act on) goes to
//! the full path: untouched if nothing was unwrapped yet, else as
//! unwrapped, received on the tunnel interface or the VTEP's member
//! ([`Next::Inner`], [`Next::Bridge`]), so it meets the same rules.

use super::fast::{Ingress, Next, Plan, NO_PORT, V4_HEAD};
use super::io::Burst;
use super::tunnel::merge_ecn;
use super::{Io, Router, Translator};
use crate::buf::PacketBuf;
use crate::hooks::FastVerdict;
use crate::iface::{Tables, TunnelKey, VtepIn};
use crate::wire::ethernet::{ethertype, HEADER_LEN as ETH};
use crate::wire::gre::{self, flags as gre_flags};
use crate::wire::ip::protocol;
use crate::wire::ipv4::{self, field as ip4f};
use crate::wire::{be16, be32, checksum, put16, udp, vxlan, FiveTuple};
use std::net::{IpAddr, Ipv4Addr};

/// Where a VXLAN frame's inner frame starts (outer IPv4 without options).
const VXLAN_INNER: usize = V4_HEAD + udp::HEADER_LEN + vxlan::HEADER_LEN;

/// A tunnel packet's local and remote address, protocol and GRE key.
type TunnelEnds = (Ipv4Addr, Ipv4Addr, u8, Option<u32>);

/// The outer headers of a VXLAN frame after Ethernet: IPv4 without
/// options, UDP, VXLAN.
const VXLAN_OUTER: usize = VXLAN_INNER - ETH;

/// Which bits of [`VXLAN_OUTER`] a frame from the remembered VTEP must
/// have as its template ([`Template`]): version and header length,
/// no fragment bits (MF, offset), protocol, addresses, UDP destination
/// port, the I flag, the VNI. The rest (TOS, lengths, identification,
/// DF, TTL, checksums, the source port, reserved bits) is checked apart
/// or free.
#[rustfmt::skip]
const VXLAN_MASK: [u8; VXLAN_OUTER] = [
    0xff, 0, 0, 0, 0, 0, 0x3f, 0xff, 0, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // IPv4
    0, 0, 0xff, 0xff, 0, 0, 0, 0, // UDP
    vxlan::FLAG_I, 0, 0, 0, 0xff, 0xff, 0xff, 0, // VXLAN
];

/// The outer headers a remembered VTEP's frames have, under
/// [`VXLAN_MASK`], as three words: compared in three steps rather than a
/// field at a time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Template {
    words: (u128, u128, u32),
}

impl Template {
    /// Matches no frame (the version and header length byte is never 0
    /// in a frame that matches, as the mask keeps it).
    const NONE: Template = Template { words: (0, 0, 0) };

    /// `b` as words, in memory order.
    #[inline(always)]
    fn words(b: &[u8; VXLAN_OUTER]) -> Template {
        let (mut x, mut y, mut z) = ([0u8; 16], [0u8; 16], [0u8; 4]);
        x.copy_from_slice(&b[..16]);
        y.copy_from_slice(&b[16..32]);
        z.copy_from_slice(&b[32..]);
        Template { words: (u128::from_ne_bytes(x), u128::from_ne_bytes(y), u32::from_ne_bytes(z)) }
    }

    /// The template of frames from `remote` to `local` with `vni`, to UDP
    /// port `port`.
    fn new(local: Ipv4Addr, remote: Ipv4Addr, vni: u32, port: u16) -> Template {
        let mut b = [0u8; VXLAN_OUTER];
        b[ip4f::VER_IHL] = 0x45;
        b[ip4f::PROTOCOL] = protocol::UDP;
        b[ip4f::SRC].copy_from_slice(&remote.octets());
        b[ip4f::DST].copy_from_slice(&local.octets());
        let u = ipv4::HEADER_LEN;
        put16(&mut b, u + udp::field::DST_PORT, port);
        vxlan::emit(&mut b[u + udp::HEADER_LEN..], vni);
        Template::words(&b).masked()
    }

    /// Only the bits [`VXLAN_MASK`] keeps (the mask's words are folded
    /// to constants).
    #[inline(always)]
    fn masked(self) -> Template {
        let (w, m) = (self.words, Template::words(&VXLAN_MASK).words);
        Template { words: (w.0 & m.0, w.1 & m.1, w.2 & m.2) }
    }

    /// True if `h` (the outer headers) matches.
    #[inline(always)]
    fn matches(&self, h: &[u8; VXLAN_OUTER]) -> bool {
        Template::words(h).masked() == *self
    }
}

/// The last tunnel and the last VTEP the fast path unwrapped for, in one
/// tables generation: a tunnel's packets come in trains, and a hit spares
/// the hash probe (measured: a quarter of the unwrapping's time, its
/// table's lines pushed out of the cache by the frames between).
#[derive(Copy, Clone, Debug)]
pub(super) struct UnwrapMemo {
    generation: u64,
    tunnel: Option<(TunnelEnds, u16)>,
    vtep: Option<((Ipv4Addr, Ipv4Addr, u32), VtepIn)>,
    /// The last VXLAN port.
    port: u16,
    /// The outer headers of `vtep`'s frames to `port`.
    template: Template,
    /// The last outer destination the FIB named ours (0: none; 0/8 is
    /// never ours). A tunnel's packets all come to one address, whose
    /// FIB entry (a /32 in a tbl8 group) measured a cache miss a packet
    /// behind the frames' bytes: ~5% of the VXLAN rate.
    local: u32,
}

impl UnwrapMemo {
    pub(super) const EMPTY: UnwrapMemo =
        UnwrapMemo { generation: u64::MAX, tunnel: None, vtep: None, port: 0, template: Template::NONE, local: 0 };

    fn sync(&mut self, t: &Tables) {
        if self.generation != t.generation {
            *self = UnwrapMemo { generation: t.generation, ..UnwrapMemo::EMPTY };
        }
    }

    /// True if `dst` is the address last noted ours ([`UnwrapMemo::note_local`])
    /// in this tables generation.
    #[inline(always)]
    pub(super) fn is_local(&self, t: &Tables, dst: u32) -> bool {
        self.local == dst && self.generation == t.generation && dst != 0
    }

    /// Notes that the FIB named `dst` ours.
    #[inline(always)]
    pub(super) fn note_local(&mut self, t: &Tables, dst: u32) {
        self.sync(t);
        self.local = dst;
    }

    /// [`Tables::tunnel`], remembered.
    #[inline(always)]
    fn tunnel(&mut self, t: &Tables, key: TunnelEnds) -> Option<u16> {
        self.sync(t);
        match self.tunnel {
            Some((k, i)) if k == key => Some(i),
            _ => {
                let (local, remote) = (IpAddr::V4(key.0), IpAddr::V4(key.1));
                let i = t.tunnel(&TunnelKey { local, remote, protocol: key.2, key: key.3 })?;
                self.tunnel = Some((key, i));
                Some(i)
            }
        }
    }

    /// [`Tables::vxlan_member`], remembered.
    #[inline(always)]
    fn vtep(&mut self, t: &Tables, key: (Ipv4Addr, Ipv4Addr, u32)) -> Option<VtepIn> {
        self.sync(t);
        match self.vtep {
            Some((k, v)) if k == key => Some(v),
            _ => {
                let v = *t.vxlan_member(key.0, key.2, key.1)?;
                self.vtep = Some((key, v));
                self.retemplate();
                Some(v)
            }
        }
    }

    /// True if `port` is a VXLAN port ([`Tables::vxlan_port`], the last
    /// one remembered).
    #[inline(always)]
    fn vxlan_port(&mut self, t: &Tables, port: u16) -> bool {
        if self.generation == t.generation && self.port == port && port != 0 {
            return true;
        }
        let yes = t.vxlan_port(port);
        if yes {
            self.sync(t);
            self.port = port;
            self.retemplate();
        }
        yes
    }

    /// The template of the remembered VTEP's frames to the remembered
    /// port.
    fn retemplate(&mut self) {
        self.template = match self.vtep {
            Some(((local, remote, vni), _)) if self.port != 0 => Template::new(local, remote, vni, self.port),
            _ => Template::NONE,
        };
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// An IPv4 packet for one of our addresses (header checked by
    /// `decide4`, no options, `tl` bytes): unwrapped if a tunnel or VXLAN
    /// brings it, the inside decided on; else left to the full path.
    #[inline]
    pub(super) fn unwrap4<const IDLE: bool>(
        &mut self,
        t: &Tables,
        port: u16,
        pkt: &mut B,
        verdict: &mut FastVerdict,
        now: u64,
        tl: usize,
    ) -> Plan {
        let d = pkt.data();
        let Some(h) = d.get(ETH..V4_HEAD) else { return Plan::SLOW };
        if be16(h, ip4f::FLG_OFF) & (ipv4::MORE_FRAGMENTS | ipv4::OFFSET_MASK) != 0 {
            return Plan::SLOW;
        }
        let (src, dst) = (Ipv4Addr::from(be32(h, ip4f::SRC.start)), Ipv4Addr::from(be32(h, ip4f::DST.start)));
        let (proto, outer_tos) = (h[ip4f::PROTOCOL], h[ip4f::TOS]);
        let payload = d.get(V4_HEAD..ETH + tl).unwrap_or_default();
        let (shim, key, inner_type) = match proto {
            protocol::GRE if payload.len() >= gre::HEADER_LEN => {
                // Version 0, at most a key: anything else is the full path's.
                let f = be16(payload, gre::field::FLAGS);
                if f & !gre_flags::KEY != 0 {
                    return Plan::SLOW;
                }
                let key = (f & gre_flags::KEY != 0).then(|| payload.get(4..8).map(|k| be32(k, 0)));
                match key {
                    Some(None) => return Plan::SLOW,
                    Some(Some(k)) => (8, Some(k), be16(payload, gre::field::PROTOCOL)),
                    None => (4, None, be16(payload, gre::field::PROTOCOL)),
                }
            }
            protocol::IPIP => (0, None, ethertype::IPV4),
            protocol::IPV6 => (0, None, ethertype::IPV6),
            protocol::UDP => return self.unwrap_vxlan(t, pkt, src, dst, tl),
            _ => return Plan::SLOW,
        };
        let Some(ifindex) = self.unwrap_memo.tunnel(t, (dst, src, proto, key)) else { return Plan::SLOW };
        let Some(ifc) = t.iface(ifindex) else { return Plan::SLOW };
        let at = V4_HEAD + shim;
        let (v6, min) = match (inner_type, d.get(at).map(|b| b >> 4)) {
            (ethertype::IPV4, Some(4)) => (false, ipv4::HEADER_LEN),
            (ethertype::IPV6, Some(6)) if ifc.ipv6() => (true, crate::wire::ipv6::HEADER_LEN),
            _ => return Plan::SLOW,
        };
        if ifc.mss_clamp || ETH + tl < at + min {
            return Plan::SLOW;
        }
        // RFC 6040 §4.2: the outer ECN into the inner; a packet to drop
        // is the full path's to count.
        pkt.truncate(ETH + tl);
        let Some(inner) = pkt.data_mut().get_mut(at..) else { return Plan::SLOW };
        if !merge_ecn(inner, outer_tos) {
            return Plan::SLOW;
        }
        if !pkt.adj(at - ETH) {
            return Plan::SLOW;
        }
        let et = if v6 { ethertype::IPV6 } else { ethertype::IPV4 };
        if let Some(e) = pkt.data_mut().get_mut(..ETH) {
            e[..6].copy_from_slice(&ifc.mac.0);
            e[6..12].copy_from_slice(&ifc.mac.0);
            e[12..].copy_from_slice(&et.to_be_bytes());
        }
        self.counters.decapsulated += 1;
        let plan = if v6 {
            self.decide6(t, pkt, verdict, now)
        } else {
            self.decide4::<IDLE>(t, port, pkt, verdict, now, true)
        };
        match plan.next {
            Next::Slow => Plan { next: Next::Inner, len: 0, to: ifindex, slot: 0, port: NO_PORT },
            _ => plan,
        }
    }

    /// A UDP datagram for our address: a VXLAN frame from a listed VTEP
    /// is unwrapped and switched; anything else is left to the full path.
    #[inline(always)]
    fn unwrap_vxlan(&mut self, t: &Tables, pkt: &mut B, src: Ipv4Addr, dst: Ipv4Addr, tl: usize) -> Plan {
        let d = pkt.data();
        if ETH + tl < VXLAN_INNER + ETH {
            return Plan::SLOW;
        }
        let Some(u) = d.get(V4_HEAD..VXLAN_INNER) else { return Plan::SLOW };
        let dport = be16(u, udp::field::DST_PORT);
        let (Ok(vni), true) = (vxlan::parse(&u[udp::HEADER_LEN..]), self.unwrap_memo.vxlan_port(t, dport)) else {
            return Plan::SLOW;
        };
        let Some(vtep) = self.unwrap_memo.vtep(t, (dst, src, vni)) else { return Plan::SLOW };
        self.vxlan_inner(pkt, tl, vtep)
    }

    /// A VXLAN frame from the VTEP last unwrapped for, in the same tables
    /// generation, is unwrapped and switched here: its outer headers are
    /// checked against the memo in one pass, where `decide4` and
    /// `unwrap4` would look up the FIB and the tunnel tables (a VTEP's
    /// frames come in trains; measured 12% more VXLAN frames a second).
    /// The same checks as theirs, and the same plan: a test changes each
    /// byte of the outer headers and compares. None: the general path
    /// decides.
    #[inline(always)]
    pub(super) fn vxlan_fast<const IDLE: bool>(&mut self, t: &Tables, pkt: &mut B) -> Option<Plan> {
        let memo = &self.unwrap_memo;
        let (_, vtep) = memo.vtep.filter(|_| memo.generation == t.generation)?;
        let d = pkt.data();
        let outer = <&[u8; VXLAN_OUTER]>::try_from(d.get(ETH..VXLAN_INNER)?).ok()?;
        let ip = <&[u8; ipv4::HEADER_LEN]>::try_from(outer.get(..ipv4::HEADER_LEN)?).ok()?;
        let tl = usize::from(be16(ip, ip4f::LENGTH));
        // Addresses, protocol, no fragment, UDP port, I flag and VNI in
        // the template's three steps.
        let plain = memo.template.matches(outer)
            && ip[ip4f::TTL] > 1
            && ETH + tl >= VXLAN_INNER + ETH
            && ETH + tl <= d.len()
            && checksum::header_ok(ip);
        if !plain {
            return None;
        }
        if !IDLE {
            // The translator sees the outer packet first, as in `decide4`.
            let tuple = FiveTuple::read(ip, d.get(V4_HEAD..ETH + tl).unwrap_or_default());
            if self.nat.fast_pre(&tuple) != FastVerdict::Untouched {
                return None;
            }
        }
        Some(self.vxlan_inner(pkt, tl, vtep))
    }

    /// Unwraps VXLAN frame `pkt` (outer IPv4 `tl` bytes, no options) from
    /// `vtep` and decides on the inner frame as received on its member.
    #[inline(always)]
    fn vxlan_inner(&mut self, pkt: &mut B, tl: usize, vtep: VtepIn) -> Plan {
        let VtepIn { bridge, member, flood_to, flood_port, bvi_mac } = vtep;
        // The VTEP's member as the ingress. (Decided on before the outer
        // headers go: reading the inner header through the mbuf fields
        // just written measured 5% fewer frames a second.)
        let ing = Ingress { mac: bvi_mac.0, member, bridge, flood_to, flood_port, ..Ingress::OFF };
        let inner = pkt.data().get(VXLAN_INNER..VXLAN_INNER + ETH).and_then(|e| <&[u8; ETH]>::try_from(e).ok());
        let plan = match inner {
            Some(eth) => self.decide_l2(ing, eth),
            None => Plan::SLOW,
        };
        pkt.truncate(ETH + tl);
        if !pkt.adj(VXLAN_INNER) {
            return Plan::SLOW;
        }
        self.counters.decapsulated += 1;
        match plan.next {
            Next::Slow => Plan { next: Next::Bridge, len: 0, to: member, slot: 0, port: NO_PORT },
            _ => plan,
        }
    }

    /// Carries on with a frame the fast path unwrapped but could not
    /// finish: as received on its tunnel interface, or on its VTEP's member.
    #[cold]
    pub(super) fn continue_unwrapped(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B, port: u16, plan: Plan) {
        pkt.set_port(port);
        self.counters.rx += 1;
        if plan.next == Next::Inner {
            self.receive_inner(cx, plan.to, pkt);
        } else {
            self.bridge_input(cx, plan.to, pkt);
        }
        self.send_vteps(cx);
    }
}

//! Every wire parser on any bytes: no panic, and what parses and emits
//! parses again to the same meaning. The first byte picks the parser.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stack::wire::{arp, ethernet, gre, icmpv4, icmpv6, ipv4, ipv4_options, ipv6, tcp, udp, vlan, vxlan, FiveTuple};
use std::net::Ipv4Addr;

fuzz_target!(|data: &[u8]| {
    let Some((&which, b)) = data.split_first() else { return };
    match which % 14 {
        0 => {
            if let Ok(f) = ethernet::EthernetFrame::new_checked(b) {
                let _ = ethernet::EthernetRepr::parse(&f);
            }
        }
        1 => {
            if let Ok(r) = arp::ArpPacket::new_checked(b).and_then(|p| arp::ArpRepr::parse(&p)) {
                let mut out = vec![0u8; arp::PACKET_LEN];
                if let Ok(mut p) = arp::ArpPacket::new_checked(&mut out[..]) {
                    r.emit(&mut p);
                }
                let again = arp::ArpPacket::new_checked(&out[..]).and_then(|p| arp::ArpRepr::parse(&p));
                assert_eq!(again, Ok(r), "ARP round trip");
            }
        }
        2 => {
            if let Ok(p) = ipv4::Ipv4Packet::new_checked(b) {
                let _ = p.verify_checksum();
                if let Ok(r) = ipv4::Ipv4Repr::parse(&p) {
                    let mut out = vec![0u8; ipv4::HEADER_LEN + r.payload_len];
                    r.emit(&mut ipv4::Ipv4Packet::new_unchecked(&mut out[..]));
                    let again = ipv4::Ipv4Packet::new_checked(&out[..]).and_then(|q| ipv4::Ipv4Repr::parse(&q));
                    assert_eq!(again, Ok(r), "IPv4 round trip");
                }
                if p.header_len() > ipv4::HEADER_LEN {
                    let _ = ipv4::check_options(p.options());
                }
            }
        }
        3 => {
            // What a router writes into options keeps them well formed.
            if ipv4::check_options(b).is_ok() && ipv4_options::inspect(b).is_ok() {
                let mut o = b.to_vec();
                let me = ipv4_options::Recorder { addr: Ipv4Addr::new(192, 0, 2, 1), time: 7 };
                ipv4_options::record(&mut o, me, |a| a.octets()[3] & 1 == 1);
                assert_eq!(ipv4::check_options(&o), Ok(()), "recorded options stay well formed");
                assert_eq!(o.len(), b.len());
            }
        }
        4 => {
            if let Ok(p) = ipv6::Ipv6Packet::new_checked(b) {
                let _ = ipv6::Ipv6Repr::parse(&p);
            }
            let _ = ipv6::walk_chain(b, b.first().is_some_and(|x| x & 1 == 1));
        }
        5 => {
            if let Ok(p) = icmpv4::Icmpv4Packet::new_checked(b) {
                let _ = icmpv4::Icmpv4Repr::parse(&p);
            }
        }
        6 => {
            if let Ok(p) = icmpv6::Icmpv6Packet::new_checked(b) {
                let _ = p.payload();
            }
            let _ = icmpv6::nd_options(b);
            let _ = icmpv6::RaHeader::parse(b);
        }
        7 => {
            let _ = tcp::TcpOptions::parse(b);
            if let Ok(p) = tcp::TcpPacket::new_checked(b) {
                let _ = p.options();
            }
        }
        8 => {
            if let Ok(p) = udp::UdpPacket::new_checked(b) {
                let _ = udp::UdpRepr::parse(&p, Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 2));
            }
        }
        9 => {
            if let Ok(t) = vlan::VlanTag::new_checked(b) {
                let _ = vlan::VlanRepr::parse(&t);
            }
        }
        10 => {
            let _ = gre::GreRepr::parse(b);
        }
        11 => {
            let _ = vxlan::parse(b);
        }
        12 => {
            let _ = FiveTuple::parse(b);
        }
        _ => {
            let _ = nat::packet::flow(b);
        }
    }
});

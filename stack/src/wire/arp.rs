//! ARP for IPv4 over Ethernet (RFC 826).

use super::{be16, put16, Error, MacAddr, Result};
use std::net::Ipv4Addr;

/// Byte offsets of the header's fields.
pub mod field {
    use std::ops::Range;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// ARP operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            o => Operation::Unknown(o),
        }
    }
}

impl From<Operation> for u16 {
    fn from(v: Operation) -> u16 {
        match v {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(o) => o,
        }
    }
}

/// A view of an ARP packet.
#[derive(Debug)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < PACKET_LEN {
            return Err(Error::Truncated);
        }
        Ok(ArpPacket { buffer })
    }
    pub fn htype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }
    pub fn ptype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE)
    }
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    pub fn operation(&self) -> Operation {
        be16(self.buffer.as_ref(), field::OPER).into()
    }
    fn mac(&self, r: std::ops::Range<usize>) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[r]);
        MacAddr(m)
    }
    fn ip(&self, r: std::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    pub fn sender_hw(&self) -> MacAddr {
        self.mac(field::SHA)
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        self.ip(field::SPA)
    }
    pub fn target_hw(&self) -> MacAddr {
        self.mac(field::THA)
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        self.ip(field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn set(&mut self, r: std::ops::Range<usize>, v: &[u8]) {
        self.buffer.as_mut()[r].copy_from_slice(v);
    }
    pub fn set_header(&mut self, op: Operation) {
        let b = self.buffer.as_mut();
        put16(b, field::HTYPE, 1);
        put16(b, field::PTYPE, 0x0800);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        put16(b, field::OPER, op.into());
    }
    pub fn set_sender(&mut self, mac: MacAddr, ip: Ipv4Addr) {
        self.set(field::SHA, &mac.0);
        self.set(field::SPA, &ip.octets());
    }
    pub fn set_target(&mut self, mac: MacAddr, ip: Ipv4Addr) {
        self.set(field::THA, &mac.0);
        self.set(field::TPA, &ip.octets());
    }
}

/// The meaning of an Ethernet/IPv4 ARP packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: Operation,
    pub sender_hw: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_hw: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Accepts only Ethernet (1) / IPv4 (0x0800) with 6/4-byte addresses.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<Self> {
        if p.htype() != 1 || p.ptype() != 0x0800 || p.hlen() != 6 || p.plen() != 4 {
            return Err(Error::Malformed);
        }
        Ok(ArpRepr {
            operation: p.operation(),
            sender_hw: p.sender_hw(),
            sender_ip: p.sender_ip(),
            target_hw: p.target_hw(),
            target_ip: p.target_ip(),
        })
    }
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ArpPacket<T>) {
        p.set_header(self.operation);
        p.set_sender(self.sender_hw, self.sender_ip);
        p.set_target(self.target_hw, self.target_ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // "Who has 10.0.1.1? Tell 10.0.1.2" as sent by Linux (tshark in the lab).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 1, 2, 0, 0, 0, 0, 0,
        0, 10, 0, 1, 1,
    ];

    #[test]
    fn parse_request_and_emit_round_trip() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        let r = ArpRepr::parse(&p).unwrap();
        assert_eq!(r.operation, Operation::Request);
        assert_eq!(r.sender_ip, Ipv4Addr::new(10, 0, 1, 2));
        assert_eq!(r.target_ip, Ipv4Addr::new(10, 0, 1, 1));
        assert_eq!(r.target_hw, MacAddr::ZERO);
        let mut out = [0u8; 28];
        r.emit(&mut ArpPacket::new_checked(&mut out[..]).unwrap());
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn truncated_rejected() {
        assert_eq!(ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn non_ethernet_ipv4_rejected() {
        for (at, v) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[at] = v;
            let p = ArpPacket::new_checked(&b[..]).unwrap();
            assert_eq!(ArpRepr::parse(&p).unwrap_err(), Error::Malformed, "byte {at}");
        }
    }

    #[test]
    fn unknown_operation_is_data() {
        let mut b = REQUEST;
        b[7] = 9;
        let r = ArpRepr::parse(&ArpPacket::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(r.operation, Operation::Unknown(9));
    }
}

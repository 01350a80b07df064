//! UDP (RFC 768).

use super::checksum;
use super::{be16, put16, Error, Result};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Byte offsets of the header's fields.
pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const PAYLOAD: usize = 8;
}

/// Length of a UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A view of a UDP datagram.
#[derive(Debug)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// A view without checks, for writing a header into `buffer` (at
    /// least [`HEADER_LEN`] bytes and the payload).
    pub fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }
    /// Checks the header fits and the length field is within the buffer
    /// and covers at least the header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(be16(b, field::LENGTH));
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > b.len() {
            return Err(Error::Truncated);
        }
        Ok(UdpPacket { buffer })
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }
    pub fn is_empty(&self) -> bool {
        self.len() as usize == HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
    /// Verifies the checksum; zero means "not computed" over IPv4 (RFC 768).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let data = &self.buffer.as_ref()[..usize::from(self.len())];
        let acc = checksum::pseudo_header_v4(src, dst, 17, self.len());
        checksum::fold(checksum::sum(acc, data)) == 0xffff
    }
    /// Verifies the checksum over IPv6, where it is mandatory (RFC 8200
    /// §8.1: a zero checksum is discarded).
    pub fn verify_checksum6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = &self.buffer.as_ref()[..usize::from(self.len())];
        self.checksum() != 0 && super::ipv6::verify_upper_checksum(src, dst, super::ip::protocol::UDP, data)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, v);
    }
    pub fn set_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    /// Computes the checksum; a result of zero is sent as 0xffff (RFC 768).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let acc = checksum::pseudo_header_v4(src, dst, 17, len);
        let c = !checksum::fold(checksum::sum(acc, &self.buffer.as_ref()[..usize::from(len)]));
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
    /// Computes the checksum over IPv6 (zero is sent as 0xffff).
    pub fn fill_checksum6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let data = &self.buffer.as_ref()[..usize::from(self.len())];
        let c = super::ipv6::upper_checksum(src, dst, super::ip::protocol::UDP, data);
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// The meaning of a UDP header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl UdpRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &UdpPacket<T>, src: Ipv4Addr, dst: Ipv4Addr) -> Result<Self> {
        if p.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        if !p.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        Ok(UdpRepr { src_port: p.src_port(), dst_port: p.dst_port(), payload_len: p.payload().len() })
    }
    /// Writes the header and, over the payload already in place, the checksum.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut UdpPacket<T>, src: Ipv4Addr, dst: Ipv4Addr) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len((HEADER_LEN + self.payload_len) as u16);
        p.fill_checksum(src, dst);
    }
    /// [`UdpRepr::emit`] over IPv6.
    pub fn emit6<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut UdpPacket<T>, src: &Ipv6Addr, dst: &Ipv6Addr) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len((HEADER_LEN + self.payload_len) as u16);
        p.fill_checksum6(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

    fn datagram() -> Vec<u8> {
        let mut b = vec![0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0, 0, b'a', b'b', b'c', b'd'];
        let mut p = UdpPacket::new_checked(&mut b[..]).unwrap();
        p.fill_checksum(SRC, DST);
        b
    }

    #[test]
    fn parse_and_round_trip() {
        let b = datagram();
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        let r = UdpRepr::parse(&p, SRC, DST).unwrap();
        assert_eq!(r, UdpRepr { src_port: 12345, dst_port: 53, payload_len: 4 });
        let mut out = b.clone();
        out[..8].fill(0);
        out[4..6].copy_from_slice(&12u16.to_be_bytes());
        r.emit(&mut UdpPacket::new_checked(&mut out[..]).unwrap(), SRC, DST);
        assert_eq!(out, b);
    }

    #[test]
    fn malformed_lengths_and_checksum() {
        let b = datagram();
        assert_eq!(UdpPacket::new_checked(&b[..7]).unwrap_err(), Error::Truncated);
        assert_eq!(UdpPacket::new_checked(&b[..11]).unwrap_err(), Error::Truncated);
        let mut short = b.clone();
        short[5] = 7;
        assert_eq!(UdpPacket::new_checked(&short[..]).unwrap_err(), Error::Malformed);
        let mut bad = b.clone();
        bad[8] ^= 1;
        let p = UdpPacket::new_checked(&bad[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, SRC, DST).unwrap_err(), Error::Checksum);
        let mut none = bad.clone();
        none[6..8].fill(0);
        assert!(UdpRepr::parse(&UdpPacket::new_checked(&none[..]).unwrap(), SRC, DST).is_ok());
    }

    #[test]
    fn ipv6_checksum_is_mandatory_and_round_trips() {
        let (a, b): (Ipv6Addr, Ipv6Addr) = ("fd00:1::2".parse().unwrap(), "fd00:1::1".parse().unwrap());
        let mut d = vec![0x30, 0x39, 0x00, 0x07, 0x00, 0x0b, 0, 0, b'a', b'b', b'c'];
        UdpPacket::new_checked(&mut d[..]).unwrap().fill_checksum6(&a, &b);
        assert!(UdpPacket::new_checked(&d[..]).unwrap().verify_checksum6(&a, &b));
        assert!(!UdpPacket::new_checked(&d[..]).unwrap().verify_checksum6(&b, &"fd00:1::3".parse().unwrap()));
        d[6..8].fill(0);
        assert!(!UdpPacket::new_checked(&d[..]).unwrap().verify_checksum6(&a, &b), "zero is not 'none' over IPv6");
    }
}

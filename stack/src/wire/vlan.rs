//! IEEE 802.1Q VLAN tags: the 4 bytes after an 0x8100 EtherType.

use super::{be16, put16, Error, EtherType, Result};

/// Byte offsets of the header's fields.
pub mod field {
    pub const TCI: usize = 0;
    pub const ETHERTYPE: usize = 2;
    pub const PAYLOAD: usize = 4;
}

/// Length of a VLAN tag.
pub const TAG_LEN: usize = field::PAYLOAD;

/// A view of an 802.1Q tag and what follows it.
#[derive(Debug)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < TAG_LEN {
            return Err(Error::Truncated);
        }
        Ok(VlanTag { buffer })
    }
    /// Priority code point (3 bits).
    pub fn pcp(&self) -> u8 {
        (be16(self.buffer.as_ref(), field::TCI) >> 13) as u8
    }
    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        be16(self.buffer.as_ref(), field::TCI) & 0x1000 != 0
    }
    /// VLAN identifier (12 bits).
    pub fn vid(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TCI) & 0x0fff
    }
    pub fn ethertype(&self) -> EtherType {
        be16(self.buffer.as_ref(), field::ETHERTYPE).into()
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanTag<T> {
    pub fn set_tci(&mut self, pcp: u8, dei: bool, vid: u16) {
        let tci = (u16::from(pcp & 7) << 13) | (u16::from(dei) << 12) | (vid & 0x0fff);
        put16(self.buffer.as_mut(), field::TCI, tci);
    }
    pub fn set_ethertype(&mut self, t: EtherType) {
        put16(self.buffer.as_mut(), field::ETHERTYPE, t.into());
    }
}

/// The meaning of a VLAN tag.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VlanRepr {
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
    pub ethertype: EtherType,
}

impl VlanRepr {
    /// Parses a tag; VID 4095 is reserved (IEEE 802.1Q §9.6).
    pub fn parse<T: AsRef<[u8]>>(t: &VlanTag<T>) -> Result<Self> {
        if t.vid() == 0x0fff {
            return Err(Error::Malformed);
        }
        Ok(VlanRepr { pcp: t.pcp(), dei: t.dei(), vid: t.vid(), ethertype: t.ethertype() })
    }
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, t: &mut VlanTag<T>) {
        t.set_tci(self.pcp, self.dei, self.vid);
        t.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tag for VLAN 100, priority 5, carrying IPv4.
    const TAG: [u8; 4] = [0xa0, 0x64, 0x08, 0x00];

    #[test]
    fn parse_emit_round_trip() {
        let t = VlanTag::new_checked(&TAG[..]).unwrap();
        let r = VlanRepr::parse(&t).unwrap();
        assert_eq!(r, VlanRepr { pcp: 5, dei: false, vid: 100, ethertype: EtherType::Ipv4 });
        let mut out = [0u8; 4];
        r.emit(&mut VlanTag::new_checked(&mut out[..]).unwrap());
        assert_eq!(out, TAG);
    }

    #[test]
    fn truncated_and_reserved_vid_rejected() {
        assert_eq!(VlanTag::new_checked(&TAG[..3]).unwrap_err(), Error::Truncated);
        let t = VlanTag::new_checked(&[0x0f, 0xff, 0x08, 0x00][..]).unwrap();
        assert_eq!(VlanRepr::parse(&t).unwrap_err(), Error::Malformed);
    }
}

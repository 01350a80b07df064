//! VXLAN (RFC 7348 §5): after UDP, an 8-byte header with the I flag and
//! a 24-bit VXLAN Network Identifier; then the inner Ethernet frame.
//!
//! ```text
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! ```

use super::{be32, Error, Result};

pub const HEADER_LEN: usize = 8;
/// The IANA port (RFC 7348 §5).
pub const PORT: u16 = 4789;
/// The I flag: the VNI is valid. It must be set (RFC 7348 §5).
pub const FLAG_I: u8 = 0x08;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;

/// The VNI of the header at the start of `b`. Reserved bits are ignored
/// on receipt, as RFC 7348 §5 asks.
pub fn parse(b: &[u8]) -> Result<u32> {
    let h = b.get(..HEADER_LEN).ok_or(Error::Truncated)?;
    if h[0] & FLAG_I == 0 {
        return Err(Error::Malformed);
    }
    Ok(be32(h, 4) >> 8)
}

/// Writes a header for `vni` into the first 8 bytes of `b`.
pub fn emit(b: &mut [u8], vni: u32) {
    if let Some(h) = b.get_mut(..HEADER_LEN) {
        h[..4].copy_from_slice(&[FLAG_I, 0, 0, 0]);
        h[4..].copy_from_slice(&((vni & MAX_VNI) << 8).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_and_needs_the_i_flag() {
        let mut b = [0xffu8; 8];
        emit(&mut b, 0x12_3456);
        assert_eq!(b, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        assert_eq!(parse(&b), Ok(0x12_3456));
        b[0] = 0;
        assert_eq!(parse(&b), Err(Error::Malformed));
        assert_eq!(parse(&b[..7]), Err(Error::Truncated));
        // Reserved bits set by a sender: ignored.
        assert_eq!(parse(&[0xff, 0xff, 0xff, 0xff, 0, 0, 7, 0xff]), Ok(7));
    }
}

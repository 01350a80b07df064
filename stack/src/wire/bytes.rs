//! Numbers in packet bytes, read and written in one place.
//!
//! `be16`..`put32` index directly: for fields the caller has bounds-checked
//! (a view's `new_checked`, a fixed-size array). `get_*` and `set_*` check
//! the bounds themselves: a read out of range is `None`, a write out of
//! range does nothing. `ne16` and `set_ne16` keep the bytes as they sit,
//! for checksum arithmetic without byte swaps (RFC 1624).

/// The big-endian u16 at `at`; the caller has checked the length.
#[inline(always)]
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The big-endian u32 at `at`; the caller has checked the length.
#[inline(always)]
pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes `v` big-endian at `at`; the caller has checked the length.
#[inline(always)]
pub fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes `v` big-endian at `at`; the caller has checked the length.
#[inline(always)]
pub fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The big-endian u16 at `at`, if the bytes are there.
#[inline(always)]
pub fn get_be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The big-endian u32 at `at`, if the bytes are there.
#[inline(always)]
pub fn get_be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// Writes `v` big-endian at `at`, if the bytes are there.
#[inline(always)]
pub fn set_be16(b: &mut [u8], at: usize, v: u16) {
    if let Some(d) = b.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes `v` big-endian at `at`, if the bytes are there.
#[inline(always)]
pub fn set_be32(b: &mut [u8], at: usize, v: u32) {
    if let Some(d) = b.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// The 16 bits at `at` as they sit (0 if out of range).
#[inline(always)]
pub fn ne16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_ne_bytes([x, y]),
        _ => 0,
    }
}

/// Writes the 16 bits `v` as they sit at `at`, if the bytes are there.
#[inline(always)]
pub fn set_ne16(b: &mut [u8], at: usize, v: u16) {
    if let Some(d) = b.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_reads_and_writes_stop_at_the_end() {
        let mut b = [0x12, 0x34, 0x56, 0x78, 0x9a];
        assert_eq!((be16(&b, 0), be32(&b, 1)), (0x1234, 0x3456_789a));
        assert_eq!((get_be16(&b, 3), get_be16(&b, 4)), (Some(0x789a), None));
        assert_eq!((get_be32(&b, 1), get_be32(&b, 2)), (Some(0x3456_789a), None));
        set_be16(&mut b, 4, 0xffff);
        set_be32(&mut b, 2, 0xffff_ffff);
        assert_eq!(b, [0x12, 0x34, 0x56, 0x78, 0x9a], "out-of-range writes change nothing");
        let v = ne16(&b, 0);
        set_ne16(&mut b, 3, v);
        assert_eq!(b, [0x12, 0x34, 0x56, 0x12, 0x34]);
        assert_eq!(ne16(&b, 4), 0);
    }
}

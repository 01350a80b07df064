//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

use std::net::Ipv4Addr;

/// One's-complement sum of `data` added to `acc`, folded to 16 bits (as
/// a u32, so callers may keep adding). Sums 32-bit words into a 64-bit
/// accumulator: since 2^16 ≡ 1 (mod 2^16 - 1), that is the same sum as
/// 16-bit words (RFC 1071 §2(B)), with a quarter of the additions. The
/// words are read in the machine's byte order and the folded sum swapped
/// once at the end (§2(B): the sum is the same, byte-swapped), which
/// leaves the loop free of byte swaps for the compiler to vectorize.
#[inline]
pub fn sum(acc: u32, data: &[u8]) -> u32 {
    // Long payloads (TCP segments) on a CPU with AVX2: the same loop,
    // compiled for it, adds eight words a step rather than two.
    #[cfg(target_arch = "x86_64")]
    if data.len() >= 512 && std::arch::is_x86_feature_detected!("avx2") {
        // The crate's one unsafe call: a function compiled for AVX2 may
        // only run where the CPU has it, which was just checked.
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX2, the only requirement of sum_avx2.
        return unsafe { sum_avx2(acc, data) };
    }
    sum_words(acc, data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn sum_avx2(acc: u32, data: &[u8]) -> u32 {
    sum_words(acc, data)
}

#[inline(always)]
fn sum_words(acc: u32, data: &[u8]) -> u32 {
    let mut a = 0u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        a += u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
    }
    a = (a & 0xFFFF_FFFF) + (a >> 32);
    a = (a & 0xFFFF_FFFF) + (a >> 32);
    let mut b = u64::from(u16::from_be(fold(a as u32))) + u64::from(acc);
    match *chunks.remainder() {
        [x, y, z] => b += u64::from(u16::from_be_bytes([x, y])) + (u64::from(z) << 8),
        [x, y] => b += u64::from(u16::from_be_bytes([x, y])),
        [x] => b += u64::from(x) << 8,
        _ => {}
    }
    b = (b & 0xFFFF_FFFF) + (b >> 32);
    u32::from(fold(b as u32))
}

/// Folds a 32-bit accumulator to 16 bits. Two end-around carries are
/// always enough: the first leaves at most 0x1fffe, the second at most
/// 0xffff (no loop, no branch).
#[inline(always)]
pub fn fold(acc: u32) -> u16 {
    let a = (acc & 0xFFFF) + (acc >> 16);
    ((a & 0xFFFF) + (a >> 16)) as u16
}

/// The checksum of `data`: complement of the folded sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// True when a 20-byte IPv4 header (no options) verifies: its 16-bit
/// words sum to all ones. Folding keeps a sum's value modulo 2^16 - 1
/// and yields all ones for a nonzero multiple of it, zero only for zero,
/// so the words verify exactly when their plain sum is a nonzero
/// multiple of 2^16 - 1. Summed as native-endian 32-bit words (2^16 ≡ 1),
/// with no byte swaps: a swapped word is 2^8 times the word, modulo
/// 2^16 - 1, and 2^8 is prime to it. (Wider words measured worse: the
/// compiler, knowing some bytes from earlier checks, took the loads
/// apart.)
#[inline(always)]
pub fn header_ok(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let a = w(0) + w(4) + w(8) + w(12) + w(16);
    // Times the inverse of 2^16 - 1 (mod 2^64), the multiples k(2^16 - 1)
    // become k, and every other number a larger one: one multiply and
    // one comparison test for a multiple, and k ≠ 0 with it.
    a.wrapping_mul(FFFF_INVERSE).wrapping_sub(1) < u64::MAX / 0xFFFF
}

/// The inverse of 2^16 - 1 modulo 2^64 (Newton's iteration: each step
/// doubles the bits that are right, from three).
const FFFF_INVERSE: u64 = {
    let mut x: u64 = 0xFFFF;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(0xFFFFu64.wrapping_mul(x)));
        i += 1;
    }
    x
};

/// The one's-complement change (RFC 1624 eqn. 3's ~m + m', unfolded)
/// of a 32-bit field going from `old` to `new`, for [`apply`]. Any byte
/// order will do, if the checksum is read and written in the same one
/// (RFC 1071 §2(B)): the fast path works on the bytes as they sit, with
/// no swaps.
#[inline(always)]
pub fn delta32(old: u32, new: u32) -> u32 {
    u32::from(!(old as u16)) + u32::from(!((old >> 16) as u16)) + (new & 0xFFFF) + (new >> 16)
}

/// The change of a 16-bit field, as [`delta32`].
#[inline(always)]
pub fn delta16(old: u16, new: u16) -> u32 {
    u32::from(!old) + u32::from(new)
}

/// Checksum `hc` after the changes summed in `delta` (at most a few
/// [`delta32`]s): HC' = ~(~HC + Σ(~m + m')), RFC 1624 eqn. 3.
#[inline(always)]
pub fn apply(hc: u16, delta: u32) -> u16 {
    !fold(u32::from(!hc) + delta)
}

/// [`apply`] for a change already folded to 16 bits: the sum is below
/// 0x1fffe, so one end-around carry is enough.
#[inline(always)]
pub fn apply_folded(hc: u16, delta: u16) -> u16 {
    let a = u32::from(!hc) + u32::from(delta);
    !((a + (a >> 16)) as u16)
}

/// Updates checksum `hc` for a TTL decremented by one (the high byte of
/// its 16-bit word): ~m + m' is 0xfeff whatever the word was, so eqn. 3
/// of RFC 1624 is HC' = ~(~HC + 0xfeff). `hc` and the result are as the
/// bytes sit, read in the machine's order (RFC 1071 §2(B)): no swaps.
#[inline(always)]
pub fn update_ttl(hc: u16) -> u16 {
    apply_folded(hc, 0xFEFFu16.to_be())
}

/// Sum of the IPv4 pseudo-header for TCP/UDP (RFC 768, RFC 9293 §3.1).
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u32 {
    let mut acc = sum(0, &src.octets());
    acc = sum(acc, &dst.octets());
    acc + u32::from(protocol) + u32::from(length)
}

/// Updates checksum `hc` after a 16-bit field changed from `old` to `new`:
/// HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3), which never yields the -0
/// ambiguity of eqn. 2.
#[inline(always)]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!hc) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

/// Updates checksum `hc` after a 32-bit field changed (two 16-bit words).
#[inline(always)]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let acc = u32::from(!hc) + u32::from(!(old >> 16) as u16) + u32::from(!(old as u16)) + (new >> 16) + (new & 0xFFFF);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffff_inverse_is_the_inverse() {
        assert_eq!(FFFF_INVERSE.wrapping_mul(0xFFFF), 1);
    }

    /// `header_ok` agrees with the checksum's definition, and
    /// `update_ttl` with a full recomputation, over many headers.
    #[test]
    fn header_check_and_ttl_update_agree_with_the_definition() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20000 {
            let mut h = [0u8; 20];
            for b in h.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Every TTL, and the all-zero and all-ones checksum words.
            h[8] = (x >> 16) as u8 | 1;
            assert_eq!(header_ok(&h), checksum(&h) == 0, "{h:?}");
            h[10..12].copy_from_slice(&[0, 0]);
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            assert!(header_ok(&h));
            h[8] -= 1;
            let c2 = update_ttl(u16::from_ne_bytes(c.to_be_bytes()));
            h[10..12].copy_from_slice(&c2.to_ne_bytes());
            assert!(header_ok(&h), "{h:?}");
            h[(x % 20) as usize] ^= 1 << ((x >> 8) % 8);
            assert!(!header_ok(&h) || checksum(&h) == 0);
        }
        assert!(!header_ok(&[0; 20]));
        // All ones: a sum of words that folds to all ones, not to zero.
        assert!(header_ok(&[0xFF; 20]) && checksum(&[0xFF; 20]) == 0);
    }

    /// `apply` of `delta32` and `delta16`, on bytes as they sit, agrees
    /// with `update32` and `update16` on big-endian values, and
    /// `apply_folded` of the folded sum with `apply`.
    #[test]
    fn deltas_in_either_byte_order_agree_with_the_updates() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (hc, old, new) = (x as u16, (x >> 16) as u32, (x >> 32) as u32);
            let (op, np) = ((x >> 8) as u16, (x >> 40) as u16);
            let want = update16(update32(hc, old, new), op, np);
            let d = delta32(old.to_be(), new.to_be()) + delta16(op.to_be(), np.to_be());
            assert_eq!(apply(hc.to_be(), d), want.to_be());
            assert_eq!(apply_folded(hc.to_be(), fold(d)), want.to_be());
        }
        // Every checksum with the largest folded changes.
        for hc in 0..=u16::MAX {
            for d in [0, 1, 0xfffe, 0xffff] {
                assert_eq!(apply_folded(hc, d), apply(hc, u32::from(d)), "{hc:x} {d:x}");
            }
        }
    }

    // RFC 1071 §3 worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn word_sum_matches_16_bit_reference() {
        let mut x = 0x1234_5678u32;
        // Short ones, and long ones across the AVX2 loop's threshold.
        for len in (0..200usize).chain([511, 512, 513, 1448, 8948, 9001]) {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut r = 0u32;
            for c in data.chunks(2) {
                r += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            assert_eq!(fold(sum(7, &data)), fold(r + 7), "len {len}");
        }
        assert_eq!(fold(sum(0, &[0xff; 65536])), 0xffff);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(checksum(&[0x12, 0x34, 0x56]), checksum(&[0x12, 0x34, 0x56, 0x00]));
    }

    #[test]
    fn incremental_update_matches_recompute_rfc1624() {
        let mut hdr = [
            0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x02, 0xcb, 0x00,
            0x71, 0x02,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        for ttl in (1..=64u8).rev() {
            let old = u16::from_be_bytes([hdr[8], hdr[9]]);
            hdr[8] = ttl - 1;
            let new = u16::from_be_bytes([hdr[8], hdr[9]]);
            let hc = u16::from_be_bytes([hdr[10], hdr[11]]);
            let upd = update16(hc, old, new);
            hdr[10..12].copy_from_slice(&upd.to_be_bytes());
            assert_eq!(checksum(&hdr), 0, "ttl {ttl}");
        }
        let old = u32::from_be_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
        hdr[12..16].copy_from_slice(&[192, 0, 2, 77]);
        let hc = u16::from_be_bytes([hdr[10], hdr[11]]);
        let upd = update32(hc, old, u32::from_be_bytes([192, 0, 2, 77]));
        hdr[10..12].copy_from_slice(&upd.to_be_bytes());
        assert_eq!(checksum(&hdr), 0);
    }
}

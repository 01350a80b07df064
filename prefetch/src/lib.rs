//! A cache prefetch hint on a reference: the one `unsafe` call `stack`
//! and `nat` need for cross-packet prefetching (a burst's
//! lookups for frames further on are started while the current one is
//! processed, as VPP's dual loops and l3fwd's do), kept out of those
//! crates, which deny unsafe code.
//!
//! Stable Rust has no safe prefetch (`core::hint::prefetch_read` is
//! unstable), and a plain load used as one blocks retirement on a miss,
//! which is what a prefetch is for avoiding.
#![no_std]

/// Asks the CPU to bring the cache line holding `r` into all cache
/// levels (PREFETCHT0 on x86_64; nothing elsewhere). A hint only: it
/// reads nothing the program sees and never faults.
#[inline(always)]
pub fn prefetch<T: ?Sized>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never faults and changes no architectural state,
    // whatever the address; `r` is a live reference besides.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>((r as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    #[test]
    fn prefetching_changes_nothing() {
        let v = [7u64; 64];
        prefetch(&v);
        prefetch(&v[63]);
        prefetch("a str");
        assert_eq!(v, [7u64; 64]);
    }
}

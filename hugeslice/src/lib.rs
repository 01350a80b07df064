//! A fixed-size slice of plain values on transparent huge pages: the
//! home of the big per-worker tables (NAT sessions, their hash indexes,
//! the expiry wheel), kept out of `nat` and `stack`, which deny unsafe
//! code.
//!
//! A lookup in a table of millions of entries lands on a different
//! 4 KiB page nearly every time, and once the pages a burst's flows
//! touch outnumber the TLB, a lookup can wait for a page walk before its
//! cache line; on 2 MiB pages a million sessions' index spans a handful
//! of TLB entries. Measured with a million NAT sessions live
//! (`benches/run.sh nat44`'s configuration): 2-4% more packets a
//! second. Most of what a big table costs over a small one is cache
//! misses, which pages do not change (the session index's first probe
//! took 19% of the worker's time on plain pages, 14% on huge ones, 7%
//! with eight thousand sessions). DPDK keeps its own memory on
//! hugetlbfs; these tables live on the Rust heap, so they ask the
//! kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`, honoured
//! when `/sys/kernel/mm/transparent_hugepage/enabled` is `always` or
//! `madvise`; elsewhere they are plain pages and work the same).
//!
//! Tables are built once by the control plane, never grow, and are
//! dropped by it: nothing here runs per packet.
#![no_std]

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// A huge page's size on x86_64 and aarch64 (with 4 KiB base pages).
pub const HUGE_PAGE: usize = 2 << 20;

/// Tables smaller than this are mapped plainly: a huge page would be
/// mostly empty.
const HUGE_FROM: usize = HUGE_PAGE / 2;

/// `len` values of `T`, initialised to one value, in memory of their own
/// (an anonymous mapping, on huge pages where the kernel gives them).
pub struct HugeSlice<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    /// The mapping: its start and length (0: nothing mapped).
    map: *mut libc::c_void,
    map_len: usize,
    _own: PhantomData<T>,
}

// SAFETY: a HugeSlice owns its values as a Box<[T]> does; moving it to
// another thread moves that ownership, and sharing it shares only &[T].
unsafe impl<T: Copy + Send> Send for HugeSlice<T> {}
// SAFETY: as above: &HugeSlice gives nothing but &[T].
unsafe impl<T: Copy + Sync> Sync for HugeSlice<T> {}

impl<T: Copy> HugeSlice<T> {
    /// `len` copies of `value`. Aborts when the memory cannot be had, as
    /// `vec![value; len]` does.
    pub fn new(len: usize, value: T) -> HugeSlice<T> {
        let bytes = len.checked_mul(core::mem::size_of::<T>()).unwrap_or_else(|| overflow());
        if bytes == 0 {
            return HugeSlice {
                ptr: NonNull::dangling(),
                len,
                map: core::ptr::null_mut(),
                map_len: 0,
                _own: PhantomData,
            };
        }
        let huge = bytes >= HUGE_FROM;
        let page = if huge { HUGE_PAGE } else { 4096 };
        // A huge table's start is aligned to a huge page: map one more
        // and trim, so no huge page is lost at either end.
        let want = bytes.div_ceil(page).saturating_mul(page);
        let map_len = if huge { want.saturating_add(HUGE_PAGE) } else { want };
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choosing touches no memory of ours.
        let map = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            out_of_memory(map_len);
        }
        let (mut map, mut map_len) = (map, map_len);
        if huge {
            let start = map as usize;
            let aligned = start.next_multiple_of(HUGE_PAGE);
            let head = aligned - start;
            let tail = map_len - head - want;
            // SAFETY: both ranges lie inside the mapping just made, at
            // page boundaries (mmap returns page-aligned addresses, and
            // `want` and HUGE_PAGE are multiples of the page), and are
            // not used again.
            unsafe {
                if head > 0 {
                    libc::munmap(map, head);
                }
                if tail > 0 {
                    libc::munmap((aligned + want) as *mut libc::c_void, tail);
                }
            }
            (map, map_len) = (aligned as *mut libc::c_void, want);
            #[cfg(target_os = "linux")]
            // SAFETY: advice on a range we own; it changes no contents.
            // A kernel without transparent huge pages refuses it, and the
            // table stays on plain pages.
            unsafe {
                libc::madvise(map, map_len, libc::MADV_HUGEPAGE);
            }
        }
        let ptr = map.cast::<T>();
        for i in 0..len {
            // SAFETY: i < len, and the mapping holds len values of T at a
            // page-aligned start (aligned for any T).
            unsafe { ptr.add(i).write(value) };
        }
        // SAFETY: mmap never returns null on success.
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        HugeSlice { ptr, len, map, map_len, _own: PhantomData }
    }

    /// The values' length in bytes.
    pub fn bytes(&self) -> usize {
        self.len * core::mem::size_of::<T>()
    }
}

impl<T: Copy> Deref for HugeSlice<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: ptr holds len initialised values for as long as self
        // lives (a dangling, aligned pointer for a zero-sized slice).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for HugeSlice<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref, and &mut self makes the borrow unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for HugeSlice<T> {
    fn drop(&mut self) {
        if self.map_len > 0 {
            // SAFETY: the mapping is ours and no borrow of it outlives
            // self. T is Copy: there is nothing to drop in it.
            unsafe {
                libc::munmap(self.map, self.map_len);
            }
        }
    }
}

impl<T: Copy + core::fmt::Debug> core::fmt::Debug for HugeSlice<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HugeSlice").field("len", &self.len).finish_non_exhaustive()
    }
}

#[cold]
fn overflow() -> ! {
    panic!("HugeSlice: table size overflows usize")
}

#[cold]
fn out_of_memory(bytes: usize) -> ! {
    panic!("HugeSlice: cannot map {bytes} bytes")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn holds_the_value_everywhere_and_takes_writes() {
        for len in [0, 1, 1000, HUGE_FROM / 8 - 1, HUGE_FROM / 8, 3 * HUGE_PAGE / 8 + 5] {
            let mut s = HugeSlice::new(len, 7u64);
            assert_eq!(s.len(), len);
            assert!(s.iter().all(|&v| v == 7));
            if let Some(last) = s.last_mut() {
                *last = 9;
            }
            if len > 0 {
                assert_eq!(s[len - 1], 9);
                assert_eq!(s.bytes(), len * 8);
            }
        }
    }

    #[test]
    fn a_huge_table_starts_on_a_huge_page() {
        let s = HugeSlice::new(HUGE_PAGE, 0u8);
        assert_eq!(s.as_ptr() as usize & (HUGE_PAGE - 1), 0);
        let small = HugeSlice::new(100, [0u32; 3]);
        assert_eq!(small.as_ptr() as usize & 4095, 0);
    }

    #[test]
    fn zero_sized_values_need_no_memory() {
        let s = HugeSlice::new(1 << 40, ());
        assert_eq!(s.len(), 1 << 40);
    }
}

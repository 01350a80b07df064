//! Fragments as they travel on `net_af_packet` ports.
//!
//! DPDK 22.11's af_packet PMD joins each of its sockets to a fanout group
//! with `PACKET_FANOUT_FLAG_DEFRAG`, so the kernel reassembles IPv4
//! fragments before the gateway sees them, and a datagram bigger than a
//! ring frame then arrives cut short. A router must see fragments as they
//! are on the wire: it forwards them as they came and reassembles only
//! what is addressed to itself, within its own bounds.
//!
//! So `gatewayd` defines `setsockopt` itself, which the PMD linked into it
//! calls instead of libc's (and, exported from the binary by
//! `mgmt/build.rs`, so does the PMD of a shared build, which EAL loads as
//! a plugin); it clears that one flag and passes every call, that one
//! included, to the kernel unchanged otherwise.

use libc::{c_int, c_void, socklen_t};

/// `PACKET_FANOUT` (linux/if_packet.h): the socket option.
const PACKET_FANOUT: c_int = 18;
/// `PACKET_FANOUT_FLAG_DEFRAG`, in the flags half of the fanout argument.
const FANOUT_FLAG_DEFRAG: u16 = 0x8000;

/// `setsockopt(2)`, without the fanout's defragmentation.
///
/// # Safety
/// As `setsockopt(2)`: `val` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int {
    let fanout = level == libc::SOL_PACKET && name == PACKET_FANOUT && !val.is_null();
    if fanout && (len == 4 || len == 8) {
        // The argument is an int (group id in the low half, mode and
        // flags in the high half) or `struct fanout_args` (u16 id, u16
        // type_flags, u32 max_num_members); the flags are a native u16
        // at bytes 2..4 of the int on little-endian and of the struct.
        let mut arg = [0u8; 8];
        // SAFETY: the caller gives `len` readable bytes at `val`.
        unsafe { std::ptr::copy_nonoverlapping(val.cast::<u8>(), arg.as_mut_ptr(), len as usize) };
        let flags_at = if len == 4 && cfg!(target_endian = "big") { 0 } else { 2 };
        let flags = u16::from_ne_bytes([arg[flags_at], arg[flags_at + 1]]) & !FANOUT_FLAG_DEFRAG;
        arg[flags_at..flags_at + 2].copy_from_slice(&flags.to_ne_bytes());
        // SAFETY: `arg` holds `len` initialised bytes.
        return unsafe { raw(fd, level, name, arg.as_ptr().cast(), len) };
    }
    // SAFETY: the caller's arguments, as they came.
    unsafe { raw(fd, level, name, val, len) }
}

/// The system call itself (libc's wrapper would be this file's function).
unsafe fn raw(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int {
    // SAFETY: as setsockopt(2); libc's syscall() sets errno on failure.
    unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, val, len) as c_int }
}

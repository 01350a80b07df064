//! DPDK's Environment Abstraction Layer: initialised once per process.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Errors starting DPDK.
#[derive(Debug, thiserror::Error)]
pub enum EalError {
    #[error("the EAL was already initialised in this process (DPDK allows one init per process)")]
    AlreadyInitialised,
    #[error("EAL argument {0:?} contains a NUL byte")]
    BadArgument(String),
    #[error("rte_eal_init failed: {0} (EAL arguments: {1})")]
    Init(String, String),
}

/// The initialised EAL. Dropping it runs `rte_eal_cleanup`; ports and
/// mempools must be gone by then.
#[derive(Debug)]
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Initialises DPDK with `args` (without the program name).
    pub fn init(args: &[String]) -> Result<Eal, EalError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(EalError::AlreadyInitialised);
        }
        let mut owned = vec![CString::new("gatewayd").map_err(|_| EalError::BadArgument("gatewayd".into()))?];
        for a in args {
            owned.push(CString::new(a.as_str()).map_err(|_| EalError::BadArgument(a.clone()))?);
        }
        // rte_eal_init may permute argv; it gets its own array of pointers
        // into strings that outlive the call (EAL keeps some of them).
        let mut argv: Vec<*mut libc::c_char> = owned.iter().map(|c| c.as_ptr() as *mut _).collect();
        // SAFETY: argv points to argc valid NUL-terminated strings; they are
        // leaked below because EAL may keep pointers into them.
        let rc = unsafe { dpdk_sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        std::mem::forget(owned);
        if rc < 0 {
            INITIALISED.store(false, Ordering::SeqCst);
            return Err(EalError::Init(crate::rte_error(crate::rte_errno()), args.join(" ")));
        }
        Ok(Eal { _private: () })
    }

    /// TSC ticks per second.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: valid after rte_eal_init.
        unsafe { dpdk_sys::rte_get_tsc_hz() }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: called once, after every DPDK object this process made
        // has been released (the owner drops ports and pools first).
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }
}

/// Reads the TSC.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // The instruction itself on x86_64: DPDK's rte_rdtsc is an inline C
    // function, reachable from Rust only through an out-of-line wrapper.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the time-stamp counter; no memory is touched.
    return unsafe { core::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: reads a CPU counter; no memory is touched.
    return unsafe { dpdk_sys::rte_rdtsc() };
}

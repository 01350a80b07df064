//! The safe DPDK layer and the workers.
//!
//! [`Eal`] owns DPDK's environment, [`Mempool`] and [`Port`] its buffers and
//! devices, [`Mbuf`] one packet buffer (freed on drop). [`Dataplane`] starts
//! one pinned worker thread per configured core; each runs the burst loop
//! over its RX queue on every port, through the `stack` router.
//!
//! Every `unsafe` block states why it holds. The per-packet path neither
//! allocates, locks nor panics: buffers and queues are sized at start.

pub mod af_packet;
pub mod eal;
mod handoff;
pub mod mbuf;
pub mod port;
pub mod punt;
pub mod stats;
pub mod worker;

pub use eal::{Eal, EalError};
pub use mbuf::{Mbuf, Mempool};
pub use port::{ring_pair, LinkStatus, Port, PortConfig, PortStats};
pub use punt::{PuntFrame, PuntQueues};
pub use stats::{NatMailbox, NatSlot, TableDump, WorkerStats};
pub use worker::{Dataplane, WorkerConfig};

/// The last DPDK error on this thread, as text.
pub(crate) fn rte_error(code: i32) -> String {
    let code = if code < 0 { -code } else { code };
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string for any errno value.
    unsafe { std::ffi::CStr::from_ptr(dpdk_sys::rte_strerror(code)) }.to_string_lossy().into_owned()
}

/// `rte_errno` of the calling thread.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: the shim reads DPDK's per-thread errno; no preconditions.
    unsafe { dpdk_sys::gw_rte_errno() }
}

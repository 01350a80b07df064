//! How the management plane reads the NICs: one seam, used by the API's
//! port resources and by `/metrics`, so both show the same counters and
//! tests can stand in for DPDK.

use dataplane::{LinkStatus, PortStats};

/// Reads a port's NIC counters and link state by DPDK port id.
#[derive(Copy, Clone)]
pub struct NicReader {
    pub stats: fn(u16) -> PortStats,
    pub link: fn(u16) -> LinkStatus,
}

impl NicReader {
    /// The running ports, through DPDK's ethdev API.
    pub const DPDK: NicReader = NicReader { stats: dataplane::port::port_stats, link: dataplane::port::port_link };
}

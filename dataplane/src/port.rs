//! Ethernet ports: configuration, start/stop, MAC, stats and link state.

use crate::mbuf::Mempool;
use dpdk_sys as ffi;
use stack::wire::MacAddr;
use std::ffi::CString;

/// How to bring a port up.
#[derive(Clone, Debug)]
pub struct PortConfig {
    /// DPDK device name (`net_af_packet0`, `0000:01:00.0`).
    pub device: String,
    /// RX and TX queues (one per worker).
    pub queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Receive every frame, whatever its destination MAC.
    pub promiscuous: bool,
    /// MAC to use instead of the device's own.
    pub mac: Option<MacAddr>,
}

/// Errors bringing a port up.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("port device {0:?} not found (is it on the EAL command line, as --vdev or -a?)")]
    NotFound(String),
    #[error("port {device}: {what} failed: {why}")]
    Call { device: String, what: &'static str, why: String },
}

/// NIC counters (`rte_eth_stats`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Dropped by the NIC because RX queues were full.
    pub rx_missed: u64,
    /// RX failures for lack of mbufs.
    pub rx_nombuf: u64,
}

/// Link state.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// A configured, started port. Stopped and closed on drop.
#[derive(Debug)]
pub struct Port {
    id: u16,
    device: String,
    mac: MacAddr,
    queues: u16,
}

fn check(device: &str, what: &'static str, rc: i32) -> Result<(), PortError> {
    if rc < 0 {
        Err(PortError::Call { device: device.into(), what, why: crate::rte_error(rc) })
    } else {
        Ok(())
    }
}

/// Makes two ports, `a` and `b`, joined by a pair of rings (DPDK's
/// net_ring): what one sends the other receives, a cable in memory. For
/// benchmarks of two stacks talking. Their device names, to bring each
/// up with [`Port::start`]: `net_ring_` and `a` or `b`.
pub fn ring_pair(a: &str, b: &str) -> Result<(String, String), PortError> {
    let (ca, cb) = (CString::new(a), CString::new(b));
    let (Ok(ca), Ok(cb)) = (ca, cb) else { return Err(PortError::NotFound(format!("{a}, {b}"))) };
    let (mut pa, mut pb) = (0u16, 0u16);
    // SAFETY: valid C strings and out-pointers; EAL is initialised (the
    // caller holds the Eal).
    let rc = unsafe { ffi::gw_ring_pair(ca.as_ptr(), cb.as_ptr(), 1024, 0, &mut pa, &mut pb) };
    check(a, "ring pair", rc)?;
    Ok((format!("net_ring_{a}"), format!("net_ring_{b}")))
}

impl Port {
    /// Configures queues on `pool`, sets MAC and promiscuity, and starts.
    pub fn start(cfg: &PortConfig, pool: &Mempool) -> Result<Port, PortError> {
        let dev = cfg.device.as_str();
        let cname = CString::new(dev).map_err(|_| PortError::NotFound(dev.into()))?;
        let mut id = 0u16;
        // SAFETY: valid C string and out-pointer.
        if unsafe { ffi::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } != 0 {
            return Err(PortError::NotFound(dev.into()));
        }
        let mut info = ffi::rte_eth_dev_info::default();
        // SAFETY: valid port id and out-pointer.
        check(dev, "rte_eth_dev_info_get", unsafe { ffi::rte_eth_dev_info_get(id, &mut info) })?;
        let queues = cfg.queues.min(info.max_rx_queues).min(info.max_tx_queues).max(1);
        if queues < cfg.queues {
            return Err(PortError::Call {
                device: dev.into(),
                what: "queue setup",
                why: format!("{} workers need {} queues; the device has {}", cfg.queues, cfg.queues, queues),
            });
        }
        let conf = ffi::rte_eth_conf::default();
        // SAFETY: valid port, queue counts within the device's limits.
        check(dev, "rte_eth_dev_configure", unsafe { ffi::rte_eth_dev_configure(id, queues, queues, &conf) })?;
        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid port and out-pointers.
        check(dev, "adjust descriptors", unsafe { ffi::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nrx, &mut ntx) })?;
        // SAFETY: valid port id.
        let socket = unsafe { ffi::rte_eth_dev_socket_id(id) }.max(0) as u32;
        for q in 0..queues {
            // SAFETY: queue index below the configured count; the pool
            // outlives the port (the owner drops ports first).
            check(dev, "rx queue setup", unsafe {
                ffi::rte_eth_rx_queue_setup(id, q, nrx, socket, std::ptr::null(), pool.as_ptr())
            })?;
            // SAFETY: as above.
            check(dev, "tx queue setup", unsafe { ffi::rte_eth_tx_queue_setup(id, q, ntx, socket, std::ptr::null()) })?;
        }
        let mut promiscuous = cfg.promiscuous;
        if let Some(mac) = cfg.mac {
            let mut a = ffi::rte_ether_addr { addr_bytes: mac.0 };
            // SAFETY: valid port and address. Devices that cannot change
            // their MAC (pcap, af_packet) get promiscuous mode instead and
            // the gateway filters by the configured MAC in software.
            if unsafe { ffi::rte_eth_dev_default_mac_addr_set(id, &mut a) } != 0 {
                promiscuous = true;
            }
        }
        // SAFETY: configured port.
        check(dev, "rte_eth_dev_start", unsafe { ffi::rte_eth_dev_start(id) })?;
        if promiscuous {
            // SAFETY: started port. Not every vdev supports it; the
            // frames it receives are then what the device delivers anyway.
            let _ = unsafe { ffi::rte_eth_promiscuous_enable(id) };
        }
        let mac = match cfg.mac {
            Some(m) => m,
            None => {
                let mut a = ffi::rte_ether_addr::default();
                // SAFETY: valid port and out-pointer.
                check(dev, "rte_eth_macaddr_get", unsafe { ffi::rte_eth_macaddr_get(id, &mut a) })?;
                MacAddr(a.addr_bytes)
            }
        };
        Ok(Port { id, device: dev.into(), mac, queues })
    }

    pub fn id(&self) -> u16 {
        self.id
    }
    pub fn device(&self) -> &str {
        &self.device
    }
    /// The MAC the gateway uses on this port.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }
    pub fn queues(&self) -> u16 {
        self.queues
    }

    /// Reads the NIC counters.
    pub fn stats(&self) -> PortStats {
        port_stats(self.id)
    }

    /// Reads the link state without waiting.
    pub fn link(&self) -> LinkStatus {
        port_link(self.id)
    }
}

/// Reads a port's link state by id without waiting (safe from any thread).
pub fn port_link(id: u16) -> LinkStatus {
    let mut l = ffi::rte_eth_link::default();
    // SAFETY: out-pointer valid; an invalid id returns an error, leaving "down".
    unsafe { ffi::rte_eth_link_get_nowait(id, &mut l) };
    LinkStatus { up: l.link_status() != 0, speed_mbps: l.link_speed, full_duplex: l.link_duplex() != 0 }
}

/// Reads a port's counters by id (safe from any thread).
pub fn port_stats(id: u16) -> PortStats {
    let mut s = ffi::rte_eth_stats::default();
    // SAFETY: out-pointer valid; an invalid id returns an error, leaving zeros.
    unsafe { ffi::rte_eth_stats_get(id, &mut s) };
    PortStats {
        rx_packets: s.ipackets,
        tx_packets: s.opackets,
        rx_bytes: s.ibytes,
        tx_bytes: s.obytes,
        rx_errors: s.ierrors,
        tx_errors: s.oerrors,
        rx_missed: s.imissed,
        rx_nombuf: s.rx_nombuf,
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: no worker polls the port any more (the owner joins them
        // first); stop then close releases its queues.
        unsafe {
            ffi::rte_eth_dev_stop(self.id);
            ffi::rte_eth_dev_close(self.id);
        }
    }
}

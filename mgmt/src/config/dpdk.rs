//! The `dpdk`, `workers` and `ports` sections: EAL arguments, worker
//! cores, and the ports with their devices.

use super::*;

/// DPDK environment settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dpdk {
    /// Extra EAL arguments, e.g. `["--no-huge", "-m", "512"]`. The gateway
    /// adds `--vdev`/`-a` for each port, and `-l 0` unless a core list is given.
    #[serde(default)]
    pub eal_args: Vec<String>,
    /// Mbufs in the packet pool (2^n - 1 is most memory-efficient).
    #[serde(default = "default_mbufs")]
    pub mbufs: u32,
}

fn default_mbufs() -> u32 {
    16383
}

impl Default for Dpdk {
    fn default() -> Self {
        Dpdk { eal_args: vec![], mbufs: default_mbufs() }
    }
}

/// Worker threads.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Workers {
    /// CPU cores to run workers on, one worker per core.
    #[serde(default = "default_cores")]
    pub cores: Vec<usize>,
    /// Microseconds a worker sleeps after 1024 empty polls in a row; 0
    /// (the default) polls without pause, as a production gateway should.
    #[serde(default)]
    pub idle_sleep_us: u32,
}

fn default_cores() -> Vec<usize> {
    vec![1]
}

impl Default for Workers {
    fn default() -> Self {
        Workers { cores: default_cores(), idle_sleep_us: 0 }
    }
}

/// A network port.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortConf {
    /// Name that interfaces refer to.
    pub name: String,
    /// PCI address of a DPDK-bound NIC, e.g. `0000:01:00.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci: Option<String>,
    /// DPDK virtual device string, e.g. `net_af_packet0,iface=veth0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdev: Option<String>,
    /// MAC address to use instead of the device's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Receive frames for any MAC (the gateway still only routes its own).
    #[serde(default)]
    pub promiscuous: bool,
    /// RX descriptors per queue.
    #[serde(default = "default_desc")]
    pub rx_desc: u16,
    /// TX descriptors per queue.
    #[serde(default = "default_desc")]
    pub tx_desc: u16,
}

fn default_desc() -> u16 {
    1024
}

impl PortConf {
    /// The DPDK device name: the PCI address, or the vdev string up to its first comma.
    pub fn device(&self) -> String {
        match (&self.pci, &self.vdev) {
            (Some(p), _) => p.clone(),
            (None, Some(v)) => v.split(',').next().unwrap_or_default().to_string(),
            (None, None) => String::new(),
        }
    }
}

pub(super) fn is_pci_address(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let mut parts = s.split(':');
    let (Some(d), Some(b), Some(rest), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some((dev, func)) = rest.split_once('.') else { return false };
    hex(d, 4) && hex(b, 2) && hex(dev, 2) && func.len() == 1 && func.chars().all(|c| ('0'..='7').contains(&c))
}

impl Config {
    /// Cores exist and are listed once; the pool has room.
    pub(super) fn validate_workers(&self, errs: &mut Vec<ConfigError>) {
        let cpus = online_cpus();
        if self.workers.cores.is_empty() {
            errs.push(err("workers.cores", "at least one core is needed"));
        }
        let mut seen_cores = HashSet::new();
        for (i, &c) in self.workers.cores.iter().enumerate() {
            if c >= cpus {
                errs.push(err(
                    format!("workers.cores[{i}]"),
                    format!("core {c} does not exist (this machine has {cpus})"),
                ));
            }
            if !seen_cores.insert(c) {
                errs.push(err(format!("workers.cores[{i}]"), format!("core {c} is listed twice")));
            }
        }
        if self.dpdk.mbufs < 1023 {
            errs.push(err("dpdk.mbufs", "at least 1023 mbufs are needed"));
        }
    }

    /// Names and devices are unique, MACs unicast, rings sized.
    pub(super) fn validate_ports<'a>(&'a self, seen: &mut Seen<'a>, errs: &mut Vec<ConfigError>) {
        if self.ports.is_empty() {
            errs.push(err("ports", "at least one port is needed"));
        }
        if self.ports.len() > MAX_PORTS {
            errs.push(err("ports", format!("at most {MAX_PORTS} ports")));
        }

        let mut devices = HashSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            let f = |s: &str| format!("ports[{i}].{s}");
            if let Some(why) = bad_name(&p.name) {
                errs.push(err(f("name"), why));
            } else if !seen.port_names.insert(p.name.as_str()) {
                errs.push(err(f("name"), format!("port name '{}' is used twice", p.name)));
            }
            match (&p.pci, &p.vdev) {
                (Some(_), Some(_)) => errs.push(err(f("pci"), "give either pci or vdev, not both")),
                (None, None) => errs.push(err(f("vdev"), "give either pci (a NIC) or vdev (a virtual device)")),
                (Some(pci), None) if !is_pci_address(pci) => {
                    errs.push(err(f("pci"), format!("'{pci}' is not a PCI address like 0000:01:00.0")))
                }
                (None, Some(v)) if v.is_empty() || v.starts_with(',') => {
                    errs.push(err(f("vdev"), "must start with a driver name, e.g. net_af_packet0,iface=veth0"))
                }
                _ => {}
            }
            if !p.device().is_empty() && !devices.insert(p.device()) {
                errs.push(err(f("vdev"), format!("device '{}' is used by two ports", p.device())));
            }
            if let Some(m) = &p.mac {
                match m.parse::<MacAddr>() {
                    Ok(mac) if mac.is_multicast() || mac == MacAddr::ZERO => {
                        errs.push(err(f("mac"), format!("'{m}' is not a unicast MAC address")))
                    }
                    Ok(_) => {}
                    Err(_) => errs.push(err(f("mac"), format!("'{m}' is not a MAC address like 02:00:00:00:00:01"))),
                }
            }
            for (name, v) in [("rx_desc", p.rx_desc), ("tx_desc", p.tx_desc)] {
                if !(64..=16384).contains(&v) {
                    errs.push(err(f(name), format!("{v} is outside 64..=16384")));
                }
            }
        }
    }
}

/// Online CPUs, not this thread's affinity: once EAL runs, the main
/// thread is pinned to one core, and changes are validated there.
pub(super) fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).unwrap_or(1).max(1)
}

//! `gatewayd doctor`: before starting, what on this host would break a
//! DPDK deployment or slow it down, each with how to fix it. It reads
//! sysfs and procfs only (under a root that tests point at fake trees),
//! and changes nothing.
//!
//! Blocking (the gateway would not start, or not work): hugepages missing
//! or too few, hugetlbfs not mounted, a configured PCI port absent or not
//! bound to a DPDK-capable driver, vfio-pci without an IOMMU, a worker
//! core that does not exist, too little lockable memory. Warnings (it
//! runs, slower or with jitter): a NIC on another NUMA node than a worker,
//! hugepages on another node than the NICs, worker cores not isolated,
//! interrupts routed to worker cores, a CPU frequency governor other than
//! `performance`.

use crate::config::Config;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a finding is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome: what was found, and how to fix it if it is not ok.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// The area: `hugepages`, `port wan`, `cores`, ...
    pub check: String,
    pub what: String,
    pub fix: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{tag}  {}: {}", self.check, self.what)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      fix: {fix}")?;
        }
        Ok(())
    }
}

/// The host as the doctor reads it.
pub struct Host {
    /// Where sysfs and procfs are (`/sys`, `/proc`; a copy in tests).
    pub sys: PathBuf,
    pub proc: PathBuf,
    /// `RLIMIT_MEMLOCK` in bytes (None: unlimited).
    pub memlock: Option<u64>,
    /// Whether the process may lock memory regardless (CAP_IPC_LOCK).
    pub can_lock_any: bool,
}

impl Host {
    /// This machine: `/sys` and `/proc` under `root` (`/` normally), and
    /// this process's memory lock limit.
    pub fn local(root: &Path) -> Host {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes the struct it is given.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0;
        let memlock = if !ok || lim.rlim_cur == libc::RLIM_INFINITY { None } else { Some(lim.rlim_cur) };
        // SAFETY: geteuid has no preconditions.
        let root_user = unsafe { libc::geteuid() } == 0;
        Host { sys: root.join("sys"), proc: root.join("proc"), memlock, can_lock_any: root_user }
    }

    fn read(&self, p: impl AsRef<Path>) -> Option<String> {
        std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
    }
}

/// Memory DPDK takes from hugepages: what `-m`/`--socket-mem` ask, or an
/// estimate (each mbuf with its headroom and pool overhead, plus what EAL
/// and the rings take), in bytes; None with `--no-huge`.
fn hugepage_need(cfg: &Config) -> Option<Need> {
    let args = cfg.eal_args();
    if args.iter().any(|a| a == "--no-huge") {
        return None;
    }
    let value = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().or_else(|| {
            args.iter().find_map(|a| a.strip_prefix(name).and_then(|v| v.strip_prefix('=')).map(str::to_string))
        })
    };
    const MB: u64 = 1 << 20;
    if let Some(per_node) = value("--socket-mem") {
        let nodes = per_node.split(',').map(|m| m.trim().parse::<u64>().unwrap_or(0) * MB).collect();
        return Some(Need::PerNode(nodes));
    }
    if let Some(m) = value("-m") {
        return Some(Need::Total(m.parse::<u64>().unwrap_or(0) * MB));
    }
    Some(Need::Total(u64::from(cfg.dpdk.mbufs) * MBUF_BYTES + EAL_BYTES))
}

/// Hugepage memory an mbuf takes: 2 KiB of data, headroom, the mbuf and
/// pool headers, rounded up.
const MBUF_BYTES: u64 = 2560;
/// What EAL, the rings and the descriptor rings take besides.
const EAL_BYTES: u64 = 64 << 20;

enum Need {
    Total(u64),
    PerNode(Vec<u64>),
}

/// Every check, in the order they print.
pub fn examine(cfg: &Config, host: &Host) -> Vec<Finding> {
    let mut out = Vec::new();
    let nodes = numa_nodes(host);
    let cores = worker_cores(cfg);
    let mut port_findings = Vec::new();
    let nic_nodes = ports(cfg, host, &mut port_findings);
    hugepages(cfg, host, &nodes, &nic_nodes, &mut out);
    out.extend(port_findings);
    cores_exist(host, &cores, &mut out);
    numa(host, &cores, &nic_nodes, &mut out);
    isolation(host, &cores, &mut out);
    irqs(host, &cores, &mut out);
    governors(host, &cores, &mut out);
    memlock(cfg, host, &mut out);
    out
}

fn finding(level: Level, check: impl Into<String>, what: impl Into<String>, fix: Option<String>) -> Finding {
    Finding { level, check: check.into(), what: what.into(), fix }
}

fn worker_cores(cfg: &Config) -> BTreeSet<u32> {
    cfg.workers.cores.iter().map(|&c| c as u32).collect()
}

/// The NUMA nodes present (node ids), from `/sys/devices/system/node`.
fn numa_nodes(host: &Host) -> Vec<u32> {
    let dir = host.sys.join("devices/system/node");
    let mut nodes: Vec<u32> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("node")?.parse().ok()).collect::<Vec<u32>>()
        })
        .unwrap_or_default();
    nodes.sort_unstable();
    nodes
}

/// Free hugepage memory on `node` (bytes), over every page size.
fn free_hugepages(host: &Host, node: Option<u32>) -> u64 {
    let dir = match node {
        Some(n) => host.sys.join(format!("devices/system/node/node{n}/hugepages")),
        None => host.sys.join("kernel/mm/hugepages"),
    };
    let Ok(sizes) = std::fs::read_dir(&dir) else { return 0 };
    sizes
        .filter_map(|e| {
            let e = e.ok()?;
            let kb: u64 = e.file_name().to_str()?.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
            let free: u64 = host.read(e.path().join("free_hugepages"))?.parse().ok()?;
            Some(kb * 1024 * free)
        })
        .sum()
}

fn mib(b: u64) -> u64 {
    b >> 20
}

fn hugepages(cfg: &Config, host: &Host, nodes: &[u32], nic_nodes: &[(String, u32)], out: &mut Vec<Finding>) {
    let Some(need) = hugepage_need(cfg) else {
        out.push(finding(Level::Ok, "hugepages", "none used (--no-huge: for tests, not for traffic)", None));
        return;
    };
    let mounted = host.read(host.proc.join("mounts")).is_some_and(|m| m.lines().any(|l| l.contains(" hugetlbfs ")));
    if !mounted {
        let fix = "mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages (or enable dev-hugepages.mount)";
        out.push(finding(Level::Fail, "hugepages", "no hugetlbfs is mounted", Some(fix.into())));
    }
    let pages_for = |bytes: u64| bytes.div_ceil(2 << 20);
    match need {
        Need::Total(bytes) => {
            let free = free_hugepages(host, None);
            let what = format!("{} MiB free, {} MiB needed", mib(free), mib(bytes));
            if free >= bytes {
                out.push(finding(Level::Ok, "hugepages", what, None));
            } else {
                let fix = format!(
                    "echo {} > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages (or hugepages= on the kernel command line)",
                    pages_for(bytes)
                );
                out.push(finding(Level::Fail, "hugepages", what, Some(fix)));
            }
            // The packet pool belongs on the NICs' node: elsewhere, every
            // packet the NIC writes crosses the interconnect.
            if nodes.len() > 1 {
                let mut near: Vec<u32> = nic_nodes.iter().map(|(_, n)| *n).collect();
                near.sort_unstable();
                near.dedup();
                for n in near {
                    let free = free_hugepages(host, Some(n));
                    if free < bytes {
                        let what = format!(
                            "node {n}, the NICs', has {} MiB free of the {} MiB needed: the pool would be remote",
                            mib(free),
                            mib(bytes)
                        );
                        let fix = format!(
                            "echo {} > /sys/devices/system/node/node{n}/hugepages/hugepages-2048kB/nr_hugepages",
                            pages_for(bytes)
                        );
                        out.push(finding(Level::Warn, format!("hugepages on node {n}"), what, Some(fix)));
                    }
                }
            }
        }
        Need::PerNode(per_node) => {
            for (node, &bytes) in per_node.iter().enumerate() {
                if bytes == 0 {
                    continue;
                }
                let node = node as u32;
                let check = format!("hugepages on node {node}");
                if !nodes.contains(&node) {
                    let what =
                        format!("--socket-mem asks {} MiB of node {node}, which this host does not have", mib(bytes));
                    out.push(finding(Level::Fail, check, what, Some("give --socket-mem one value per node".into())));
                    continue;
                }
                let free = free_hugepages(host, Some(node));
                let what = format!("{} MiB free, {} MiB asked by --socket-mem", mib(free), mib(bytes));
                if free >= bytes {
                    out.push(finding(Level::Ok, check, what, None));
                } else {
                    let fix = format!(
                        "echo {} > /sys/devices/system/node/node{node}/hugepages/hugepages-2048kB/nr_hugepages",
                        pages_for(bytes)
                    );
                    out.push(finding(Level::Fail, check, what, Some(fix)));
                }
            }
        }
    }
}

/// Drivers DPDK's PCI poll-mode drivers run over.
const DPDK_DRIVERS: [&str; 3] = ["vfio-pci", "uio_pci_generic", "igb_uio"];
/// Kernel drivers DPDK shares the device with (bifurcated: mlx4/mlx5).
const BIFURCATED: [&str; 2] = ["mlx5_core", "mlx4_core"];

/// Checks each `pci:` port: present, bound right, an IOMMU for vfio.
/// Returns each found port's NUMA node (name, node).
fn ports(cfg: &Config, host: &Host, out: &mut Vec<Finding>) -> Vec<(String, u32)> {
    let mut nodes = Vec::new();
    let mut vfio = false;
    for p in &cfg.ports {
        let Some(addr) = &p.pci else { continue };
        let check = format!("port {} ({addr})", p.name);
        let dev = host.sys.join("bus/pci/devices").join(addr);
        if !dev.exists() {
            let fix = "check the address with lspci -D, or dpdk-devbind.py --status".to_string();
            out.push(finding(Level::Fail, check, "no such PCI device", Some(fix)));
            continue;
        }
        let driver = std::fs::read_link(dev.join("driver"))
            .ok()
            .and_then(|l| l.file_name().and_then(|n| n.to_str()).map(str::to_string));
        let bind = format!("modprobe vfio-pci && dpdk-devbind.py --bind=vfio-pci {addr}");
        match driver.as_deref() {
            Some(d) if DPDK_DRIVERS.contains(&d) => {
                vfio |= d == "vfio-pci";
                out.push(finding(Level::Ok, check.clone(), format!("bound to {d}"), None));
            }
            Some(d) if BIFURCATED.contains(&d) => {
                out.push(finding(Level::Ok, check.clone(), format!("{d} (DPDK shares it with the kernel)"), None));
            }
            Some(d) => {
                let what = format!("bound to the kernel's {d}: DPDK cannot drive it");
                out.push(finding(Level::Fail, check.clone(), what, Some(bind)));
            }
            None => out.push(finding(Level::Fail, check.clone(), "bound to no driver", Some(bind))),
        }
        let node = host.read(dev.join("numa_node")).and_then(|n| n.parse::<i64>().ok());
        if let Some(n) = node.filter(|&n| n >= 0) {
            nodes.push((p.name.clone(), n as u32));
        }
    }
    if vfio {
        let groups = std::fs::read_dir(host.sys.join("kernel/iommu_groups")).map(|d| d.count()).unwrap_or(0);
        let unsafe_mode = host.read(host.sys.join("module/vfio/parameters/enable_unsafe_noiommu_mode"));
        if groups > 0 {
            out.push(finding(Level::Ok, "iommu", format!("{groups} IOMMU groups"), None));
        } else if unsafe_mode.as_deref() == Some("Y") {
            let what = "no IOMMU: vfio in unsafe no-IOMMU mode (the NIC can write anywhere in memory)";
            let fix = "enable the IOMMU: intel_iommu=on iommu=pt (or amd_iommu=on) on the kernel command line";
            out.push(finding(Level::Warn, "iommu", what, Some(fix.into())));
        } else {
            let what = "vfio-pci needs an IOMMU and none is enabled";
            let fix = "intel_iommu=on iommu=pt (or amd_iommu=on) on the kernel command line and reboot, \
                       or (no IOMMU at all) echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode";
            out.push(finding(Level::Fail, "iommu", what, Some(fix.into())));
        }
    }
    nodes
}

/// Parses a cpulist (`0-3,8,10-11`).
pub fn cpulist(s: &str) -> BTreeSet<u32> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    set.extend(a..=b.min(a.saturating_add(4096)));
                }
            }
            None => {
                if let Ok(c) = part.parse() {
                    set.insert(c);
                }
            }
        }
    }
    set
}

fn show(cores: &BTreeSet<u32>) -> String {
    cores.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn cores_exist(host: &Host, cores: &BTreeSet<u32>, out: &mut Vec<Finding>) {
    if cores.is_empty() {
        return;
    }
    let online = cpulist(&host.read(host.sys.join("devices/system/cpu/online")).unwrap_or_default());
    let missing: BTreeSet<u32> = cores.difference(&online).copied().collect();
    if missing.is_empty() {
        out.push(finding(Level::Ok, "cores", format!("workers on {} (online: {})", show(cores), show(&online)), None));
    } else {
        let what = format!("worker cores {} are not online (online: {})", show(&missing), show(&online));
        out.push(finding(Level::Fail, "cores", what, Some("pick workers.cores among the online ones".into())));
    }
}

/// The NUMA node of each CPU, from each node's cpulist.
fn node_of_cpus(host: &Host) -> Vec<(u32, BTreeSet<u32>)> {
    numa_nodes(host)
        .into_iter()
        .map(|n| {
            let list = host.read(host.sys.join(format!("devices/system/node/node{n}/cpulist"))).unwrap_or_default();
            (n, cpulist(&list))
        })
        .collect()
}

fn numa(host: &Host, cores: &BTreeSet<u32>, nic_nodes: &[(String, u32)], out: &mut Vec<Finding>) {
    let by_node = node_of_cpus(host);
    if by_node.len() < 2 || nic_nodes.is_empty() || cores.is_empty() {
        return;
    }
    let node_of = |c: u32| by_node.iter().find(|(_, cpus)| cpus.contains(&c)).map(|(n, _)| *n);
    for (port, nic) in nic_nodes {
        let far: BTreeSet<u32> = cores.iter().copied().filter(|&c| node_of(c).is_some_and(|n| n != *nic)).collect();
        let check = format!("numa port {port}");
        if far.is_empty() {
            out.push(finding(Level::Ok, check, format!("the NIC and every worker on node {nic}"), None));
        } else {
            let local = by_node.iter().find(|(n, _)| n == nic).map(|(_, c)| show(c)).unwrap_or_default();
            let what = format!("the NIC is on node {nic}, workers {} are not: each packet crosses nodes", show(&far));
            out.push(finding(Level::Warn, check, what, Some(format!("workers.cores from node {nic}'s CPUs: {local}"))));
        }
    }
}

fn isolation(host: &Host, cores: &BTreeSet<u32>, out: &mut Vec<Finding>) {
    if cores.is_empty() {
        return;
    }
    let isolated = cpulist(&host.read(host.sys.join("devices/system/cpu/isolated")).unwrap_or_default());
    let nohz = cpulist(&host.read(host.sys.join("devices/system/cpu/nohz_full")).unwrap_or_default());
    let not_isolated: BTreeSet<u32> = cores.difference(&isolated).copied().collect();
    let not_nohz: BTreeSet<u32> = cores.difference(&nohz).copied().collect();
    if not_isolated.is_empty() && not_nohz.is_empty() {
        out.push(finding(Level::Ok, "isolation", format!("workers {} isolated, nohz_full", show(cores)), None));
        return;
    }
    let mut what = Vec::new();
    if !not_isolated.is_empty() {
        what.push(format!("workers {} share their cores with the scheduler (not in isolcpus)", show(&not_isolated)));
    }
    if !not_nohz.is_empty() {
        what.push(format!("workers {} take timer ticks (not in nohz_full)", show(&not_nohz)));
    }
    let list = show(cores);
    let fix = format!("isolcpus={list} nohz_full={list} rcu_nocbs={list} on the kernel command line");
    out.push(finding(Level::Warn, "isolation", what.join("; "), Some(fix)));
}

fn irqs(host: &Host, cores: &BTreeSet<u32>, out: &mut Vec<Finding>) {
    if cores.is_empty() {
        return;
    }
    let Ok(dir) = std::fs::read_dir(host.proc.join("irq")) else { return };
    let mut on_workers = Vec::new();
    for e in dir.flatten() {
        let Some(irq) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let list = host
            .read(e.path().join("effective_affinity_list"))
            .filter(|l| !l.is_empty())
            .or_else(|| host.read(e.path().join("smp_affinity_list")));
        if cpulist(&list.unwrap_or_default()).intersection(cores).next().is_some() {
            on_workers.push(irq);
        }
    }
    on_workers.sort_unstable();
    if on_workers.is_empty() {
        out.push(finding(Level::Ok, "interrupts", "none routed to worker cores", None));
    } else {
        let shown: Vec<String> = on_workers.iter().take(8).map(u32::to_string).collect();
        let more = if on_workers.len() > 8 { ", ..." } else { "" };
        let what = format!("{} interrupts may land on worker cores (IRQ {}{more})", on_workers.len(), shown.join(", "));
        let fix = format!(
            "irqaffinity= the other cores on the kernel command line, or write them to /proc/irq/*/smp_affinity_list \
             (stop irqbalance, or ban cores {} in it)",
            show(cores)
        );
        out.push(finding(Level::Warn, "interrupts", what, Some(fix)));
    }
}

fn governors(host: &Host, cores: &BTreeSet<u32>, out: &mut Vec<Finding>) {
    let mut slow = BTreeSet::new();
    let mut seen = None;
    for &c in cores {
        let Some(g) = host.read(host.sys.join(format!("devices/system/cpu/cpu{c}/cpufreq/scaling_governor"))) else {
            continue;
        };
        if g != "performance" {
            slow.insert(c);
            seen = Some(g);
        }
    }
    match seen {
        None if !cores.is_empty() => {
            out.push(finding(Level::Ok, "cpu frequency", "performance governor (or no scaling) on workers", None))
        }
        None => {}
        Some(g) => {
            let what = format!("workers {} run the {g} governor: clocks drop between bursts", show(&slow));
            let fix = "cpupower frequency-set -g performance (or cpufreq.default_governor=performance)".to_string();
            out.push(finding(Level::Warn, "cpu frequency", what, Some(fix)));
        }
    }
}

fn memlock(cfg: &Config, host: &Host, out: &mut Vec<Finding>) {
    let Some(need) = hugepage_need(cfg) else { return };
    let bytes = match need {
        Need::Total(b) => b,
        Need::PerNode(v) => v.iter().sum(),
    };
    match host.memlock {
        _ if host.can_lock_any => out.push(finding(Level::Ok, "memlock", "root: any amount may be locked", None)),
        None => out.push(finding(Level::Ok, "memlock", "unlimited", None)),
        Some(limit) if limit >= bytes => {
            out.push(finding(Level::Ok, "memlock", format!("{} MiB may be locked", mib(limit)), None))
        }
        Some(limit) => {
            let what = format!("{} MiB may be locked, DPDK needs {} MiB for DMA", mib(limit), mib(bytes));
            let fix = "LimitMEMLOCK=infinity in the unit (or ulimit -l unlimited)".to_string();
            out.push(finding(Level::Fail, "memlock", what, Some(fix)));
        }
    }
}

#[cfg(test)]
mod tests;

//! The doctor against fake sysfs and procfs trees: a well set up
//! two-node host, then each thing that goes wrong on real ones.

use super::*;

/// A fake `/sys` and `/proc` in a temporary directory.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let root = std::env::temp_dir().join(format!("gw-doctor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Tree { root }
    }

    fn file(&self, rel: &str, text: &str) -> &Tree {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    fn rm(&self, rel: &str) -> &Tree {
        let p = self.root.join(rel);
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_dir_all(&p);
        self
    }

    /// `/sys/bus/pci/devices/ADDR` bound to `driver` (None: unbound), on `node`.
    fn nic(&self, addr: &str, driver: Option<&str>, node: i32) -> &Tree {
        let dev = self.root.join("sys/bus/pci/devices").join(addr);
        let _ = std::fs::remove_dir_all(&dev);
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("numa_node"), format!("{node}\n")).unwrap();
        if let Some(d) = driver {
            let target = self.root.join("sys/bus/pci/drivers").join(d);
            std::fs::create_dir_all(&target).unwrap();
            std::os::unix::fs::symlink(target, dev.join("driver")).unwrap();
        }
        self
    }

    /// Free 2 MiB hugepages on `node`, and the host-wide total.
    fn hugepages(&self, per_node: [u64; 2]) -> &Tree {
        for (n, free) in per_node.iter().enumerate() {
            self.file(
                &format!("sys/devices/system/node/node{n}/hugepages/hugepages-2048kB/free_hugepages"),
                &free.to_string(),
            );
        }
        self.file("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", &per_node.iter().sum::<u64>().to_string())
    }

    fn host(&self) -> Host {
        Host { sys: self.root.join("sys"), proc: self.root.join("proc"), memlock: Some(64 << 10), can_lock_any: false }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Two nodes of 8 CPUs, 1 GiB of hugepages each, two NICs on vfio-pci on
/// node 0, workers on isolated, tickless cores 2-3 at full clock, and
/// interrupts kept off them.
fn healthy(name: &str) -> Tree {
    let t = Tree::new(name);
    t.file("sys/devices/system/node/node0/cpulist", "0-7\n")
        .file("sys/devices/system/node/node1/cpulist", "8-15\n")
        .file("sys/devices/system/cpu/online", "0-15\n")
        .file("sys/devices/system/cpu/isolated", "2-3\n")
        .file("sys/devices/system/cpu/nohz_full", "2-3\n")
        .file("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "performance\n")
        .file("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "performance\n")
        .file("sys/kernel/iommu_groups/12/type", "DMA\n")
        .file(
            "proc/mounts",
            "sysfs /sys sysfs rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n",
        )
        .file("proc/irq/24/smp_affinity_list", "0-1,4-15\n")
        .file("proc/irq/25/smp_affinity_list", "0-15\n")
        .file("proc/irq/25/effective_affinity_list", "5\n")
        .hugepages([512, 512])
        .nic("0000:01:00.0", Some("vfio-pci"), 0)
        .nic("0000:01:00.1", Some("vfio-pci"), 0);
    t
}

fn config(eal: &str, cores: &str) -> Config {
    let text = format!(
        "dpdk:\n  eal_args: [{eal}]\n  mbufs: 65535\nworkers:\n  cores: [{cores}]\nports:\n  \
         - {{ name: lan, pci: \"0000:01:00.0\" }}\n  - {{ name: wan, pci: \"0000:01:00.1\" }}\n"
    );
    Config::parse(&text).unwrap()
}

fn problems(f: &[Finding]) -> Vec<(Level, String)> {
    f.iter().filter(|f| f.level != Level::Ok).map(|f| (f.level, f.check.clone())).collect()
}

fn find<'a>(f: &'a [Finding], check: &str) -> &'a Finding {
    f.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check} in {f:#?}"))
}

#[test]
fn a_well_set_up_host_has_nothing_to_fix() {
    let t = healthy("healthy");
    let f = examine(&config("", "2, 3"), &Host { can_lock_any: true, ..t.host() });
    assert_eq!(problems(&f), vec![], "{f:#?}");
    // 65535 mbufs of 2.5 KiB and EAL's 64 MiB: 223 MiB of the 2048 free.
    assert_eq!(find(&f, "hugepages").what, "2048 MiB free, 223 MiB needed");
    assert_eq!(find(&f, "port lan (0000:01:00.0)").what, "bound to vfio-pci");
    assert_eq!(find(&f, "numa port wan").what, "the NIC and every worker on node 0");
}

#[test]
fn too_few_hugepages_or_none_mounted_block_and_say_how_many() {
    let t = healthy("hugepages");
    t.hugepages([30, 30]).rm("proc/mounts").file("proc/mounts", "sysfs /sys sysfs rw 0 0\n");
    let f = examine(&config("", "2, 3"), &t.host());
    let huge: Vec<&Finding> = f.iter().filter(|f| f.check == "hugepages").collect();
    assert_eq!(huge.len(), 2, "{f:#?}");
    assert!(huge.iter().all(|h| h.level == Level::Fail));
    assert!(huge[0].fix.as_deref().unwrap().contains("mount -t hugetlbfs"));
    assert_eq!(huge[1].what, "120 MiB free, 223 MiB needed");
    assert!(huge[1].fix.as_deref().unwrap().starts_with("echo 112 > "), "{:?}", huge[1].fix);
    // The NICs' node cannot hold the pool either.
    assert_eq!(find(&f, "hugepages on node 0").level, Level::Warn);
}

#[test]
fn socket_mem_is_checked_node_by_node() {
    let t = healthy("socketmem");
    t.hugepages([512, 10]);
    let f = examine(&config("\"--socket-mem\", \"512,512\"", "2, 3"), &t.host());
    assert_eq!(find(&f, "hugepages on node 0").level, Level::Ok);
    let n1 = find(&f, "hugepages on node 1");
    assert_eq!((n1.level, n1.what.as_str()), (Level::Fail, "20 MiB free, 512 MiB asked by --socket-mem"));
    let f = examine(&config("\"--socket-mem=0,0,64\"", "2, 3"), &t.host());
    assert_eq!(find(&f, "hugepages on node 2").level, Level::Fail, "a node the host does not have");
}

#[test]
fn no_huge_needs_no_hugepages_nor_locked_memory() {
    let t = healthy("nohuge");
    t.hugepages([0, 0]);
    let f = examine(&config("\"--no-huge\", \"-m\", \"512\"", "2, 3"), &t.host());
    assert_eq!(find(&f, "hugepages").level, Level::Ok);
    assert!(f.iter().all(|f| f.check != "memlock"));
}

#[test]
fn a_nic_on_a_kernel_driver_or_none_or_absent_blocks_with_the_bind_command() {
    let t = healthy("drivers");
    t.nic("0000:01:00.0", Some("ixgbe"), 0).nic("0000:01:00.1", None, 0);
    let f = examine(&config("", "2, 3"), &t.host());
    let lan = find(&f, "port lan (0000:01:00.0)");
    assert_eq!((lan.level, lan.what.as_str()), (Level::Fail, "bound to the kernel's ixgbe: DPDK cannot drive it"));
    assert_eq!(lan.fix.as_deref(), Some("modprobe vfio-pci && dpdk-devbind.py --bind=vfio-pci 0000:01:00.0"));
    assert_eq!(find(&f, "port wan (0000:01:00.1)").what, "bound to no driver");
    t.rm("sys/bus/pci/devices/0000:01:00.1");
    let f = examine(&config("", "2, 3"), &t.host());
    assert_eq!(find(&f, "port wan (0000:01:00.1)").what, "no such PCI device");
    // mlx5 shares the device with the kernel: fine.
    t.nic("0000:01:00.0", Some("mlx5_core"), 0);
    assert_eq!(find(&examine(&config("", "2, 3"), &t.host()), "port lan (0000:01:00.0)").level, Level::Ok);
}

#[test]
fn vfio_without_an_iommu_blocks_unless_unsafe_mode_which_warns() {
    let t = healthy("iommu");
    t.rm("sys/kernel/iommu_groups");
    let f = examine(&config("", "2, 3"), &t.host());
    assert_eq!(find(&f, "iommu").level, Level::Fail);
    assert!(find(&f, "iommu").fix.as_deref().unwrap().contains("intel_iommu=on"));
    t.file("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "Y\n");
    assert_eq!(find(&examine(&config("", "2, 3"), &t.host()), "iommu").level, Level::Warn);
}

#[test]
fn workers_far_from_their_nics_warn_with_the_near_cores() {
    let t = healthy("numa");
    let f = examine(&config("", "2, 9"), &t.host());
    let w = find(&f, "numa port lan");
    assert_eq!(w.level, Level::Warn);
    assert_eq!(w.what, "the NIC is on node 0, workers 9 are not: each packet crosses nodes");
    assert_eq!(w.fix.as_deref(), Some("workers.cores from node 0's CPUs: 0,1,2,3,4,5,6,7"));
}

#[test]
fn unisolated_cores_interrupts_governors_and_offline_cores_are_named() {
    let t = healthy("tuning");
    t.file("sys/devices/system/cpu/isolated", "\n")
        .file("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "powersave\n")
        .file("proc/irq/30/smp_affinity_list", "0-15\n")
        .file("proc/irq/31/effective_affinity_list", "3\n");
    let f = examine(&config("", "2, 3, 40"), &t.host());
    let iso = find(&f, "isolation");
    assert_eq!(iso.level, Level::Warn);
    assert!(iso.what.contains("workers 2,3,40 share their cores"), "{}", iso.what);
    assert_eq!(find(&f, "interrupts").what, "2 interrupts may land on worker cores (IRQ 30, 31)");
    let gov = find(&f, "cpu frequency");
    assert_eq!(gov.what, "workers 3 run the powersave governor: clocks drop between bursts");
    let cores = find(&f, "cores");
    assert_eq!(
        (cores.level, cores.what.as_str()),
        (Level::Fail, "worker cores 40 are not online (online: 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15)")
    );
}

#[test]
fn too_little_lockable_memory_blocks_a_non_root_gateway() {
    let t = healthy("memlock");
    let f = examine(&config("", "2, 3"), &t.host());
    let m = find(&f, "memlock");
    assert_eq!((m.level, m.what.as_str()), (Level::Fail, "0 MiB may be locked, DPDK needs 223 MiB for DMA"));
    let f = examine(&config("", "2, 3"), &Host { memlock: None, ..t.host() });
    assert_eq!(find(&f, "memlock").level, Level::Ok);
}

#[test]
fn cpulists_parse_as_the_kernel_writes_them() {
    assert_eq!(cpulist("0-3,8,10-11\n").into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 8, 10, 11]);
    assert!(cpulist("").is_empty());
    assert_eq!(cpulist("x,2").into_iter().collect::<Vec<_>>(), vec![2]);
}

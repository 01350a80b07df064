//! Generates bindings to the system DPDK at build time, and links it.
//!
//! `pkg-config libdpdk` gives the include paths and the machine flags DPDK
//! was built with. Inline functions (the RX/TX burst calls, mbuf
//! alloc/free) have no symbol in the libraries, so bindgen's
//! `wrap_static_fns` writes a C file of thin wrappers that we compile here
//! together with `shim.c`.
//!
//! DPDK is linked statically, with the drivers of [`DRIVERS`]: a call
//! into a shared DPDK goes through the PLT, and its per-lcore variables
//! through `__tls_get_addr` (1% of a worker's time in the profile).
//! `GW_DPDK_SHARED=1` links the shared libraries instead, whose EAL
//! loads every driver the distribution ships as a plugin.

use std::env;
use std::path::PathBuf;

/// The drivers linked into a static build, each whole (a driver registers
/// itself from a constructor nothing else refers to): the buses, the
/// default mempool, the virtual devices of the lab and the benchmarks,
/// and the NICs of common servers (Intel, Broadcom, Amazon, virtio,
/// VMware).
const DRIVERS: &[&str] = &[
    "bus_pci",
    "bus_vdev",
    "mempool_ring",
    "net_af_packet",
    "net_pcap",
    "net_null",
    "net_ring",
    "net_tap",
    "net_e1000",
    "net_igc",
    "net_ixgbe",
    "net_i40e",
    "common_iavf",
    "net_iavf",
    "net_ice",
    "net_bnxt",
    "net_ena",
    "net_virtio",
    "net_vmxnet3",
    "bus_auxiliary",
    "common_mlx5",
    "net_mlx5",
];

/// The DPDK libraries those drivers and gatewayd need.
const LIBS: &[&str] = &[
    "ethdev",
    "security",
    "cryptodev",
    "gso",
    "timer",
    "meter",
    "net",
    "mbuf",
    "mempool",
    "hash",
    "rcu",
    "ring",
    "pci",
    "eal",
    "telemetry",
    "kvargs",
];

/// The system libraries those need, linked shared.
const SYSTEM: &[&str] = &["pcap", "numa", "bsd", "mlx5", "ibverbs"];

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=GW_DPDK_SHARED");
    let shared = env::var_os("GW_DPDK_SHARED").is_some_and(|v| !v.is_empty() && v != "0");
    let dpdk = pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(shared)
        .probe("libdpdk")
        .expect("libdpdk not found by pkg-config: install libdpdk-dev (DPDK 22.11)");

    // Flags such as `-include rte_config.h -march=corei7` matter: the inline
    // functions and struct layouts depend on them.
    let cflags = pkg_config::get_variable("libdpdk", "cflags").unwrap_or_default();
    let raw = std::process::Command::new("pkg-config").args(["--cflags", "libdpdk"]).output().expect("pkg-config runs");
    let mut clang_args: Vec<String> =
        String::from_utf8_lossy(&raw.stdout).split_whitespace().map(str::to_owned).collect();
    if clang_args.is_empty() {
        clang_args = cflags.split_whitespace().map(str::to_owned).collect();
    }
    for p in &dpdk.include_paths {
        clang_args.push(format!("-I{}", p.display()));
    }

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let wrappers = out.join("static_fns");
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_eal_.*|rte_eth_.*|rte_pktmbuf_.*|rte_mempool_.*|rte_mbuf_.*")
        .allowlist_function("rte_lcore_.*|rte_thread_register|rte_thread_unregister|rte_socket_id")
        .allowlist_function("rte_get_tsc_hz|rte_rdtsc|rte_get_tsc_cycles|rte_strerror|rte_vdev_.*")
        .allowlist_function("gw_.*")
        .allowlist_type("rte_eth_.*|rte_mbuf|rte_mempool|rte_ether_addr")
        .allowlist_var("RTE_.*")
        .blocklist_function("rte_eth_.*_burst_mode_get|rte_eth_rx_descriptor_dump|rte_eth_tx_descriptor_dump")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrappers)
        .generate()
        .expect("bindgen could not parse the DPDK headers");
    bindings.write_to_file(out.join("bindings.rs")).expect("write bindings.rs");

    let mut build = cc::Build::new();
    build
        .file(wrappers.with_extension("c"))
        .file("shim.c")
        .include(env::current_dir().unwrap())
        .opt_level(3)
        .warnings(false);
    for a in &clang_args {
        build.flag(a);
    }
    build.flag("-include").flag("wrapper.h");
    build.compile("dpdk_shim");
    if shared {
        // rte_eth_from_rings (gw_ring_pair): a driver's library, which
        // pkg-config's shared link line leaves to the EAL's plugin loading.
        println!("cargo:rustc-link-lib=rte_net_ring");
        return;
    }
    for dir in &dpdk.link_paths {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for lib in DRIVERS.iter().chain(LIBS) {
        println!("cargo:rustc-link-lib=static:+whole-archive,-bundle=rte_{lib}");
    }
    for lib in SYSTEM {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
}

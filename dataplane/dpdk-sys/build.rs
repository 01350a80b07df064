//! Generates bindings to the system DPDK at build time.
//!
//! `pkg-config libdpdk` gives the include paths, the machine flags DPDK was
//! built with and the shared libraries to link. Inline functions (the RX/TX
//! burst calls, mbuf alloc/free) have no symbol in the shared libraries, so
//! bindgen's `wrap_static_fns` writes a C file of thin wrappers that we
//! compile here together with `shim.c`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.c");
    let dpdk = pkg_config::Config::new()
        .atleast_version("22.11")
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
    // rte_eth_from_rings (gw_ring_pair): a driver's library, which
    // pkg-config's shared link line leaves to the EAL's plugin loading.
    println!("cargo:rustc-link-lib=rte_net_ring");
}

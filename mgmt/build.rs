//! Exports `setsockopt` from `gatewayd` (defined in `dataplane::af_packet`)
//! so that the af_packet PMD calls it instead of libc's, also where EAL
//! loads it as a plugin (a `GW_DPDK_SHARED` build); `--undefined` makes the
//! linker keep it.

fn main() {
    for arg in ["-Wl,--undefined=setsockopt", "-Wl,--export-dynamic-symbol=setsockopt"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

//! Exports `setsockopt` from `gatewayd` (defined in `dataplane::af_packet`)
//! so that the af_packet PMD, which EAL loads as a plugin, calls it
//! instead of libc's; `--undefined` makes the linker keep it.

fn main() {
    for arg in ["-Wl,--undefined=setsockopt", "-Wl,--export-dynamic-symbol=setsockopt"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

//! The FPM listener's input: any bytes as a stream from zebra, framed,
//! decoded and applied to the learned-route table, then that table
//! turned into FIB routes against the lab's interfaces. Nothing may
//! panic; the table never holds more than its bound.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mgmt::fpm::netlink::{frame, messages};
use mgmt::fpm::rib::Rib;
use std::sync::OnceLock;

const LIMIT: usize = 64;

fn lab() -> &'static (mgmt::Config, stack::Tables) {
    static LAB: OnceLock<(mgmt::Config, stack::Tables)> = OnceLock::new();
    LAB.get_or_init(|| {
        let cfg = mgmt::Config::parse(include_str!("../../deploy/lab/gateway.yaml")).expect("lab config");
        let macs = [stack::wire::MacAddr([2, 0, 0, 0, 0, 1]), stack::wire::MacAddr([2, 0, 0, 0, 0, 2])];
        let t = mgmt::tables::build(&cfg, &[0, 1], &macs, 1).expect("tables");
        (cfg, t)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut rib = Rib::default();
    rib.new_session();
    let mut b = data;
    // A session break every 7 frames: the resync's sweep gets exercised.
    let mut frames = 0;
    while let Ok(Some((len, body))) = frame(b) {
        for m in body.into_iter().flat_map(messages) {
            rib.apply(m, LIMIT);
        }
        frames += 1;
        if frames % 7 == 0 {
            rib.new_session();
        }
        if frames % 11 == 0 {
            rib.sweep();
        }
        b = &b[len..];
        assert!(rib.len() <= LIMIT);
    }
    let (cfg, t) = lab();
    let (v4, v6) = mgmt::tables::learned_routes(cfg, &rib, &t.ifaces);
    assert!(v4.len() + v6.len() <= rib.len());
});

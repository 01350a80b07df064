//! The config as the API and the file give it: YAML or JSON (the first
//! byte picks), parsed, validated, and when valid built into tables and
//! NAT rules; written back out, it parses to the same config.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mgmt::config::Config;
use mgmt::tables;
use stack::wire::MacAddr;

fuzz_target!(|data: &[u8]| {
    let Some((&how, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let parsed = if how & 1 == 0 { Config::parse(text).ok() } else { serde_json::from_str::<Config>(text).ok() };
    let Some(cfg) = parsed else { return };
    if cfg.validate().is_err() {
        return;
    }
    let n = cfg.ports.len();
    let ids: Vec<u16> = (0..n as u16).collect();
    let macs: Vec<MacAddr> = (0..n).map(|i| MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8])).collect();
    if let Ok(t) = tables::build(&cfg, &ids, &macs, 1) {
        let _ = tables::nat_rules(&cfg, &t);
        let _ = tables::router_config(&cfg);
    }
    let again = Config::parse(&cfg.to_yaml()).expect("a valid config's YAML parses");
    assert_eq!(again, cfg, "YAML round trip");
    assert!(again.validate().is_ok(), "its YAML validates");
    let json = serde_json::to_string(&cfg).expect("JSON");
    assert_eq!(serde_json::from_str::<Config>(&json).expect("its JSON parses"), cfg, "JSON round trip");
});

//! The cost of validating a large config (#26: it grew about
//! quadratically with the NAT section; it must be linear, a config with
//! 100,000 routes and 10,000 statics and forwards well under a second).
//! Two configs: that one, valid; and the review's 900 KB attack shape
//! (1,000 pool prefixes, far past the pool bound, 5,000 statics, 6,000
//! forwards), which is refused.
//!
//!   cargo bench -p mgmt --bench validate

use criterion::{criterion_group, criterion_main, Criterion};
use mgmt::config::Config;
use serde_json::{json, Value};
use std::hint::black_box;

fn base() -> Value {
    json!({
        "ports": [{"name": "lan", "vdev": "net_null0"}, {"name": "wan", "vdev": "net_null1"}],
        "interfaces": [
            {"name": "lan", "port": "lan", "ipv4": ["10.0.0.1/8"]},
            {"name": "wan", "port": "wan", "ipv4": ["203.0.113.1/24"]}
        ],
        "management": {"listen": "127.0.0.1:8080", "max_body_bytes": 67108864}
    })
}

/// `n` static mappings, 198.18.x.y to 10.1.x.y.
fn statics(n: u32) -> Value {
    (0..n)
        .map(|i| {
            json!({
                "outside": format!("198.18.{}.{}", i / 256, i % 256),
                "inside": format!("10.1.{}.{}", i / 256, i % 256),
                "outside_interface": "wan"
            })
        })
        .collect()
}

/// 100,000 routes, 10,000 statics and 10,000 forwards: valid.
fn large() -> Config {
    let mut v = base();
    v["routes"] = (0..100_000u32)
        .map(|i| json!({"dst": format!("{}.{}.{}.0/24", 100 + i / 65536, (i / 256) % 256, i % 256), "via": ["203.0.113.2"]}))
        .collect();
    v["nat"] = json!({
        "rules": [{"inside": "10.0.0.0/8", "outside_interface": "wan", "pool": ["198.51.100.0/24"]}],
        "statics": statics(10_000),
        "forwards": (0..10_000u32).map(|i| json!({
            "protocol": if i % 2 == 0 { "tcp" } else { "udp" },
            "outside": format!("198.51.100.{}:{}", i % 200, 10_000 + i),
            "inside": format!("10.2.{}.{}:80", i / 256, i % 256)
        })).collect::<Value>(),
    });
    serde_json::from_value(v).expect("the large config deserializes")
}

/// The review's shape: 1,000 /22 pool prefixes (a million addresses),
/// 5,000 statics, 6,000 forwards.
fn attack() -> Config {
    let mut v = base();
    v["nat"] = json!({
        "rules": [{"inside": "10.0.0.0/8", "outside_interface": "wan",
            "pool": (0..1000u32).map(|i| format!("{}.{}.{}.0/22", 20 + i / 64, (i % 64) * 4, 0)).collect::<Vec<_>>()}],
        "statics": statics(5_000),
        "forwards": (0..6_000u32).map(|i| json!({
            "protocol": "tcp",
            "outside": format!("203.0.113.1:{}", 10_000 + i),
            "inside": format!("10.2.{}.{}:80", i / 256, i % 256)
        })).collect::<Value>(),
    });
    serde_json::from_value(v).expect("the attack config deserializes")
}

fn validate(c: &mut Criterion) {
    let (large, attack) = (large(), attack());
    if let Err(e) = large.validate() {
        panic!("the large config must be valid: {:?}", &e[..e.len().min(3)]);
    }
    assert!(attack.validate().is_err(), "the pool bound refuses it");
    let mut g = c.benchmark_group("config");
    g.sample_size(10);
    g.bench_function("validate_100k_routes_10k_statics_10k_forwards", |b| b.iter(|| black_box(&large).validate()));
    g.bench_function("validate_1000_pool_prefixes_5k_statics_6k_forwards", |b| {
        b.iter(|| black_box(&attack).validate())
    });
    g.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);

//! The controller without DPDK: a snapshot nobody polls, real files.

use super::*;
use crate::config::RouteConf;
use std::net::IpAddr;

const LAB: &str = include_str!("../../../deploy/lab/gateway.yaml");

struct Fixture {
    ctl: Arc<Controller>,
    dir: PathBuf,
    worker: Arc<WorkerStats>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("gw-ctl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = Config::parse(LAB).unwrap();
    let path = dir.join("gateway.yaml");
    std::fs::write(&path, LAB).unwrap();
    let ports = vec![
        PortHandle { name: "lan".into(), id: 0, mac: MacAddr([2, 0, 0, 0, 0, 1]) },
        PortHandle { name: "wan".into(), id: 1, mac: MacAddr([2, 0, 0, 0, 0, 2]) },
    ];
    let t = tables::build(&cfg, &[0, 1], &[ports[0].mac, ports[1].mac], 1).unwrap();
    // A worker that has stopped: it holds no snapshot, so changes do not wait.
    let worker = Arc::new(WorkerStats::default());
    worker.generation.store(u64::MAX, Relaxed);
    let hooks = Hooks {
        snapshot: Arc::new(ArcSwap::from_pointee(t)),
        nat: Arc::new(ArcSwap::from_pointee(nat::Rules::default())),
        workers: vec![worker.clone()],
        dumps: vec![Arc::new(TableDump::default())],
        nat_queries: vec![],
        nat_log: None,
        punt: None,
        path_mtus: None,
    };
    let audit = AuditLog::open(&dir.join("audit.jsonl")).unwrap();
    Fixture { ctl: Controller::new(cfg, path, ports, hooks, audit), dir, worker }
}

fn who() -> Who {
    Who { token: "test".into(), remote: "127.0.0.1:1".into(), request: "TEST".into() }
}

fn route(dst: &str, via: &str) -> RouteConf {
    RouteConf { dst: dst.into(), via: vec![via.into()], kind: Default::default() }
}

fn saved(f: &Fixture) -> Config {
    Config::load(&f.dir.join("gateway.yaml")).unwrap()
}

#[tokio::test]
async fn a_change_reaches_the_snapshot_the_file_and_the_audit_log() {
    let f = fixture("change");
    let a = f
        .ctl
        .change(&who(), "add route", |c| {
            c.routes.push(route("198.51.100.0/24", "203.0.113.2"));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(a.generation, 2);
    assert_eq!(
        a.changes,
        [
            "routes[0].dst: (none) -> \"198.51.100.0/24\"",
            "routes[0].type: (none) -> \"unicast\"",
            "routes[0].via[0]: (none) -> \"203.0.113.2\""
        ]
    );
    let t = f.ctl.snapshot();
    assert_eq!(t.generation, 2);
    assert!(matches!(t.fib.lookup("198.51.100.9".parse().unwrap()), Some(stack::RouteTarget::Via { .. })));
    assert_eq!(saved(&f), *f.ctl.running(), "the file holds the running config");
    let (n, log) = f.ctl.audit().read(0, 10).unwrap();
    assert_eq!(n, 1);
    assert_eq!((log[0].token.as_str(), log[0].outcome.as_str(), log[0].generation), ("test", "applied", 2));
}

#[tokio::test]
async fn a_bad_change_is_refused_with_its_field_and_changes_nothing() {
    let f = fixture("bad");
    let before = f.ctl.running();
    let e = f
        .ctl
        .change(&who(), "add route", |c| {
            c.routes.push(route("198.51.100.0/24", "192.0.2.1"));
            Ok(())
        })
        .await
        .unwrap_err();
    let ApplyError::Invalid(errs) = e else { panic!("{e:?}") };
    assert_eq!(errs[0].field, "routes[0].via[0]");
    assert_eq!(*f.ctl.running(), *before);
    assert_eq!(f.ctl.snapshot().generation, 1);
    assert_eq!(saved(&f), *before);
    let (_, log) = f.ctl.audit().read(0, 1).unwrap();
    assert_eq!(log[0].outcome, "rejected");
    assert!(log[0].detail.contains("routes[0].via[0]"), "{}", log[0].detail);
}

#[tokio::test]
async fn fields_that_need_a_restart_are_refused() {
    let f = fixture("restart");
    let mut c = (*f.ctl.running()).clone();
    c.workers.cores = vec![0];
    c.management.listen = "127.0.0.1:9999".into();
    let tag = etag(&f.ctl.running());
    let ApplyError::Invalid(errs) = f.ctl.replace(&who(), c, &tag).await.unwrap_err() else { panic!() };
    let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["workers", "management.listen"]);
}

#[tokio::test]
async fn a_stale_etag_is_a_failed_precondition() {
    let f = fixture("etag");
    let old = etag(&f.ctl.running());
    let mut c = (*f.ctl.running()).clone();
    c.routes.push(route("198.51.100.0/24", "203.0.113.2"));
    f.ctl.replace(&who(), c.clone(), &old).await.unwrap();
    c.routes.push(route("198.51.101.0/24", "203.0.113.2"));
    assert!(matches!(f.ctl.replace(&who(), c, &old).await, Err(ApplyError::PreconditionFailed(_))));
}

#[tokio::test]
async fn a_commit_whose_if_match_went_stale_is_refused_under_the_lock() {
    let f = fixture("commit-etag");
    let base = (*f.ctl.running()).clone();
    let stale = etag(&base);
    f.ctl
        .change(&who(), "icmp", |c| {
            c.icmp.rate = 10;
            Ok(())
        })
        .await
        .unwrap();
    let mut c = base.clone();
    c.routes.push(route("198.51.100.0/24", "203.0.113.2"));
    let e = f.ctl.commit(&who(), c.clone(), None, Some(&stale)).await;
    assert!(matches!(e, Err(ApplyError::PreconditionFailed(_))), "{e:?}");
    assert_eq!(f.ctl.running().routes.len(), 0, "nothing applied");
    let now = etag(&f.ctl.running());
    f.ctl.commit(&who(), c, None, Some(&now)).await.unwrap();
    assert_eq!(f.ctl.running().routes.len(), 1);
}

#[tokio::test]
async fn an_unconfirmed_commit_rolls_back_and_a_confirmed_one_stays() {
    let f = fixture("confirm");
    let base = (*f.ctl.running()).clone();
    let mut c = base.clone();
    c.routes.push(route("198.51.100.0/24", "203.0.113.2"));
    let a = f.ctl.commit(&who(), c.clone(), Some(Duration::from_millis(300)), None).await.unwrap();
    assert!(a.rollback_at.is_some());
    assert_eq!(f.ctl.running().routes.len(), 1);
    assert_eq!(saved(&f), base, "not saved before confirmation");
    // Other changes wait for the decision.
    assert!(matches!(f.ctl.change(&who(), "x", |_| Ok(())).await, Err(ApplyError::Conflict(_))));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(*f.ctl.running(), base, "rolled back");
    assert_eq!(f.ctl.snapshot().generation, 3);
    assert!(f.ctl.confirm(&who()).await.is_err(), "nothing left to confirm");

    f.ctl.commit(&who(), c.clone(), Some(Duration::from_millis(300)), None).await.unwrap();
    f.ctl.confirm(&who()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(*f.ctl.running(), c, "kept");
    assert_eq!(saved(&f), c, "saved on confirmation");
    let (_, log) = f.ctl.audit().read(0, 10).unwrap();
    assert!(log.iter().any(|e| e.token == "-" && e.action.starts_with("roll back")));
}

#[tokio::test]
async fn changes_wait_for_the_workers_to_take_the_snapshot() {
    let f = fixture("ack");
    f.worker.generation.store(1, Relaxed); // a live worker on generation 1
    let w = f.worker.clone();
    let acker = std::thread::spawn(move || {
        while w.generation.load(Relaxed) == 1 {
            std::thread::sleep(Duration::from_millis(50));
            w.generation.store(2, Relaxed);
        }
    });
    let t0 = Instant::now();
    f.ctl.flush_neighbors(&who()).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(40), "returned before the worker moved");
    assert_eq!(f.ctl.snapshot().neighbor_epoch, 1);
    acker.join().unwrap();
}

/// A worker lets go of the NAT rules it ran with once it has the new
/// ones, before it acknowledges the generation; the controller still
/// holds them then, so they are freed on its side, never in a worker.
#[tokio::test]
async fn old_nat_rules_are_freed_by_the_controller_not_a_worker() {
    let f = fixture("nat-rules");
    let nat = f.ctl.hooks.nat.clone();
    let held = nat.load_full(); // what a worker's translator holds
    f.worker.generation.store(1, Relaxed);
    let w = f.worker.clone();
    let worker = std::thread::spawn(move || {
        while Arc::ptr_eq(&nat.load(), &held) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let others = Arc::strong_count(&held) - 1;
        drop(held);
        w.generation.store(2, Relaxed);
        others
    });
    f.ctl
        .change(&who(), "udp timeout", |c| {
            c.nat.timeouts.udp_s = 600;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(f.ctl.hooks.nat.load().timeouts.udp, 600_000_000_000);
    assert!(worker.join().unwrap() >= 1, "the worker held the last reference to the old rules");
}

#[test]
fn diff_names_paths() {
    let a = Config::parse(LAB).unwrap();
    let mut b = a.clone();
    b.interfaces[0].mtu = 1400;
    assert_eq!(diff(&a, &b), ["interfaces[0].mtu: 1500 -> 1400"]);
    assert_ne!(etag(&a), etag(&b));
    assert_eq!(etag(&a), etag(&a.clone()));
}

#[tokio::test]
async fn icmp_limits_and_arp_timers_change_live_but_arp_sizes_do_not() {
    let f = fixture("settings");
    f.ctl
        .change(&who(), "icmp", |c| {
            c.icmp.rate = 10;
            c.arp.retry_ms = 250;
            Ok(())
        })
        .await
        .unwrap();
    let s = f.ctl.snapshot().settings;
    assert_eq!((s.icmp_rate, s.neighbor.retry_interval), (10, 250_000_000));
    let w = who();
    let e = f.ctl.change(&w, "arp", |c| {
        c.arp.capacity = 10;
        Ok(())
    });
    let ApplyError::Invalid(errs) = e.await.unwrap_err() else { panic!() };
    assert_eq!(errs[0].field, "arp.capacity");
}

/// Learned routes changed batch after batch: the snapshot changed in
/// place (the one of two generations before, no longer held) routes as a
/// full build of the same routes would; a prefix the config has, and a
/// config change, take the full build, after which changes go in place
/// again.
#[tokio::test]
async fn learned_routes_change_the_retired_snapshot_in_place() {
    use crate::fpm::netlink::{Hop, Message, Protocol, Route, Target, RT_TABLE_MAIN};
    let f = fixture("in-place");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let gws = ["203.0.113.2", "203.0.113.3", "2001:db8:1::2"];
    let prefix = |r: u64| -> (IpAddr, u8) {
        if r.is_multiple_of(5) {
            (IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0x100 + (r >> 8) as u16 % 64, 0, 0, 0, 0, 0)), 48)
        } else {
            let len = [16u8, 24, 24, 24, 28, 32][(r >> 3) as usize % 6];
            (IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 | (r as u32 >> 8) & 0x00ff_fff0)), len)
        }
    };
    let mut probes: Vec<IpAddr> = Vec::new();
    // The snapshots' addresses, newest last (holding one would keep it
    // from being changed in place).
    let mut snapshots: Vec<*const Tables> = vec![Arc::as_ptr(&f.ctl.hooks.snapshot.load_full())];
    for round in 0..9 {
        {
            let mut rib = f.ctl.learned.write().await;
            for _ in 0..200 {
                let r = rnd();
                let (dst, len) = prefix(r);
                probes.push(dst);
                let m = if r.is_multiple_of(4) {
                    Message::DelRoute { dst, len, table: RT_TABLE_MAIN }
                } else {
                    let gw: IpAddr = match dst {
                        IpAddr::V4(_) => gws[(r >> 40) as usize % 2].parse().unwrap(),
                        IpAddr::V6(_) => gws[2].parse().unwrap(),
                    };
                    let target = if r.is_multiple_of(7) {
                        Target::Blackhole
                    } else {
                        Target::Hops(vec![Hop { gateway: Some(gw), oif: 3, weight: 1 }])
                    };
                    Message::NewRoute(Route {
                        dst,
                        len,
                        table: RT_TABLE_MAIN,
                        protocol: Protocol::Bgp,
                        metric: 20,
                        target,
                    })
                };
                rib.apply(m, 100_000);
            }
            if round == 5 {
                // A learned route where the config has one.
                let dst = "198.51.100.0".parse().unwrap();
                let target =
                    Target::Hops(vec![Hop { gateway: Some("203.0.113.9".parse().unwrap()), oif: 3, weight: 1 }]);
                rib.apply(
                    Message::NewRoute(Route {
                        dst,
                        len: 24,
                        table: RT_TABLE_MAIN,
                        protocol: Protocol::Bgp,
                        metric: 20,
                        target,
                    }),
                    100_000,
                );
            }
        }
        if round == 3 {
            f.ctl
                .change(&who(), "a route", |c| {
                    c.routes.push(route("198.51.100.0/24", "203.0.113.7"));
                    Ok(())
                })
                .await
                .unwrap();
            snapshots.push(Arc::as_ptr(&f.ctl.hooks.snapshot.load_full()));
        }
        let before = f.ctl.fpm.in_place.load(Relaxed);
        f.ctl.apply_learned().await.unwrap();
        let in_place = f.ctl.fpm.in_place.load(Relaxed) > before;
        let t = f.ctl.hooks.snapshot.load_full();
        // Full builds: the first (no spare yet), after a config change,
        // for a prefix the config has and the batch after it (the spare
        // is then not a known route change away); the others in place,
        // reusing the snapshot of two generations before.
        assert_eq!(in_place, ![0, 3, 5, 6].contains(&round), "round {round}");
        if in_place {
            assert_eq!(Arc::as_ptr(&t), snapshots[snapshots.len() - 2], "round {round}: not the retired snapshot");
        }
        snapshots.push(Arc::as_ptr(&t));
        drop(t);
        let t = f.ctl.snapshot();
        let full = {
            let rib = f.ctl.learned.read().await;
            tables::build_with(&f.ctl.running(), &rib, &[0, 1], &[f.ctl.ports[0].mac, f.ctl.ports[1].mac], 0).unwrap()
        };
        let v4 = |t: &Tables, a: std::net::Ipv4Addr| match t.fib.lookup(a) {
            Some(&stack::RouteTarget::Via { first, count }) => format!("via {:?}", t.fib.nexthops_of(first, count)),
            r => format!("{r:?}"),
        };
        let v6 = |t: &Tables, a: std::net::Ipv6Addr| match t.fib6.lookup(&a) {
            Some(&stack::RouteTarget::Via { first, count }) => format!("via {:?}", t.fib6.nexthops_of(first, count)),
            r => format!("{r:?}"),
        };
        for &p in probes.iter().chain(&["198.51.100.1".parse().unwrap(), "10.0.1.1".parse().unwrap()]) {
            match p {
                IpAddr::V4(a) => {
                    for a in [a, std::net::Ipv4Addr::from(u32::from(a) | 0x9)] {
                        assert_eq!(v4(&t, a), v4(&full, a), "round {round}: {a}");
                    }
                }
                IpAddr::V6(a) => assert_eq!(v6(&t, a), v6(&full, a), "round {round}: {a}"),
            }
        }
        assert_eq!((t.fib.len(), t.fib6.len()), (full.fib.len(), full.fib6.len()), "round {round}");
    }
}

//! The decoder against what zebra (FRR 8.4.4, `dplane_fpm_nl`) sent
//! for staticd's routes, with nexthop groups and without, and against
//! every cut of those bytes.

use super::*;

const NHG: &[u8] = include_bytes!("zebra-8.4-nhg.bin");
const PLAIN: &[u8] = include_bytes!("zebra-8.4-plain.bin");

fn all(mut b: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some((len, body)) = frame(b).unwrap() {
        out.extend(body.into_iter().flat_map(messages));
        b = &b[len..];
    }
    assert!(b.is_empty(), "a partial frame left");
    out
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

#[test]
fn zebra_routes_without_nexthop_groups() {
    let m = all(PLAIN);
    assert_eq!(m.len(), 7);
    let Message::NewRoute(bh) = &m[0] else { panic!("{:?}", m[0]) };
    assert_eq!(
        (bh.dst, bh.len, bh.protocol, &bh.target),
        (v4("192.0.2.128"), 25, Protocol::Static, &Target::Blackhole)
    );
    let Message::NewRoute(one) = &m[1] else { panic!() };
    assert_eq!((one.dst, one.len, one.table, one.metric), (v4("198.51.100.0"), 24, RT_TABLE_MAIN, 20));
    assert_eq!(one.target, Target::Hops(vec![Hop { gateway: Some(v4("203.0.113.2")), oif: 3, weight: 1 }]));
    let Message::NewRoute(ecmp) = &m[2] else { panic!() };
    let gws: Vec<_> = match &ecmp.target {
        Target::Hops(h) => h.iter().map(|h| h.gateway).collect(),
        t => panic!("{t:?}"),
    };
    assert_eq!(gws, vec![Some(v4("203.0.113.2")), Some(v4("203.0.113.3"))]);
    // zebra's connected route: protocol kernel, on-link.
    let Message::NewRoute(conn) = &m[3] else { panic!() };
    assert_eq!(conn.protocol, Protocol::Kernel);
    let Message::NewRoute(six) = &m[5] else { panic!() };
    assert_eq!((six.len, six.protocol), (48, Protocol::Static));
    assert_eq!(
        six.target,
        Target::Hops(vec![Hop { gateway: Some("2001:db8:2::2".parse().unwrap()), oif: 3, weight: 1 }])
    );
}

#[test]
fn zebra_routes_with_nexthop_groups() {
    let m = all(NHG);
    let objects: Vec<_> = m.iter().filter(|m| matches!(m, Message::NewObject { .. })).collect();
    assert_eq!(objects.len(), 8);
    assert!(m.contains(&Message::NewObject { id: 12, object: Object::Group(vec![(11, 1), (13, 1)]) }));
    assert!(m.contains(&Message::NewObject {
        id: 13,
        object: Object::Hop(Hop { gateway: Some(v4("203.0.113.3")), oif: 3, weight: 1 })
    }));
    let ecmp = m.iter().find_map(|m| match m {
        Message::NewRoute(r) if r.dst == v4("198.51.101.0") => Some(r.target.clone()),
        _ => None,
    });
    assert_eq!(ecmp, Some(Target::Object(12)));
}

/// Every prefix of the stream frames or waits; every message of every
/// frame with its bytes cut short decodes to something, never a panic.
#[test]
fn cut_streams_and_messages_never_panic() {
    for data in [NHG, PLAIN] {
        for cut in 0..data.len() {
            let mut b = &data[..cut];
            while let Ok(Some((len, body))) = frame(b) {
                let _ = body.into_iter().flat_map(messages).count();
                b = &b[len..];
            }
        }
        let mut b = data;
        while let Some((len, Some(body))) = frame(b).unwrap() {
            for cut in 0..body.len() {
                let _ = messages(&body[..cut]).count();
                let mut bent = body.to_vec();
                bent[cut] ^= 0xff;
                let _ = messages(&bent).count();
            }
            b = &b[len..];
        }
    }
}

#[test]
fn a_broken_frame_header_ends_the_stream() {
    assert_eq!(frame(&[2, 1, 0, 8]), Err(FrameError::Version(2)));
    assert_eq!(frame(&[1, 1, 0, 3]), Err(FrameError::Length(3)));
    assert_eq!(frame(&[1, 1, 0, 8, 0]), Ok(None));
    assert_eq!(frame(&[1, 9, 0, 4]), Ok(Some((4, None))));
}

/// Every protocol zebra can send has its name among the metric labels.
#[test]
fn every_protocol_name_is_a_label() {
    for p in 0..=u8::MAX {
        let name = Protocol::from_rtprot(p).name();
        assert!(Protocol::NAMES.contains(&name), "{p}: {name}");
    }
}

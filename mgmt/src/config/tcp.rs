//! The `tcp` section: the bounds and timers of the gateway's own TCP
//! (per worker; a restart applies a change).

use super::*;

/// The gateway's own TCP, per worker (docs/tcp.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConf {
    /// Connections a worker holds at once (1..=1048576), their state
    /// allocated when gatewayd starts.
    pub connections: usize,
    /// Bytes of a connection's send queue, and of its receive queue
    /// (1024..=4194304): the most it has in flight, and the window it
    /// offers. The queues hold the packet buffers the data came in or
    /// is sent from (no copy), only while data waits in them.
    pub buffer: usize,
    /// Packet buffers a worker's connections hold in their queues
    /// together (0..=1048576; 0, the default: half of `dpdk.mbufs`
    /// shared among the workers). They are the pool's, so the ports
    /// must keep enough to receive into: all workers' together may take
    /// at most half of it. Data past it is dropped (`tcp_buffers_full`)
    /// and sent again by the peer.
    pub buffers: usize,
    /// Connections in SYN-RECEIVED at once (1..=connections): a SYN past
    /// it is answered with a SYN cookie (RFC 4987) and keeps no state,
    /// so a flood of SYNs leaves the table to established connections.
    pub syn_backlog: usize,
    /// The retransmission timeout's floor, ms (200..=60000; RFC 6298
    /// says 1000, Linux uses 200).
    pub rto_min_ms: u64,
    /// How long a connection we closed first stays in TIME-WAIT, ms
    /// (1000..=240000; 2 MSL).
    pub time_wait_ms: u64,
    /// How long the ACK of a lone in-order segment may wait for a second
    /// segment, or for data to ride on, ms (0..=500; RFC 1122 §4.2.3.2
    /// caps it at 500; Linux waits 40 at least). 0 acknowledges every
    /// segment at once.
    pub delayed_ack_ms: u64,
    /// Nagle's algorithm (RFC 1122 §4.2.3.4, Minshall's variant as in
    /// Linux): a short segment waits while an earlier short one is
    /// unacknowledged. `false` sends every write at once (`TCP_NODELAY`).
    pub nagle: bool,
    /// Congestion control: `cubic` (RFC 9438, the default, as Linux) or
    /// `newreno` (RFC 5681 and 6582).
    pub congestion: CongestionConf,
    /// Seconds a connection may go without hearing from its peer before
    /// it is dropped (0..=86400; 0: never): a peer that vanished without
    /// a RST, or a client holding connections open in silence, does not
    /// keep its slot. Its ACKs count, so a client that only reads stays.
    pub idle_timeout_s: u64,
    /// Seconds of silence before a keep-alive probe (RFC 1122 §4.2.3.6;
    /// 0..=86400, 0: off, the default as the RFC asks). A peer that
    /// answers stays, past `idle_timeout_s` too, which must then be
    /// longer.
    pub keepalive_s: u64,
    /// Seconds between unanswered probes (1..=3600; Linux's 75).
    pub keepalive_interval_s: u64,
    /// Unanswered probes before the connection is dropped (1..=127;
    /// Linux's 9).
    pub keepalive_probes: u8,
}

/// A congestion control algorithm.
#[derive(Copy, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CongestionConf {
    /// RFC 9438: the window cut to 0.7 on loss, then cubic growth back.
    #[default]
    Cubic,
    /// RFC 5681 and 6582: halved on loss, one segment more a round trip.
    Newreno,
}

impl Default for TcpConf {
    fn default() -> Self {
        let d = stack::tcp::TcpConfig::default();
        TcpConf {
            connections: d.connections,
            buffer: d.buffer,
            buffers: 0,
            syn_backlog: d.syn_backlog,
            rto_min_ms: d.rto_min_ns / 1_000_000,
            time_wait_ms: d.time_wait_ns / 1_000_000,
            delayed_ack_ms: d.delayed_ack_ns / 1_000_000,
            nagle: d.nagle,
            congestion: CongestionConf::default(),
            idle_timeout_s: d.idle_ns / 1_000_000_000,
            keepalive_s: d.keepalive.idle_ns / 1_000_000_000,
            keepalive_interval_s: d.keepalive.interval_ns / 1_000_000_000,
            keepalive_probes: d.keepalive.probes,
        }
    }
}

impl TcpConf {
    pub fn is_default(&self) -> bool {
        *self == TcpConf::default()
    }

    /// The engine's settings, for a pool of `mbufs` shared by `workers`.
    pub fn to_stack(&self, mbufs: u32, workers: usize) -> stack::tcp::TcpConfig {
        let auto = (mbufs as usize / 2 / workers.max(1)).max(1);
        stack::tcp::TcpConfig {
            connections: self.connections,
            buffer: self.buffer,
            buffers: if self.buffers == 0 { auto } else { self.buffers },
            syn_backlog: self.syn_backlog,
            rto_min_ns: self.rto_min_ms * 1_000_000,
            time_wait_ns: self.time_wait_ms * 1_000_000,
            delayed_ack_ns: self.delayed_ack_ms * 1_000_000,
            nagle: self.nagle,
            congestion: match self.congestion {
                CongestionConf::Cubic => stack::tcp::Congestion::Cubic,
                CongestionConf::Newreno => stack::tcp::Congestion::NewReno,
            },
            idle_ns: self.idle_timeout_s * 1_000_000_000,
            keepalive: stack::tcp::Keepalive {
                idle_ns: self.keepalive_s * 1_000_000_000,
                interval_ns: self.keepalive_interval_s * 1_000_000_000,
                probes: self.keepalive_probes,
            },
            ..stack::tcp::TcpConfig::default()
        }
    }
}

impl Config {
    pub(super) fn validate_tcp(&self, errs: &mut Vec<ConfigError>) {
        let t = &self.tcp;
        let mut range = |field: &str, v: u64, lo: u64, hi: u64| {
            if !(lo..=hi).contains(&v) {
                errs.push(err(format!("tcp.{field}"), format!("{v} is outside {lo}..={hi}")));
            }
        };
        range("connections", t.connections as u64, 1, 1 << 20);
        range("buffer", t.buffer as u64, 1024, 4 << 20);
        range("buffers", t.buffers as u64, 0, 1 << 20);
        range("syn_backlog", t.syn_backlog as u64, 1, t.connections.max(1) as u64);
        range("rto_min_ms", t.rto_min_ms, 200, 60_000);
        range("time_wait_ms", t.time_wait_ms, 1000, 240_000);
        range("delayed_ack_ms", t.delayed_ack_ms, 0, 500);
        range("idle_timeout_s", t.idle_timeout_s, 0, 86_400);
        range("keepalive_s", t.keepalive_s, 0, 86_400);
        range("keepalive_interval_s", t.keepalive_interval_s, 1, 3600);
        range("keepalive_probes", u64::from(t.keepalive_probes), 1, 127);
        if t.keepalive_s > 0 && t.idle_timeout_s > 0 && t.keepalive_s >= t.idle_timeout_s {
            errs.push(err(
                "tcp.keepalive_s",
                format!(
                    "{} is not below tcp.idle_timeout_s ({}): the connection would be dropped before its first probe",
                    t.keepalive_s, t.idle_timeout_s
                ),
            ));
        }
        let workers = self.workers.cores.len().max(1) as u64;
        let held = (t.buffers as u64).saturating_mul(workers);
        if held > u64::from(self.dpdk.mbufs) / 2 && t.buffers <= 1 << 20 {
            errs.push(err(
                "tcp.buffers",
                format!(
                    "{} × {workers} workers is more than half of dpdk.mbufs ({}): the ports would run out",
                    t.buffers, self.dpdk.mbufs
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_bounds_are_checked_by_field_and_need_a_restart() {
        let lab = Config::parse(include_str!("../../../deploy/lab/gateway.yaml")).unwrap();
        let mut c = lab.clone();
        c.tcp = TcpConf {
            buffer: 100,
            syn_backlog: 5000,
            rto_min_ms: 10,
            delayed_ack_ms: 501,
            idle_timeout_s: 86_401,
            keepalive_interval_s: 0,
            keepalive_probes: 200,
            ..TcpConf::default()
        };
        let fields: Vec<String> = c.validate().unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "tcp.buffer",
                "tcp.syn_backlog",
                "tcp.rto_min_ms",
                "tcp.delayed_ack_ms",
                "tcp.idle_timeout_s",
                "tcp.keepalive_interval_s",
                "tcp.keepalive_probes"
            ]
        );
        let mut late = lab.clone();
        late.tcp = TcpConf { keepalive_s: 600, idle_timeout_s: 600, ..TcpConf::default() };
        let e = late.validate().unwrap_err();
        assert_eq!((e[0].field.as_str(), e.len()), ("tcp.keepalive_s", 1), "{e:?}");
        late.tcp.keepalive_s = 60;
        assert!(late.validate().is_ok());
        assert_eq!(late.tcp.to_stack(8191, 1).keepalive.idle_ns, 60_000_000_000);
        let mut bigger = lab.clone();
        bigger.tcp.connections = 4096;
        assert_eq!(lab.restart_only_changes(&bigger)[0].field, "tcp");
        assert_eq!(lab.tcp.to_stack(8191, 1).rto_min_ns, 200_000_000, "the lab's");
        let d = stack::tcp::TcpConfig::default();
        assert_eq!(TcpConf::default().to_stack(16383, 2), stack::tcp::TcpConfig { buffers: 4095, ..d }, "the defaults");
        let mut greedy = lab.clone();
        greedy.tcp.buffers = 4096;
        let e = greedy.validate().unwrap_err();
        assert_eq!(e[0].field, "tcp.buffers", "more than half of the lab's 8,191 mbufs: {e:?}");
        greedy.tcp.buffers = 4095;
        assert!(greedy.validate().is_ok());
        let reno: TcpConf = serde_yaml::from_str("{ congestion: newreno }").unwrap();
        assert_eq!(reno.to_stack(8191, 1).congestion, stack::tcp::Congestion::NewReno);
        let bad = serde_yaml::from_str::<TcpConf>("{ congestion: bbr }").unwrap_err().to_string();
        assert!(bad.contains("expected `cubic` or `newreno`"), "{bad}");
    }
}

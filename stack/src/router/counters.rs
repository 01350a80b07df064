//! The router's per-worker counters, each declared once ([`counter_set`]):
//! its field, its doc (which is also its metric's help text) and its
//! metric's name. The worker publishes them by [`Counter`] and `/metrics`
//! renders them from the same table, so a new counter is one entry here.
//!
//! [`counter_set`]: crate::counter_set

use crate::drop::DropReason;

/// How a counter is exported.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Summed over workers, one unlabelled series.
    Sum,
    /// One series per worker (label `worker`).
    PerWorker,
}

/// Declares a set of counters once: a struct with a `u64` field for each
/// (and any `extra` fields, with their initial values), an enum naming
/// them, and for each its metric name, help text (its doc) and [`Scope`].
/// The router's [`Counters`] and the NAT's are declared with it.
#[macro_export]
macro_rules! counter_set {
    (
        $(#[$smeta:meta])*
        pub struct $S:ident / $E:ident {
            $( $(#[doc = $doc:literal])+ $field:ident / $variant:ident => $scope:ident $metric:literal, )+
        }
        extra {
            $( $(#[doc = $xdoc:literal])* $xfield:ident : $xty:ty = $xinit:expr, )*
        }
    ) => {
        $(#[$smeta])*
        pub struct $S {
            $( $(#[doc = $doc])+ pub $field: u64, )+
            $( $(#[doc = $xdoc])* pub $xfield: $xty, )*
        }

        impl Default for $S {
            fn default() -> Self {
                $S { $( $field: 0, )+ $( $xfield: $xinit, )* }
            }
        }

        #[doc = concat!("One of the counters of [`", stringify!($S), "`].")]
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub enum $E {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl $E {
            /// Every counter, in declaration order (the order of `index`).
            pub const ALL: &'static [$E] = &[$( $E::$variant, )+];
            pub const COUNT: usize = $E::ALL.len();

            /// Its place in `ALL`.
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The Prometheus metric it is exported as.
            pub const fn metric(self) -> &'static str {
                match self { $( $E::$variant => $metric, )+ }
            }

            /// The metric's help text: the counter's doc.
            pub fn help(self) -> &'static str {
                match self { $( $E::$variant => concat!($($doc),+).trim_start(), )+ }
            }

            pub const fn scope(self) -> $crate::router::Scope {
                match self { $( $E::$variant => $crate::router::Scope::$scope, )+ }
            }
        }

        impl $S {
            /// The value of one counter.
            pub fn get(&self, c: $E) -> u64 {
                match c { $( $E::$variant => self.$field, )+ }
            }
        }
    };
}

counter_set! {
    /// Per-worker counters. Written by the owning worker only.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Counters / Counter {
        /// Frames the worker received.
        rx / Rx => PerWorker "gateway_worker_packets_total",
        /// Packets forwarded to another host (sent, or queued for the
        /// neighbor and sent when it resolves).
        forwarded / Forwarded => Sum "gateway_forwarded_total",
        /// Packets for the gateway's own addresses that it answered or
        /// consumed.
        local / Local => Sum "gateway_local_total",
        /// ICMP errors sent.
        icmp_errors / IcmpErrors => Sum "gateway_icmp_errors_sent_total",
        /// ICMP errors suppressed by the rate limit.
        icmp_rate_limited / IcmpRateLimited => Sum "gateway_icmp_errors_rate_limited_total",
        /// ARP requests sent (broadcast and unicast probes).
        arp_requests / ArpRequests => Sum "gateway_arp_requests_sent_total",
        /// ARP replies sent.
        arp_replies / ArpReplies => Sum "gateway_arp_replies_sent_total",
        /// IPv6 packets forwarded (included in gateway_forwarded_total).
        forwarded6 / Forwarded6 => Sum "gateway_ipv6_forwarded_total",
        /// IPv6 packets for the gateway's own addresses (included in
        /// gateway_local_total).
        local6 / Local6 => Sum "gateway_ipv6_local_total",
        /// ICMPv6 errors sent (included in gateway_icmp_errors_sent_total).
        icmp6_errors / Icmp6Errors => Sum "gateway_icmpv6_errors_sent_total",
        /// Neighbor entries waiting for a reply evicted for a newer one,
        /// over `arp.incomplete_limit` on their interface (a scan of a
        /// connected subnet).
        neighbor_incomplete_evicted / NeighborIncompleteEvicted => Sum "gateway_neighbor_incomplete_evicted_total",
        /// Neighbor entries learned from a request and never confirmed
        /// evicted for a newer one, over `arp.unconfirmed_limit` (a flood
        /// of on-link senders).
        neighbor_unconfirmed_evicted / NeighborUnconfirmedEvicted => Sum "gateway_neighbor_unconfirmed_evicted_total",
        /// Neighbor Solicitations sent.
        nd_solicits / NdSolicits => Sum "gateway_nd_solicitations_sent_total",
        /// Neighbor Advertisements sent.
        nd_adverts / NdAdverts => Sum "gateway_nd_advertisements_sent_total",
        /// Router Advertisements sent.
        router_adverts / RouterAdverts => Sum "gateway_router_advertisements_sent_total",
        /// Bridged frames sent to the one member their destination was
        /// learned on.
        l2_forwarded / L2Forwarded => Sum "gateway_l2_forwarded_total",
        /// Bridged frames flooded to every member (broadcast, multicast,
        /// unknown unicast).
        l2_flooded / L2Flooded => Sum "gateway_l2_flooded_total",
        /// MAC addresses learned.
        mac_learned / MacLearned => Sum "gateway_mac_learned_total",
        /// Learned MAC addresses seen on another member (station moves).
        mac_moves / MacMoves => Sum "gateway_mac_moves_total",
        /// Source MAC addresses not learned because the bridge's MAC table was
        /// full (frames to them are flooded).
        mac_learn_full / MacLearnFull => Sum "gateway_mac_learn_full_total",
        /// MAC entries removed by aging.
        mac_aged / MacAged => Sum "gateway_mac_aged_total",
        /// IPv4 packets whose Record Route or Timestamp option the gateway
        /// filled in (RFC 1812 §5.3.13, RFC 1122 §3.2.2.6).
        ipv4_options_recorded / Ipv4OptionsRecorded => Sum "gateway_ipv4_options_recorded_total",
        /// IPv4 packets larger than the egress MTU sent as fragments
        /// (RFC 791 §3.2).
        fragmented / Fragmented => Sum "gateway_ipv4_fragmented_total",
        /// IPv4 fragments sent (included in the forwarded and local totals
        /// once per packet, not per fragment).
        fragments_sent / FragmentsSent => Sum "gateway_ipv4_fragments_sent_total",
        /// Datagrams addressed to the gateway put together from their
        /// fragments (IPv4 and IPv6).
        reassembled / Reassembled => Sum "gateway_reassembled_total",
        /// IPv6 packets of the gateway's own larger than the egress MTU,
        /// sent as fragments (RFC 8200 §4.5; routers never fragment what
        /// they forward).
        fragmented6 / Fragmented6 => Sum "gateway_ipv6_fragmented_total",
        /// Packets sent into a tunnel: wrapped and routed to its far end.
        encapsulated / Encapsulated => Sum "gateway_tunnel_encapsulated_total",
        /// Packets that came out of a tunnel, unwrapped.
        decapsulated / Decapsulated => Sum "gateway_tunnel_decapsulated_total",
        /// Fragmentation Needed or Packet Too Big reports from the
        /// underlay about a tunnel's outer packets that lowered its
        /// path's MTU ([`crate::path_mtu`]).
        tunnel_path_mtu_updates / TunnelPathMtuUpdates => Sum "gateway_tunnel_path_mtu_updates_total",
        /// TCP SYNs whose MSS was lowered to fit an interface's MTU
        /// (`mss_clamp`).
        mss_clamped / MssClamped => Sum "gateway_tcp_mss_clamped_total",
        /// UDP datagrams queued on the gateway's own sockets (the
        /// built-in services').
        udp_received / UdpReceived => Sum "gateway_udp_received_total",
        /// UDP datagrams the gateway's own sockets sent.
        udp_sent / UdpSent => Sum "gateway_udp_sent_total",
        /// TCP connections opened on the gateway's listeners.
        tcp_accepted / TcpAccepted => Sum "gateway_tcp_connections_accepted_total",
        /// TCP connections ended (closed, reset or timed out) and freed.
        tcp_closed / TcpClosed => Sum "gateway_tcp_connections_closed_total",
        /// Segments the gateway's TCP sent again (after a timeout, a fast
        /// retransmit or a partial ACK).
        tcp_retransmits / TcpRetransmits => Sum "gateway_tcp_retransmitted_segments_total",
        /// Retransmission timeouts (RFC 6298 §5.4-5.7).
        tcp_timeouts / TcpTimeouts => Sum "gateway_tcp_rto_expirations_total",
        /// TCP connections dropped for hearing nothing from the peer for
        /// `tcp.idle_timeout_s`.
        tcp_idle_drops / TcpIdleDrops => Sum "gateway_tcp_idle_drops_total",
        /// Keep-alive probes sent (`tcp.keepalive_s`, RFC 1122 §4.2.3.6).
        tcp_keepalive_probes / TcpKeepaliveProbes => Sum "gateway_tcp_keepalive_probes_total",
        /// TCP connections dropped after `tcp.keepalive_probes` probes went
        /// unanswered.
        tcp_keepalive_drops / TcpKeepaliveDrops => Sum "gateway_tcp_keepalive_drops_total",
        /// First slow starts HyStart++ ended on a rising round trip
        /// before any loss (RFC 9406).
        tcp_hystart_exits / TcpHystartExits => Sum "gateway_tcp_hystart_exits_total",
        /// Fast retransmits on three duplicate ACKs (RFC 5681 §3.2).
        tcp_fast_retransmits / TcpFastRetransmits => Sum "gateway_tcp_fast_retransmits_total",
        /// Partial ACKs in fast recovery (RFC 6582).
        tcp_partial_acks / TcpPartialAcks => Sum "gateway_tcp_partial_acks_total",
        /// Fast recoveries led by the peer's SACK blocks (RFC 6675): only
        /// the holes are sent again.
        tcp_sack_recoveries / TcpSackRecoveries => Sum "gateway_tcp_sack_recoveries_total",
        /// TCP segments that arrived beyond a gap and were kept in place
        /// until it filled.
        tcp_out_of_order / TcpOutOfOrder => Sum "gateway_tcp_out_of_order_segments_total",
        /// SYN-ACKs sent as SYN cookies (RFC 4987), the SYN backlog full.
        tcp_syn_cookies_sent / TcpSynCookiesSent => Sum "gateway_tcp_syn_cookies_sent_total",
        /// Connections completed by the ACK of a SYN cookie.
        tcp_syn_cookies_validated / TcpSynCookiesValidated => Sum "gateway_tcp_syn_cookies_validated_total",
        /// TCP connections of ours that lowered their segment size on an
        /// ICMP Fragmentation Needed or Packet Too Big (RFC 1191, 8201).
        tcp_path_mtu_updates / TcpPathMtuUpdates => Sum "gateway_tcp_path_mtu_updates_total",
        /// TCP segments (and ICMP errors about them) handed to the worker
        /// that owns their connection.
        tcp_handed_off / TcpHandedOff => Sum "gateway_tcp_handoffs_total",
        /// Challenge ACKs sent for an in-window RST or SYN (RFC 5961).
        tcp_challenge_acks / TcpChallengeAcks => Sum "gateway_tcp_challenge_acks_total",
        /// Connections the peer reset.
        tcp_resets_received / TcpResetsReceived => Sum "gateway_tcp_resets_received_total",
        /// Payload bytes the gateway's TCP received in order.
        tcp_bytes_received / TcpBytesReceived => Sum "gateway_tcp_received_bytes_total",
        /// Payload bytes the gateway's TCP sent (retransmissions included).
        tcp_bytes_sent / TcpBytesSent => Sum "gateway_tcp_sent_bytes_total",
        /// TCP data segments sent sharing the send queue's buffer, headers
        /// in front, no byte copied.
        tcp_segments_shared / TcpSegmentsShared => Sum "gateway_tcp_segments_shared_total",
        /// TCP data segments whose payload was copied into a fresh buffer
        /// (it spans buffers or starts inside one, or its buffer is still
        /// in flight or cannot be shared).
        tcp_segments_copied / TcpSegmentsCopied => Sum "gateway_tcp_segments_copied_total",
        /// Packets handed to the worker that owns their NAT state (a
        /// subscriber's, or an outside port's).
        handed_off / HandedOff => Sum "gateway_nat_handoffs_total",
        /// Packets the fast path carried: plain transit packets with a known
        /// next hop, NAT packets of established sessions and of new outbound
        /// flows among them (included in the forwarded and switched totals).
        fast_path / FastPath => Sum "gateway_fast_path_total",
        /// Packets of established TCP and UDP flows the fast path's flow cache
        /// carried, its lookups skipped (included in gateway_fast_path_total).
        flow_hits / FlowHits => Sum "gateway_flow_cache_hits_total",
        /// Packets for the gateway's addresses handed to the kernel (the
        /// punt path): protocols the dataplane leaves to the control plane.
        punted / Punted => Sum "gateway_punted_total",
        /// Packets the kernel sent that went out of a port.
        from_kernel / FromKernel => Sum "gateway_punt_from_kernel_total",
        /// The kernel's ARP requests and Neighbor Solicitations answered
        /// from the dataplane's neighbor cache.
        kernel_neighbor_answers / KernelNeighborAnswers => Sum "gateway_punt_neighbor_answers_total",
    }
    extra {
        /// Drops, indexed by [`DropReason::index`].
        drops: [u64; DropReason::COUNT] = [0; DropReason::COUNT],
    }
}

impl Counters {
    /// The drop count for one reason.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops.get(r.index()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_has_one_metric_and_help_and_reads_its_field() {
        let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.metric()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Counter::COUNT, "a metric name is used twice");
        let c = Counters { handed_off: 7, flow_hits: 9, ..Counters::default() };
        for (i, &k) in Counter::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert!(k.metric().starts_with("gateway_") && !k.help().is_empty() && !k.help().starts_with(' '));
        }
        assert_eq!((c.get(Counter::HandedOff), c.get(Counter::FlowHits), c.get(Counter::Rx)), (7, 9, 0));
        assert_eq!(
            Counter::Forwarded.help(),
            "Packets forwarded to another host (sent, or queued for the neighbor and sent when it resolves)."
        );
    }
}

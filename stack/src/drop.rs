//! Why a packet was dropped: the one table of drop reasons.
//!
//! Every drop in the pipeline carries one of these; each is a per-worker
//! counter, exported as `gateway_drops_total{reason="<label>"}`. Labels are
//! stable: dashboards and alerts rely on them.

macro_rules! drop_reasons {
    ($( $(#[doc = $doc:literal])* $name:ident => $label:literal, )*) => {
        /// The reason a packet was dropped.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[doc = $doc])* $name, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// Number of reasons (the size of a counter array).
            pub const COUNT: usize = DropReason::ALL.len();

            /// The stable metric label.
            pub const fn label(self) -> &'static str {
                match self { $(DropReason::$name => $label,)* }
            }

            /// The index of this reason's counter.
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

drop_reasons! {
    /// Frame shorter than an Ethernet header.
    EthTruncated => "eth_truncated",
    /// Destination MAC is neither ours, broadcast nor multicast.
    EthNotForUs => "eth_not_for_us",
    /// Source MAC is a multicast/broadcast address (invalid, IEEE 802.3).
    EthBadSource => "eth_bad_source",
    /// EtherType the gateway does not handle.
    EthUnknownType => "eth_unknown_type",
    /// 802.1Q-tagged frame whose VLAN has no interface or bridge member
    /// on its port, or a QinQ (802.1ad) frame.
    VlanNotConfigured => "vlan_not_configured",
    /// 802.1Q tag cut short.
    VlanTruncated => "vlan_truncated",
    /// Bridged frame with nowhere to go: its destination was learned on
    /// the member it came in on, or the bridge has no other member.
    L2Filtered => "l2_filtered",
    /// IPv6 frame; IPv6 is not enabled on the interface.
    Ipv6Disabled => "ipv6_disabled",
    /// Frame arrived on a port with no interface configured.
    NoInterface => "no_interface",
    /// ARP packet too short, or not Ethernet/IPv4 ARP (RFC 826).
    ArpMalformed => "arp_malformed",
    /// ARP packet about addresses that are not ours; ignored (RFC 826).
    ArpNotForUs => "arp_not_for_us",
    /// IPv4 packet shorter than its header (RFC 1812 §5.2.2).
    Ipv4Truncated => "ipv4_truncated",
    /// IP version field is not 4 (RFC 1812 §5.2.2).
    Ipv4BadVersion => "ipv4_bad_version",
    /// IHL below 5 or beyond the packet (RFC 1812 §5.2.2).
    Ipv4BadHeaderLength => "ipv4_bad_header_length",
    /// Total length below the header or beyond the frame (RFC 1812 §5.2.2).
    Ipv4BadTotalLength => "ipv4_bad_total_length",
    /// Header checksum does not verify (RFC 1812 §5.2.2).
    Ipv4BadChecksum => "ipv4_bad_checksum",
    /// Malformed IPv4 options (RFC 1812 §5.2.5); answered by Parameter Problem.
    Ipv4BadOptions => "ipv4_bad_options",
    /// Loose or strict source route: never followed nor forwarded (RFC 7126
    /// §4.3, §4.4).
    Ipv4SourceRoute => "ipv4_source_route",
    /// IPv4 options, refused by `ipv4.options: drop` (RFC 7126 §3).
    Ipv4OptionsRefused => "ipv4_options_refused",
    /// Martian source: broadcast, multicast, loopback or class E (RFC 1812 §5.3.7).
    Ipv4MartianSource => "ipv4_martian_source",
    /// Martian destination: 0/8, loopback or class E (RFC 1812 §5.3.7).
    Ipv4MartianDestination => "ipv4_martian_destination",
    /// IP unicast received as link-layer broadcast; never forwarded (RFC 1812 §5.3.4).
    Ipv4L2Broadcast => "ipv4_l2_broadcast",
    /// Broadcast or multicast destination: not forwarded, nothing local listens.
    Ipv4Broadcast => "ipv4_broadcast",
    /// TTL reached zero; answered by Time Exceeded (RFC 1812 §5.3.1).
    TtlExpired => "ttl_expired",
    /// No route to the destination; answered by Net Unreachable (RFC 1812 §5.2.7.1).
    NoRoute => "no_route",
    /// Route of type unreachable; answered by Host Unreachable.
    RouteUnreachable => "route_unreachable",
    /// Route of type blackhole: dropped silently.
    RouteBlackhole => "route_blackhole",
    /// Larger than the egress MTU with DF set; answered by Fragmentation Needed (RFC 1191).
    FragmentationNeeded => "fragmentation_needed",
    /// Tunnel packet for us that cannot be unwrapped: a GRE header with
    /// a version or RFC 1701 fields, a bad checksum or cut short, or a
    /// payload that is not the IPv4 or IPv6 it claims; or a packet to
    /// send into a tunnel that is neither.
    TunnelMalformed => "tunnel_malformed",
    /// VXLAN packet for us cut short or without the I flag (RFC 7348 §5).
    VxlanMalformed => "vxlan_malformed",
    /// VXLAN packet with a VNI no bridge has at that address, or from a
    /// VTEP not on the bridge's list.
    VxlanUnknown => "vxlan_unknown",
    /// Tunnel packet marked CE outside whose inner packet cannot carry
    /// the mark (Not-ECT): dropped, as RFC 6040 §4.2 requires.
    TunnelEcn => "tunnel_ecn",
    /// Packet for a tunnel whose far end is routed into a tunnel.
    TunnelLoop => "tunnel_loop",
    /// Tunnel packet inside a tunnel packet, both for the gateway.
    TunnelNested => "tunnel_nested",
    /// Packet sent into a tunnel that a router on the tunnel's path could
    /// not deliver (unreachable, TTL run out), as its ICMP error to us
    /// showed; the sender is told Destination Unreachable (RFC 2003 §4.1,
    /// RFC 2473 §8.1).
    TunnelUnreachable => "tunnel_unreachable",
    /// ICMP error about a tunnel's packet whose quote stops before the
    /// inner packet's header and 8 bytes: its sender cannot be told.
    TunnelErrorShort => "tunnel_error_short",
    /// Fragment of a datagram for the gateway that overlaps another one:
    /// the whole datagram is dropped, fragments still to come included
    /// (RFC 5722); also a second last fragment that disagrees on the end.
    ReassemblyOverlap => "reassembly_overlap",
    /// Exact duplicate of a fragment already held; ignored (RFC 8200 §4.5).
    ReassemblyDuplicate => "reassembly_duplicate",
    /// Datagram for the gateway in more fragments than the bound
    /// (`reassembly.fragments`): all of them dropped.
    ReassemblyTooManyFragments => "reassembly_too_many_fragments",
    /// Fragments dropped to make room: the oldest datagram in progress
    /// goes when the contexts or the buffers (`reassembly.contexts`,
    /// `reassembly.buffers`) are all taken.
    ReassemblyEvicted => "reassembly_evicted",
    /// Fragments dropped because their source address holds its share of
    /// the reassembly table (`reassembly.per_source`): its own oldest
    /// datagram in progress goes for its new one.
    ReassemblySourceLimit => "reassembly_source_limit",
    /// Fragments of a datagram not whole within `reassembly.timeout_ms`;
    /// the sender gets Time Exceeded code 1 if its first fragment came.
    ReassemblyTimeout => "reassembly_timeout",
    /// Fragment reaching past 65,535 bytes (RFC 791, RFC 8200 §4.5: IPv6
    /// answers with Parameter Problem).
    ReassemblyOversize => "reassembly_oversize",
    /// Fragment with no data, or not the last and its data not a multiple
    /// of 8 bytes (IPv6 answers with Parameter Problem, RFC 8200 §4.5).
    ReassemblyBadLength => "reassembly_bad_length",
    /// IPv6 first fragment without the whole header chain (RFC 7112,
    /// RFC 8200 §4.5); answered with Parameter Problem code 3.
    ReassemblyIncompleteChain => "reassembly_incomplete_chain",
    /// Reassembled tunnel packet or UDP datagram for a socket too large
    /// for one buffer (it must be handled in one piece), or no buffer to
    /// put it in.
    ReassemblyNoRoom => "reassembly_no_room",
    /// Local packet for a protocol we do not serve; answered by Protocol Unreachable.
    LocalProtocolUnreachable => "local_protocol_unreachable",
    /// Local UDP packet to a closed port; answered by Port Unreachable.
    LocalPortUnreachable => "local_port_unreachable",
    /// Local UDP datagram whose header is cut short or whose length field
    /// runs past the packet (or is below 8).
    UdpMalformed => "udp_malformed",
    /// Local UDP datagram failing its checksum, or over IPv6 without one
    /// (RFC 1122 §4.1.3.4, RFC 8200 §8.1): discarded silently.
    UdpBadChecksum => "udp_bad_checksum",
    /// Local UDP datagram for a socket whose queue is full, or while the
    /// worker's sockets hold their bound of datagrams together.
    UdpQueueFull => "udp_queue_full",
    /// Datagram to the echo service from a source port below 1024 (another
    /// service's: answering could set off a loop between them).
    UdpEchoRefused => "udp_echo_refused",
    /// Local TCP segment to a closed port; answered by RST (RFC 9293 §3.10.7.1).
    LocalTcpClosed => "local_tcp_closed",
    /// Local TCP segment cut short, failing its checksum, or with a
    /// malformed option: dropped without an answer.
    TcpMalformed => "tcp_malformed",
    /// TCP segment outside its connection's window, or acknowledging what
    /// was never sent: answered with an ACK (RFC 9293 §3.10.7.4, RFC 5961 §5).
    TcpOutOfWindow => "tcp_out_of_window",
    /// TCP data beyond the next byte expected that could not be kept (it
    /// would be a fifth separate piece past the gap): dropped and answered
    /// with a duplicate ACK, so the sender resends.
    TcpOutOfOrder => "tcp_out_of_order",
    /// SYN to a listener (or the ACK of a SYN cookie) while the worker
    /// holds `tcp.connections`.
    TcpTableFull => "tcp_table_full",
    /// TCP data the worker's connections had no buffer budget left for
    /// (`tcp.buffers` held in their queues together): dropped and
    /// answered with an ACK of what came before, so the sender resends.
    TcpBuffersFull => "tcp_buffers_full",
    /// TCP segment whose timestamp is older than the newest its connection
    /// has seen (RFC 7323 §5.3, PAWS): an old duplicate, answered with an
    /// ACK.
    TcpPaws => "tcp_paws",
    /// TCP segment without timestamps on a connection that agreed on them
    /// (RFC 7323 §3.2: dropped silently).
    TcpNoTimestamps => "tcp_no_timestamps",
    /// TCP segment for a connection another worker owns, that worker's
    /// handoff queue full.
    TcpHandoffFull => "tcp_handoff_full",
    /// Local ICMP message that is malformed or fails its checksum.
    IcmpMalformed => "icmp_malformed",
    /// Local ICMP message of a type we do not act on (e.g. an error or a reply).
    IcmpIgnored => "icmp_ignored",
    /// IPv6 packet shorter than its fixed header (RFC 8200 §3).
    Ipv6Truncated => "ipv6_truncated",
    /// IPv6 frame whose version field is not 6.
    Ipv6BadVersion => "ipv6_bad_version",
    /// Payload length beyond the frame.
    Ipv6BadPayloadLength => "ipv6_bad_payload_length",
    /// An extension header runs past the packet (RFC 8200 §4).
    Ipv6ExtTruncated => "ipv6_ext_truncated",
    /// More than 8 extension headers, or 8 options in one header: a
    /// looping or abusive chain (Linux's limits).
    Ipv6ExtTooLong => "ipv6_ext_too_long",
    /// An unrecognized option whose action says discard (RFC 8200 §4.2).
    Ipv6BadOption => "ipv6_bad_option",
    /// A header field RFC 8200 §4 rejects; answered by Parameter Problem.
    Ipv6ParamProblem => "ipv6_parameter_problem",
    /// Multicast or loopback source (RFC 4291 §2.5.3, §2.7).
    Ipv6MartianSource => "ipv6_martian_source",
    /// Unspecified or loopback destination.
    Ipv6MartianDestination => "ipv6_martian_destination",
    /// Multicast destination we do not listen to: no multicast routing.
    Ipv6Multicast => "ipv6_multicast",
    /// IPv6 unicast received as link-layer multicast; never forwarded.
    Ipv6L2Multicast => "ipv6_l2_multicast",
    /// Link-local destination that is not ours: never forwarded (RFC 4291 §2.5.6).
    Ipv6LinkLocal => "ipv6_link_local",
    /// Link-local source on a packet to forward; answered by Destination
    /// Unreachable, beyond scope of source (RFC 4443 §3.1).
    Ipv6BeyondScope => "ipv6_beyond_scope",
    /// Hop limit reached zero; answered by Time Exceeded (RFC 4443 §3.3).
    HopLimitExpired => "hop_limit_expired",
    /// Larger than the egress MTU; answered by Packet Too Big (RFC 4443 §3.2).
    PacketTooBig => "packet_too_big",
    /// ND message with a hop limit other than 255 (RFC 4861 §6.1, §7.1).
    NdpBadHopLimit => "ndp_bad_hop_limit",
    /// ND message failing RFC 4861's validity checks (code, length, options).
    NdpMalformed => "ndp_malformed",
    /// ND message for an address that is not ours, or a Router
    /// Solicitation on an interface that sends no advertisements.
    NdpNotForUs => "ndp_not_for_us",
    /// Neighbor resolution failed after all retries; answered by Host Unreachable.
    NeighborUnresolved => "neighbor_unresolved",
    /// Too many packets already wait for this neighbor's resolution.
    NeighborQueueFull => "neighbor_queue_full",
    /// A frame that came in more than one packet buffer (a chained mbuf:
    /// larger than one buffer). The ports run without scatter, so it
    /// should not happen; the frame is dropped rather than read in part.
    FrameChained => "frame_chained",
    /// Neighbor table full of entries that cannot be evicted.
    NeighborTableFull => "neighbor_table_full",
    /// A new neighbor resolution over the interface's rate
    /// (`arp.solicit_rate`; RFC 6583 §7.2.2).
    NeighborSolicitLimited => "neighbor_solicit_limited",
    /// Waited for a neighbor whose entry was evicted for a newer one
    /// (over `arp.incomplete_limit`).
    NeighborEvicted => "neighbor_evicted",
    /// Waiting for resolution when the neighbor table was flushed.
    NeighborFlushed => "neighbor_flushed",
    /// NAT: inbound packet to a pool address (or unsolicited TCP SYN to an
    /// outside address) with no mapping. Never answered (RFC 5382 REQ-4).
    NatNoMapping => "nat_no_mapping",
    /// NAT: inbound packet refused by address-dependent filtering (RFC 4787 REQ-8).
    NatFiltered => "nat_filtered",
    /// NAT: no session could be created, the table or the subscriber's
    /// session bound is full (RFC 6888 REQ-4); answered by ICMP 3/13.
    NatSessionLimit => "nat_session_limit",
    /// NAT: a packet from outside would make a session past the inbound
    /// bounds (`nat.subscriber_inbound_sessions`, `nat.inbound_sessions`),
    /// kept apart so outside traffic cannot starve the subscriber's own
    /// flows; dropped unanswered.
    NatInboundLimit => "nat_inbound_limit",
    /// NAT: no outside port free for a new mapping, in the range or within
    /// the subscriber's port bound (RFC 6888 REQ-5); answered by ICMP 3/13.
    NatPortsExhausted => "nat_ports_exhausted",
    /// NAT: the log queue is three quarters full (its writer is behind);
    /// a new port block or mapping is refused so that none goes
    /// unrecorded; answered by ICMP 3/13.
    NatLogFull => "nat_log_full",
    /// NAT: ICMP error about no mapped flow, or failing its checksum (RFC 5508 REQ-3).
    NatIcmpUnmapped => "nat_icmp_unmapped",
    /// NAT: a protocol or ICMP type the NAT does not translate.
    NatUnsupported => "nat_unsupported",
    /// NAT: a fragment that cannot be translated: a first fragment too
    /// short to hold its ports, a later one overlapping the TCP header
    /// (RFC 1858), or a fragmented ICMP error.
    NatFragment => "nat_fragment",
    /// NAT: a later fragment held for its first fragment, which did not
    /// come within the hold time (1 s).
    NatFragmentTimeout => "nat_fragment_timeout",
    /// NAT: a later fragment came before its first and the worker's hold
    /// queue (`nat.fragment_hold`) was full (RFC 4787 REQ-14a: fragments
    /// never crowd out whole packets).
    NatFragmentHoldFull => "nat_fragment_hold_full",
    /// NAT: the packet belongs to another worker's sessions and that
    /// worker's handoff queue was full.
    NatHandoffFull => "nat_handoff_full",
    /// NAT: transport header cut short.
    NatTruncated => "nat_truncated",
    /// No buffer left in the pool for a generated packet.
    BufferExhausted => "buffer_exhausted",
    /// Not enough headroom to build a reply in place.
    NoHeadroom => "no_headroom",
    /// The TX queue stayed full; the frame could not be sent.
    TxFull => "tx_full",
    /// For the kernel, over the punt budget of its source or of the
    /// worker (`punt.source_rate`, `punt.rate`).
    PuntRateLimited => "punt_rate_limited",
    /// For the kernel, whose queue from this worker was full.
    PuntQueueFull => "punt_queue_full",
    /// From the kernel: not for an interface with a kernel twin; not ARP
    /// or a whole IPv4/IPv6 packet within the MTU with TTL left; or what
    /// the dataplane says for the interface itself (ARP other than a
    /// request, Router Solicitations, DAD probes, advertisements).
    PuntFromKernelRefused => "punt_from_kernel_refused",
    /// From the kernel: a neighbor request for an address the dataplane
    /// has not resolved yet (it asks the wire; the kernel asks again).
    PuntNeighborUnknown => "punt_neighbor_unknown",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            let l = r.label();
            assert!(l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{l}");
            assert!(seen.insert(l), "duplicate label {l}");
        }
    }
}

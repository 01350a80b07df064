//! What IPv4 and IPv6 share: the IANA protocol numbers, carried in
//! IPv4's Protocol field and IPv6's Next Header, and the ECN field of
//! their traffic class (RFC 3168) with its tunnel rules (RFC 6040).

/// IANA Assigned Internet Protocol Numbers.
pub mod protocol {
    pub const ICMP: u8 = 1;
    /// IPv4 in IP (RFC 2003, RFC 2473).
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// IPv6 in IP (RFC 4213, RFC 2473).
    pub const IPV6: u8 = 41;
    /// GRE (RFC 2784).
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}

/// The ECN field: the low two bits of the TOS / Traffic Class byte.
pub mod ecn {
    pub const NOT_ECT: u8 = 0;
    pub const ECT1: u8 = 1;
    pub const ECT0: u8 = 2;
    pub const CE: u8 = 3;
    pub const MASK: u8 = 3;

    /// The inner header's ECN field after decapsulation (RFC 6040 §4.2,
    /// Figure 4), or `None`: the packet must be dropped (CE outside, an
    /// inner packet that cannot carry it).
    pub const fn decapsulate(inner: u8, outer: u8) -> Option<u8> {
        match (inner & MASK, outer & MASK) {
            (NOT_ECT, CE) => None,
            (NOT_ECT, _) => Some(NOT_ECT),
            (_, CE) => Some(CE),
            (ECT0, ECT1) => Some(ECT1),
            (i, _) => Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ecn::*;

    /// RFC 6040 Figure 4, row by row (inner), column by column (outer).
    #[test]
    fn decapsulation_follows_rfc6040_figure_4() {
        let outer = [NOT_ECT, ECT0, ECT1, CE];
        let table = [
            (NOT_ECT, [Some(NOT_ECT), Some(NOT_ECT), Some(NOT_ECT), None]),
            (ECT0, [Some(ECT0), Some(ECT0), Some(ECT1), Some(CE)]),
            (ECT1, [Some(ECT1), Some(ECT1), Some(ECT1), Some(CE)]),
            (CE, [Some(CE), Some(CE), Some(CE), Some(CE)]),
        ];
        for (inner, row) in table {
            for (o, want) in outer.iter().zip(row) {
                assert_eq!(decapsulate(inner, *o), want, "inner {inner} outer {o}");
            }
        }
    }
}

//! The gateway's protocol stack: wire formats, ARP and Neighbor Discovery,
//! the IPv4 and IPv6 FIBs, bridges and VLANs, and the dual-stack router
//! pipeline.
//!
//! Plain Rust with no I/O, threads or DPDK types, so every stage runs in unit
//! tests and fuzzers on a `Vec`-backed buffer ([`VecBuf`]) exactly as it runs
//! in a worker on an mbuf. Nothing on the per-packet path allocates or
//! panics; tables are sized when a [`Router`] or [`Tables`] is built.
//! No unsafe code but one call: the checksum's AVX2 loop, run only where
//! the CPU has it ([`wire::checksum::sum`]).
#![deny(unsafe_code)]

pub mod buf;

/// The keyed hasher behind every secret of the stack (TCP initial
/// sequence numbers and cookies, hash seeds outside hosts must not
/// guess): random keys per instance. Built for fuzzing (`--cfg
/// fuzzing`), fixed keys, so two routers given the same packets answer
/// byte for byte alike.
#[cfg(not(fuzzing))]
pub type Secret = std::collections::hash_map::RandomState;
#[cfg(fuzzing)]
pub type Secret = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
pub mod chargen;
pub mod client;
pub mod conversations;
pub mod drop;
pub mod fib;
pub mod fib6;
pub mod hooks;
pub mod http;
pub mod icmp;
pub mod icmp6;
pub mod iface;
pub mod mac_table;
pub mod neigh;
pub mod overlay;
pub mod path_mtu;
pub mod reassembly;
pub mod router;
pub mod services;
pub mod settings;
pub mod tcp;
pub mod udp;
pub mod wire;

pub use buf::{PacketBuf, VecBuf};
pub use drop::DropReason;
pub use fib::{Dest, Fib, FibBuilder, NextHop, RouteTarget};
pub use fib6::{Fib6, Fib6Builder, NextHop6};
pub use hooks::{BurstHints, EntryHandle, FastHooks, FastVerdict, Hooks, NoNat, Translator, Verdict};
pub use iface::{
    Attach, Bridge, Interface, IpCidr, Ipv4Cidr, Ipv6Cidr, Member, RaSettings, RouteChange, StaticNeighbor,
    StaticRoute, StaticRoute6, Tables, Tunnel, TunnelKey, TunnelKind, Vxlan,
};
pub use neigh::{NeighborCache, NeighborConfig};
pub use reassembly::ReassemblyConfig;
pub use router::{Counters, Io, NeighborNews, Router, HANDOFF_TCP};
pub use services::{Listener, ServiceKind, Transport};
pub use settings::{OptionsPolicy, PuntLimits, RouterConfig};

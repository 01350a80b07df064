//! The routes learned from the routing daemon: what its messages say,
//! kept apart from the config's static routes and never written to the
//! config file. Each entry remembers the connection (session) that last
//! sent it, so that after a reconnect the ones not sent again can be
//! told apart (stale) and swept.

use super::netlink::{Hop, Message, Object, Protocol, Route, Target, RT_TABLE_MAIN};
use stack::IpCidr;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

/// A learned route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned {
    pub protocol: Protocol,
    pub metric: u32,
    /// Shared with the routes before it through the same target (a
    /// table's routes go through a few gateways): one copy, and an equal
    /// target is told by its pointer.
    pub target: Arc<Target>,
    /// The session that last sent it.
    pub session: u64,
}

/// What the daemon has told us.
#[derive(Clone, Debug, Default)]
pub struct Rib {
    routes: HashMap<IpCidr, Learned>,
    objects: HashMap<u32, (Object, u64)>,
    /// The current session (0 before the first).
    pub session: u64,
    /// The kernel twins by their kernel ifindex ([`crate::punt`]): a
    /// link-local next hop names its interface by it.
    pub twins: Vec<(u32, String)>,
    /// What changed since [`Rib::take_changes`] last asked.
    changed: Changes,
    /// Routes by protocol, in the order of [`Protocol::NAMES`].
    by_protocol: [u64; Protocol::NAMES.len()],
    /// The target of the route added last, which the next one shares if
    /// it is the same.
    last_target: Option<Arc<Target>>,
}

/// What changed in the learned routes since a snapshot was last made of
/// them: the prefixes whose route changed (so that the snapshot can be
/// changed in place, a route at a time), or more than that (a nexthop
/// object that routes share changed: every route is read again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changes {
    Prefixes(HashSet<IpCidr>),
    Whole,
}

impl Default for Changes {
    fn default() -> Self {
        Changes::Prefixes(HashSet::new())
    }
}

/// Most prefixes [`Changes::Prefixes`] names; past it, and past a
/// quarter of the table, a change is taken as [`Changes::Whole`] (a
/// full build is then as cheap).
const MAX_NAMED: usize = 1 << 16;

/// What one message did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The table changed.
    Changed,
    /// Nothing to do (a withdrawal of an unknown route, the same route again).
    Same,
    /// Not taken, and why (`gateway_fpm_refused_total{reason}`).
    Refused(&'static str),
}

/// Every reason an [`Outcome::Refused`] gives.
pub const REFUSALS: [&str; 8] =
    ["connected", "other_table", "source_specific", "full", "truncated", "family", "prefix_length", "message_type"];

impl Rib {
    /// Applies one message; `limit` bounds routes and nexthop objects each.
    pub fn apply(&mut self, m: Message, limit: usize) -> Outcome {
        match m {
            Message::NewRoute(r) => self.add(r, limit),
            Message::DelRoute { dst, len, table } => {
                if table != RT_TABLE_MAIN {
                    return Outcome::Refused("other_table");
                }
                let Some(c) = cidr(dst, len) else { return Outcome::Same };
                match self.routes.remove(&c) {
                    Some(old) => {
                        self.count(old.protocol, false);
                        self.note(c);
                        Outcome::Changed
                    }
                    None => Outcome::Same,
                }
            }
            Message::NewObject { id, object } => {
                if !self.objects.contains_key(&id) && self.objects.len() >= limit {
                    return Outcome::Refused("full");
                }
                let session = self.session;
                match self.objects.insert(id, (object.clone(), session)) {
                    Some((old, _)) if old == object => Outcome::Same,
                    _ => {
                        self.changed = Changes::Whole;
                        Outcome::Changed
                    }
                }
            }
            Message::DelObject(id) => match self.objects.remove(&id) {
                Some(_) => {
                    self.changed = Changes::Whole;
                    Outcome::Changed
                }
                None => Outcome::Same,
            },
            Message::Bad(b) => Outcome::Refused(b.name()),
        }
    }

    fn add(&mut self, r: Route, limit: usize) -> Outcome {
        // Connected routes are the interfaces' own, known without zebra.
        if r.protocol == Protocol::Kernel {
            return Outcome::Refused("connected");
        }
        if r.table != RT_TABLE_MAIN {
            return Outcome::Refused("other_table");
        }
        let Some(dst) = cidr(r.dst, r.len) else { return Outcome::Refused("source_specific") };
        if !self.routes.contains_key(&dst) && self.routes.len() >= limit {
            return Outcome::Refused("full");
        }
        let target = match &self.last_target {
            Some(t) if **t == r.target => t.clone(),
            _ => self.last_target.insert(Arc::new(r.target)).clone(),
        };
        let new = Learned { protocol: r.protocol, metric: r.metric, target, session: self.session };
        let protocol = new.protocol;
        match self.routes.insert(dst, new.clone()) {
            Some(old) if old == new => Outcome::Same,
            old => {
                if let Some(old) = old {
                    self.count(old.protocol, false);
                }
                self.count(protocol, true);
                self.note(dst);
                Outcome::Changed
            }
        }
    }

    /// Notes that `dst`'s route changed.
    fn note(&mut self, dst: IpCidr) {
        if let Changes::Prefixes(named) = &mut self.changed {
            if named.len() >= MAX_NAMED.max(self.routes.len() / 4) {
                self.changed = Changes::Whole;
            } else {
                named.insert(dst);
            }
        }
    }

    /// One route more (`up`) or less of `protocol`.
    fn count(&mut self, protocol: Protocol, up: bool) {
        if let Some(c) =
            Protocol::NAMES.iter().position(|&p| p == protocol.name()).and_then(|i| self.by_protocol.get_mut(i))
        {
            *c = if up { *c + 1 } else { c.saturating_sub(1) };
        }
    }

    /// What changed since the last call (the caller makes a snapshot of it).
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changed)
    }

    /// A new connection: what it does not send again is stale from now.
    pub fn new_session(&mut self) {
        self.session += 1;
    }

    /// Removes what the current session has not sent (after a resync, or
    /// everything at the end of the grace time after `new_session`).
    /// Returns how many routes went.
    pub fn sweep(&mut self) -> usize {
        let s = self.session;
        let stale: Vec<IpCidr> = self.routes.iter().filter(|(_, r)| r.session != s).map(|(d, _)| *d).collect();
        for d in &stale {
            if let Some(old) = self.routes.remove(d) {
                self.count(old.protocol, false);
                self.note(*d);
            }
        }
        let objects = self.objects.len();
        self.objects.retain(|_, (_, session)| *session == s);
        if self.objects.len() != objects {
            self.changed = Changes::Whole;
        }
        stale.len()
    }

    /// Whether any entry is from an earlier session.
    pub fn has_stale(&self) -> bool {
        self.routes.values().any(|r| r.session != self.session)
            || self.objects.values().any(|(_, s)| *s != self.session)
    }

    /// Routes by protocol, in the order of [`Protocol::NAMES`].
    pub fn counts(&self) -> [u64; Protocol::NAMES.len()] {
        self.by_protocol
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Every route, in no order.
    pub fn routes(&self) -> impl Iterator<Item = (&IpCidr, &Learned)> {
        self.routes.iter()
    }

    pub fn get(&self, dst: &IpCidr) -> Option<&Learned> {
        self.routes.get(dst)
    }

    pub fn get_key_value(&self, dst: &IpCidr) -> Option<(&IpCidr, &Learned)> {
        self.routes.get_key_value(dst)
    }

    /// Whether `r` is from an earlier session than the current one.
    pub fn is_stale(&self, r: &Learned) -> bool {
        r.session != self.session
    }

    /// The next hops of `t`, nexthop objects and groups resolved (a
    /// group's members are objects of their own; an unknown id or a
    /// blackhole member gives none). Weights are kept for the caller,
    /// which spreads flows evenly over the distinct gateways.
    pub fn hops(&self, t: &Target) -> Vec<Hop> {
        match t {
            Target::Hops(h) => h.clone(),
            Target::Object(id) => match self.objects.get(id) {
                Some((Object::Hop(h), _)) => vec![h.clone()],
                Some((Object::Group(members), _)) => members
                    .iter()
                    .filter_map(|(m, w)| match self.objects.get(m) {
                        Some((Object::Hop(h), _)) => Some(Hop { weight: *w, ..h.clone() }),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Whether `t` names a blackhole nexthop object.
    pub fn is_blackhole_object(&self, t: &Target) -> bool {
        matches!(t, Target::Object(id) if matches!(self.objects.get(id), Some((Object::Blackhole, _))))
    }
}

/// `addr/len` as a prefix (host bits cleared); `None` for a length past
/// the address (source-specific routes are marked so by the decoder).
fn cidr(addr: IpAddr, len: u8) -> Option<IpCidr> {
    let c = match addr {
        IpAddr::V4(a) if len <= 32 => IpCidr::V4(stack::Ipv4Cidr::new(a, len)),
        IpAddr::V6(a) if len <= 128 => IpCidr::V6(stack::Ipv6Cidr::new(a, len)),
        _ => return None,
    };
    Some(c.prefix())
}

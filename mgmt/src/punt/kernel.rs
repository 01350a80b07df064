//! The kernel side of the punt path: entering the routing daemon's
//! network namespace, making (or taking over) a TAP, setting its MAC,
//! MTU and state, and reading and setting its addresses (ioctl and
//! rtnetlink, RFC 3549). Everything here acts on the calling thread's
//! namespace.

use crate::fpm::netlink;
use stack::wire::MacAddr;
use std::ffi::CString;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Moves the calling thread into network namespace `name`
/// (`/run/netns/NAME`, as `ip netns add` makes it). The name was
/// checked by the config to stay in that directory.
pub fn enter_netns(name: &str) -> io::Result<()> {
    let path = CString::new(format!("/run/netns/{name}")).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: a NUL-terminated path; the fd is owned below.
    let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    // SAFETY: open returned a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: setns on a namespace descriptor; CLONE_NEWNET affects this thread only.
    check(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) })?;
    Ok(())
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= r.ifr_name.len() || name.bytes().any(|b| b == 0) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

/// An ioctl on an interface, through a datagram socket.
fn if_ioctl(name: &str, req: libc::c_ulong, fill: impl FnOnce(&mut libc::ifreq)) -> io::Result<libc::ifreq> {
    let mut r = ifreq(name)?;
    fill(&mut r);
    // SAFETY: a plain socket call; the fd is owned below.
    let s = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: socket returned a new descriptor we own.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: `r` is a valid ifreq for these interface requests, which
    // read and write only within it.
    check(unsafe { libc::ioctl(s.as_raw_fd(), req as _, &mut r as *mut libc::ifreq) })?;
    Ok(r)
}

/// Writes a sysctl under `/proc/sys/net` (of the calling thread's namespace).
fn sysctl(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/net/{path}"), value)
}

/// A kernel twin: the TAP's descriptor (non-blocking: one frame per read
/// or write) and its kernel ifindex. The TAP is persistent while gatewayd
/// runs: if gatewayd dies it stays, without carrier, and the next gatewayd
/// takes it over; dropping the `Tap` (a clean stop) removes it.
pub struct Tap {
    pub name: String,
    fd: OwnedFd,
    pub kernel_index: u32,
}

impl Tap {
    /// Makes TAP `name`, or takes over the one a gatewayd that died left
    /// (the same interface and ifindex: the routing daemon sees its link go
    /// down and up, not an interface replaced), with `mac` and `mtu`, up.
    /// The kernel's IPv6 stays quiet on it: no SLAAC from advertisements,
    /// no DAD (the dataplane owns the addresses on the wire).
    pub fn attach(name: &str, mac: MacAddr, mtu: u16) -> io::Result<Tap> {
        // SAFETY: a NUL-terminated literal path; the fd is owned below.
        let fd =
            check(unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
        // SAFETY: open returned a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut r = ifreq(name)?;
        r.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes the ifreq only.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut r as *mut libc::ifreq) })
            .map_err(|e| io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e} (is there another {name}?)")))?;
        // SAFETY: TUNSETPERSIST takes its flag by value.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETPERSIST as _, 1 as libc::c_ulong) })
            .map_err(|e| io::Error::new(e.kind(), format!("TUNSETPERSIST {name}: {e}")))?;
        let tap = Tap { name: name.into(), fd, kernel_index: 0 };
        // From here a failure drops `tap`, which removes the TAP again.
        tap.set_up(mac, mtu)
    }

    fn set_up(mut self, mac: MacAddr, mtu: u16) -> io::Result<Tap> {
        let name = self.name.as_str();
        // Best effort: IPv6 may be off in this namespace. The link-local
        // address from the MAC (EUI-64), as the dataplane's, whatever
        // this namespace's default.
        let _ = sysctl(&format!("ipv6/conf/{name}/addr_gen_mode"), "0");
        let _ = sysctl(&format!("ipv6/conf/{name}/accept_ra"), "0");
        let _ = sysctl(&format!("ipv6/conf/{name}/autoconf"), "0");
        let _ = sysctl(&format!("ipv6/conf/{name}/dad_transmits"), "0");
        if_ioctl(name, libc::SIOCSIFHWADDR, |r| {
            r.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
            // SAFETY: writing the hwaddr member of the union we just chose.
            let data = unsafe { &mut r.ifr_ifru.ifru_hwaddr.sa_data };
            for (d, s) in data.iter_mut().zip(mac.0) {
                *d = s as libc::c_char;
            }
        })
        .map_err(|e| io::Error::new(e.kind(), format!("setting {name}'s MAC: {e}")))?;
        set_mtu(name, mtu)?;
        // SAFETY: the flags member, as SIOCGIFFLAGS filled it.
        let flags = unsafe { if_ioctl(name, libc::SIOCGIFFLAGS, |_| {})?.ifr_ifru.ifru_flags };
        if_ioctl(name, libc::SIOCSIFFLAGS, |r| r.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short)?;
        let cname = CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        self.kernel_index = index;
        Ok(self)
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for Tap {
    /// Not persistent any more: closing the descriptor removes the TAP.
    fn drop(&mut self) {
        // SAFETY: TUNSETPERSIST takes its flag by value.
        unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TUNSETPERSIST as _, 0 as libc::c_ulong) };
    }
}

/// Sets interface `name`'s MTU.
pub fn set_mtu(name: &str, mtu: u16) -> io::Result<()> {
    if_ioctl(name, libc::SIOCSIFMTU, |r| r.ifr_ifru.ifru_mtu = libc::c_int::from(mtu))
        .map(|_| ())
        .map_err(|e| io::Error::new(e.kind(), format!("setting {name}'s MTU to {mtu}: {e}")))
}

// rtnetlink (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

/// A route netlink socket, for addresses.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: a plain socket call; the fd is owned below.
        let fd =
            check(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) })?;
        // SAFETY: socket returned a new descriptor we own.
        Ok(Netlink { fd: unsafe { OwnedFd::from_raw_fd(fd) }, seq: 0 })
    }

    /// Adds (or replaces) or removes `addr/len` on kernel interface `index`.
    pub fn address(&mut self, add: bool, index: u32, addr: IpAddr, len: u8) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let (kind, flags) = if add { (RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE) } else { (RTM_DELADDR, 0) };
        let msg = address_message(kind, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, index, addr, len);
        self.send(&msg)?;
        let mut buf = [0u8; 1024];
        let n = self.recv(&mut buf)?;
        ack(&buf[..n])
    }

    /// The addresses on kernel interface `index`, but its IPv6 link-local
    /// ones (the kernel's own, made from the MAC).
    pub fn addresses(&mut self, index: u32) -> io::Result<Vec<(IpAddr, u8)>> {
        self.seq = self.seq.wrapping_add(1);
        // struct ifaddrmsg, all zero: every family, every interface.
        let mut msg = vec![0u8; 16 + 8];
        header(&mut msg, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, self.seq);
        self.send(&msg)?;
        let mut buf = vec![0u8; 32 * 1024];
        let mut found = Vec::new();
        loop {
            let n = self.recv(&mut buf)?;
            if dump_addresses(&buf[..n], index, &mut found)? {
                return Ok(found);
            }
        }
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: sends `msg` to the kernel (the default destination of a
        // netlink socket is the kernel, pid 0).
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: receives into `buf`, within its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Fills in the `struct nlmsghdr` at the start of `m`.
fn header(m: &mut [u8], kind: u16, flags: u16, seq: u32) {
    let total = m.len() as u32;
    m[0..4].copy_from_slice(&total.to_ne_bytes());
    m[4..6].copy_from_slice(&kind.to_ne_bytes());
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
}

/// Reads one batch of an address dump: the addresses on `index` into
/// `out` (but IPv6 link-local ones); whether the dump is done.
fn dump_addresses(b: &[u8], index: u32, out: &mut Vec<(IpAddr, u8)>) -> io::Result<bool> {
    let short = || io::Error::new(io::ErrorKind::InvalidData, "a netlink message cut short");
    for msg in netlink::split(b) {
        let msg = msg.map_err(|_| short())?;
        match netlink::u16_at(msg, 4) {
            Some(NLMSG_DONE) => return Ok(true),
            Some(NLMSG_ERROR) => return ack(msg).map(|()| true),
            Some(RTM_NEWADDR) => {
                // struct ifaddrmsg: family, prefixlen, flags, scope, index.
                let ifa = msg.get(16..24).ok_or_else(short)?;
                if netlink::u32_at(ifa, 4) == Some(index) {
                    match own_address(&msg[24..], ifa[0]) {
                        Some(IpAddr::V6(a)) if a.segments()[0] & 0xffc0 == 0xfe80 => {}
                        Some(a) => out.push((a, ifa[1])),
                        None => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

/// An address message's own address: `IFA_LOCAL` where there is one (on a
/// point-to-point link `IFA_ADDRESS` is the far end's), else `IFA_ADDRESS`;
/// none if an attribute is cut short.
fn own_address(attrs: &[u8], family: u8) -> Option<IpAddr> {
    let mut found = None;
    for attr in netlink::attrs(attrs) {
        let (kind, value) = attr.ok()?;
        match kind {
            IFA_LOCAL => return netlink::address(family, value).ok(),
            IFA_ADDRESS => found = netlink::address(family, value).ok(),
            _ => {}
        }
    }
    found
}

fn push_attr(m: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    m.extend_from_slice(&(len as u16).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(value);
    m.resize(m.len() + (4 - len % 4) % 4, 0);
}

/// An `RTM_NEWADDR`/`RTM_DELADDR` request for `addr/len` on `index`.
fn address_message(kind: u16, flags: u16, seq: u32, index: u32, addr: IpAddr, len: u8) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 } as u8;
    // struct ifaddrmsg: family, prefixlen, flags, scope (universe), index.
    m.extend_from_slice(&[family, len, 0, 0]);
    m.extend_from_slice(&index.to_ne_bytes());
    let bytes = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    push_attr(&mut m, IFA_LOCAL, &bytes);
    push_attr(&mut m, IFA_ADDRESS, &bytes);
    push_attr(&mut m, IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes());
    header(&mut m, kind, flags, seq);
    m
}

/// The kernel's answer: `NLMSG_ERROR` with 0 is success.
fn ack(b: &[u8]) -> io::Result<()> {
    // struct nlmsgerr: the error (negated errno), after the header.
    match (netlink::u16_at(b, 4), netlink::u32_at(b, 16).map(|c| c as i32)) {
        (Some(NLMSG_ERROR), Some(0)) => Ok(()),
        (Some(NLMSG_ERROR), Some(e)) => Err(io::Error::from_raw_os_error(-e)),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "no netlink acknowledgement")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_request_is_laid_out_as_rtnetlink_wants() {
        let m = address_message(RTM_NEWADDR, NLM_F_REQUEST, 7, 3, "10.0.1.1".parse().unwrap(), 24);
        assert_eq!(m.len(), 16 + 8 + 8 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 24, 0, 0]);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 3);
        assert_eq!(&m[24..28], &[&8u16.to_ne_bytes()[..], &IFA_LOCAL.to_ne_bytes()[..]].concat()[..]);
        assert_eq!(&m[28..32], &[10, 0, 1, 1]);
        let m6 = address_message(RTM_DELADDR, NLM_F_REQUEST, 8, 3, "fd00:1::1".parse().unwrap(), 64);
        assert_eq!(m6.len(), 16 + 8 + 20 + 20 + 8);
        let mut err = vec![0u8; 36];
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(ack(&err).is_ok());
        err[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(ack(&err).unwrap_err().raw_os_error(), Some(libc::EEXIST));
        assert!(ack(&[]).is_err());
    }

    #[test]
    fn an_address_dump_yields_the_interfaces_own_addresses() {
        let new = |index, a: &str, len| address_message(RTM_NEWADDR, 0, 1, index, a.parse().unwrap(), len);
        let mut dump =
            [new(3, "10.0.1.1", 24), new(4, "10.0.9.1", 24), new(3, "fe80::1", 64), new(3, "fd00:1::1", 64)].concat();
        let mut found = Vec::new();
        assert!(!dump_addresses(&dump, 3, &mut found).unwrap(), "no NLMSG_DONE yet");
        let want: Vec<(IpAddr, u8)> = vec![("10.0.1.1".parse().unwrap(), 24), ("fd00:1::1".parse().unwrap(), 64)];
        assert_eq!(found, want, "index 3's, without its link-local address");
        let mut done = vec![0u8; 20];
        header(&mut done, NLMSG_DONE, 0, 1);
        dump.extend_from_slice(&done);
        found.clear();
        assert!(dump_addresses(&dump, 3, &mut found).unwrap());
        assert_eq!(found, want);
        // A message that claims more than there is, or less than a header.
        let mut cut = new(3, "10.0.1.1", 24);
        cut.truncate(30);
        assert!(dump_addresses(&cut, 3, &mut Vec::new()).is_err());
        let mut tiny = vec![0u8; 16];
        header(&mut tiny, RTM_NEWADDR, 0, 1);
        tiny[0] = 8;
        assert!(dump_addresses(&tiny, 3, &mut Vec::new()).is_err());
        // A failed dump is the kernel's error.
        let mut err = vec![0u8; 36];
        header(&mut err, NLMSG_ERROR, 0, 1);
        err[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(dump_addresses(&err, 3, &mut Vec::new()).unwrap_err().raw_os_error(), Some(libc::EPERM));
    }
}

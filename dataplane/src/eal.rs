//! DPDK's Environment Abstraction Layer: initialised once per process.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Errors starting DPDK.
#[derive(Debug, thiserror::Error)]
pub enum EalError {
    #[error("the EAL was already initialised in this process (DPDK allows one init per process)")]
    AlreadyInitialised,
    #[error("EAL argument {0:?} contains a NUL byte")]
    BadArgument(String),
    #[error("rte_eal_init failed: {0} (EAL arguments: {1})")]
    Init(String, String),
    #[error(
        "another DPDK process{} still holds {path} after {waited_s} s: stop it, or give this one another \
         --file-prefix", holder(*.pid)
    )]
    Busy { path: String, pid: i32, waited_s: u64 },
}

/// " (pid N)" when the holder is known.
fn holder(pid: i32) -> String {
    if pid > 0 {
        format!(" (pid {pid})")
    } else {
        String::new()
    }
}

/// How long [`Eal::init`] waits for a previous instance's DPDK files.
const WAIT_FOR_PREVIOUS: std::time::Duration = std::time::Duration::from_secs(15);

/// The runtime directory DPDK uses for these arguments (its files and
/// their locks), or `None` when it keeps none (`--in-memory`,
/// `--no-shconf`). As EAL picks it: `/var/run` for root, else
/// `$XDG_RUNTIME_DIR` or `/tmp`; then `dpdk/<file prefix>`.
pub fn runtime_dir(args: &[String]) -> Option<std::path::PathBuf> {
    if args.iter().any(|a| a == "--in-memory" || a == "--no-shconf") {
        return None;
    }
    let mut prefix = "rte".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(p) = a.strip_prefix("--file-prefix=") {
            prefix = p.to_string();
        } else if a == "--file-prefix" {
            prefix = it.next()?.clone();
        }
    }
    // SAFETY: getuid has no preconditions.
    let base = if unsafe { libc::getuid() } == 0 {
        "/var/run".to_string()
    } else {
        std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into())
    };
    Some(std::path::Path::new(&base).join("dpdk").join(prefix))
}

/// A file in `dir` some process still locks, and that process (0 when
/// only `flock` says so, which names no one).
fn locked_file(dir: &std::path::Path) -> Option<(std::path::PathBuf, i32)> {
    use std::os::fd::AsRawFd;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open(&path) else { continue };
        let fd = f.as_raw_fd();
        // EAL's config file holds a POSIX record lock; its fbarrays hold
        // flock locks. Ask about the first, try the second.
        // SAFETY: an all-zero flock is a valid value to fill in.
        let mut lk: libc::flock = unsafe { std::mem::zeroed() };
        lk.l_type = libc::F_WRLCK as libc::c_short;
        lk.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: fd is open; lk is a valid flock for F_GETLK to fill.
        if unsafe { libc::fcntl(fd, libc::F_GETLK, &mut lk) } == 0 && lk.l_type != libc::F_UNLCK as libc::c_short {
            return Some((path, lk.l_pid));
        }
        // SAFETY: fd is open; a lock taken here goes with the file.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Some((path, 0));
        }
    }
    None
}

/// Waits (up to [`WAIT_FOR_PREVIOUS`]) until no process locks a file of
/// DPDK's runtime directory for `args`: an instance killed a moment ago
/// (`kill -9`, then a restart by systemd) takes a second or two to let
/// go of them, and EAL fails to start meanwhile.
fn wait_for_previous(args: &[String]) -> Result<(), EalError> {
    let Some(dir) = runtime_dir(args) else { return Ok(()) };
    let t0 = std::time::Instant::now();
    let mut said = false;
    loop {
        let Some((path, pid)) = locked_file(&dir) else { return Ok(()) };
        if t0.elapsed() >= WAIT_FOR_PREVIOUS {
            let waited_s = t0.elapsed().as_secs();
            return Err(EalError::Busy { path: path.display().to_string(), pid, waited_s });
        }
        if !said {
            let who = holder(pid);
            eprintln!("gatewayd: waiting for a previous DPDK process{who} to let go of {}", path.display());
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The initialised EAL. Dropping it runs `rte_eal_cleanup`; ports and
/// mempools must be gone by then.
#[derive(Debug)]
pub struct Eal {
    /// The file prefix's runtime directory, removed after cleanup (a
    /// test or tool with a prefix per process left one behind each run).
    runtime: Option<std::path::PathBuf>,
}

impl Eal {
    /// Initialises DPDK with `args` (without the program name), once a
    /// previous instance with the same file prefix has let go of its
    /// files (see [`wait_for_previous`]).
    pub fn init(args: &[String]) -> Result<Eal, EalError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(EalError::AlreadyInitialised);
        }
        if let Err(e) = wait_for_previous(args) {
            INITIALISED.store(false, Ordering::SeqCst);
            return Err(e);
        }
        let mut owned = vec![CString::new("gatewayd").map_err(|_| EalError::BadArgument("gatewayd".into()))?];
        for a in args {
            owned.push(CString::new(a.as_str()).map_err(|_| EalError::BadArgument(a.clone()))?);
        }
        // rte_eal_init may permute argv; it gets its own array of pointers
        // into strings that outlive the call (EAL keeps some of them).
        let mut argv: Vec<*mut libc::c_char> = owned.iter().map(|c| c.as_ptr() as *mut _).collect();
        // SAFETY: argv points to argc valid NUL-terminated strings; they are
        // leaked below because EAL may keep pointers into them.
        let rc = unsafe { dpdk_sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        std::mem::forget(owned);
        if rc < 0 {
            INITIALISED.store(false, Ordering::SeqCst);
            return Err(EalError::Init(crate::rte_error(crate::rte_errno()), args.join(" ")));
        }
        Ok(Eal { runtime: runtime_dir(args) })
    }

    /// TSC ticks per second.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: valid after rte_eal_init.
        unsafe { dpdk_sys::rte_get_tsc_hz() }
    }
}

/// The EAL of this crate's unit tests, started by the first that asks
/// (DPDK starts once per process; never cleaned up). Its runtime
/// directory goes at once: nothing but this process uses it, and a
/// process that never ends its EAL would leave it behind.
#[cfg(test)]
pub(crate) fn test_eal() -> &'static Eal {
    static EAL: std::sync::OnceLock<Eal> = std::sync::OnceLock::new();
    EAL.get_or_init(|| {
        let args: Vec<String> =
            ["--no-huge", "--no-pci", "-m", "64", "--file-prefix", "gw-unit-dataplane", "--log-level", "lib.eal:error"]
                .map(String::from)
                .into();
        let eal = Eal::init(&args).expect("EAL");
        if let Some(dir) = &eal.runtime {
            let _ = std::fs::remove_dir_all(dir);
        }
        eal
    })
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: called once, after every DPDK object this process made
        // has been released (the owner drops ports and pools first).
        unsafe { dpdk_sys::rte_eal_cleanup() };
        // What is left there (the config and memory files) served only
        // this process: a multi-process secondary is never started.
        if let Some(dir) = &self.runtime {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads the TSC.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // The instruction itself on x86_64: DPDK's rte_rdtsc is an inline C
    // function, reachable from Rust only through an out-of-line wrapper.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the time-stamp counter; no memory is touched.
    return unsafe { core::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: reads a CPU counter; no memory is touched.
    return unsafe { dpdk_sys::rte_rdtsc() };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_runtime_dir_follows_the_file_prefix_as_eal_does() {
        let root = |p: &str| (unsafe { libc::getuid() } == 0).then(|| std::path::PathBuf::from(p));
        if let Some(want) = root("/var/run/dpdk/gateway-lab") {
            assert_eq!(runtime_dir(&args(&["--no-huge", "--file-prefix", "gateway-lab"])), Some(want));
            assert_eq!(runtime_dir(&args(&["--file-prefix=x"])), root("/var/run/dpdk/x"));
            assert_eq!(runtime_dir(&args(&[])), root("/var/run/dpdk/rte"));
        }
        assert_eq!(runtime_dir(&args(&["--in-memory", "--file-prefix", "y"])), None);
    }

    #[test]
    fn a_file_a_dying_instance_still_locks_is_found_until_it_lets_go() {
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir().join(format!("gw-eal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fbarray_memzone");
        let held = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).unwrap();
        assert_eq!(locked_file(&dir), None, "unlocked");
        // SAFETY: the fd is open.
        assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
        assert_eq!(locked_file(&dir), Some((path.clone(), 0)));
        drop(held);
        assert_eq!(locked_file(&dir), None, "let go");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

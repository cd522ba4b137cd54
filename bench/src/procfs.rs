//! Server resource readings from `/proc` (Linux only).

use std::sync::OnceLock;

/// Resident set size of a process in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other("no VmRSS line"))
}

/// User + system CPU time a process has used, in seconds
/// (`utime + stime` of `/proc/<pid>/stat`).
pub fn cpu_seconds(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime/stime are fields 14/15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, a)| a)
        .ok_or_else(|| std::io::Error::other("bad stat"))?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok((ticks(11) + ticks(12)) as f64 / clock_ticks())
}

/// CPU seconds the whole machine has been busy (all cores: user, nice,
/// system, irq, softirq) and stolen by the hypervisor, from the first line
/// of `/proc/stat` (10 ms ticks).
pub fn machine_cpu_seconds() -> std::io::Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| std::io::Error::other("no cpu line"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal ...
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    Ok((busy as f64 / clock_ticks(), at(7) as f64 / clock_ticks()))
}

fn clock_ticks() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Nanoseconds on CPU of every live thread of `pid`, by thread id (first
/// field of `/proc/<pid>/task/<tid>/schedstat`: the scheduler's exact
/// runtime, not the 10 ms ticks of `utime`/`stime`).
pub fn thread_cpu_ns(pid: u32) -> std::io::Result<Vec<(u32, u64)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread may exit between the listing and the read.
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text.split_whitespace().next().and_then(|v| v.parse().ok()) {
            out.push((tid, ns));
        }
    }
    Ok(out)
}

/// CPU a process used between two points in time.
///
/// Two readings: the sum over its threads of their scheduler runtime
/// (nanosecond resolution; see [`thread_cpu_ns`]) and `utime + stime` of the
/// process (10 ms ticks, but it keeps the time of threads that exited). The
/// precise figure is used unless a thread that existed at the start is gone
/// at the end (its runtime after the start would be missing); then the tick
/// figure is.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    pid: u32,
    ticks0: f64,
    threads0: Vec<(u32, u64)>,
    t0: std::time::Instant,
}

/// What a [`CpuMeter`] measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CpuUse {
    /// CPU seconds used (precise when `precise`, else from ticks).
    pub secs: f64,
    /// CPU seconds from `utime + stime` (10 ms resolution).
    pub tick_secs: f64,
    /// Wall-clock seconds measured over.
    pub wall_secs: f64,
    /// Whether `secs` is the per-thread scheduler runtime.
    pub precise: bool,
}

impl CpuUse {
    /// Fraction of one core (1.0 = one full core).
    pub fn cores(&self) -> f64 {
        if self.wall_secs > 0.0 {
            self.secs / self.wall_secs
        } else {
            0.0
        }
    }
}

/// CPU seconds used by `pid` from `threads0` to `threads1` (per-thread
/// scheduler runtimes), or `None` if a thread of `threads0` is missing from
/// `threads1`. Threads born in between count from zero.
///
/// ```
/// use confab_bench::procfs::runtime_delta;
/// assert_eq!(runtime_delta(&[(1, 1_000)], &[(1, 501_000), (2, 500_000)]), Some(0.001));
/// assert_eq!(runtime_delta(&[(1, 0), (2, 0)], &[(1, 5)]), None);
/// ```
pub fn runtime_delta(threads0: &[(u32, u64)], threads1: &[(u32, u64)]) -> Option<f64> {
    if threads0
        .iter()
        .any(|(tid, _)| !threads1.iter().any(|(t, _)| t == tid))
    {
        return None;
    }
    let ns: u64 = threads1
        .iter()
        .map(|&(tid, ns)| {
            let before = threads0
                .iter()
                .find(|(t, _)| *t == tid)
                .map_or(0, |&(_, n)| n);
            ns.saturating_sub(before)
        })
        .sum();
    Some(ns as f64 / 1e9)
}

impl CpuMeter {
    /// Starts measuring `pid` (use `std::process::id()` for this process).
    pub fn start(pid: u32) -> Option<Self> {
        Some(Self {
            pid,
            ticks0: cpu_seconds(pid).ok()?,
            threads0: thread_cpu_ns(pid).ok()?,
            t0: std::time::Instant::now(),
        })
    }

    /// CPU used since [`CpuMeter::start`].
    pub fn read(&self) -> Option<CpuUse> {
        let threads1 = thread_cpu_ns(self.pid).ok()?;
        let tick_secs = cpu_seconds(self.pid).ok()? - self.ticks0;
        let wall_secs = self.t0.elapsed().as_secs_f64();
        let precise = runtime_delta(&self.threads0, &threads1);
        Some(CpuUse {
            secs: precise.unwrap_or(tick_secs),
            tick_secs,
            wall_secs,
            precise: precise.is_some(),
        })
    }

    /// Fraction of one core used since [`CpuMeter::start`] (1.0 = one full core).
    pub fn cores(&self) -> Option<f64> {
        self.read().map(|u| u.cores())
    }
}

/// CPU of several processes at once (the nodes of a multi-node deployment,
/// or its Redis servers): one [`CpuMeter`] each, summed.
#[derive(Debug, Clone)]
pub struct CpuGroup {
    meters: Vec<CpuMeter>,
}

impl CpuGroup {
    /// Starts measuring every pid of `pids`; `None` if `pids` is empty or
    /// one of them cannot be read.
    pub fn start(pids: &[u32]) -> Option<Self> {
        if pids.is_empty() {
            return None;
        }
        let meters = pids
            .iter()
            .map(|&p| CpuMeter::start(p))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { meters })
    }

    /// CPU used by each process since [`CpuGroup::start`], in pid order.
    pub fn read_each(&self) -> Option<Vec<CpuUse>> {
        self.meters.iter().map(CpuMeter::read).collect()
    }

    /// CPU used by all of them together since [`CpuGroup::start`]: seconds
    /// summed, precise only if every reading is.
    pub fn read(&self) -> Option<CpuUse> {
        Some(sum_uses(&self.read_each()?))
    }
}

/// The total of several processes' [`CpuUse`] over the same window.
///
/// ```
/// use confab_bench::procfs::{sum_uses, CpuUse};
/// let u = |secs, precise| CpuUse { secs, tick_secs: secs, wall_secs: 2.0, precise };
/// let s = sum_uses(&[u(0.5, true), u(1.5, false)]);
/// assert_eq!((s.secs, s.cores(), s.precise), (2.0, 1.0, false));
/// ```
pub fn sum_uses(uses: &[CpuUse]) -> CpuUse {
    CpuUse {
        secs: uses.iter().map(|u| u.secs).sum(),
        tick_secs: uses.iter().map(|u| u.tick_secs).sum(),
        wall_secs: uses.iter().map(|u| u.wall_secs).fold(0.0, f64::max),
        precise: uses.iter().all(|u| u.precise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        assert!(rss_bytes(std::process::id()).unwrap() > 100_000);
        assert!(cpu_seconds(std::process::id()).unwrap() >= 0.0);
        assert!(machine_cpu_seconds().unwrap().0 > 0.0);
        let threads = thread_cpu_ns(std::process::id()).unwrap();
        assert!(threads.iter().any(|&(tid, _)| tid == std::process::id()));
    }

    #[test]
    fn meter_sees_work_done_between_readings() {
        // A process of its own (single-threaded, unlike this test binary,
        // whose other test threads come and go) that burns CPU, then sleeps.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done; sleep 30",
            ])
            .spawn()
            .unwrap();
        let m = CpuMeter::start(child.id()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let u = loop {
            let u = m.read().unwrap();
            if u.secs >= 0.05 || std::time::Instant::now() > deadline {
                break u;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(u.precise, "{u:?}");
        assert!(u.secs >= 0.05, "{u:?}");
    }
}

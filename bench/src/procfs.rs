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

/// CPU use of a process between two points in time, as a fraction of one core.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: u32,
    cpu0: f64,
    t0: std::time::Instant,
}

impl CpuMeter {
    /// Starts measuring `pid` (use `std::process::id()` for this process).
    pub fn start(pid: u32) -> Option<Self> {
        Some(Self {
            pid,
            cpu0: cpu_seconds(pid).ok()?,
            t0: std::time::Instant::now(),
        })
    }

    /// Fraction of one core used since [`CpuMeter::start`] (1.0 = one full core).
    pub fn cores(&self) -> Option<f64> {
        let dt = self.t0.elapsed().as_secs_f64();
        let used = cpu_seconds(self.pid).ok()? - self.cpu0;
        (dt > 0.0).then_some(used / dt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        assert!(rss_bytes(std::process::id()).unwrap() > 100_000);
        assert!(cpu_seconds(std::process::id()).unwrap() >= 0.0);
    }
}

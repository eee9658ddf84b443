//! Child processes of the driver and what `/proc` says about them: resident memory
//! (`VmRSS`, `VmHWM` in `/proc/<pid>/status`) and CPU time (`utime + stime` in
//! `/proc/<pid>/stat`), summed over a process and its children (nginx's workers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;

/// A child process that is killed when dropped.
pub struct Proc {
    /// What it is ("mock", "nginx", ...).
    pub name: String,
    child: Child,
    /// File holding its standard error.
    pub log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with output to `<dir>/<name>.out` and `<dir>/<name>.err`.
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> anyhow::Result<Proc> {
        let out = std::fs::File::create(dir.join(format!("{name}.out")))?;
        let log = dir.join(format!("{name}.err"));
        let err = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!(
                "{} exited ({status}); its log:\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    /// The last lines of its standard error.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Sends `signal` (e.g. "INT"), then waits up to `grace` before killing it.
    pub fn stop(&mut self, signal: &str, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop("TERM", Duration::from_secs(2));
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
pub fn clk_tck() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// (ppid, utime + stime in ticks) of a `stat` file's text.
fn parse_stat(text: &str) -> Option<(u32, u64)> {
    let rest = text.get(text.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state(0) ppid(1) ... utime(11) stime(12).
    let ppid = f.get(1)?.parse().ok()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, ut + st))
}

fn ticks_of(text: &str) -> Option<u64> {
    parse_stat(text).map(|s| s.1)
}

/// `/proc/<pid>/stat` of a process: (ppid, utime + stime in ticks).
fn stat(pid: u32) -> Option<(u32, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Direct children of `pid` (scanning `/proc`).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat(p).is_some_and(|(ppid, _)| ppid == pid))
        .collect()
}

/// A process and its children, observed together.
#[derive(Debug, Clone)]
pub struct Observed {
    pids: Vec<u32>,
}

/// Memory of an [`Observed`] group at one moment, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    /// Sum of `VmRSS`.
    pub rss_kb: u64,
    /// Sum of `VmHWM` (each process's lifetime peak).
    pub hwm_kb: u64,
}

impl Observed {
    /// `pid` and its children as they are now.
    pub fn tree(pid: u32) -> Self {
        let mut pids = vec![pid];
        pids.extend(children(pid));
        Self { pids }
    }

    /// `pid` alone.
    pub fn single(pid: u32) -> Self {
        Self { pids: vec![pid] }
    }

    /// Total CPU time (user + system) so far, in microseconds.
    pub fn cpu_us(&self) -> u64 {
        let ticks: u64 = self.pids.iter().filter_map(|&p| stat(p)).map(|s| s.1).sum();
        ticks * 1_000_000 / clk_tck()
    }

    /// CPU time so far (µs) by thread name, over every thread of every process.
    pub fn cpu_by_thread(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for p in &self.pids {
            let Ok(dir) = std::fs::read_dir(format!("/proc/{p}/task")) else {
                continue;
            };
            for task in dir.filter_map(|e| e.ok()) {
                let path = task.path();
                let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                let ticks = std::fs::read_to_string(path.join("stat"))
                    .ok()
                    .and_then(|t| ticks_of(&t))
                    .unwrap_or(0);
                *out.entry(name.trim().to_string()).or_insert(0) += ticks * 1_000_000 / clk_tck();
            }
        }
        out
    }

    /// Resident memory now.
    pub fn mem(&self) -> Mem {
        self.pids.iter().fold(Mem::default(), |m, &p| Mem {
            rss_kb: m.rss_kb + status_kb(p, "VmRSS:").unwrap_or(0),
            hwm_kb: m.hwm_kb + status_kb(p, "VmHWM:").unwrap_or(0),
        })
    }

    /// Open file descriptors now.
    pub fn fds(&self) -> usize {
        self.pids
            .iter()
            .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok())
            .map(|d| d.count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn this_process_is_observable() {
        let me = Observed::tree(std::process::id());
        let m = me.mem();
        assert!(m.rss_kb > 0 && m.hwm_kb >= m.rss_kb);
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(me.fds() > 0);
        assert!(!me.cpu_by_thread().is_empty());
        let _ = me.cpu_us();
    }
}

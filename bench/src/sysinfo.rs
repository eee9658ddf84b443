//! What the report says about the machine and the software measured.

use std::path::Path;
use std::process::Command;

/// Machine and versions.
#[derive(Debug, Clone, Default)]
pub struct SysInfo {
    /// Online CPUs.
    pub nproc: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Total memory, GiB.
    pub mem_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc -V`.
    pub rustc: String,
    /// Relay commit (with "+dirty" when the work tree has changes).
    pub relay_commit: String,
    /// Pingora version from Cargo.lock.
    pub pingora: String,
    /// nginx version.
    pub nginx: Option<String>,
    /// Descriptor limits (soft, hard) after raising.
    pub nofile: (u64, u64),
}

fn cmd(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut c = Command::new(program);
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// CPU time the whole machine has spent busy (all cores, user + system + irq + steal), µs.
pub fn machine_busy_us() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum();
    busy * 1_000_000 / crate::procs::clk_tck()
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> (f64, f64, f64) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        v.first().copied().unwrap_or(0.0),
        v.get(1).copied().unwrap_or(0.0),
        v.get(2).copied().unwrap_or(0.0),
    )
}

fn pingora_version(root: &Path) -> String {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"pingora\"" {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = ")) {
                return v.trim_matches('"').to_string();
            }
        }
    }
    "unknown".into()
}

impl SysInfo {
    /// Reads everything; `root` is the workspace.
    pub fn read(root: &Path, nginx: Option<String>, nofile: (u64, u64)) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let commit = cmd("git", &["rev-parse", "--short=12", "HEAD"], Some(root))
            .unwrap_or_else(|| "unknown".into());
        let dirty =
            cmd("git", &["status", "--porcelain"], Some(root)).is_some_and(|s| !s.is_empty());
        Self {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            mem_gib: mem_kb / 1024.0 / 1024.0,
            kernel: cmd("uname", &["-r"], None).unwrap_or_default(),
            rustc: cmd("rustc", &["-V"], None).unwrap_or_else(|| "unknown".into()),
            relay_commit: if dirty {
                format!("{commit}+dirty (uncommitted changes in the work tree)")
            } else {
                commit
            },
            pingora: pingora_version(root),
            nginx,
            nofile,
        }
    }
}

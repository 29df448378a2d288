//! CPU time per pipeline, the process's peak memory, and the machine, read from Linux's
//! `/proc` (elsewhere these figures are reported as not measured).
//!
//! CPU time is attributed by **thread name**: the pipelines' threads are named when they
//! start — `lambda-speed` (the speed layer's tokio runtime), `lambda-batch` (the batch
//! thread), `lambda-rayon-N` and `polars-N` (the pools of the batch layer), `kappa-…` (the
//! stream job's workers) — and each thread's time on CPU is read from
//! `/proc/self/task/<tid>/schedstat` (nanoseconds; `stat`'s clock ticks as a fallback).
//! A thread's time is kept at the largest value seen, so a thread that ends between
//! two readings loses at most the time since the last one.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

use crate::report::Machine;

/// Which pipeline a thread works for, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ThreadClass {
    /// A thread of the Lambda pipeline (`lambda-…`, `polars-…`).
    Lambda,
    /// A thread of the Kappa pipeline (`kappa-…`).
    Kappa,
    /// Any other thread: the feed, observers, sampler, oracle.
    Harness,
}

/// The class of a thread named `name` (as `/proc` shows it: at most 15 bytes).
pub fn classify(name: &str) -> ThreadClass {
    if name.starts_with("lambda-") || name.starts_with("polars-") {
        ThreadClass::Lambda
    } else if name.starts_with("kappa-") {
        ThreadClass::Kappa
    } else {
        ThreadClass::Harness
    }
}

/// CPU seconds of this process's threads, per class, accumulated over readings.
#[derive(Debug, Default, Clone)]
pub struct CpuMeter {
    /// tid → (class, largest CPU time seen in ns).
    threads: BTreeMap<u64, (ThreadClass, u64)>,
    /// Time of threads before `start` (subtracted).
    baseline: BTreeMap<u64, u64>,
}

impl CpuMeter {
    /// A meter counting from now: time threads already spent is not counted.
    pub fn start() -> Self {
        let mut m = CpuMeter::default();
        for (tid, _, ns) in read_threads() {
            m.baseline.insert(tid, ns);
        }
        m
    }

    /// Read every thread's time now.
    pub fn sample(&mut self) {
        for (tid, name, ns) in read_threads() {
            let e = self.threads.entry(tid).or_insert((classify(&name), 0));
            e.1 = e.1.max(ns);
        }
    }

    /// CPU seconds of `class` since [`CpuMeter::start`].
    pub fn seconds(&self, class: ThreadClass) -> f64 {
        let ns: u64 = self
            .threads
            .iter()
            .filter(|(_, (c, _))| *c == class)
            .map(|(tid, (_, ns))| ns.saturating_sub(self.baseline.get(tid).copied().unwrap_or(0)))
            .sum();
        ns as f64 / 1e9
    }
}

/// (tid, name, CPU ns) of every thread of this process.
fn read_threads() -> Vec<(u64, String, u64)> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let name = fs::read_to_string(path.join("comm"))
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_default();
        let ns = fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .or_else(|| stat_ns(&fs::read_to_string(path.join("stat")).ok()?));
        if let Some(ns) = ns {
            out.push((tid, name, ns));
        }
    }
    out
}

/// utime + stime of a `/proc/…/stat` line, in ns (at the usual 100 ticks per second).
fn stat_ns(stat: &str) -> Option<u64> {
    // The name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10_000_000)
}

/// The process's peak resident memory (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, field)
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// What this machine is.
pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|v| v.split_once(':'))
        .map(|(_, v)| v.trim().to_owned());
    let memory_bytes = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| kib_field(&m, "MemTotal:"))
        .map(|k| k * 1024);
    Machine {
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        cpu_model,
        lk_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_classed_by_name() {
        assert_eq!(classify("lambda-speed"), ThreadClass::Lambda);
        assert_eq!(classify("polars-3"), ThreadClass::Lambda);
        assert_eq!(classify("kappa-ysb-campa"), ThreadClass::Kappa);
        assert_eq!(classify("lk"), ThreadClass::Harness);
        assert_eq!(classify(""), ThreadClass::Harness);
    }

    #[test]
    fn stat_lines_with_spaces_in_the_name_parse() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(stat_ns(line), Some(300 * 10_000_000));
        assert_eq!(stat_ns("garbage"), None);
    }

    #[test]
    fn a_busy_named_thread_is_charged_to_its_pipeline() {
        if !std::path::Path::new("/proc/self/task").exists() {
            return; // not Linux: nothing is measured
        }
        let mut meter = CpuMeter::start();
        std::thread::Builder::new()
            .name("kappa-test".into())
            .spawn(|| {
                // Spin until the meter charges this thread's work to Kappa (read while
                // the thread is alive). However loaded the machine, the thread gets CPU
                // time sooner or later; the wall-clock bound only stops a broken meter
                // from spinning forever.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
                let mut x = 0u64;
                loop {
                    for _ in 0..1_000_000 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                    let mut m = CpuMeter::default();
                    m.sample();
                    if m.seconds(ThreadClass::Kappa) >= 0.05 {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the busy thread was never charged to Kappa"
                    );
                }
                x
            })
            .unwrap()
            .join()
            .unwrap();
        meter.sample();
        assert_eq!(meter.seconds(ThreadClass::Lambda), 0.0);
    }

    #[test]
    fn the_machine_is_described() {
        let m = machine();
        assert!(m.cpus >= 1);
        assert!(!m.os.is_empty());
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(peak_rss_bytes().unwrap() > 0);
            assert!(m.memory_bytes.unwrap() > 0);
        }
    }
}

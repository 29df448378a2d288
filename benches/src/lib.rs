//! What the latency benches (`benches/wakeup.rs`, `benches/lambda_latency.rs`,
//! `benches/kappa_latency.rs`) and the other `harness = false` benches share: the command
//! line `cargo bench` passes to them, and the summary of an HDR histogram of latencies.
//! Of the criterion benches, `compare` uses [`filter`] to skip the set-up of workloads a
//! filter leaves out.

use hdrhistogram::Histogram;

/// Percentiles reported, with their labels.
pub const PERCENTILES: [(&str, f64); 4] =
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)];

/// Latencies in µs: the percentiles above, then max.
pub type Summary = [f64; 5];

/// The percentiles and max of a histogram of nanoseconds, in µs.
pub fn summarize(h: &Histogram<u64>) -> Summary {
    let mut s = [0.0; 5];
    for (i, (_, q)) in PERCENTILES.iter().enumerate() {
        s[i] = h.value_at_percentile(*q) as f64 / 1000.0;
    }
    s[4] = h.max() as f64 / 1000.0;
    s
}

/// `p50 …  p90 …  p99 …  p99.9 …  max …`, aligned.
pub fn format_summary(s: &Summary) -> String {
    let mut out = String::new();
    for (i, (label, _)) in PERCENTILES.iter().enumerate() {
        out.push_str(&format!("{label} {:>8.1}  ", s[i]));
    }
    out.push_str(&format!("max {:>9.1}", s[4]));
    out
}

/// The median (the mean of the two middle values for an even count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Criterion's options that take a value: skipped when looking for a filter.
const VALUED_OPTIONS: &[&str] = &[
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--load-baseline",
    "--color",
    "-c",
    "--profile-time",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
    "--output-format",
    "--format",
    "--logfile",
];

/// How a `harness = false` bench named `name` was asked to run, from its arguments:
/// `None` to do nothing (`--list`, answered here, or a filter that does not match the
/// name), else `Some(full)`, where `full` is true under `cargo bench` (which passes
/// `--bench`) and false under `cargo test --benches` (a tiny run). Criterion's other
/// options are accepted and ignored.
pub fn bench_mode(name: &str, args: &[String]) -> Option<bool> {
    if args.iter().any(|a| a == "--list") {
        println!("{name}: bench");
        return None;
    }
    if filter(args).is_some_and(|f| !name.contains(f) && !f.contains(name)) {
        return None;
    }
    Some(args.iter().any(|a| a == "--bench"))
}

/// The filter among a bench's arguments (the last argument that is neither an option nor
/// an option's value), if any.
pub fn filter(args: &[String]) -> Option<&str> {
    let mut filter = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if VALUED_OPTIONS.contains(&a.as_str()) {
            it.next();
        } else if !a.starts_with('-') {
            filter = Some(a.as_str());
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn modes_from_arguments() {
        assert_eq!(bench_mode("wakeup", &args(&["--bench"])), Some(true));
        assert_eq!(bench_mode("wakeup", &args(&[])), Some(false));
        assert_eq!(
            bench_mode("wakeup", &args(&["--bench", "wake"])),
            Some(true)
        );
        assert_eq!(bench_mode("wakeup", &args(&["--bench", "append"])), None);
        // A criterion option's value is not a filter.
        assert_eq!(
            bench_mode("wakeup", &args(&["--bench", "--save-baseline", "main"])),
            Some(true)
        );
        assert_eq!(bench_mode("wakeup", &args(&["--list"])), None);
        assert_eq!(
            filter(&args(&["--bench", "-b", "before", "end_to_end"])),
            Some("end_to_end")
        );
        assert_eq!(filter(&args(&["--bench", "--baseline", "before"])), None);
    }

    #[test]
    fn medians_and_summaries() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let s = summarize(&h);
        assert!(
            (s[0] - 500.0).abs() < 1.0 && (s[4] - 1000.0).abs() < 1.0,
            "{s:?}"
        );
        assert!(format_summary(&s).starts_with("p50 "));
    }
}

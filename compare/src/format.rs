//! Figures as people read them: the one formatter of sizes, durations, rates, counts and
//! fractions, used by the terminal table and verdict ([`crate::verdict`]), the verdict
//! sentences the JSON report carries, and the HTML report ([`crate::html`]) alike.
//!
//! ## Conventions
//! - **Numbers** ([`number`]) have about three significant digits (`0.0425`, `12.8`, `291`)
//!   and are never in exponent notation; from 1,000 on they are whole numbers with a comma
//!   between groups of three digits (`1,503`, `-1,234,567`). Rounding is to the nearest,
//!   ties to even (`12.75` → `12.8`, `9876.5` → `9,876`); a value that rounds up into the
//!   next decade keeps three digits (`9.9996` → `10.0`, `999.7` → `1,000`).
//! - **Counts** ([`count`], [`count_f64`]) are whole numbers grouped the same way.
//! - **Sizes** ([`bytes`]) are binary multiples with IEC names: below 1 KiB in bytes
//!   (`1000 B`), above it a [`number`] of `KiB`, `MiB`, `GiB`, `TiB`, `PiB` or `EiB`
//!   (`50.0 MiB`, `155 MiB`, `1.50 GiB`); a value that would read 1,024 of a unit is
//!   written in the next one (`1.00 MiB`).
//! - **Durations** are written in the unit the figure is measured in, so that figures of
//!   one kind line up: [`millis`] (`12.8 ms`, `1,503 ms`) and [`seconds`] (`2.50 s`);
//!   options given in whole milliseconds stay whole ([`whole_millis`]: `5,000 ms`).
//! - **Rates** ([`rate`]) are records per second (`9,876 records/s`).
//! - **Fractions** as percentages: [`percent`] rounds *down* to two decimals so that
//!   anything below 1 never reads `100.00 %` (`0.99999` → `99.99 %`); [`percent_approx`]
//!   has about three significant digits (`0.125` → `12.5 %`). [`ratio`] writes how many
//!   times one figure is another (`3.0x`).
//! - **Over several runs** ([`spread`]): the median, then the smallest and the largest
//!   value when they differ, the unit written once: `12.8 ms (11.0–14.2)`.
//! - **Not a number**: `NaN`, `inf` and `-inf` are written as such (they are never hidden
//!   as a plausible figure). A figure that was not measured (`None`, `null` in the report)
//!   reads [`NOT_MEASURED`] ([`or_not_measured`]).
//!
//! ## Why not a crate
//! `humansize` and `bytesize` write sizes with a fixed number of decimals (`150.00 MiB`,
//! `50.0 MiB`, or with trailing zeroes cut, `50 MiB`), not three significant digits, and
//! neither groups digits or knows durations and fractions; `num-format` would only do the
//! grouping, which is the ten lines of [`group_digits`].

#![warn(missing_docs)]

/// What a figure that was not measured (`None`; `null` in the report) reads.
pub const NOT_MEASURED: &str = "not measured";

/// IEC names of the binary multiples of a byte.
const BYTE_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// `NaN`, `inf` or `-inf`.
fn non_finite(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v > 0.0 {
        "inf".to_owned()
    } else {
        "-inf".to_owned()
    }
}

/// A string of decimal digits, with an optional leading `-`, grouped by three with commas:
/// `1234567` → `1,234,567`.
pub fn group_digits(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::with_capacity(sign.len() + digits.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count: `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    group_digits(&n.to_string())
}

/// A figure rounded to a whole number (ties to even) and grouped: `9876.5` → `9,876`.
pub fn count_f64(v: f64) -> String {
    if !v.is_finite() {
        return non_finite(v);
    }
    let s = format!("{v:.0}");
    // `-0.4` rounds to `-0`.
    if s == "-0" {
        return "0".to_owned();
    }
    group_digits(&s)
}

/// About three significant digits, never in exponent notation; whole and grouped from
/// 1,000 on. See the module doc for the rounding.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return non_finite(v);
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_owned();
    }
    if a >= 999.5 {
        return count_f64(v);
    }
    let mut decimals = (2 - a.log10().floor() as i32).clamp(0, 9);
    let mut s = format!("{a:.p$}", p = decimals as usize);
    // Rounded up into the next decade (9.9996 → "10.00"): one decimal less.
    if decimals > 0
        && s.parse::<f64>()
            .is_ok_and(|r| r >= 10f64.powi(3 - decimals))
    {
        decimals -= 1;
        s = format!("{a:.p$}", p = decimals as usize);
    }
    if s.bytes().all(|b| b == b'0' || b == b'.') {
        // Below the smallest decimal shown.
        return "0".to_owned();
    }
    if v < 0.0 { format!("-{s}") } else { s }
}

/// A size in bytes in binary units with IEC names: `1000 B`, `50.0 MiB`, `1.50 GiB`.
pub fn bytes(b: u64) -> String {
    if b < 1024 {
        return format!("{b} B");
    }
    let mut x = b as f64;
    let mut unit = 0;
    // Move up while the figure is a kibi-multiple, or would round to 1,024 of its unit.
    while unit < BYTE_UNITS.len() - 1 && x >= 1023.5 {
        x /= 1024.0;
        unit += 1;
    }
    format!("{} {}", number(x), BYTE_UNITS[unit])
}

/// [`bytes`] of a size held as `f64` (rounded to a whole byte; a negative size keeps its
/// sign).
pub fn bytes_f64(v: f64) -> String {
    if !v.is_finite() {
        return format!("{} B", non_finite(v));
    }
    let whole = v.abs().round();
    // `as` saturates at u64::MAX (16 EiB), beyond any size a run measures.
    let text = bytes(whole as u64);
    if v < 0.0 && whole > 0.0 {
        format!("-{text}")
    } else {
        text
    }
}

/// A duration in milliseconds: `12.8 ms`, `1,503 ms`.
pub fn millis(ms: f64) -> String {
    format!("{} ms", number(ms))
}

/// A whole number of milliseconds, as options give them: `5,000 ms`, `0 ms`.
pub fn whole_millis(ms: impl Into<i128>) -> String {
    format!("{} ms", group_digits(&ms.into().to_string()))
}

/// A duration in seconds: `2.50 s`, `17.3 s`.
pub fn seconds(s: f64) -> String {
    format!("{} s", number(s))
}

/// A rate in records per second: `9,876 records/s`.
pub fn rate(records_per_s: f64) -> String {
    format!("{} records/s", number(records_per_s))
}

/// A throughput in megabytes (10^6 bytes) per second: `12.5 MB/s`.
pub fn megabytes_per_s(mb_per_s: f64) -> String {
    format!("{} MB/s", number(mb_per_s))
}

/// A fraction as a percentage with two decimals, rounded down so that anything below 1
/// never reads `100.00 %`: `0.96875` → `96.87 %`, `0.99999` → `99.99 %`.
pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return format!("{} %", non_finite(fraction));
    }
    let hundredths = fraction * 10_000.0;
    // A fraction such as 0.29 is 2899.9999999999995 hundredths in binary: when the product
    // is a whole number but for the last bits of the float, take that number.
    let nearest = hundredths.round();
    let mut down = if (hundredths - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) {
        nearest
    } else {
        hundredths.floor()
    };
    if fraction < 1.0 && down >= 10_000.0 {
        down = 9_999.0;
    }
    format!("{:.2} %", down / 100.0)
}

/// A fraction as a percentage with about three significant digits: `0.125` → `12.5 %`.
pub fn percent_approx(fraction: f64) -> String {
    format!("{} %", number(fraction * 100.0))
}

/// How many times one figure is another, with one decimal: `3.0x`, `74.1x`, `1,234.5x`.
pub fn ratio(times: f64) -> String {
    if !times.is_finite() {
        return format!("{}x", non_finite(times));
    }
    let s = format!("{:.1}", times.abs());
    let (whole, decimal) = s.split_once('.').unwrap_or((&s, "0"));
    let sign = if times < 0.0 { "-" } else { "" };
    format!("{sign}{}.{decimal}x", group_digits(whole))
}

/// A figure over several runs: `show(median)`, followed by `(min–max)` when the runs
/// differ, the unit the three share written once: `12.8 ms (11.0–14.2)`, `12.8 ms`,
/// `1.00 MiB (925 KiB–1.10 MiB)` (units that differ are kept).
pub fn spread(median: f64, min: f64, max: f64, show: impl Fn(f64) -> String) -> String {
    let m = show(median);
    if min == max {
        return m;
    }
    let (lo, hi) = (show(min), show(max));
    let unit = m.rsplit_once(' ').map(|(_, u)| format!(" {u}"));
    match unit {
        Some(u) if lo.ends_with(&u) && hi.ends_with(&u) => format!(
            "{m} ({}–{})",
            &lo[..lo.len() - u.len()],
            &hi[..hi.len() - u.len()]
        ),
        _ => format!("{m} ({lo}–{hi})"),
    }
}

/// `show(v)`, or [`NOT_MEASURED`] when there is no figure.
pub fn or_not_measured<T>(v: Option<T>, show: impl FnOnce(T) -> String) -> String {
    v.map_or_else(|| NOT_MEASURED.to_owned(), show)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_three_significant_digits() {
        assert_eq!(number(0.0425), "0.0425");
        assert_eq!(number(12.75), "12.8");
        assert_eq!(number(1503.0), "1,503");
        assert_eq!(number(-1234567.0), "-1,234,567");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(1.0), "1.00");
        assert_eq!(number(291.375), "291");
        assert_eq!(number(-12.75), "-12.8");
    }

    #[test]
    fn numbers_rounding_into_the_next_decade_keep_three_digits() {
        assert_eq!(number(9.9996), "10.0");
        assert_eq!(number(99.96), "100");
        assert_eq!(number(0.099_96), "0.100");
        assert_eq!(number(999.4), "999");
        assert_eq!(number(999.5), "1,000");
        assert_eq!(number(-999.7), "-1,000");
        // Ties go to the even digit.
        assert_eq!(number(9876.5), "9,876");
        assert_eq!(number(9877.5), "9,878");
    }

    #[test]
    fn tiny_numbers_read_zero_not_a_string_of_zeroes() {
        assert_eq!(number(1e-12), "0");
        assert_eq!(number(-1e-12), "0");
        assert_eq!(number(2e-9), "0.000000002");
    }

    #[test]
    fn non_finite_figures_are_written_as_such() {
        for f in [
            number, count_f64, millis, seconds, rate, percent, bytes_f64, ratio,
        ] {
            assert!(f(f64::NAN).contains("NaN"));
            assert!(f(f64::INFINITY).contains("inf"));
            assert!(f(f64::NEG_INFINITY).contains("-inf"));
        }
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(percent(f64::INFINITY), "inf %");
    }

    #[test]
    fn counts_are_grouped_by_three() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(125_926), "125,926");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(count_f64(-0.4), "0");
        assert_eq!(count_f64(-1234.6), "-1,235");
        assert_eq!(group_digits("-123456"), "-123,456");
        assert_eq!(group_digits("12"), "12");
    }

    #[test]
    fn sizes_are_binary_with_iec_names() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1000), "1000 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.00 KiB");
        assert_eq!(bytes(52_428_800), "50.0 MiB");
        assert_eq!(bytes(157_286_400), "150 MiB");
        assert_eq!(bytes(162_800_000), "155 MiB");
        assert_eq!(bytes(1_610_612_736), "1.50 GiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn a_size_that_would_read_1024_of_a_unit_is_in_the_next_one() {
        assert_eq!(bytes(1_048_575), "1.00 MiB");
        assert_eq!(bytes(1_047_961), "1,023 KiB");
        assert_eq!(bytes(1_048_064), "1.00 MiB");
        assert_eq!(bytes(1024 * 1024 * 1024 - 1), "1.00 GiB");
    }

    #[test]
    fn sizes_held_as_floats_round_to_whole_bytes() {
        assert_eq!(bytes_f64(52_428_800.0), "50.0 MiB");
        assert_eq!(bytes_f64(1023.4), "1023 B");
        assert_eq!(bytes_f64(1023.6), "1.00 KiB");
        assert_eq!(bytes_f64(-2048.0), "-2.00 KiB");
        assert_eq!(bytes_f64(-0.2), "0 B");
        assert_eq!(bytes_f64(f64::NAN), "NaN B");
    }

    #[test]
    fn durations_and_rates_keep_their_unit() {
        assert_eq!(millis(12.75), "12.8 ms");
        assert_eq!(millis(1503.0), "1,503 ms");
        assert_eq!(millis(0.47), "0.470 ms");
        assert_eq!(whole_millis(5000_u64), "5,000 ms");
        assert_eq!(whole_millis(-1500_i64), "-1,500 ms");
        assert_eq!(whole_millis(0_i64), "0 ms");
        assert_eq!(seconds(2.5), "2.50 s");
        assert_eq!(seconds(0.0), "0 s");
        assert_eq!(rate(9876.5), "9,876 records/s");
        assert_eq!(rate(13_333.333), "13,333 records/s");
        assert_eq!(megabytes_per_s(12.5), "12.5 MB/s");
    }

    #[test]
    fn percentages_round_down_and_never_read_100_below_1() {
        assert_eq!(percent(0.99999), "99.99 %");
        assert_eq!(percent(0.96875), "96.87 %");
        assert_eq!(percent(1.0), "100.00 %");
        assert_eq!(percent(0.0), "0.00 %");
        assert_eq!(percent(0.99), "99.00 %");
        // 0.29 × 10,000 is 2899.9999999999995 in binary: still 29.00 %.
        assert_eq!(percent(0.29), "29.00 %");
        assert_eq!(percent(0.57), "57.00 %");
        assert_eq!(percent(1.0 - 1e-12), "99.99 %");
        assert_eq!(percent_approx(0.125), "12.5 %");
        assert_eq!(percent_approx(0.05), "5.00 %");
    }

    #[test]
    fn ratios_have_one_decimal() {
        assert_eq!(ratio(3.0), "3.0x");
        assert_eq!(ratio(74.06), "74.1x");
        assert_eq!(ratio(1234.5), "1,234.5x");
        assert_eq!(ratio(-2.25), "-2.2x");
    }

    #[test]
    fn spreads_show_the_range_only_when_runs_differ() {
        assert_eq!(spread(12.75, 11.0, 14.25, millis), "12.8 ms (11.0–14.2)");
        assert_eq!(spread(3.0, 3.0, 3.0, count_f64), "3");
        assert_eq!(spread(3.0, 2.0, 4.0, count_f64), "3 (2–4)");
        assert_eq!(
            spread(1048576.0, 947_200.0, 1153433.6, bytes_f64),
            "1.00 MiB (925 KiB–1.10 MiB)"
        );
    }

    #[test]
    fn missing_figures_read_not_measured() {
        assert_eq!(or_not_measured(None::<f64>, millis), "not measured");
        assert_eq!(or_not_measured(Some(12.75), millis), "12.8 ms");
        assert_eq!(or_not_measured(Some(1024_u64), bytes), "1.00 KiB");
    }
}

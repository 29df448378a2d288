//! The HTML report in a real browser: headless Chromium loads a rendered report from a
//! file, and the test checks the DOM it built (every chart with the measured series, the
//! inline script ran without error) and its screenshot (not blank; both pipelines' colours
//! drawn).
//!
//! The browser is `$LK_CHROMIUM` or `/usr/bin/chromium` (`scripts/install-browser.sh`
//! installs it). Without one the test is skipped, unless `LK_REQUIRE_BROWSER=1` (as in CI),
//! where a missing browser fails it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use compare::html::{CHART_IDS, KAPPA_COLOR, LAMBDA_COLOR, SWEEP_CHART_IDS, render};
use compare::report::{
    Alone, BatchRun, CdfPoint, Complexity, Correctness, Disorder, Latency, LatenessSource, Level,
    Machine, MaxRate, Params, PipelineReport, Pipelines, Probe, Provenance, RateSearch, Reprocess,
    RunInfo, SCHEMA_VERSION, Sample, Stat, Sweep, SweepPoint, WorkloadFigures, WorkloadReport,
};
use compare::{Report, summary_of};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
const WINDOW: (u32, u32) = (1280, 5200);

fn correctness(cells: u64, exact_cells: u64, late_dropped: u64) -> Correctness {
    Correctness {
        cells,
        exact_cells,
        exact_fraction: exact_cells as f64 / cells as f64,
        missing_cells: cells - exact_cells,
        extra_cells: 2,
        max_abs_error: 41.0,
        mean_abs_error: 0.0731,
        max_rel_error: 0.2,
        late_dropped,
        duplicates_removed: Some(1203),
        ..Correctness::default()
    }
}

/// A level whose latency is spread over decades (`base` ms to about `base` × 600 ms).
fn level(base: f64, what: &str) -> Level {
    let latency_cdf: Vec<CdfPoint> = (1..=48)
        .map(|i| {
            let f = f64::from(i) / 48.0;
            CdfPoint {
                latency_ms: base * (1.0 + 600.0 * f.powi(6)),
                fraction: f,
            }
        })
        .collect();
    Level {
        what: what.into(),
        latency_ms: Some(Latency {
            p50: base * 1.5,
            p95: base * 120.0,
            p99: base * 380.0,
            max: latency_cdf.last().unwrap().latency_ms,
            samples: 1917,
        }),
        latency_cdf,
        catch_up_seconds: Some(base / 100.0),
    }
}

/// Three reprocessing runs of median total `total` (every figure an exact binary
/// fraction of it, so that the JSON reads back the same).
fn reprocess(total: f64) -> Reprocess {
    let stat = |median: f64| Stat {
        median,
        min: median / 2.0,
        max: median * 2.0,
        values: vec![median, median / 2.0, median * 2.0],
    };
    Reprocess {
        runs: 3,
        durability: "synced".into(),
        setup: stat(total / 8.0),
        process: stat(total / 2.0),
        publish: stat(total / 4.0),
        total: stat(total),
        records: 400_000,
        bytes: Some(32_000_000),
        process_eps: Some(50_000.0),
        process_mb_s: Some(4.0),
        total_eps: Some(40_000.0),
        total_mb_s: Some(3.25),
    }
}

/// A pipeline whose latency is spread over decades, its stable level 30 times later.
fn pipeline(base: f64, exact_from: u64, late_dropped: u64, loc: u64) -> PipelineReport {
    let timeline = (0..80u32)
        .map(|i| {
            let t_s = 0.25 * f64::from(i);
            Sample {
                t_s,
                staleness_ms: base * (1.0 + f64::from(i % 12)) + 3.0 * t_s,
                stable_staleness_ms: 30.0 * base * (1.0 + f64::from(i % 12)),
                visible_records: 2500 * u64::from(i),
                batch_view_age_ms: None,
                correctness: (i % 4 == 0)
                    .then(|| correctness(640, exact_from.min(640) - u64::from(i / 8), 0)),
                latency_p99_ms: Some(base * 9.0),
                stable_latency_p99_ms: Some(base * 270.0),
            }
        })
        .collect();
    PipelineReport {
        fresh: level(base, "in memory"),
        stable: level(base * 30.0, "on disk"),
        throughput_eps: Some(19_000.0 + base * 10.0),
        cpu_seconds: base / 3.0,
        peak_heap_bytes: None,
        stable_updates: 9,
        peak_state_cells: None,
        correctness: correctness(12_800, exact_from * 20, late_dropped),
        reprocess_seconds: Some(base / 7.0),
        reprocess: Some(reprocess(base / 7.0)),
        reprocess_eps: Some(400_000.0 / base),
        complexity: Complexity {
            loc,
            functions: loc / 17,
            cyclomatic: loc / 6,
            items: vec![compare::report::CodeItem {
                name: "workloads::pageviews".into(),
                ..Default::default()
            }],
            ..Complexity::default()
        },
        timeline,
    }
}

/// Three runs of `p`, the others a little slower.
fn runs(p: &PipelineReport) -> [PipelineReport; 3] {
    let slower = |f: f64| {
        let mut q = p.clone();
        q.fresh.latency_ms.as_mut().unwrap().p99 *= f;
        q.stable.latency_ms.as_mut().unwrap().p99 *= f;
        q.cpu_seconds *= f;
        q
    };
    [p.clone(), slower(1.1), slower(1.3)]
}

/// A sweep of allowed lateness over three values.
fn sweep(l: &PipelineReport, k: &PipelineReport) -> Sweep {
    let points = [(0.0, 0.8, 1.0), (10_000.0, 0.95, 1.4), (20_000.0, 1.0, 2.0)]
        .into_iter()
        .map(|(x, exact, cpu)| {
            let mut kk = k.clone();
            kk.correctness.exact_fraction = exact;
            kk.cpu_seconds *= cpu;
            kk.stable.latency_ms.as_mut().unwrap().p99 /= cpu;
            SweepPoint {
                value: format!("{}s", x / 1000.0),
                x,
                summary: summary_of(&[(l, &kk)]),
            }
        })
        .collect();
    Sweep {
        name: "allowed-lateness".into(),
        unit: "ms".into(),
        points,
    }
}

fn search(sustained: f64) -> RateSearch {
    RateSearch {
        sustained_eps: Some(sustained),
        per_core_eps: Some(sustained * 1.7),
        feed_limited: false,
        probes: [sustained / 2.0, sustained, sustained * 2.0]
            .into_iter()
            .map(|rate| Probe {
                rate_eps: rate,
                sustained: rate <= sustained,
                fresh_p99_ms: Some(rate / 1000.0),
                catch_up_seconds: Some(0.1),
                cpu_seconds: 3.0,
                records: rate as u64 * 10,
                feed_behind_ms: 2.0,
            })
            .collect(),
    }
}

fn fixture() -> Report {
    let names = ["pageviews_per_minute", "<b>top</b> & \"friends\""];
    let pipelines = Pipelines {
        lambda: pipeline(6.5, 640, 0, 2113),
        kappa: pipeline(41.0, 610, 388, 874),
    };
    let (l, k) = (runs(&pipelines.lambda), runs(&pipelines.kappa));
    let pairs: Vec<(&PipelineReport, &PipelineReport)> = l.iter().zip(&k).collect();
    Report {
        schema_version: SCHEMA_VERSION,
        provenance: Provenance {
            version: "0.1.0".into(),
            commit: Some("feedc0de".into()),
            command: Some("lk compare --repeat 3 --alone".into()),
            reproduce: "lk compare --dataset pageviews --events 400000 --repeat 3".into(),
        },
        params: Params {
            dataset: Some("pageviews".into()),
            topic: "browser-check</script>".into(),
            fed: true,
            workloads: names.iter().map(|s| s.to_string()).collect(),
            events: 400_000,
            rate_eps: 20_000,
            event_rate_eps: 20_000,
            partitions: 4,
            seed: 99,
            out_of_order: 0.1,
            max_delay_ms: 1500,
            late: 0.02,
            late_delay_ms: 30_000,
            duplicates: 0.01,
            batch_every_ms: 4000,
            allowed_lateness_ms: 3000,
            allowed_lateness_from: LatenessSource::Data,
            watermark_bound_ms: 1500,
            checkpoint_interval_ms: 200,
            kappa_workers: 2,
            repeat: 3,
        },
        machine: Machine {
            os: "linux".into(),
            arch: "x86_64".into(),
            cpus: 2,
            memory_bytes: Some(25_769_803_776),
            cpu_model: None,
            lk_version: "0.1.0".into(),
        },
        run: RunInfo {
            started: "2026-03-04T05:06:07Z".into(),
            wall_seconds: 31.5,
            feed_seconds: 20.0,
            records_fed: 404_000,
            records_total: 404_000,
            arrivals: compare::report::Arrivals {
                in_order: 360_000,
                out_of_order: 36_000,
                late: 4_000,
                duplicates: 4_000,
            },
            feed_behind_ms: 12.0,
            interrupted: false,
            peak_rss_bytes: Some(734_003_200),
            harness_cpu_seconds: 2.75,
        },
        disorder: Some(Disorder {
            records: 404_000,
            max_ms: 59_000,
            p99_ms: 1_400.0,
            behind_watermark: 4_100,
            beyond_allowed_lateness: 3_900,
        }),
        summary: summary_of(&pairs),
        alone: Some(Alone {
            summary: summary_of(&pairs),
        }),
        sweep: Some(sweep(&pipelines.lambda, &pipelines.kappa)),
        max_rate: Some(MaxRate {
            p99_bound_ms: 1000.0,
            probe_seconds: 10.0,
            lambda: search(400_000.0),
            kappa: search(150_000.0),
        }),
        pipelines,
        workloads: names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let i = i as u64;
                WorkloadReport {
                    name: name.to_string(),
                    oracle_cells: 6400 + i,
                    lambda: WorkloadFigures {
                        correctness: correctness(6400, 6400, 0),
                        reprocess_seconds: Some(0.625 + i as f64),
                        reprocess: None,
                        complexity: Complexity::default(),
                    },
                    kappa: WorkloadFigures {
                        correctness: correctness(6400, 6100 + 100 * i, 194),
                        reprocess_seconds: Some(2.875 + i as f64),
                        reprocess: None,
                        complexity: Complexity::default(),
                    },
                }
            })
            .collect(),
        batch_runs: (0..4)
            .map(|i| BatchRun {
                workload: names[i % 2].into(),
                started_s: 4.0 * (i + 1) as f64,
                finished_s: 4.0 * (i + 1) as f64 + 1.25,
                horizon_records: 80_000 * (i as u64 + 1),
            })
            .collect(),
        warnings: vec!["Too short to <judge> Kappa's stable results.".into()],
        verdict: vec![
            "Lambda showed records sooner: p99 2.5 s against 15.6 s.".into(),
            "Lambda's final answers were exact; Kappa's were 95.3 % exact.".into(),
        ],
    }
}

fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("LK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

/// Runs the browser headless on `url` with `args`, stdout into `stdout`, killed after
/// [`BROWSER_TIMEOUT`].
fn run_browser(browser: &Path, dir: &Path, args: &[String], stdout: &Path) -> Result<()> {
    let profile = tempfile::tempdir_in(dir)?;
    let stderr_path = dir.join(format!(
        "stderr-{}.txt",
        profile.path().file_name().unwrap().to_string_lossy()
    ));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(stdout)?)
        .stderr(File::create(&stderr_path)?)
        .spawn()
        .with_context(|| format!("starting {}", browser.display()))?;
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            bail!(
                "{} {args:?} did not finish within {BROWSER_TIMEOUT:?}; stderr:\n{stderr}",
                browser.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        bail!(
            "{} {args:?} failed ({status}); stderr:\n{stderr}",
            browser.display()
        );
    }
    Ok(())
}

/// The opening tags `<element …>` in `html`, quotes respected.
fn tags<'a>(html: &'a str, element: &str) -> Vec<&'a str> {
    let open = format!("<{element} ");
    let mut found = Vec::new();
    for (start, _) in html.match_indices(&open) {
        let mut quoted = false;
        for (i, c) in html[start..].char_indices() {
            match c {
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    found.push(&html[start..start + i + 1]);
                    break;
                }
                _ => {}
            }
        }
    }
    found
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    Some(&tag[i..i + tag[i..].find('"')?])
}

/// The `<svg id="…">…</svg>` element of one chart in the dumped DOM.
fn chart<'a>(dom: &'a str, id: &str) -> Result<&'a str> {
    let start = dom
        .find(&format!("<svg id=\"{id}\""))
        .with_context(|| format!("no <svg id=\"{id}\"> in the rendered DOM"))?;
    let len = dom[start..]
        .find("</svg>")
        .with_context(|| format!("{id} is not closed"))?;
    Ok(&dom[start..start + len])
}

fn series_tags<'a>(block: &'a str, element: &str, series: &str) -> Vec<&'a str> {
    tags(block, element)
        .into_iter()
        .filter(|t| attr(t, "data-series") == Some(series))
        .collect()
}

/// The points a line series carries, checked against how many vertices it draws.
fn line_points(dom: &str, chart_id: &str, series: &str) -> Result<Vec<(f64, f64)>> {
    let block = chart(dom, chart_id)?;
    let paths = series_tags(block, "path", series);
    ensure!(
        paths.len() == 1,
        "{chart_id}: {} {series} paths",
        paths.len()
    );
    let points: Vec<(f64, f64)> = attr(paths[0], "data-points")
        .context("data-points")?
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').context("x,y")?;
            Ok((x.parse()?, y.parse()?))
        })
        .collect::<Result<_>>()?;
    let d = attr(paths[0], "d").context("d")?;
    ensure!(
        d.matches(['M', 'L']).count() == points.len(),
        "{chart_id} {series}: the path draws a vertex per point"
    );
    Ok(points)
}

fn bar_value(dom: &str, chart_id: &str, series: &str, group: &str) -> Result<f64> {
    let block = chart(dom, chart_id)?;
    let bars: Vec<&str> = series_tags(block, "rect", series)
        .into_iter()
        .filter(|t| attr(t, "data-group") == Some(group))
        .collect();
    ensure!(
        bars.len() == 1,
        "{chart_id} {series} {group}: {} bars",
        bars.len()
    );
    Ok(attr(bars[0], "data-value").context("data-value")?.parse()?)
}

/// A workload's bar in the reprocessing chart. Browsers differ on whether they write `<`
/// and `>` in attribute values as entities; either spelling is the workload's name.
fn workload_bar(dom: &str, series: &str, name: &str) -> Result<f64> {
    let attribute = name.replace('&', "&amp;").replace('"', "&quot;");
    let entities = attribute.replace('<', "&lt;").replace('>', "&gt;");
    bar_value(dom, "chart-reprocess", series, &entities)
        .or_else(|_| bar_value(dom, "chart-reprocess", series, &attribute))
}

fn check_dom(dom: &str, report: &Report) -> Result<()> {
    let body = tags(dom, "body");
    ensure!(
        body.len() == 1,
        "no <body data-rendered=…>: the page's script did not run"
    );
    ensure!(
        attr(body[0], "data-rendered") == Some("ok"),
        "the page's script did not finish: {}",
        body[0]
    );
    let html_tag = tags(dom, "html");
    ensure!(
        !html_tag.is_empty() && attr(html_tag[0], "data-script-error").is_none(),
        "a script error was recorded: {html_tag:?}"
    );
    let download = tags(dom, "a")
        .into_iter()
        .find(|t| attr(t, "id") == Some("lk-download"))
        .context("download link")?;
    ensure!(
        download.contains("href=\"data:application/json") && !download.contains(" hidden"),
        "the script offers the JSON: {download}"
    );

    for id in CHART_IDS.iter().chain(SWEEP_CHART_IDS) {
        let block = chart(dom, id)?;
        ensure!(!block.contains("data-empty"), "{id} is empty");
    }
    let (l, k) = (&report.pipelines.lambda, &report.pipelines.kappa);
    for (series, p) in [("lambda", l), ("kappa", k)] {
        for (id, level) in [
            ("chart-latency-cdf-fresh", &p.fresh),
            ("chart-latency-cdf-stable", &p.stable),
        ] {
            let cdf: Vec<(f64, f64)> = level
                .latency_cdf
                .iter()
                .map(|c| (c.latency_ms, c.fraction))
                .collect();
            ensure!(line_points(dom, id, series)? == cdf, "{series} {id}");
        }
        let staleness: Vec<(f64, f64)> =
            p.timeline.iter().map(|s| (s.t_s, s.staleness_ms)).collect();
        ensure!(
            line_points(dom, "chart-staleness", series)? == staleness,
            "{series} staleness"
        );
        let exact: Vec<(f64, f64)> = p
            .timeline
            .iter()
            .filter_map(|s| s.correctness.as_ref().map(|c| (s.t_s, c.exact_fraction)))
            .collect();
        ensure!(exact.len() == 20 && exact.len() < p.timeline.len());
        ensure!(
            line_points(dom, "chart-correctness", series)? == exact,
            "{series} correctness"
        );
        ensure!(
            Some(bar_value(
                dom,
                "chart-throughput",
                series,
                "throughput_eps"
            )?) == p.throughput_eps,
            "{series} throughput"
        );
        ensure!(
            Some(bar_value(dom, "chart-reprocess", series, "all")?) == p.reprocess_seconds,
            "{series} reprocessing"
        );
        for (group, want) in [
            ("loc", p.complexity.loc),
            ("functions", p.complexity.functions),
            ("cyclomatic", p.complexity.cyclomatic),
        ] {
            ensure!(
                bar_value(dom, "chart-complexity", series, group)? == want as f64,
                "{series} complexity {group}"
            );
        }
    }
    for w in &report.workloads {
        let lambda = workload_bar(dom, "lambda", &w.name)?;
        let kappa = workload_bar(dom, "kappa", &w.name)?;
        ensure!(lambda == w.lambda.reprocess_seconds.unwrap(), "{}", w.name);
        ensure!(kappa == w.kappa.reprocess_seconds.unwrap(), "{}", w.name);
    }

    let staleness = chart(dom, "chart-staleness")?;
    let runs: Vec<(f64, f64)> = tags(staleness, "rect")
        .into_iter()
        .filter(|t| attr(t, "class") == Some("batch-run"))
        .map(|t| {
            Ok((
                attr(t, "data-started-s").context("start")?.parse()?,
                attr(t, "data-finished-s").context("end")?.parse()?,
            ))
        })
        .collect::<Result<_>>()?;
    let want: Vec<(f64, f64)> = report
        .batch_runs
        .iter()
        .map(|b| (b.started_s, b.finished_s))
        .collect();
    ensure!(runs == want, "batch runs {runs:?}, want {want:?}");

    ensure!(dom.contains("<td data-pipeline=\"kappa\" class=\"not-measured\">not measured</td>"));
    check_new_sections(dom, report)?;
    ensure!(!dom.contains("<b>top</b>"), "a workload name became markup");

    // The embedded report survives the browser: the very JSON text the report serialises
    // to (with `<`, `>`, `&` as `\u` escapes), which reads back as a report. (Equality of
    // the parsed `Report` is not asserted: serde_json's default float parsing may be one
    // unit in the last place off for computed values; the text comparison is exact.)
    let open = "<script type=\"application/json\" id=\"lk-report\">";
    let start = dom.find(open).context("embedded JSON")? + open.len();
    let len = dom[start..].find("</script>").context("end of JSON")?;
    let embedded = &dom[start..start + len];
    let want = serde_json::to_string(report)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    ensure!(embedded == want, "the embedded JSON is the report's");
    let back: Report = serde_json::from_str(embedded)?;
    ensure!(
        back.params == report.params && back.workloads.len() == report.workloads.len(),
        "the embedded JSON reads back as the report"
    );
    Ok(())
}

/// The sections of the summary, the controls, the sweep and the provenance.
fn check_new_sections(dom: &str, report: &Report) -> Result<()> {
    // Three runs: a cell shows the median and its range; the shading is only on a
    // difference beyond the noise.
    let headline = &dom[dom.find("<table id=\"headline\"").context("headline")?..];
    let row_of = |metric: &str| -> Result<&str> {
        let start = headline
            .find(&format!("<tr data-metric=\"{metric}\""))
            .with_context(|| format!("row {metric}"))?;
        let len = headline[start..].find("</tr>").context("end of row")?;
        Ok(&headline[start..start + len])
    };
    let p99 = row_of("latency_fresh_p99_ms")?;
    ensure!(p99.contains("data-difference=\"lambda\""), "{p99}");
    ensure!(p99.contains("class=\"better\""), "{p99}");
    ensure!(p99.contains("data-min=\"2470\""), "{p99}");
    for id in ["alone", "max-rate", "warnings", "provenance"] {
        ensure!(dom.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    ensure!(
        dom.contains(&report.provenance.reproduce),
        "the reproducing command"
    );
    ensure!(
        dom.contains("Too short to &lt;judge&gt;"),
        "the warning, escaped"
    );
    // The Pareto fronts: Kappa's points of the stable trade-off, and its front.
    let tradeoff = chart(dom, "chart-tradeoff-stable")?;
    let points: Vec<&str> = tags(tradeoff, "g")
        .into_iter()
        .filter(|t| attr(t, "data-series") == Some("kappa"))
        .collect();
    ensure!(points.len() == 1, "Kappa's points");
    let front = line_points(dom, "chart-tradeoff-stable", "kappa-front")?;
    ensure!(
        !front.is_empty() && front.len() <= 3,
        "Kappa's front {front:?}"
    );
    let correctness = line_points(dom, "chart-sweep-correctness", "kappa")?;
    ensure!(
        correctness.iter().map(|p| p.1).collect::<Vec<_>>() == [0.8, 0.95, 1.0],
        "Kappa's correctness against the allowed lateness: {correctness:?}"
    );
    Ok(())
}

fn hex_rgb(color: &str) -> [u8; 3] {
    let v = u32::from_str_radix(color.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn check_screenshot(path: &Path) -> Result<()> {
    let decoder = png::Decoder::new(std::io::BufReader::new(File::open(path)?));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG size")?];
    let info = reader.next_frame(&mut buf)?;
    ensure!(
        (info.width, info.height) == WINDOW,
        "screenshot is {}×{}",
        info.width,
        info.height
    );
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => bail!("unexpected screenshot colour type {other:?}"),
    };
    ensure!(info.bit_depth == png::BitDepth::Eight, "8-bit screenshot");
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let background = pixels[0];
    let different = pixels.iter().filter(|p| **p != background).count();
    let distinct: std::collections::BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
    ensure!(
        different * 50 > pixels.len(),
        "screenshot nearly blank: {different} of {} pixels differ from the background",
        pixels.len()
    );
    ensure!(distinct.len() > 32, "only {} colours", distinct.len());
    // Both pipelines' bars and lines are drawn in their own colours.
    for (name, color) in [("Lambda", LAMBDA_COLOR), ("Kappa", KAPPA_COLOR)] {
        let rgb = hex_rgb(color);
        let close = pixels
            .iter()
            .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 6))
            .count();
        ensure!(
            close > 500,
            "{name}'s colour {color} is on {close} pixels only"
        );
    }
    Ok(())
}

#[test]
fn report_renders_in_headless_chromium() -> Result<()> {
    let Some(browser) = browser() else {
        if std::env::var("LK_REQUIRE_BROWSER").as_deref() == Ok("1") {
            bail!(
                "LK_REQUIRE_BROWSER=1 but no browser at $LK_CHROMIUM or /usr/bin/chromium; \
                 run scripts/install-browser.sh"
            );
        }
        eprintln!(
            "skipped: no browser at $LK_CHROMIUM or /usr/bin/chromium \
             (scripts/install-browser.sh installs one; LK_REQUIRE_BROWSER=1 makes this fail)"
        );
        return Ok(());
    };
    let report = fixture();
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, render(&report))?;
    let url = format!("file://{}", page.canonicalize()?.display());

    let dom_path = dir.path().join("dom.html");
    run_browser(
        &browser,
        dir.path(),
        &["--dump-dom".into(), url.clone()],
        &dom_path,
    )?;
    let dom = std::fs::read_to_string(&dom_path)?;
    check_dom(&dom, &report)
        .with_context(|| format!("in the DOM dumped by {}", browser.display()))?;

    let shot = dir.path().join("shot.png");
    run_browser(
        &browser,
        dir.path(),
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            url,
        ],
        &dir.path().join("screenshot-stdout.txt"),
    )?;
    // For looking at the result: LK_KEEP_SCREENSHOT=/tmp/shot.png keeps the screenshot
    // there and the page beside it (/tmp/shot.png.html).
    if let Some(keep) = std::env::var_os("LK_KEEP_SCREENSHOT") {
        let keep = PathBuf::from(keep);
        std::fs::copy(&shot, &keep)?;
        let mut page_copy = keep.into_os_string();
        page_copy.push(".html");
        std::fs::copy(&page, page_copy)?;
    }
    check_screenshot(&shot)
}

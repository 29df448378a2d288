//! The tour's steps on stream processing: what it requires (out-of-order data, state,
//! exactly-once after a crash), Samza's model, Lambda against Kappa, and LinkedIn's
//! page-view case through both pipelines.

use std::path::Path;
use std::time::{Duration, Instant};

use compare::format as fmt;
use master_log::Log;
use workloads::{BuiltIn, ResultSet, Workload};

use super::log_steps::read_partition;
use super::proc::{kill, lk, lk_head, lk_quiet, spawn};
use super::step::{Ctx, Step};
use crate::answers::kappa_dir;
use crate::text::{count, join};

/// Step: what stream processing requires.
pub const REQUIREMENTS: Step = Step {
    slug: "stream-processing",
    title: "What stream processing requires: disorder, state, exactly-once",
    about: "Stream processing computes over events as they arrive, and the data does not \
        cooperate. Events arrive out of order: each carries an event time, when it \
        happened, which differs from when it reached the log. A windowed count (views \
        per page per minute) must group by event time and decide when a window is \
        complete. A watermark, the largest event time seen minus a bound, says that no \
        earlier event is expected any more. A window closes once the watermark passes its \
        end plus the allowed lateness; an event whose window has closed is late, and goes \
        to a side topic instead of being dropped silently. The counts are state, which must outlive each event and each \
        process. After a crash the results must be exactly once: as if every event had \
        been applied once, although some were read twice.\n\n\
        Here a page-view stream with disorder, late events and duplicates is generated, \
        and the Kappa job counts views per page per minute. Then the same job runs again \
        from scratch, is killed with SIGKILL mid-stream, restarts, and its table is \
        compared with the first run's.",
    run: requirements,
};

/// Step: Samza's model.
pub const SAMZA: Step = Step {
    slug: "samza",
    title: "Samza's model: tasks, local state, changelog",
    about: "Samza, the stream processor LinkedIn built on Kafka, runs a job as tasks, one \
        per input partition: the task is the unit of parallelism and of state. Each task \
        keeps its state in a local store on its own machine (RocksDB in Samza, redb \
        here), so reading and updating state costs no network round trip, and writes \
        every change to a changelog: a compacted topic with one partition per task. A \
        checkpoint records the input offset the state covers, together with the state. \
        A task restarted on the same machine reopens its local store (host affinity); \
        on a new machine it rebuilds the store by replaying its changelog partition.\n\n\
        Here the job \"distinct viewers per profile per hour\" runs over 4 partitions with \
        2 worker threads; then it restarts with its local stores, and again without \
        them.",
    run: samza,
};

/// Step: Lambda against Kappa.
pub const LAMBDA_KAPPA: Step = Step {
    slug: "lambda-vs-kappa",
    title: "Lambda vs Kappa: one comparison, then reprocessing",
    about: "Lambda, as Nathan Marz described it, runs two code paths over one immutable \
        master dataset: a batch layer recomputes views from all of history up to a horizon \
        (the log's end offsets when its run starts: exact, but only as fresh as that \
        run), a speed layer covers what arrived after the horizon (fresh, incremental), \
        and a serving layer merges the two. Kappa, as Jay Kreps proposed it, \
        keeps one code path: a stream job over the log. To change its logic or fix a bug, \
        Kappa reprocesses: a new version of the job replays the log from offset 0 into a \
        new table while the old version keeps serving; once the new one has caught up, \
        the serving alias switches and the old version is deleted. Kappa's price is \
        keeping enough history in the log; Lambda's is two implementations of every \
        query.\n\n\
        Here `lk compare` feeds one log to both pipelines and measures them; then a Kappa \
        job is reprocessed with a larger allowed lateness.",
    run: lambda_vs_kappa,
};

/// Step: LinkedIn's page views.
pub const LINKEDIN: Step = Step {
    slug: "linkedin",
    title: "LinkedIn's page views through both pipelines",
    about: "LinkedIn built Kafka to carry its activity data, page views above all, from \
        the site to every system that needed it: Hadoop for batch analysis, search, \
        monitoring, and stream processing with Samza. A feature such as \"who viewed your \
        profile\" counts, per member profile and per hour, the distinct members who \
        viewed it. Both architectures answer it from the same log of page views: Lambda \
        from its batch view merged with its realtime view, Kappa from its stream job's \
        table.\n\n\
        Here a page-view stream with disorder, late events and duplicates goes through \
        both pipelines, and `lk query --pipeline both` puts their answers side by side, \
        marking any difference; then Kappa runs with no allowed lateness, and the \
        differences show where late events went.",
    run: linkedin,
};

const PER_MINUTE: Workload = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
const PROFILE_VIEWERS: Workload = Workload::BuiltIn(BuiltIn::ProfileViewersHourly);

/// `lk generate pageviews` arguments: `events` distinct events over `partitions`, with
/// `disorder` (out of order within 5 s, 1 % late by a minute or two, 2 % duplicates).
fn generate_args(events: u64, partitions: u32, disorder: bool) -> Vec<String> {
    let mut a: Vec<String> = [
        "generate",
        "pageviews",
        "--topic",
        "pageviews",
        "--events",
        &events.to_string(),
        "--partitions",
        &partitions.to_string(),
        "--event-rate",
        "200",
        "--keys",
        "2000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if disorder {
        a.extend(
            [
                "--out-of-order",
                "0.1",
                "--max-delay",
                "5s",
                "--late",
                "0.01",
                "--late-delay",
                "1m",
                "--duplicates",
                "0.02",
            ]
            .map(str::to_owned),
        );
    }
    a
}

/// `strs` as `&str`s.
fn refs(strs: &[String]) -> Vec<&str> {
    strs.iter().map(String::as_str).collect()
}

/// The serving Kappa table of `w` in `data`, finished into rows, with its counters
/// (events, duplicates, late events).
fn kappa_rows(data: &Path, w: &Workload) -> anyhow::Result<(ResultSet, [u64; 3])> {
    let t = kappa::load_serving(&kappa_dir(data), w.name())?;
    Ok((w.finish(&t.table)?, [t.events, t.duplicates, t.late_events]))
}

/// How far events arrive behind a later event of their partition: (records behind,
/// records, the largest lag in ms).
fn disorder(log: &dyn Log, topic: &str) -> anyhow::Result<(u64, u64, i64)> {
    let (mut behind, mut total, mut worst) = (0u64, 0u64, 0i64);
    for p in 0..log.partition_count(topic)? {
        let mut max = i64::MIN;
        for r in read_partition(log, topic, p)? {
            total += 1;
            if r.event_time < max {
                behind += 1;
                worst = worst.max(max - r.event_time);
            }
            max = max.max(r.event_time);
        }
    }
    Ok((behind, total, worst))
}

fn requirements(ctx: &mut Ctx) -> anyhow::Result<()> {
    let events = ctx.size(300_000, 20_000);
    lk(ctx, &refs(&generate_args(events, 2, true)))?;
    let log = ctx.open_log()?;
    let (behind, total, worst) = disorder(log.as_ref(), "pageviews")?;
    drop(log);
    ctx.say(format!(
        "out of order: {} of {} arrived after a later event of their partition ({}), by up \
         to {}",
        fmt::count(behind),
        count(total, "record"),
        fmt::percent_approx(behind as f64 / total.max(1) as f64),
        humantime::format_duration(Duration::from_secs(worst.max(0) as u64 / 1_000))
    ));
    let run = [
        "kappa",
        "run",
        "--workload",
        "pageviews-per-minute",
        "--watermark-bound",
        "5s",
        "--allowed-lateness",
        "0s",
        "--until-caught-up",
    ];
    lk(ctx, &run)?;
    let log = ctx.open_log()?;
    let late_topic = kappa::late_topic(&kappa::job_name(PER_MINUTE.name(), 1));
    let late: u64 = log.end_offsets(&late_topic)?.iter().sum();
    drop(log);
    ctx.say(format!(
        "the late events are in topic {late_topic}: {}, each with its source partition and \
         offset in its headers",
        count(late, "record")
    ));
    let (first, first_counts) = kappa_rows(&ctx.dir, &PER_MINUTE)?;
    ctx.say(format!(
        "state: the job's table holds {}",
        count(first.rows.len() as u64, "row")
    ));
    lk(
        ctx,
        &["kappa", "reset", "--workload", "pageviews-per-minute"],
    )?;
    crash_and_restart(ctx, &run, total)?;
    let (second, second_counts) = kappa_rows(&ctx.dir, &PER_MINUTE)?;
    let cmp = workloads::compare(&first, &second);
    let names = ["events applied", "duplicates dropped", "late events"];
    let counters: Vec<String> = names
        .iter()
        .zip(first_counts.iter().zip(&second_counts))
        .map(|(n, (a, b))| format!("{n} {} and {}", fmt::count(*a), fmt::count(*b)))
        .collect();
    ctx.say(format!(
        "exactly once: the table after the crash and restart {} the uninterrupted run's \
         ({} of {} cells equal; {})",
        if cmp.is_exact() {
            "equals"
        } else {
            "DIFFERS FROM"
        },
        fmt::count(cmp.exact),
        fmt::count(cmp.cells),
        counters.join(", ")
    ));
    anyhow::ensure!(
        cmp.is_exact() && first_counts == second_counts,
        "the restarted job's table differs from the uninterrupted run's"
    );
    Ok(())
}

/// Start the job `run` (without `--until-caught-up`, checkpointing every 100 ms), kill it
/// once a checkpoint shows in its table but before it has read all `total` records,
/// then run it to the end again.
fn crash_and_restart(ctx: &mut Ctx, run: &[&str], total: u64) -> anyhow::Result<()> {
    let mut live: Vec<&str> = run
        .iter()
        .copied()
        .filter(|a| *a != "--until-caught-up")
        .collect();
    live.extend(["--checkpoint-every", "100ms"]);
    let mut child = spawn(ctx, &live)?;
    let dir = kappa_dir(&ctx.dir);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut read = 0;
    while Instant::now() < deadline {
        if let Ok(t) = kappa::load_version(&dir, PER_MINUTE.name(), 1) {
            read = t.positions.iter().sum::<u64>();
            if read > 0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    kill(ctx, &mut child)?;
    ctx.say(format!(
        "its last checkpoint before the kill covered {} of {}{}",
        fmt::count(read),
        count(total, "record"),
        if read >= total {
            " (it had read everything already: this machine is fast for these sizes)"
        } else {
            ": the rest, and whatever it read after that checkpoint, is read again"
        }
    ));
    lk(ctx, run)?;
    Ok(())
}

/// The job's local stores (`task-P.redb`) with their sizes.
fn stores(data: &Path, job: &str) -> anyhow::Result<Vec<(String, u64)>> {
    let dir = kappa::state_dir(&kappa_dir(data), job);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| anyhow::anyhow!("list {}: {e}", dir.display()))? {
        let e = e?;
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            e.metadata()?.len(),
        ));
    }
    out.sort();
    Ok(out)
}

fn samza(ctx: &mut Ctx) -> anyhow::Result<()> {
    let events = ctx.size(200_000, 20_000);
    lk(ctx, &refs(&generate_args(events, 4, false)))?;
    let run = [
        "kappa",
        "run",
        "--workload",
        "profile-viewers-hourly",
        "--workers",
        "2",
        "--until-caught-up",
    ];
    lk(ctx, &run)?;
    let job = kappa::job_name(PROFILE_VIEWERS.name(), 1);
    let files: Vec<String> = stores(&ctx.dir, &job)?
        .into_iter()
        .map(|(name, size)| format!("{name} {}", fmt::bytes(size)))
        .collect();
    ctx.say(format!(
        "local stores, one per task, in kappa/state/{job}/: {}",
        files.join(", ")
    ));
    let log = ctx.open_log()?;
    let changelog = kappa::changelog_topic(&job);
    let ends = log.end_offsets(&changelog)?;
    let committed = log.committed_offsets(&kappa::group_name(&job), "pageviews")?;
    drop(log);
    ctx.say(format!(
        "changelog {changelog}: {} (one per task) holding {} records (state changes and \
         checkpoint markers)",
        count(ends.len() as u64, "partition"),
        join(&ends.iter().map(|e| fmt::count(*e)).collect::<Vec<_>>())
    ));
    ctx.say(format!(
        "the job's consumer group {} committed input offsets {}",
        kappa::group_name(&job),
        join(
            &committed
                .values()
                .map(|o| fmt::count(*o))
                .collect::<Vec<_>>()
        )
    ));
    let (before, _) = kappa_rows(&ctx.dir, &PROFILE_VIEWERS)?;
    ctx.say("restart with the local stores in place (same machine):");
    lk(ctx, &run)?;
    ctx.say(
        "nothing new to read: each task reopened its store at its checkpoint, and the \
         counters came back with it",
    );
    let state = kappa::state_dir(&kappa_dir(&ctx.dir), &job);
    std::fs::remove_dir_all(&state)
        .map_err(|e| anyhow::anyhow!("delete {}: {e}", state.display()))?;
    ctx.say(format!(
        "deleted kappa/state/{job}/ (a new machine, without the stores); restart:"
    ));
    lk(ctx, &run)?;
    let (after, _) = kappa_rows(&ctx.dir, &PROFILE_VIEWERS)?;
    let cmp = workloads::compare(&before, &after);
    ctx.say(format!(
        "the table after both restarts {} the first run's ({} of {} cells equal)",
        if cmp.is_exact() {
            "equals"
        } else {
            "DIFFERS FROM"
        },
        fmt::count(cmp.exact),
        fmt::count(cmp.cells)
    ));
    anyhow::ensure!(cmp.is_exact(), "a restore changed the table");
    Ok(())
}

fn lambda_vs_kappa(ctx: &mut Ctx) -> anyhow::Result<()> {
    let (events, rate) = (ctx.size(150_000, 8_000), ctx.size(50_000, 20_000));
    let compare = [
        "compare".to_owned(),
        "--dataset".into(),
        "pageviews".into(),
        "--workload".into(),
        "pageviews-per-minute".into(),
        "--events".into(),
        events.to_string(),
        "--rate".into(),
        rate.to_string(),
        "--event-rate".into(),
        "2000".into(),
        "--partitions".into(),
        "2".into(),
        "--batch-every".into(),
        "1s".into(),
        "--checkpoint-every".into(),
        "250ms".into(),
    ];
    lk(ctx, &refs(&compare))?;
    ctx.say("reprocessing with Kappa:");
    lk(
        ctx,
        &refs(&generate_args(ctx.size(200_000, 20_000), 2, true)),
    )?;
    lk(
        ctx,
        &[
            "kappa",
            "run",
            "--workload",
            "pageviews-per-minute",
            "--allowed-lateness",
            "0s",
            "--until-caught-up",
        ],
    )?;
    let (_, [v1_events, _, v1_late]) = kappa_rows(&ctx.dir, &PER_MINUTE)?;
    lk(
        ctx,
        &[
            "kappa",
            "reprocess",
            "--workload",
            "pageviews-per-minute",
            "--allowed-lateness",
            "3m",
        ],
    )?;
    lk(
        ctx,
        &["kappa", "versions", "--workload", "pageviews-per-minute"],
    )?;
    let (_, [v2_events, _, v2_late]) = kappa_rows(&ctx.dir, &PER_MINUTE)?;
    ctx.say(format!(
        "v1 (no allowed lateness) counted {} and set {} aside as late; v2 (3 minutes) counts \
         {} with {} late, and replaced v1 while v1 kept answering until the switch",
        count(v1_events, "event"),
        fmt::count(v1_late),
        count(v2_events, "event"),
        fmt::count(v2_late)
    ));
    Ok(())
}

/// The profile with the most distinct viewers in any hour of Kappa's table.
fn busiest_profile(data: &Path) -> anyhow::Result<String> {
    let (rows, _) = kappa_rows(data, &PROFILE_VIEWERS)?;
    rows.rows
        .iter()
        .max_by_key(|r| r.values.first().and_then(|v| v.as_f64()).unwrap_or(0.0) as i64)
        .map(|r| serving_layer::key_text(&r.key))
        .ok_or_else(|| anyhow::anyhow!("no profile was viewed"))
}

/// `lk query --pipeline both --format json` of `workload`: (cells, cells that differ).
fn differences(ctx: &Ctx, workload: &str) -> anyhow::Result<(u64, u64, Option<String>)> {
    let json = lk_quiet(
        ctx,
        &[
            "query",
            "--workload",
            workload,
            "--pipeline",
            "both",
            "--format",
            "json",
        ],
    )?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    let rows = v["rows"].as_array().map_or(&[][..], |r| r.as_slice());
    let first_key = rows
        .iter()
        .find(|r| r["differs"] == true)
        .and_then(|r| r["page_id"].as_i64())
        .map(|k| k.to_string());
    Ok((
        rows.len() as u64,
        v["differing_rows"].as_u64().unwrap_or(0),
        first_key,
    ))
}

fn linkedin(ctx: &mut Ctx) -> anyhow::Result<()> {
    lk(
        ctx,
        &refs(&generate_args(ctx.size(200_000, 20_000), 2, true)),
    )?;
    for w in ["profile-viewers-hourly", "pageviews-per-minute"] {
        lk(
            ctx,
            &["lambda", "run", "--workload", w, "--until-caught-up"],
        )?;
    }
    let kappa_run = |w: &'static str, lateness: &'static str| {
        [
            "kappa",
            "run",
            "--workload",
            w,
            "--allowed-lateness",
            lateness,
            "--until-caught-up",
        ]
    };
    lk(ctx, &kappa_run("profile-viewers-hourly", "5m"))?;
    let key = busiest_profile(&ctx.dir)?;
    ctx.say(format!(
        "the profile with the most viewers in an hour: {key}"
    ));
    lk(
        ctx,
        &[
            "query",
            "--workload",
            "profile-viewers-hourly",
            "--pipeline",
            "both",
            "--key",
            &key,
        ],
    )?;
    let (cells, differ, _) = differences(ctx, "profile-viewers-hourly")?;
    ctx.say(format!(
        "over every profile and hour: {}, {} differ",
        count(cells, "cell"),
        fmt::count(differ)
    ));
    anyhow::ensure!(differ == 0, "Lambda and Kappa disagree on {differ} cells");
    lk(ctx, &kappa_run("pageviews-per-minute", "0s"))?;
    let (cells, differ, first) = differences(ctx, "pageviews-per-minute")?;
    let (_, [_, _, late]) = kappa_rows(&ctx.dir, &PER_MINUTE)?;
    ctx.say(format!(
        "views per page per minute, Kappa with no allowed lateness: {} of {} differ; Kappa \
         sent {} to its late-events topic, while Lambda's batch layer counts every event",
        fmt::count(differ),
        count(cells, "cell"),
        count(late, "late event")
    ));
    if let Some(page) = first {
        lk_head(
            ctx,
            &[
                "query",
                "--workload",
                "pageviews-per-minute",
                "--pipeline",
                "both",
                "--key",
                &page,
            ],
            30,
        )?;
    }
    Ok(())
}

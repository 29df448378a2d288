//! `lk lambda run` (batch, speed and serving in one process) and the HTTP API of
//! `lk serve`: answers equal to `lk query`'s and to the oracle's, errors as JSON with
//! the right status, and a clean stop on Ctrl-C (SIGINT).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{
    copy_dirs, first_half, generate_pageviews, kappa_run_exact, lk, pageviews_per_minute_oracle,
    stdout_of,
};
use tempfile::TempDir;
use workloads::BuiltIn;

const WORKLOAD: &str = "pageviews-per-minute";

/// The oracle's rows of the workload as JSON objects, as the API renders them.
fn oracle_rows(dir: &TempDir) -> Vec<serde_json::Value> {
    let expected = pageviews_per_minute_oracle(dir);
    assert!(expected.rows.len() > 50);
    expected
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "window_start": workloads::rfc3339_millis(r.window.start),
                "window_end": workloads::rfc3339_millis(r.window.end),
                "page_id": r.key[0].to_json(),
                "views": r.values[0].to_json(),
            })
        })
        .collect()
}

/// `lk query --format json` as a JSON document.
fn query_json(dir: &TempDir, pipeline: &str) -> serde_json::Value {
    let out = stdout_of(lk(dir).args([
        "query",
        "--workload",
        WORKLOAD,
        "--pipeline",
        pipeline,
        "--format",
        "json",
    ]));
    serde_json::from_str(&out).unwrap()
}

/// A child `lk` serving HTTP; killed if the test fails before stopping it.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(dir: &TempDir, args: &[&str]) -> Server {
        let mut child = common::lk_process(dir.path())
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("lk exited before serving")
                .expect("read lk's stdout");
            if let Some(rest) = line.strip_prefix("serving on http://") {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stdout so that the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// GET `path`: the status code and the body parsed as JSON.
    /// The entry of workload `name` in `GET /workloads`.
    fn workload(&self, name: &str) -> serde_json::Value {
        let (status, list) = self.get("/workloads");
        assert_eq!(status, 200, "{list}");
        let all = list["workloads"].as_array().unwrap();
        all.iter().find(|w| w["name"] == name).unwrap().clone()
    }

    fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        (status, serde_json::from_str(body).unwrap())
    }

    /// Send `head` (a request line and headers, without the blank line that ends them)
    /// and return the status, the response head (lower case) and the body.
    fn raw(&self, head: &str) -> (u16, String, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{head}\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    /// Send `head` and check that the answer is `status` with a JSON body `{"error": …}`
    /// whose message contains `needle`.
    fn refused(&self, head: &str, status: u16, needle: &str) {
        let (got, response_head, body) = self.raw(head);
        let short = &head[..head.len().min(120)];
        assert_eq!(got, status, "{short}: {body}");
        assert!(
            response_head.contains("content-type: application/json"),
            "{short}: {response_head}"
        );
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{short}: not JSON ({e}): {body:?}"));
        let message = v["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{short}: {v}");
    }

    /// Ctrl-C, then the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        common::ctrl_c(self.child.id());
        common::wait_exit(
            &mut self.child,
            Duration::from_secs(30),
            "lk did not stop on SIGINT",
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn lambda_run_until_caught_up_twice_equals_the_oracle() {
    // One dataset, copied in two halves (a second generator run would reuse event ids).
    let (src, dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    generate_pageviews(&src, "3", 4000).assert().success();
    let (mid, end) = first_half(&src, &dir, 2);
    let run = || {
        lk(&dir)
            .args(["lambda", "run", "--workload", WORKLOAD, "--until-caught-up"])
            .assert()
            .success()
    };
    run();
    // The rest, with windows, late events and duplicates across the first horizon.
    copy_dirs(&src, &dir, &mid, &end);
    run();
    let got = query_json(&dir, "lambda");
    assert_eq!(got["rows"].as_array().unwrap(), &oracle_rows(&dir));
    assert_eq!(got["freshness"]["lag_records"], 0);
}

#[test]
fn http_api_answers_like_lk_query_and_errors_as_json() {
    let (src, dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    generate_pageviews(&src, "5", 4000).assert().success();
    let (mid, end) = first_half(&src, &dir, 2);
    lk(&dir)
        .args(["lambda", "batch", "--workload", WORKLOAD])
        .assert()
        .success();
    copy_dirs(&src, &dir, &mid, &end);
    lk(&dir)
        .args([
            "lambda",
            "speed",
            "--workload",
            WORKLOAD,
            "--until-caught-up",
        ])
        .assert()
        .success();
    let expected = query_json(&dir, "lambda");
    let oracle = oracle_rows(&dir);
    assert_eq!(expected["rows"].as_array().unwrap(), &oracle);

    let server = Server::start(&dir, &["serve"]);
    let (status, body) = server.get("/health");
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));

    let (status, body) = server.get("/workloads");
    assert_eq!(status, 200);
    let list = body["workloads"].as_array().unwrap();
    assert_eq!(list.len(), BuiltIn::ALL.len());
    let ours = list.iter().find(|w| w["name"] == WORKLOAD).unwrap();
    assert_eq!(ours["topic"], "pageviews");
    assert_eq!(ours["window"]["kind"], "tumbling");
    assert_eq!(ours["pipelines"]["lambda"]["batch_version"], 1);
    assert_eq!(ours["pipelines"]["lambda"]["realtime_saved"], true);

    let (status, body) = server.get(&format!("/workloads/{WORKLOAD}/rows"));
    assert_eq!(status, 200);
    assert_eq!(body, expected);
    let (status, body) = server.get(&format!("/workloads/{WORKLOAD}/rows?pipeline=lambda"));
    assert_eq!(status, 200);
    assert_eq!(body, expected);

    // A key and a time range select a subset of the same rows.
    let first = &oracle[0];
    let key = match &first["page_id"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (start, end) = (
        first["window_start"].as_str().unwrap(),
        first["window_end"].as_str().unwrap(),
    );
    let (status, body) = server.get(&format!(
        "/workloads/{WORKLOAD}/rows?key={key}&from={start}&to={end}"
    ));
    assert_eq!(status, 200);
    let rows = body["rows"].as_array().unwrap();
    assert!(rows.contains(first), "{rows:?}");
    assert!(rows.iter().all(|r| r["page_id"] == first["page_id"]));

    for (path, want) in [
        ("/workloads/nope/rows", 404),
        ("/nope", 404),
        (&*format!("/workloads/{WORKLOAD}/rows?from=yesterday"), 400),
        (&*format!("/workloads/{WORKLOAD}/rows?pipeline=omega"), 400),
        (&*format!("/workloads/{WORKLOAD}/rows?colour=red"), 400),
    ] {
        let (status, body) = server.get(path);
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
    // No Kappa table yet.
    let (status, body) = server.get(&format!("/workloads/{WORKLOAD}/rows?pipeline=kappa"));
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no Kappa table"));
    // A workload without views yet is not found, with the reason.
    let (status, body) = server.get("/workloads/top-pages-hourly/rows");
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("no Lambda views"));

    assert!(server.interrupt().success());
}

#[test]
fn lambda_run_serves_live_views_and_stops_cleanly() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "7", 4000).assert().success();
    let oracle = oracle_rows(&dir);
    let server = Server::start(
        &dir,
        &[
            "lambda",
            "run",
            "--workload",
            WORKLOAD,
            "--batch-every",
            "1s",
        ],
    );
    // The speed layer and the first batch run race; whatever their order, once the view
    // has caught up with the head it is the oracle's answer.
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let (status, body) = server.get(&format!("/workloads/{WORKLOAD}/rows"));
        assert_eq!(status, 200, "{body}");
        if body["freshness"]["lag_records"] == 0 && body["freshness"]["batch_horizon"].is_array() {
            break body;
        }
        assert!(Instant::now() < deadline, "never caught up: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(body["rows"].as_array().unwrap(), &oracle);
    let ours = server.workload(WORKLOAD);
    assert_eq!(ours["pipelines"]["lambda"]["live"], true);
    assert!(server.interrupt().success());
    // The views it saved answer the same after it stopped.
    assert_eq!(
        query_json(&dir, "lambda")["rows"].as_array().unwrap(),
        &oracle
    );
}

#[test]
fn http_serves_the_kappa_table_like_lk_query() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "8", 4000).assert().success();
    let oracle = oracle_rows(&dir);
    kappa_run_exact(&dir, WORKLOAD, &[]);
    let expected = query_json(&dir, "kappa");
    assert_eq!(expected["rows"].as_array().unwrap(), &oracle);
    let server = Server::start(&dir, &["serve"]);
    let (status, body) = server.get(&format!("/workloads/{WORKLOAD}/rows?pipeline=kappa"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, expected);
    let ours = server.workload(WORKLOAD);
    assert_eq!(ours["pipelines"]["kappa"]["serving_version"], 1);
    assert!(server.interrupt().success());
}

/// The views of a Lambda worker (per partition) are served like one process's: the same
/// rows as `lk query`, the oracle's, and `/workloads` names the partitions.
#[test]
fn http_serves_the_per_partition_views_of_lambda_workers() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "9", 4000).assert().success();
    let args: Vec<String> = ["lambda", "run", "--workload", WORKLOAD, "--worker"]
        .map(String::from)
        .to_vec();
    let mut worker = common::Running::spawn(dir.path(), &args);
    worker.wait_for(
        &[0, 1].map(|p| format!("partition {p}: caught up")),
        Duration::from_secs(60),
    );
    worker.interrupt();
    let expected = query_json(&dir, "lambda");
    assert_eq!(expected["rows"].as_array().unwrap(), &oracle_rows(&dir));
    assert_eq!(expected["freshness"]["lag_records"], 0);
    let server = Server::start(&dir, &["serve"]);
    let (status, body) = server.get(&format!("/workloads/{WORKLOAD}/rows"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, expected);
    let ours = server.workload(WORKLOAD);
    assert_eq!(
        ours["pipelines"]["lambda"]["worker_partitions"],
        serde_json::json!([0, 1])
    );
    assert_eq!(
        ours["pipelines"]["lambda"]["batch_version"],
        serde_json::Value::Null
    );
    assert!(server.interrupt().success());
}

#[test]
fn http_errors_of_every_route_and_of_axum_itself_are_json() {
    let dir = TempDir::new().unwrap();
    let server = Server::start(&dir, &["serve"]);
    let rows = format!("/workloads/{WORKLOAD}/rows");
    // Unknown and repeated parameters on every route, and bad encodings.
    for (path, needle) in [
        ("/health?verbose=1", "unknown parameter \"verbose\""),
        ("/workloads?colour=red", "takes no parameters"),
        (
            &*format!("{rows}?colour=red"),
            "unknown parameter \"colour\"",
        ),
        (&*format!("{rows}?Key=1"), "unknown parameter \"Key\""),
        (&*format!("{rows}?key=1&key=2"), "given twice"),
        (&*format!("{rows}?key=%zz"), "percent-encoding"),
        (&*format!("{rows}?key=%FF"), "UTF-8"),
        (&*format!("{rows}?from=yesterday"), "from"),
        ("/workloads/nexmark-q7/rows?key=1", "no key columns"),
        ("/workloads/%FF/rows", ""),
    ] {
        server.refused(&format!("GET {path} HTTP/1.1"), 400, needle);
    }
    server.refused("GET /nope HTTP/1.1", 404, "no such path");
    server.refused("GET /workloads/nope/rows HTTP/1.1", 404, "no workload");
    server.refused(&format!("GET {rows} HTTP/1.1"), 404, "no views yet");
    for path in ["/health", "/workloads", &rows] {
        server.refused(
            &format!("POST {path} HTTP/1.1\r\nContent-Length: 0"),
            405,
            "use GET",
        );
        server.refused(&format!("DELETE {path} HTTP/1.1"), 405, "DELETE");
    }
    let (_, head, _) = server.raw("PUT /health HTTP/1.1");
    assert!(head.contains("allow: get"), "{head}");
    // Too long: the target, the number of headers, their size.
    let long = format!("GET {rows}?key={} HTTP/1.1", "k".repeat(10_000));
    server.refused(&long, 414, "8192");
    let many: String = (0..80).map(|i| format!("\r\nX-H{i}: v")).collect();
    server.refused(&format!("GET /health HTTP/1.1{many}"), 431, "82 headers");
    let big = format!("GET /health HTTP/1.1\r\nCookie: {}", "c".repeat(20_000));
    server.refused(&big, 431, "at most");
    // Past what HTTP carries, hyper answers alone: the status, without a body.
    let huge = format!("GET /health?{} HTTP/1.1", "k".repeat(70_000));
    let (status, _, body) = server.raw(&huge);
    assert_eq!((status, body.as_str()), (414, ""));
    // Still fine after all that.
    assert_eq!(server.get("/health").0, 200);
    assert!(server.interrupt().success());
}

#[test]
fn arbitrary_query_strings_always_get_json() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let dir = TempDir::new().unwrap();
    let server = Server::start(&dir, &["serve"]);
    // What may stand in a request target: the characters that matter to the parser,
    // percent escapes (good, bad, partial, of bytes that are not UTF-8), and others.
    let piece = prop_oneof![
        Just("key".to_owned()),
        Just("pipeline".to_owned()),
        Just("kappa".to_owned()),
        Just("from".to_owned()),
        Just("to".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just("+".to_owned()),
        Just("%".to_owned()),
        "%[0-9a-fA-F]{2}",
        "[a-zA-Z0-9:.,;!$'()*@/?~_-]{1,12}",
    ];
    let query = prop::collection::vec(piece, 0..10).prop_map(|v| v.concat());
    let paths = prop_oneof![
        Just("/health".to_owned()),
        Just("/workloads".to_owned()),
        Just(format!("/workloads/{WORKLOAD}/rows")),
        Just("/workloads/nexmark-q7/rows".to_owned()),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(paths, query), |(path, query)| {
            let (status, head, body) = server.raw(&format!("GET {path}?{query} HTTP/1.1"));
            prop_assert!(head.contains("content-type: application/json"), "{head}");
            let v: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| TestCaseError::fail(format!("{status} {body:?}: {e}")))?;
            if status != 200 {
                prop_assert!(
                    [400, 404].contains(&status) && v["error"].as_str().is_some(),
                    "{status} {v}"
                );
            }
            Ok(())
        })
        .unwrap();
    assert!(server.interrupt().success());
}

/// Poll `path` on `server` until its rows differ from `before` with nothing left to read.
fn wait_for_new_rows(server: &Server, path: &str, before: &serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = server.get(path);
        assert_eq!(status, 200, "{body}");
        if body["rows"] != before["rows"]
            && body["freshness"]["lag_records"].as_u64().unwrap_or(0) == 0
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the answer never changed: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Another process appends to the topic running pipelines read: `lk generate --rate
/// --append` succeeds beside `lk lambda run` (serving), `lk kappa run` (serving) and
/// `lk serve`, and what each serves changes.
#[test]
fn produce_beside_running_pipelines_and_serve_changes_the_served_answers() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "10", 3000).assert().success();
    let oracle = oracle_rows(&dir);
    let rows = format!("/workloads/{WORKLOAD}/rows");

    let lambda = Server::start(
        &dir,
        &[
            "lambda",
            "run",
            "--workload",
            WORKLOAD,
            "--batch-every",
            "1s",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let (status, body) = lambda.get(&rows);
        assert_eq!(status, 200, "{body}");
        if body["freshness"]["lag_records"] == 0 && body["rows"].as_array() == Some(&oracle) {
            break body;
        }
        assert!(Instant::now() < deadline, "never caught up: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Kappa follows the topic too, and `lk serve` serves both pipelines' saved answers.
    let kappa = Server::start(
        &dir,
        &[
            "kappa",
            "run",
            "--workload",
            WORKLOAD,
            "--allowed-lateness",
            "5m",
        ],
    );
    let kappa_rows = format!("{rows}?pipeline=kappa");
    let deadline = Instant::now() + Duration::from_secs(60);
    let kappa_before = loop {
        let (status, body) = kappa.get(&kappa_rows);
        if status == 200 && body["rows"].as_array() == Some(&oracle) {
            break body;
        }
        assert!(Instant::now() < deadline, "kappa never caught up: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let serve = Server::start(&dir, &["serve"]);

    lk(&dir)
        .args([
            "generate",
            "pageviews",
            "--topic",
            "pageviews",
            "--append",
            "--events",
            "300",
            "--partitions",
            "2",
            "--event-rate",
            "20",
            "--seed",
            "11",
            "--rate",
            "3000",
        ])
        .assert()
        .success();
    wait_for_new_rows(&lambda, &rows, &before);
    wait_for_new_rows(&kappa, &kappa_rows, &kappa_before);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = serve.get(&kappa_rows);
        assert_eq!(status, 200, "{body}");
        if body["rows"] != kappa_before["rows"] {
            break;
        }
        assert!(Instant::now() < deadline, "lk serve never changed: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(serve.interrupt().success());
    assert!(kappa.interrupt().success());
    assert!(lambda.interrupt().success());
}

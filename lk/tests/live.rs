//! The live page of `lk serve` (`GET /live`, `GET /live/events`): both pipelines' answers
//! side by side, updated as events flow.
//!
//! The end-to-end test runs every part in a process of its own, as a deployment would:
//! a paced `lk generate`, `lk lambda run`, `lk kappa run` and `lk serve`, all on a
//! Kafka-protocol broker (`LK_KAFKA_BROKERS`, started by `scripts/with-kafka.sh`; the test
//! fails without one). It reads `/live/events` with a plain HTTP client, then drives the
//! page in headless Chromium over the DevTools protocol: the figures and rows it shows
//! change while events are produced, no script error, and its screenshot is not blank.
//! The browser is `$LK_CHROMIUM` or `/usr/bin/chromium` (`scripts/install-browser.sh`);
//! without one that part is skipped, unless `LK_REQUIRE_BROWSER=1` (as in CI).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// A child `lk` process, killed when dropped (a failing test leaves none behind); its
/// output goes to files in the test's directory, shown when the test fails.
struct Proc {
    child: Child,
    name: String,
    /// Whether it ends by itself when done.
    may_finish: bool,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    fn spawn(dir: &Path, name: &str, args: &[String]) -> Proc {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = common::lk_process(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Proc {
            child,
            name: name.to_owned(),
            may_finish: false,
            stdout,
            stderr,
        }
    }

    /// What it printed so far.
    fn output(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "== {} stdout:\n{}\n== {} stderr:\n{}",
            self.name,
            read(&self.stdout),
            self.name,
            read(&self.stderr)
        )
    }

    /// Require it to be still running (or, if `may_finish`, to have ended well).
    fn alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap()
            && !(self.may_finish && status.success())
        {
            panic!("{} exited ({status}):\n{}", self.name, self.output());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.output());
        }
    }
}

/// `lk serve --addr 127.0.0.1:0` (with `flags` before the command): the process and the
/// address it printed.
fn serve(dir: &Path, flags: &[String]) -> (Proc, String) {
    let mut args = flags.to_vec();
    args.extend(["serve", "--addr", "127.0.0.1:0"].map(String::from));
    let mut server = Proc::spawn(dir, "serve", &args);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = std::fs::read_to_string(&server.stdout).unwrap_or_default();
        if let Some(rest) = out.split("serving on http://").nth(1)
            && let Some(addr) = rest.lines().next()
        {
            return (server, addr.trim().to_owned());
        }
        server.alive();
        assert!(Instant::now() < deadline, "lk serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` on `addr`: the status, the response head (lower case) and the body (of
/// its Content-Length, else to the end: not every server closes when asked).
fn get(addr: &str, path: &str) -> (u16, String, String) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        &s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s);
    let head = read_head(&mut reader);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|n| n.trim().parse::<usize>().unwrap());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).unwrap();
        }
        None => {
            reader.read_to_end(&mut body).unwrap();
        }
    }
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// A response's head (status line and headers, lower case), read up to the blank line.
fn read_head(reader: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            return head;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
}

/// A client of a server-sent event stream over HTTP/1.1 (a chunked body).
struct SseClient {
    reader: BufReader<TcpStream>,
    text: String,
    /// After this, waiting for an event fails the test.
    deadline: Instant,
}

impl SseClient {
    /// Open `path`; the stream must be answered with 200 and `text/event-stream`.
    fn open(addr: &str, path: &str) -> SseClient {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap(); // > KEEP_ALIVE
        let mut w = s.try_clone().unwrap();
        write!(w, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut reader = BufReader::new(s);
        let head = read_head(&mut reader);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        SseClient {
            reader,
            text: String::new(),
            deadline: Instant::now() + Duration::from_secs(180),
        }
    }

    /// The next event: its name and data (a keep-alive comment is skipped).
    fn next(&mut self) -> (String, String) {
        loop {
            assert!(Instant::now() < self.deadline, "no event in time");
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if !data.is_empty() {
                    return (name, data.join("\n"));
                }
                continue;
            }
            // One chunk: its size in hex, the bytes, CRLF.
            let mut size = String::new();
            self.reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            assert!(size > 0, "the event stream ended");
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk).unwrap();
            self.text
                .push_str(std::str::from_utf8(&chunk[..size]).expect("UTF-8 events"));
        }
    }

    /// The next `update` event as JSON.
    fn update(&mut self) -> Value {
        let (name, data) = self.next();
        assert_eq!(name, "update", "{data}");
        serde_json::from_str(&data).unwrap()
    }
}

/// `/live` and `/live/events` refuse bad parameters with the JSON errors of the other
/// routes, before any stream starts, and serve the page with a policy that lets it load
/// nothing from elsewhere.
#[test]
fn live_routes_check_parameters_like_the_json_api() {
    let dir = TempDir::new().unwrap();
    let (mut server, addr) = serve(dir.path(), &[]);
    let (status, head, page) = get(&addr, "/live?workload=ysb-campaign-10s&key=1");
    assert_eq!(status, 200, "{page}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(page.contains("/live/events"), "{page}");
    for (path, want, needle) in [
        ("/live?colour=red", 400, "unknown parameter \"colour\""),
        ("/live/events", 400, "\"workload\" is required"),
        ("/live/events?workload=nope", 404, "no workload named"),
        (
            "/live/events?workload=ysb-campaign-10s&from=yesterday",
            400,
            "from",
        ),
        (
            "/live/events?workload=ysb-campaign-10s&key=a&key=b",
            400,
            "given twice",
        ),
        (
            "/live/events?workload=nexmark-q7&key=1",
            400,
            "no key columns",
        ),
        (
            "/live/events?workload=ysb-campaign-10s&pipeline=kappa",
            400,
            "unknown parameter",
        ),
    ] {
        let (status, head, body) = get(&addr, path);
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            head.contains("content-type: application/json"),
            "{path}: {head}"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].as_str().unwrap().contains(needle), "{path}: {v}");
    }
    // A workload without views yet: the stream starts and says so, per pipeline.
    let mut events = SseClient::open(&addr, "/live/events?workload=ysb-campaign-10s");
    let u = events.update();
    for p in ["lambda", "kappa"] {
        assert_eq!(u[p]["ok"], false, "{u}");
        assert_eq!(u[p]["status"], 404, "{u}");
    }
    // Ctrl-C stops the server although a stream is open: the stream ends.
    common::ctrl_c(server.child.id());
    let status = common::wait_exit(
        &mut server.child,
        Duration::from_secs(20),
        "lk serve did not stop with a stream open",
    );
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    events.reader.read_to_string(&mut rest).unwrap();
    assert!(
        rest.ends_with("0\r\n\r\n"),
        "the stream did not end cleanly: {rest:?}"
    );
}

#[cfg(feature = "kafka")]
mod on_kafka {
    use super::*;
    use common::kafka_flags;

    const WORKLOAD: &str = "ysb-campaign-10s";

    fn args(flags: &[String], rest: &[&str]) -> Vec<String> {
        let mut all = flags.to_vec();
        all.extend(rest.iter().map(|s| s.to_string()));
        all
    }

    /// The pipelines and the server, running over a topic fed at a steady rate.
    struct Deployment {
        _dir: TempDir,
        addr: String,
        procs: Vec<Proc>,
    }

    impl Deployment {
        fn start() -> Deployment {
            let dir = TempDir::new().unwrap();
            let flags = kafka_flags();
            let lk = |rest: &[&str]| {
                let mut c = common::lk(&dir);
                c.args(&flags)
                    .args(rest)
                    .env_remove("LK_LOG_URI")
                    .env_remove("LK_KAFKA_TANSU_COMPAT");
                c
            };
            // The built-in workload reads topic `ysb`: start from an empty one.
            let _ = lk(&["topic", "delete", "ysb"]).output();
            common::stdout_of(&mut lk(&["topic", "create", "ysb", "--partitions", "2"]));
            let d = dir.path();
            // 250 events/s for a minute, longer than the test needs.
            let mut generator = Proc::spawn(
                d,
                "generate",
                &args(
                    &flags,
                    &["generate", "ysb", "--events", "15000", "--rate", "250"],
                ),
            );
            generator.may_finish = true;
            // The pipelines start once the generator has written its ad → campaign
            // table (before its first record): wait for records.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let out =
                    common::stdout_of(&mut lk(&["topic", "describe", "ysb", "--format", "json"]));
                let v: Value = serde_json::from_str(&out).unwrap();
                let records: u64 = v["partitions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["latest"].as_u64().unwrap())
                    .sum();
                if records > 0 {
                    break;
                }
                generator.alive();
                assert!(Instant::now() < deadline, "the generator wrote nothing");
                std::thread::sleep(Duration::from_millis(100));
            }
            let lambda = Proc::spawn(
                d,
                "lambda",
                &args(
                    &flags,
                    &[
                        "lambda",
                        "run",
                        "--workload",
                        WORKLOAD,
                        "--batch-every",
                        "1s",
                    ],
                ),
            );
            let namespace = format!("live{}", std::process::id());
            let kappa = Proc::spawn(
                d,
                "kappa",
                &args(
                    &flags,
                    &[
                        "kappa",
                        "run",
                        "--workload",
                        WORKLOAD,
                        "--namespace",
                        &namespace,
                        "--checkpoint-every",
                        "300ms",
                    ],
                ),
            );
            let (server, addr) = serve(d, &flags);
            Deployment {
                _dir: dir,
                addr,
                procs: vec![generator, lambda, kappa, server],
            }
        }

        fn alive(&mut self) {
            for p in &mut self.procs {
                p.alive();
            }
        }
    }

    /// The records each pipeline's answer covers, when it has one.
    fn visible(u: &Value, p: &str) -> Option<u64> {
        (u[p]["ok"] == true).then(|| u[p]["visible_records"].as_u64().unwrap())
    }

    /// `/live/events` over a plain HTTP client: updates come as the pipelines' answers
    /// grow, each differs from the one before, and both pipelines' rows are in them.
    fn events_follow_both_pipelines(d: &mut Deployment) {
        let mut events = SseClient::open(&d.addr, &format!("/live/events?workload={WORKLOAD}"));
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen: [Vec<u64>; 2] = Default::default();
        let mut previous: Option<Value> = None;
        let mut last_time = 0;
        while seen.iter().any(|s| s.len() < 3) {
            assert!(
                Instant::now() < deadline,
                "the answers did not grow: Lambda {:?}, Kappa {:?}; last update {}",
                seen[0],
                seen[1],
                previous.unwrap_or_default()
            );
            d.alive();
            let mut u = events.update();
            let time = u["server_time_ms"].as_i64().unwrap();
            assert!(time >= last_time, "{time} < {last_time}");
            last_time = time;
            u.as_object_mut().unwrap().remove("server_time_ms");
            assert_ne!(Some(&u), previous.as_ref(), "an update without a change");
            assert_eq!(u["workload"], WORKLOAD);
            for (i, p) in ["lambda", "kappa"].into_iter().enumerate() {
                let Some(n) = visible(&u, p) else { continue };
                let a = &u[p];
                assert!(
                    a["visible_records"].as_u64() <= a["head_records"].as_u64(),
                    "{a}"
                );
                if n > 0 {
                    assert!(!a["rows"].as_array().unwrap().is_empty(), "{a}");
                    assert!(a["newest_visible_append_ms"].is_i64(), "{a}");
                    assert!(a["rows"][0]["campaign_id"].is_string(), "{a}");
                }
                if seen[i].last() != Some(&n) {
                    seen[i].push(n);
                }
            }
            previous = Some(u);
        }
        // What they covered grew (it never moves back), and a change was timed.
        for s in &seen {
            assert!(s.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        }
        let last = previous.unwrap();
        for p in ["lambda", "kappa"] {
            assert!(last[p]["visible_latency_ms"].is_i64(), "{}", last[p]);
            assert!(last[p]["changed_at_ms"].is_i64(), "{}", last[p]);
        }
    }

    #[test]
    fn live_page_and_events_change_while_events_flow() {
        let mut d = Deployment::start();
        events_follow_both_pipelines(&mut d);
        let addr = d.addr.clone();
        super::browser::page_changes_in_chromium(&addr, WORKLOAD, &mut || d.alive());
    }
}

/// The page in headless Chromium, driven over the DevTools protocol.
#[cfg(feature = "kafka")]
mod browser {
    use super::*;
    use base64::Engine as _;
    use tungstenite::Message;

    const VIEWPORT: (u32, u32) = (1400, 1000);
    const LAMBDA_RGB: [u8; 3] = [0xd9, 0x5f, 0x02];
    const KAPPA_RGB: [u8; 3] = [0x1b, 0x9e, 0x77];

    fn browser() -> Option<PathBuf> {
        let path = std::env::var_os("LK_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        path.is_file().then_some(path)
    }

    /// A headless Chromium and a DevTools session on its page, closed when dropped.
    struct Chromium {
        child: Child,
        _profile: TempDir,
        ws: tungstenite::WebSocket<TcpStream>,
        next_id: u64,
        /// Exceptions and console errors the page reported.
        errors: Vec<String>,
    }

    impl Chromium {
        fn start(binary: &Path) -> Chromium {
            let profile = TempDir::new().unwrap();
            let child = Command::new(binary)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--remote-debugging-port=0",
                    "--remote-allow-origins=*",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg(format!("--window-size={},{}", VIEWPORT.0, VIEWPORT.1))
                .arg("about:blank")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Chromium writes the port it chose (and the browser's path) here.
            let active = profile.path().join("DevToolsActivePort");
            let deadline = Instant::now() + Duration::from_secs(60);
            let port = loop {
                if let Ok(text) = std::fs::read_to_string(&active)
                    && let Some(port) = text.lines().next().and_then(|l| l.parse::<u16>().ok())
                {
                    break port;
                }
                assert!(
                    Instant::now() < deadline,
                    "Chromium wrote no DevToolsActivePort"
                );
                std::thread::sleep(Duration::from_millis(100));
            };
            let devtools = format!("127.0.0.1:{port}");
            let page_ws = loop {
                let (status, _, body) = get(&devtools, "/json/list");
                let targets: Value = serde_json::from_str(&body).unwrap_or_default();
                let page = targets
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|t| t["type"] == "page" && t["url"] == "about:blank");
                if status == 200
                    && let Some(url) = page.and_then(|t| t["webSocketDebuggerUrl"].as_str())
                {
                    break url.to_owned();
                }
                assert!(Instant::now() < deadline, "no page target: {body}");
                std::thread::sleep(Duration::from_millis(100));
            };
            let stream = TcpStream::connect(&devtools).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let (ws, _) = tungstenite::client(page_ws.as_str(), stream).unwrap();
            Chromium {
                child,
                _profile: profile,
                ws,
                next_id: 0,
                errors: Vec::new(),
            }
        }

        /// Call `method`; its result (events read meanwhile are looked at for errors).
        fn call(&mut self, method: &str, params: Value) -> Value {
            self.next_id += 1;
            let id = self.next_id;
            let msg = serde_json::json!({ "id": id, "method": method, "params": params });
            self.ws.send(Message::text(msg.to_string())).unwrap();
            loop {
                let text = match self.ws.read().unwrap() {
                    Message::Text(t) => t.to_string(),
                    _ => continue,
                };
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["id"] == id {
                    assert!(v["error"].is_null(), "{method}: {v}");
                    return v["result"].clone();
                }
                match v["method"].as_str() {
                    Some("Runtime.exceptionThrown") => {
                        self.errors
                            .push(v["params"]["exceptionDetails"].to_string());
                    }
                    Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => {
                        self.errors.push(v["params"]["entry"].to_string());
                    }
                    Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => {
                        self.errors.push(v["params"]["args"].to_string());
                    }
                    _ => {}
                }
            }
        }

        /// Evaluate `expression` in the page; its value.
        fn eval(&mut self, expression: &str) -> Value {
            let r = self.call(
                "Runtime.evaluate",
                serde_json::json!({ "expression": expression, "returnByValue": true }),
            );
            assert!(r["exceptionDetails"].is_null(), "{r}");
            r["result"]["value"].clone()
        }
    }

    impl Drop for Chromium {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// What the page shows, read from its DOM (`null` until the page is there: parsed
    /// whole, not only up to its first elements).
    const READ_DOM: &str = r#"document.readyState === 'loading' || !document.getElementById('state') ? 'null' : JSON.stringify({
        scriptError: document.documentElement.getAttribute('data-script-error'),
        script: document.body.getAttribute('data-script'),
        updates: Number(document.body.getAttribute('data-updates')),
        state: document.getElementById('state').getAttribute('data-state'),
        cards: Object.fromEntries(['lambda', 'kappa'].map(function (p) {
            var card = document.getElementById('fresh-' + p);
            var figures = {};
            card.querySelectorAll('dd[data-figure]').forEach(function (d) {
                figures[d.getAttribute('data-figure')] = { text: d.textContent, value: d.getAttribute('data-value') };
            });
            return [p, { ok: card.getAttribute('data-ok'), figures: figures }];
        })),
        rows: document.querySelectorAll('#rows tbody tr').length,
        cells: {
            lambda: document.querySelectorAll('#rows td[data-pipeline="lambda"]:not(.missing)').length,
            kappa: document.querySelectorAll('#rows td[data-pipeline="kappa"]:not(.missing)').length
        },
        headers: Array.from(document.querySelectorAll('#rows th')).map(function (t) { return t.textContent; }),
        summary: document.getElementById('summary').textContent
    })"#;

    fn read(c: &mut Chromium) -> Value {
        let text = c.eval(READ_DOM);
        serde_json::from_str(text.as_str().unwrap()).unwrap()
    }

    fn figure<'a>(dom: &'a Value, p: &str, name: &str) -> &'a str {
        dom["cards"][p]["figures"][name]["value"]
            .as_str()
            .unwrap_or_default()
    }

    fn ready(dom: &Value) -> bool {
        ["lambda", "kappa"]
            .iter()
            .all(|p| dom["cards"][p]["ok"] == "true" && dom["cells"][p].as_u64().unwrap_or(0) > 0)
    }

    /// Load `/live` for `workload`, read the DOM twice while events flow, and check that
    /// both pipelines' figures changed; then take a screenshot.
    pub(super) fn page_changes_in_chromium(addr: &str, workload: &str, alive: &mut dyn FnMut()) {
        let Some(binary) = browser() else {
            assert!(
                std::env::var("LK_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "LK_REQUIRE_BROWSER=1 but no browser at $LK_CHROMIUM or /usr/bin/chromium; \
                 run scripts/install-browser.sh"
            );
            eprintln!(
                "browser part skipped: no browser at $LK_CHROMIUM or /usr/bin/chromium \
                 (scripts/install-browser.sh installs one; LK_REQUIRE_BROWSER=1 makes this fail)"
            );
            return;
        };
        let mut c = Chromium::start(&binary);
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            c.call(domain, serde_json::json!({}));
        }
        c.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({
                "width": VIEWPORT.0, "height": VIEWPORT.1,
                "deviceScaleFactor": 1, "mobile": false
            }),
        );
        let url = format!("http://{addr}/live?workload={workload}");
        c.call("Page.navigate", serde_json::json!({ "url": url }));

        let deadline = Instant::now() + Duration::from_secs(60);
        let first = loop {
            alive();
            let dom = read(&mut c);
            if ready(&dom) {
                break dom;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed both answers: {dom}"
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        let changed =
            |a: &Value, b: &Value, p: &str, name: &str| figure(a, p, name) != figure(b, p, name);
        let deadline = Instant::now() + Duration::from_secs(60);
        let second = loop {
            std::thread::sleep(Duration::from_millis(500));
            alive();
            let dom = read(&mut c);
            let all = ["lambda", "kappa"]
                .iter()
                .all(|p| changed(&first, &dom, p, "visible") && changed(&first, &dom, p, "totals"));
            if all {
                break dom;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not change while events flowed:\nfirst {first}\nlast {dom}"
            );
        };
        for dom in [&first, &second] {
            assert!(dom["scriptError"].is_null(), "{dom}");
            assert_eq!(dom["script"], "ok", "{dom}");
            assert_eq!(dom["state"], "live", "{dom}");
            assert!(dom["rows"].as_u64().unwrap() > 0, "{dom}");
            for p in ["lambda", "kappa"] {
                let n: u64 = figure(dom, p, "visible").parse().unwrap();
                assert!(n > 0, "{dom}");
                for name in ["lag", "positions", "pending-age", "newest-age", "latency"] {
                    assert!(
                        !dom["cards"][p]["figures"][name]["text"]
                            .as_str()
                            .unwrap_or("")
                            .is_empty(),
                        "{p} {name}: {dom}"
                    );
                }
            }
        }
        assert!(
            second["updates"].as_u64() > first["updates"].as_u64(),
            "{second}"
        );
        for p in ["lambda", "kappa"] {
            let before: u64 = figure(&first, p, "visible").parse().unwrap();
            let after: u64 = figure(&second, p, "visible").parse().unwrap();
            assert!(after > before, "{p}: {before} then {after}");
        }
        let headers = second["headers"].to_string();
        assert!(
            headers.contains("campaign_id")
                && headers.contains("views (Lambda)")
                && headers.contains("views (Kappa)"),
            "{headers}"
        );
        assert!(
            c.errors.is_empty(),
            "the page reported errors: {:?}",
            c.errors
        );

        let shot = c.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        // For looking at it: LK_LIVE_SCREENSHOT=/tmp/live.png keeps the screenshot.
        if let Some(keep) = std::env::var_os("LK_LIVE_SCREENSHOT") {
            std::fs::write(keep, &png).unwrap();
        }
        check_screenshot(&png);
    }

    /// Not blank: many pixels differ from the background, many colours, and both
    /// pipelines' colours drawn.
    fn check_screenshot(png_bytes: &[u8]) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), VIEWPORT);
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected colour type {other:?}"),
        };
        let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        let background = pixels[pixels.len() - 1];
        let different = pixels.iter().filter(|p| **p != background).count();
        assert!(
            different * 20 > pixels.len(),
            "screenshot nearly blank: {different} of {} pixels differ from the background",
            pixels.len()
        );
        let distinct: std::collections::BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
        assert!(distinct.len() > 32, "only {} colours", distinct.len());
        for (name, rgb) in [("Lambda", LAMBDA_RGB), ("Kappa", KAPPA_RGB)] {
            let close = pixels
                .iter()
                .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 6))
                .count();
            assert!(close > 500, "{name}'s colour is on {close} pixels only");
        }
    }
}

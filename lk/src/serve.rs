//! `lk serve`: the serving layer's HTTP JSON API (axum), over the views saved in the data
//! directory (Lambda's batch and realtime views, Kappa's serving tables), or over the
//! live views of `lk lambda run --addr` (and the tables `lk kappa run --addr` writes).
//!
//! ```text
//!   GET /health                          {"status":"ok"}
//!   GET /workloads                       every known workload and the views it has
//!   GET /workloads/{name}/rows?pipeline=lambda|kappa&key=K&from=RFC3339&to=RFC3339
//!                                        {"columns":[…],"rows":[{…}],"freshness":{…}}
//! ```
//!
//! Every error answer has a JSON body `{"error": "…"}`: unknown workloads and paths 404,
//! another method than GET 405, bad parameters 400 (a parameter the path does not take, one
//! given twice, bad percent-encoding or UTF-8, a bad value; `/health` and `/workloads` take
//! none), a request target longer than [`MAX_URI_BYTES`] 414, more than [`MAX_HEADERS`]
//! headers or [`MAX_HEADER_BYTES`] of them 431, and whatever axum itself refuses (its
//! plain-text rejections are rewritten as JSON by one middleware). A `key` that matches no
//! row is an empty answer, as any filter. Only a request that HTTP itself cannot carry
//! (a target over 64 KiB, over 100 headers or about 400 KiB of them, a malformed request
//! line) is answered by hyper before any of this, with the right status and no body.
//!
//! Answering (reading Parquet, merging partials) runs on tokio's blocking pool, never on
//! the threads that serve connections. Workloads are looked up by name only (built-ins
//! and registered specs): a request never names a file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use master_log::Log;
use serde_json::json;
use workloads::{WindowSpec, Workload};

use crate::answers::{kappa_answer, kappa_dir, lambda_layout, lambda_snapshot};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
}

/// What the handlers share.
#[derive(Debug)]
pub struct ServeState {
    /// The data directory (saved views, registered workloads).
    pub data: PathBuf,
    /// The log (for the head offsets that freshness compares with).
    pub log: Arc<dyn Log>,
    /// The Lambda pipeline running in this process, if any: its workload is served live.
    pub live: Option<Arc<lambda::LiveViews>>,
}

/// An error answer: a status and a JSON body `{"error": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The error of answering a query over `topic`: 404 when the topic does not exist
    /// (no views can exist either), else 500.
    fn answering(e: anyhow::Error, log: &dyn Log, topic: &str) -> Self {
        match log.partition_count(topic) {
            Err(master_log::LogError::UnknownTopic(t)) => ApiError::new(
                StatusCode::NOT_FOUND,
                format!("topic {t:?} does not exist: no views yet"),
            ),
            _ => ApiError::internal(e),
        }
    }

    fn internal(e: anyhow::Error) -> Self {
        let message = master_log::error_chain(e.as_ref());
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// The longest request target (path and query) answered, bytes; a longer one is 414.
pub const MAX_URI_BYTES: usize = 8 << 10;

/// The most request headers answered; more are 431.
pub const MAX_HEADERS: usize = 64;

/// The most bytes of request headers (names and values) answered; more are 431.
pub const MAX_HEADER_BYTES: usize = 16 << 10;

pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/workloads", get(list_workloads))
        .route("/workloads/{name}/rows", get(rows))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such path") })
        .layer(from_fn(json_errors))
        .with_state(state)
}

/// The middleware around every route: refuse requests over the size limits (414, 431),
/// and give every error answer that is not JSON yet (axum's own rejections, 405) a JSON
/// body with a message.
async fn json_errors(req: Request, next: Next) -> Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the request target has {target} bytes, more than {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "{} headers of {header_bytes} bytes: at most {MAX_HEADERS} headers and \
                 {MAX_HEADER_BYTES} bytes are answered",
                headers.len()
            ),
        )
        .into_response();
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("method {method} is not allowed on {path}: use GET")
        }
        _ if !text.is_empty() => text,
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let body = serde_json::to_vec(&json!({ "error": message })).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The parameters of a query string, each at most once, each one of `allowed`;
/// percent-decoded (`+` is a space), valid UTF-8.
fn parse_params(raw: Option<&str>, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let decode = |part: &str| -> Result<String, ApiError> {
        let bytes = part.as_bytes();
        for (i, _) in part.match_indices('%') {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(bad(format!("bad percent-encoding in {part:?}")));
            }
        }
        let spaced = part.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad(format!("{part:?} is not UTF-8 once percent-decoded")))
    };
    let mut out = BTreeMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if !allowed.contains(&k.as_str()) {
            let takes = if allowed.is_empty() {
                "this path takes no parameters".to_owned()
            } else {
                format!("expected {}", allowed.join(", "))
            };
            return Err(bad(format!("unknown parameter {k:?} ({takes})")));
        }
        if out.contains_key(&k) {
            return Err(bad(format!("parameter {k:?} is given twice")));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// Serve `state` on `addr` until `shutdown` becomes true. Prints the bound address (the
/// real port when `addr` asks for port 0) on stdout.
pub async fn serve(
    state: Arc<ServeState>,
    addr: SocketAddr,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    let bound = listener.local_addr().context("read the bound address")?;
    println!("serving on http://{bound}");
    use std::io::Write as _;
    std::io::stdout().flush().ok();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .context("serve HTTP")
}

/// `lk serve`: serve the saved views until Ctrl-C.
pub fn run(
    args: ServeArgs,
    data: &std::path::Path,
    log: Arc<dyn master_log::Log>,
) -> anyhow::Result<ExitCode> {
    let server = spawn(data, log, None, args.addr, crate::shutdown_signal()?)?;
    server.stop()?;
    Ok(ExitCode::SUCCESS)
}

/// An HTTP server running on its own runtime (apart from any pipeline's threads).
#[derive(Debug)]
pub struct Server {
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Wait for the server to end (it ends when the shutdown signal it was given turns
    /// true) and return its outcome.
    pub fn stop(self) -> anyhow::Result<()> {
        self.runtime
            .block_on(self.task)
            .map_err(|e| anyhow::anyhow!("HTTP server task: {e}"))?
    }
}

/// Start serving `data`'s views (and `live`'s, if given) on `addr` until `shutdown`.
pub fn spawn(
    data: &std::path::Path,
    log: Arc<dyn master_log::Log>,
    live: Option<Arc<lambda::LiveViews>>,
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Server> {
    let state = Arc::new(ServeState {
        data: data.to_path_buf(),
        log,
        live,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lk-http")
        .enable_all()
        .build()
        .context("start the HTTP server's runtime")?;
    let task = runtime.spawn(serve(state, addr, shutdown));
    Ok(Server { runtime, task })
}

async fn health(RawQuery(raw): RawQuery) -> Result<Json<serde_json::Value>, ApiError> {
    parse_params(raw.as_deref(), &[])?;
    Ok(Json(json!({ "status": "ok" })))
}

fn window_text(w: WindowSpec) -> serde_json::Value {
    let d = |ms: i64| {
        humantime::format_duration(std::time::Duration::from_millis(ms as u64)).to_string()
    };
    match w {
        WindowSpec::Tumbling { size_ms } => json!({ "kind": "tumbling", "size": d(size_ms) }),
        WindowSpec::Hopping { size_ms, slide_ms } => {
            json!({ "kind": "hopping", "size": d(size_ms), "slide": d(slide_ms) })
        }
        WindowSpec::Session { gap_ms } => json!({ "kind": "session", "gap": d(gap_ms) }),
    }
}

/// Run blocking work (file reads, merging) off the connection-serving threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

async fn list_workloads(
    State(state): State<Arc<ServeState>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    parse_params(raw.as_deref(), &[])?;
    blocking(move || {
        let all = Workload::list(&state.data).map_err(|e| ApiError::internal(e.into()))?;
        let mut out = Vec::new();
        for w in all {
            let live = state
                .live
                .as_ref()
                .is_some_and(|l| l.workload().name() == w.name());
            let layout = lambda_layout(&state.data, &w);
            let files = layout.files().map_err(|e| ApiError::internal(e.into()))?;
            let batch_version = files
                .store
                .current_version()
                .map_err(|e| ApiError::internal(e.into()))?;
            let kappa_serving = kappa::serving_version(&kappa_dir(&state.data), w.name())
                .map_err(|e| ApiError::internal(e.into()))?;
            out.push(json!({
                "name": w.name(),
                "topic": w.topic(),
                "window": window_text(w.window()),
                "key_columns": w.key_columns(),
                "value_columns": w.value_columns(),
                "pipelines": {
                    "lambda": {
                        "live": live,
                        "batch_version": batch_version,
                        "realtime_saved": files.realtime.exists(),
                        "worker_partitions": layout
                            .worker_partitions()
                            .map_err(|e| ApiError::internal(e.into()))?,
                    },
                    "kappa": {
                        "serving_version": kappa_serving,
                    }
                }
            }));
        }
        Ok(Json(json!({ "workloads": out })))
    })
    .await
}

fn find_workload(state: &ServeState, name: &str) -> Result<Workload, ApiError> {
    let all = Workload::list(&state.data).map_err(|e| ApiError::internal(e.into()))?;
    all.into_iter()
        .find(|w| w.name() == name)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no workload named {name:?}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pipeline {
    Lambda,
    Kappa,
}

/// The parameters of `/workloads/{name}/rows`.
const ROWS_PARAMS: [&str; 4] = ["pipeline", "key", "from", "to"];

/// The pipeline and the query a rows request asks for, checked against its workload.
fn parse_query(
    params: &BTreeMap<String, String>,
    workload: &Workload,
) -> Result<(Pipeline, serving_layer::Query), ApiError> {
    if params.contains_key("key") && workload.key_columns().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "workload {:?} has no key columns: it takes no key",
                workload.name()
            ),
        ));
    }
    let pipeline = match params.get("pipeline").map(String::as_str) {
        None | Some("lambda") => Pipeline::Lambda,
        Some("kappa") => Pipeline::Kappa,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown pipeline {other:?} (expected lambda or kappa)"),
            ));
        }
    };
    let time = |name: &str| {
        params
            .get(name)
            .map(|s| crate::text::parse_rfc3339(s))
            .transpose()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("{name}: {e}")))
    };
    let q = serving_layer::Query {
        key: params.get("key").cloned(),
        from_ms: time("from")?,
        to_ms: time("to")?,
    };
    if let (Some(f), Some(t)) = (q.from_ms, q.to_ms)
        && f > t
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "from is after to".to_string(),
        ));
    }
    Ok((pipeline, q))
}

async fn rows(
    State(state): State<Arc<ServeState>>,
    UrlPath(name): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = parse_params(raw.as_deref(), &ROWS_PARAMS)?;
    blocking(move || {
        let workload = find_workload(&state, &name)?;
        let (pipeline, query) = parse_query(&params, &workload)?;
        let bad_query = |e: serving_layer::ServingError| match e {
            serving_layer::ServingError::BadQuery(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            other => ApiError::internal(other.into()),
        };
        let no_views = |what: &str| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("workload {name:?} has no {what} yet"),
            )
        };
        let answer = match pipeline {
            Pipeline::Lambda => {
                let snapshot = lambda_snapshot(
                    &state.data,
                    &workload,
                    None,
                    state.log.as_ref(),
                    state.live.as_deref(),
                )
                .map_err(|e| ApiError::answering(e, state.log.as_ref(), workload.topic()))?
                .ok_or_else(|| no_views("Lambda views"))?;
                snapshot.answer(&workload, &query).map_err(bad_query)?
            }
            Pipeline::Kappa => kappa_answer(&state.data, &workload, state.log.as_ref(), &query)
                .map_err(|e| ApiError::answering(e, state.log.as_ref(), workload.topic()))?
                .ok_or_else(|| no_views("Kappa table"))?,
        };
        let body = serving_layer::render(&answer, serving_layer::Format::Json);
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The answer to a refused query string: 400 with a JSON message.
    fn refused(raw: &str, allowed: &[&str]) -> String {
        let e = parse_params(Some(raw), allowed).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{raw}");
        e.message
    }

    #[test]
    fn query_strings_are_decoded_strictly() {
        let p = parse_params(
            Some("key=a%2Cb+c&from=2024-01-01T00%3A00%3A00Z&"),
            &ROWS_PARAMS,
        )
        .unwrap();
        assert_eq!(p["key"], "a,b c");
        assert_eq!(p["from"], "2024-01-01T00:00:00Z");
        assert_eq!(
            parse_params(Some("pipeline"), &ROWS_PARAMS).unwrap()["pipeline"],
            ""
        );
        assert!(parse_params(None, &[]).unwrap().is_empty());
        assert!(refused("colour=red", &ROWS_PARAMS).contains("unknown parameter \"colour\""));
        assert!(refused("x", &[]).contains("takes no parameters"));
        assert!(refused("key=a&key=b", &ROWS_PARAMS).contains("twice"));
        assert!(refused("key=%zz", &ROWS_PARAMS).contains("percent-encoding"));
        assert!(refused("key=%4", &ROWS_PARAMS).contains("percent-encoding"));
        assert!(refused("key=%FF", &ROWS_PARAMS).contains("UTF-8"));
        // An encoded name is the name.
        assert!(
            parse_params(Some("k%65y=1"), &ROWS_PARAMS)
                .unwrap()
                .contains_key("key")
        );
    }

    /// Query-string text: parameter names and values made of the characters that matter
    /// to the parser, percent escapes (good, bad, partial, non-UTF-8) and any text.
    fn query_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("key".to_owned()),
            Just("pipeline".to_owned()),
            Just("from".to_owned()),
            Just("to".to_owned()),
            Just("=".to_owned()),
            Just("&".to_owned()),
            Just("+".to_owned()),
            Just("%".to_owned()),
            "%[0-9a-fA-F]{2}",
            "%[g-z]{1,2}",
            "[a-z0-9:.-]{1,8}",
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn arbitrary_query_strings_never_panic_and_errors_are_json(raw in query_text()) {
            for allowed in [&ROWS_PARAMS[..], &[]] {
                match parse_params(Some(&raw), allowed) {
                    Ok(params) => {
                        prop_assert!(params.keys().all(|k| allowed.contains(&k.as_str())));
                    }
                    Err(e) => {
                        prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
                        prop_assert!(!e.message.is_empty());
                        let response = e.into_response();
                        prop_assert_eq!(
                            response.headers()[header::CONTENT_TYPE].to_str().unwrap(),
                            "application/json"
                        );
                    }
                }
            }
        }
    }
}

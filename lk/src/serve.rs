//! `lk serve`: the serving layer's HTTP JSON API (axum), over the views saved in the data
//! directory (Lambda's batch and realtime views, Kappa's serving tables), or over the
//! live views of `lk lambda run --addr` (and the tables `lk kappa run --addr` writes).
//!
//! ```text
//!   GET /health                          {"status":"ok"}
//!   GET /workloads                       every known workload and the views it has
//!   GET /workloads/{name}/rows?pipeline=lambda|kappa&key=K&from=RFC3339&to=RFC3339
//!                                        {"columns":[…],"rows":[{…}],"freshness":{…}}
//!   GET /live?workload=W&key=K&from=…&to=…        the live page (HTML, see `live.rs`)
//!   GET /live/events?workload=W&key=K&from=…&to=…  its server-sent events
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

use std::net::SocketAddr;
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
use serde_json::json;
use workloads::{WindowSpec, Workload};

use crate::answers::{kappa_dir, lambda_layout};
use crate::api::{
    ApiError, ROWS_PARAMS, ServeState, answer, blocking, find_workload, parse_params, parse_query,
};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
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
        .merge(crate::live::routes())
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
        stopping: shutdown.clone(),
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

async fn rows(
    State(state): State<Arc<ServeState>>,
    UrlPath(name): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = parse_params(raw.as_deref(), &ROWS_PARAMS)?;
    blocking(move || {
        let workload = find_workload(&state, &name)?;
        let (pipeline, query) = parse_query(&params, &workload)?;
        let (answer, _topic) = answer(&state, &workload, pipeline, &query)?;
        let body = serving_layer::render(&answer, serving_layer::Format::Json);
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

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
//! Unknown workloads and paths answer 404, bad parameters 400, always with a JSON body
//! `{"error": "…"}`. Answering (reading Parquet, merging partials) runs on tokio's
//! blocking pool, never on the threads that serve connections. Workloads are looked up
//! by name only (built-ins and registered specs): a request never names a file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
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

    fn internal(e: anyhow::Error) -> Self {
        let mut message = e.to_string();
        for cause in e.chain().skip(1) {
            message.push_str(": ");
            message.push_str(&cause.to_string());
        }
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/workloads", get(list_workloads))
        .route("/workloads/{name}/rows", get(rows))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such path") })
        .with_state(state)
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

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
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
) -> Result<Json<serde_json::Value>, ApiError> {
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

fn parse_query(
    params: &HashMap<String, String>,
) -> Result<(Pipeline, serving_layer::Query), ApiError> {
    for k in params.keys() {
        if !matches!(k.as_str(), "pipeline" | "key" | "from" | "to") {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown parameter {k:?} (expected pipeline, key, from, to)"),
            ));
        }
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
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let workload = find_workload(&state, &name)?;
        let (pipeline, query) = parse_query(&params)?;
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
                .map_err(ApiError::internal)?
                .ok_or_else(|| no_views("Lambda views"))?;
                snapshot.answer(&workload, &query).map_err(bad_query)?
            }
            Pipeline::Kappa => kappa_answer(&state.data, &workload, state.log.as_ref(), &query)
                .map_err(ApiError::internal)?
                .ok_or_else(|| no_views("Kappa table"))?,
        };
        let body = serving_layer::render(&answer, serving_layer::Format::Json);
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

//! What the HTTP routes of `lk serve` share: the state, JSON error answers, strict query
//! strings, workload lookup and the answers of both pipelines (used by the JSON API in
//! `serve.rs` and the live page in `live.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use master_log::Log;
use serde_json::json;
use serving_layer::Answer;
use workloads::Workload;

use crate::answers::{kappa_answer_with_topic, lambda_snapshot};

/// What the handlers share.
#[derive(Debug)]
pub struct ServeState {
    /// The data directory (saved views, registered workloads).
    pub data: PathBuf,
    /// The log (for the head offsets that freshness compares with).
    pub log: Arc<dyn Log>,
    /// The Lambda pipeline running in this process, if any: its workload is served live.
    pub live: Option<Arc<lambda::LiveViews>>,
    /// Turns true when the server stops: endless answers (the live page's events) end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// An error answer: a status and a JSON body `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// The status.
    pub(crate) status: StatusCode,
    /// What was wrong.
    pub(crate) message: String,
}

impl ApiError {
    /// An error answer with `status` and `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The error of answering a query over `topic`: 404 when the topic does not exist
    /// (no views can exist either), else 500.
    pub(crate) fn answering(e: anyhow::Error, log: &dyn Log, topic: &str) -> Self {
        match log.partition_count(topic) {
            Err(master_log::LogError::UnknownTopic(t)) => ApiError::new(
                StatusCode::NOT_FOUND,
                format!("topic {t:?} does not exist: no views yet"),
            ),
            _ => ApiError::internal(e),
        }
    }

    /// A 500 with the chain of `e`'s messages.
    pub(crate) fn internal(e: anyhow::Error) -> Self {
        let message = master_log::error_chain(e.as_ref());
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// The parameters of a query string, each at most once, each one of `allowed`;
/// percent-decoded (`+` is a space), valid UTF-8.
pub(crate) fn parse_params(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
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

/// Run blocking work (file reads, merging) off the connection-serving threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The workload named `name` (a built-in or registered one), or 404.
pub(crate) fn find_workload(state: &ServeState, name: &str) -> Result<Workload, ApiError> {
    let all = Workload::list(&state.data).map_err(|e| ApiError::internal(e.into()))?;
    all.into_iter()
        .find(|w| w.name() == name)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no workload named {name:?}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Which pipeline's views answer.
pub(crate) enum Pipeline {
    /// Lambda's batch and realtime views.
    Lambda,
    /// Kappa's serving table.
    Kappa,
}

/// The parameters of `/workloads/{name}/rows`.
pub(crate) const ROWS_PARAMS: [&str; 4] = ["pipeline", "key", "from", "to"];

/// The pipeline and the query a rows request asks for, checked against its workload.
pub(crate) fn parse_query(
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

/// `pipeline`'s answer to `query` over `workload`'s views, and the topic whose offsets
/// its freshness counts: 404 when the pipeline has no views yet, 400 for a query the
/// views refuse.
pub(crate) fn answer(
    state: &ServeState,
    workload: &Workload,
    pipeline: Pipeline,
    query: &serving_layer::Query,
) -> Result<(Answer, String), ApiError> {
    let name = workload.name();
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
    let log = state.log.as_ref();
    match pipeline {
        Pipeline::Lambda => {
            let snapshot = lambda_snapshot(&state.data, workload, None, log, state.live.as_deref())
                .map_err(|e| ApiError::answering(e, log, workload.topic()))?
                .ok_or_else(|| no_views("Lambda views"))?;
            let answer = snapshot.answer(workload, query).map_err(bad_query)?;
            Ok((answer, workload.topic().to_owned()))
        }
        Pipeline::Kappa => kappa_answer_with_topic(&state.data, workload, log, query)
            .map_err(|e| ApiError::answering(e, log, workload.topic()))?
            .ok_or_else(|| no_views("Kappa table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
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

    use proptest::prelude::*;

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

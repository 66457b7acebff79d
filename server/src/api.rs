//! The endpoints and the middleware every request passes through; their errors have the one
//! shape of `error.rs`.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use workerflow_runtime::{RequestType, RouteSpec, TraceId};

use crate::auth::is_authorized;
use crate::error::{ApiError, MAX_ECHOED_ROUTE, TRACE_HEADER};
use crate::limits;
use crate::state::AppState;
use crate::store::EnqueueError;

/// The header naming the OAuth connection a call uses.
const CONNECTION_HEADER: &str = "workerflow-connection";

/// Methods come from callers too (any token is a method); long ones are cut in messages and logs.
const MAX_ECHOED_METHOD: usize = 20;

/// `text` cut to `max` characters, with `…` when something was cut.
fn cut(text: &str, max: usize) -> String {
    let mut shown: String = text.chars().take(max).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// Every request, before its handler: a fresh trace id (in the `x-trace-id` response header and in
/// error bodies), the limits on its target and headers (`limits.rs`), the bearer check for
/// `/api/*` and `/health/config`, and one log line. The line carries the method, path (no
/// query), status, duration and trace id; never a body or a header value.
pub(crate) async fn front_door(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let trace_id = TraceId::generate();
    let method = cut(request.method().as_str(), MAX_ECHOED_METHOD);
    let path = request.uri().path();
    let path: String = path.chars().take(160).collect();
    let guarded = path == "/api"
        || path.starts_with("/api/")
        || path == "/health/config"
        || path == "/openapi.json";
    let authorized = match &state.token {
        Some(token) if guarded => is_authorized(request.headers(), token),
        _ => true,
    };
    let refused = limits::refusal(request.uri(), request.headers(), &trace_id);
    let mut response = if let Some(refused) = refused {
        refused
    } else if authorized {
        request.extensions_mut().insert(trace_id.clone());
        next.run(request).await
    } else {
        ApiError::unauthorized().respond(&trace_id)
    };
    if let Ok(value) = HeaderValue::from_str(trace_id.as_str()) {
        response.headers_mut().insert(TRACE_HEADER, value);
    }
    tracing::info!(
        target: "workerflow::serve",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        trace_id = %trace_id,
        "request"
    );
    response
}

/// The trace id the middleware attached (a fresh one if a handler ever runs without it).
fn trace_of(request_trace: Option<axum::Extension<TraceId>>) -> TraceId {
    request_trace.map_or_else(TraceId::generate, |axum::Extension(trace)| trace)
}

/// `GET /openapi.json`: the document of the served routes, as the crate's build generated it
/// from its registry ([`Api::openapi_json`](crate::Api::openapi_json)), byte for byte.
pub(crate) async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    ([(CONTENT_TYPE, "application/json")], state.openapi_json).into_response()
}

/// `GET /health`: liveness, no authentication.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// `GET /health/config`: per declared route, enabled or disabled (and by which setting),
/// implemented and configured, or the unmet requirements with their labels and names. `ok`
/// counts enabled routes only. Never a value.
pub(crate) async fn health_config(State(state): State<Arc<AppState>>) -> Json<Value> {
    let report = state.registry.check_config(&*state.secrets);
    let mut body = serde_json::to_value(&report).unwrap_or(Value::Null);
    let store = &state.store;
    // The memory store has no location to name.
    let jobs = if store.is_durable() {
        json!({
            "store": store.kind(),
            "location": store.location(),
            "depth": store.depth().await.ok(),
            "capacity": store.capacity(),
        })
    } else {
        json!({
            "store": store.kind(),
            "depth": store.depth().await.ok(),
            "capacity": store.capacity(),
        })
    };
    if let Value::Object(fields) = &mut body {
        fields.insert("jobs".into(), jobs);
        // Whether connections are kept, and where; never a key or a token.
        let connections = match &state.connections {
            Some(connections) => json!({ "enabled": true, "store": connections.store_kind() }),
            None => json!({ "enabled": false }),
        };
        fields.insert("connections".into(), connections);
    }
    Json(body)
}

/// `GET /api/routes`: the linked routes, their secret requirements and settings (names only).
pub(crate) async fn list_routes(State(state): State<Arc<AppState>>) -> Json<Value> {
    let routes: Vec<Value> = state
        .registry
        .route_info(&*state.secrets)
        .iter()
        .filter(|route| route.implemented)
        .filter_map(|route| serde_json::to_value(route.served()).ok())
        .collect();
    Json(json!({ "ok": true, "routes": routes }))
}

/// `POST /api/{route}`: checks the route, the content type, the body (size, time to arrive)
/// and the JSON, then prepares the call (secrets, settings, the route's input checks), then
/// runs a sync route and answers with its output, or queues an async one and answers 202.
pub(crate) async fn call_route(
    State(state): State<Arc<AppState>>,
    trace: Option<axum::Extension<TraceId>>,
    route: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let trace_id = trace_of(trace);
    match call(&state, &trace_id, route, &headers, request).await {
        Ok(response) => response,
        Err(error) => error.respond(&trace_id),
    }
}

async fn call(
    state: &AppState,
    trace_id: &TraceId,
    route: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let Path(route) = route.map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_route",
            "the route id in the path is not valid UTF-8",
        )
    })?;
    // Unknown, disabled or unimplemented: the runtime's error (with its did-you-mean), nothing
    // run.
    let linked = state
        .registry
        .lookup(&route)
        .map_err(|error| ApiError::dispatch(&error, &route))?;
    let spec = linked.spec();
    let input = json_body(state, headers, request)
        .await
        .map_err(|error| error.route(spec.id))?;
    // The envelope of docs/ROUTES.md 1.2: callers of this API never see it, so a field named
    // `body` in their JSON is input. The connection is a name (the runtime checks it), never a
    // token, so an async job's stored payload holds no credential.
    let payload = match headers.get(CONNECTION_HEADER) {
        None => json!({ "body": input }),
        Some(value) => {
            let name = value.to_str().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_connection_name",
                    workerflow_runtime::InvalidConnectionName.to_string(),
                )
                .route(spec.id)
            })?;
            json!({ "body": input, "connection": name.trim() })
        }
    };
    let stored = match spec.request_type {
        RequestType::Async => payload.clone(),
        RequestType::Sync => Value::Null,
    };
    // Secrets, settings and the route's input checks, before anything runs or is queued: an
    // async call that is certain to fail gets the same error a sync call would.
    let prepared = state
        .registry
        .prepare_with_trace(spec.id, payload, &*state.secrets, trace_id.clone())
        .map_err(|error| ApiError::dispatch(&error, spec.id))?;
    match spec.request_type {
        RequestType::Sync => {
            let output = prepared
                .await
                .map_err(|error| ApiError::dispatch(&error, spec.id))?;
            Ok(Json(output).into_response())
        }
        RequestType::Async => {
            // Unpolled: nothing of it has run. The worker prepares the call again.
            drop(prepared);
            enqueue(state, spec, trace_id, stored).await
        }
    }
}

fn accepted(spec: &RouteSpec, trace_id: &TraceId) -> Response {
    let body = json!({
        "ok": true,
        "route": spec.id,
        "traceId": trace_id,
        "status": "queued",
    });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn queue_full(spec: &RouteSpec, capacity: usize) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
        format!("the async job queue is full ({capacity} jobs waiting); retry later"),
    )
    .route(spec.id)
}

/// Stores an async call whose preparation passed (secrets, settings and input checked; nothing
/// sent): only its route, payload and trace id, answering 202 once the store has taken them.
async fn enqueue(
    state: &AppState,
    spec: &'static RouteSpec,
    trace_id: &TraceId,
    payload: Value,
) -> Result<Response, ApiError> {
    let control = &state.control;
    if control.is_closing() {
        return Err(shutting_down(spec));
    }
    match state
        .store
        .enqueue(trace_id.as_str(), spec.id, &payload)
        .await
    {
        Ok(()) => {
            control.accepted();
            control.wake.notify_one();
            Ok(accepted(spec, trace_id))
        }
        Err(EnqueueError::Full(capacity)) => Err(queue_full(spec, capacity)),
        Err(EnqueueError::Unavailable(reason)) => {
            // The reason names the store's problem, never the payload.
            tracing::error!(
                target: "workerflow::serve",
                route = %spec.id,
                trace_id = %trace_id,
                error = %reason,
                "job not accepted: the job store cannot take it"
            );
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the job store cannot take the job now; retry later",
            )
            .route(spec.id))
        }
    }
}

fn shutting_down(spec: &RouteSpec) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        "the server is shutting down and accepts no new jobs",
    )
    .route(spec.id)
}

/// `GET /api/jobs/{traceId}`: a job's state, attempts, timestamps, error and output (never its
/// payload). The memory store keeps no record of a finished job: 404 there.
pub(crate) async fn get_job(
    State(state): State<Arc<AppState>>,
    trace: Option<axum::Extension<TraceId>>,
    trace_id: Result<Path<String>, PathRejection>,
) -> Response {
    let request_trace = trace_of(trace);
    let not_found = |message: &str| {
        ApiError::new(StatusCode::NOT_FOUND, "job_not_found", message).respond(&request_trace)
    };
    let Ok(Path(trace_id)) = trace_id else {
        return not_found("the trace id in the path is not valid UTF-8");
    };
    // The memory store forgets a job once it is done, so it offers no lookup.
    let store = &state.store;
    if !store.is_durable() {
        return not_found("the memory job store keeps no job records; run with --jobs sqlite");
    }
    match store.get(&trace_id).await {
        Ok(Some(job)) => Json(json!({ "ok": true, "job": job })).into_response(),
        Ok(None) => not_found(&format!(
            "no job with trace id {}",
            cut(&trace_id, MAX_ECHOED_ROUTE)
        )),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the job store cannot be read now; retry later",
        )
        .respond(&request_trace),
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
/// The JSON body of a request to the API: the content type, the size limit, a total deadline
/// (a trickle of bytes cannot hold the connection) and the JSON itself, each with its error.
pub(crate) async fn json_body(
    state: &AppState,
    headers: &HeaderMap,
    request: Request,
) -> Result<Value, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected content-type: application/json",
        ));
    }
    let body = tokio::time::timeout(state.body_timeout, Bytes::from_request(request, &()))
        .await
        .map_err(|_elapsed| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} ms",
                    state.body_timeout.as_millis()
                ),
            )
        })?
        .map_err(|rejection| body_error(&rejection, state.body_limit))?;
    serde_json::from_slice(&body).map_err(|error| malformed_json(&error))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn body_error(rejection: &BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            "the request body could not be read",
        )
    }
}

/// `request body is not valid JSON: <reason> (line L, column C)`.
fn malformed_json(error: &serde_json::Error) -> ApiError {
    // serde_json ends its message with " at line L column C"; say it once, our way.
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let reason = full.strip_suffix(&position).unwrap_or(&full);
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        format!(
            "request body is not valid JSON: {reason} (line {}, column {})",
            error.line(),
            error.column()
        ),
    )
}

/// Any path the server does not serve.
pub(crate) async fn not_found(trace: Option<axum::Extension<TraceId>>) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see GET /api/routes",
    )
    .respond(&trace_of(trace))
}

/// A served path with another method.
pub(crate) async fn method_not_allowed(
    method: Method,
    trace: Option<axum::Extension<TraceId>>,
) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "method {} is not allowed on this endpoint",
            cut(method.as_str(), MAX_ECHOED_METHOD)
        ),
    )
    .respond(&trace_of(trace))
}

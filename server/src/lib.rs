//! The HTTP server for a crate's linked routes: `workerflow serve` for the toolkit's own, and a
//! team's server binary for theirs, in a few lines:
//!
//! ```no_run
//! // src/bin/server.rs of a connector crate (`workerflow-registry init` sets the crate up):
//! fn main() -> std::process::ExitCode {
//!     # mod my_connectors { pub mod registry {
//!     #     pub fn linked() -> Result<workerflow_runtime::RouteTable, workerflow_runtime::LinkError> { todo!() }
//!     #     pub const OPENAPI_JSON: &str = "{}";
//!     # } }
//!     workerflow_server::main(my_connectors::registry::linked, my_connectors::registry::OPENAPI_JSON)
//! }
//! ```
//!
//! [`main`] is the command line of `workerflow serve`, `jobs`, `routes`, `doctor` and `call`
//! (module [`cli`]): the same flags, environment variables, logging, authentication, limits and
//! job stores. [`serve`] is the server itself, for tests and embedders: it takes a bound
//! listener, the [`Api`] (route table and OpenAPI document), a secret source, a
//! [`ServeConfig`] and a shutdown future. Endpoints:
//!
//! - `POST /api/{route}`: a JSON body (1 MiB by default). A sync route answers 200 with its
//!   output; an async route answers 202 once the call is in the bounded job queue (503 with
//!   `Retry-After` when the queue is full).
//! - `GET /api/routes`: the linked routes and their requirements (names, never values).
//! - `GET /api/jobs/{traceId}`: an async job's state (durable stores).
//! - `GET /health/config`: the configuration report.
//! - `GET /health`: liveness, without authentication.
//! - `GET /openapi.json`: the OpenAPI 3.1 document of the served routes ([`Api::openapi_json`]).
//! - `POST /api/connections`, `GET /api/connections`, `GET` and `DELETE
//!   /api/connections/{name}`: OAuth 2.0 connections ([`connections`]); `GET /oauth/callback`,
//!   where the provider sends the person back (no bearer: bound to its single-use state).
//!
//! A call names an OAuth connection with the header `workerflow-connection: NAME`.
//!
//! Everything but `/health` and `/oauth/callback` needs `Authorization: Bearer <token>` unless authentication is off.
//! Every response carries `x-trace-id`; errors are `{ok: false, error: {code, message, route,
//! traceId}}` with the runtime's statuses.
//!
//! Connections are HTTP/1 only (hyper's `http1` connection, driven here), with a header-read
//! timeout, a body-read timeout, an idle keep-alive timeout and a cap on open connections. A
//! request target over 32 KiB is 414, more than 100 headers or 64 KiB of them 431, with the
//! error body; what hyper cannot parse at all gets hyper's own bare answer.
//!
//! On shutdown the server stops accepting, closes idle and half-read connections at once, lets
//! in-flight requests finish, and drains the queue until the drain deadline;
//! [`ServeReport::undone`] counts the accepted jobs it could not run.
//!
//! Features: `sqlite` (default) for `--jobs sqlite`, `postgres` for `--jobs postgres://…`.

mod api;
mod auth;
pub mod cli;
mod conn;
pub mod connections;
mod connections_api;
mod error;
mod jobs;
mod limits;
mod serve;
mod state;
pub mod store;

pub use cli::main;
pub use error::{StoreError, TRACE_HEADER};
pub use jobs::RetryPolicy;
pub use serve::{Api, JobBackend, ServeConfig, ServeReport, serve};
pub use state::JobCounts;
pub use store::{JobStore, StoreLocation};

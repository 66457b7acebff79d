//! The WorkerFlow baseline connectors: chat webhooks, Slack, GitHub, OpenAI, Stripe, Notion,
//! HubSpot and a lead normaliser, bound by `#[connector]` to the routes the registry declares.
//!
//! `build.rs` validates `connector-registry/services.json` and generates [`registry`], one typed
//! item per declared route. [`connectors`] holds one handler per route (the behaviour is
//! `docs/ROUTES.md`, the route contract); [`registry::linked`] collects them:
//!
//! ```no_run
//! use workerflow_runtime::EnvSecrets;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let routes = workerflow::registry::linked()?;
//! let payload = serde_json::json!({"body": {"text": "deploy finished"}});
//! let output = routes.dispatch("slack_message", payload, &EnvSecrets).await?;
//! println!("{output}");
//! # Ok(())
//! # }
//! ```
//!
//! The `workerflow` binary (`src/main.rs`) lists the routes, reports missing configuration,
//! calls a route from the command line and serves them over HTTP: the commands of
//! `workerflow-server` (which a team's own server binary has too) over [`registry::linked`].

workerflow_runtime::include_registry!();

pub mod connectors;

//! The WorkerFlow baseline connectors: chat webhooks, Slack, GitHub, OpenAI, Stripe, Notion,
//! HubSpot and a lead normaliser, bound by `#[connector]` to the routes the registry declares.
//!
//! `build.rs` validates `connector-registry/services.json` and generates [`registry`], one typed
//! item per declared route. Until a route has its `#[connector]` function, [`registry::linked`]
//! reports it in `missing()`.

workerflow_runtime::include_registry!();

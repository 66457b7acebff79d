//! The WorkerFlow baseline connectors: chat webhooks, Slack, GitHub, OpenAI, Stripe, Notion,
//! HubSpot and a lead normaliser, bound by `#[connector]` to the routes the registry declares.

//! The `#[connector]` attribute: binds a handler function to a route declared in the registry.
//!
//! ```ignore
//! #[connector(route = slack_message)]
//! async fn post(
//!     ctx: &RouteContext<slack_message::Route>,
//!     input: Message,
//! ) -> Result<Posted, ConnectorError> {
//!     let webhook = ctx.secret(slack_message::SLACK_WEBHOOK_URL);
//!     // …
//! #   todo!()
//! }
//! ```
//!
//! A compiled version of this example is the crate documentation of `workerflow-runtime`.
//!
//! The function is emitted untouched (call it directly in tests). Next to it the attribute emits a
//! wrapper (unwrap the payload envelope, deserialize the input, call, serialize the output) and an
//! `inventory` registration whose descriptor names the generated route item
//! `crate::registry::routes::slack_message` with the span of the user's `slack_message` token:
//! a misspelt route is rustc's own "cannot find value … a static with a similar name exists"
//! at that token, and hovering it shows the registry's docs.
//!
//! Arguments: `route = <route id>` (required), `registry = <path>` (where the module of
//! `workerflow_runtime::include_registry!()` lives; default `crate::registry`) and
//! `settings = [<static>, …]` (the `workerflow_runtime::Setting` statics the handler reads with
//! `ctx.setting`; dispatch resolves and checks them before the handler runs).
//!
//! This crate reads no files: its output depends only on its input tokens. Its own errors (bad
//! arguments, a signature it cannot wrap) are all reported at once, each at the token at fault,
//! and the function is always re-emitted so IDEs keep working. Use it through
//! `workerflow_runtime::connector`; the expansion refers to `::workerflow_runtime`.

mod args;
mod expand;
mod signature;

use proc_macro::TokenStream;

/// Binds a function to a route declared in `connector-registry/services.json`.
///
/// `#[connector(route = <route id>)]`, optionally with `registry = <path>` and
/// `settings = [<static>, …]`, on
/// `async fn name(ctx: &RouteContext<<registry>::routes::<route id>::Route>, input: Input) ->
/// Result<Output, ConnectorError>` (a non-async `fn` is accepted too), where `Input:
/// DeserializeOwned` and `Output: Serialize`.
#[proc_macro_attribute]
pub fn connector(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::connector(args.into(), item.into()).into()
}

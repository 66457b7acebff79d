//! `workerflow mcp`: the connector registry as a Model Context Protocol server over stdio, for
//! coding agents.
//!
//! Agents read the same source the compiler checks: every answer comes from the registry model
//! `workerflow-registry` builds (one loader), reloaded when `services.json` changes. Tools:
//! `search_services` (the docs page's search), `get_service`, `get_route` (a route's contract and
//! the Rust items its handler uses), `check_registry` (the diagnostics of `check`) and
//! `scaffold_connector` (what `new --dry-run` would write; never writes). Resources: the
//! connector build spec, the route reference and the agent playbook (`docs/`).
//!
//! The server never exits on bad input: a registry that is missing or invalid is a tool error
//! with its diagnostics, and a panic inside a tool is an internal error for that call only.

mod catalog;
mod frames;
mod tools;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CustomRequest, CustomResult, ErrorCode,
    Implementation, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

pub use catalog::Catalog;

/// The documents served as resources: URI, name, description and text (the repository's own
/// files, compiled in so the server answers the same wherever it runs).
const RESOURCES: [(&str, &str, &str, &str); 3] = [
    (
        "workerflow://docs/CONNECTOR_BUILD_SPEC.md",
        "Connector build spec",
        "How a route is declared in the registry, bound with #[connector], tested and run",
        include_str!("../../docs/CONNECTOR_BUILD_SPEC.md"),
    ),
    (
        "workerflow://docs/ROUTES.md",
        "Route reference",
        "The behaviour contract of the baseline routes: inputs, requests, outputs, error texts",
        include_str!("../../docs/ROUTES.md"),
    ),
    (
        "workerflow://docs/AGENT_CONNECTOR_PLAYBOOK.md",
        "Agent playbook",
        "The prompt and the commands, in order, for an agent adding a connector; the contract to fill in; what each failure means",
        include_str!("../../docs/AGENT_CONNECTOR_PLAYBOOK.md"),
    ),
];

const INSTRUCTIONS: &str = "The WorkerFlow connector registry (connector-registry/services.json). \
Find a service with search_services, read its fields with get_service and a route's contract \
(schemas, errors, examples, secrets, settings, the Rust items a handler uses) with get_route. To \
add a connector: scaffold_connector shows what `workerflow-registry new` would write (it writes \
nothing); after editing services.json, check_registry reports every problem with line:column. The \
resources hold the connector build spec, the route reference and the agent playbook (the commands \
to run, in order, to add a connector).";

/// The MCP server: tools and resources over one [`Catalog`].
#[derive(Clone)]
pub struct RegistryServer {
    catalog: Arc<Catalog>,
}

impl RegistryServer {
    /// A server for the registry at `location` (`Err`: why none was found; tools then say so).
    pub fn new(location: Result<PathBuf, String>) -> RegistryServer {
        RegistryServer {
            catalog: Arc::new(Catalog::new(location)),
        }
    }

    /// Loads the registry now, so the first tool call does not wait for it.
    pub fn preload(&self) {
        let _ = self.catalog.current();
    }

    /// The tools `tools/list` gives.
    pub fn tools() -> Vec<rmcp::model::Tool> {
        tools::definitions()
    }

    /// The resources `resources/list` gives, each with its text as `resources/read` gives it.
    pub fn resources() -> Vec<(Resource, &'static str)> {
        RESOURCES
            .iter()
            .map(|&(uri, name, description, text)| {
                let mut resource = Resource::new(uri, name);
                resource.description = Some(description.to_owned());
                resource.mime_type = Some("text/markdown".to_owned());
                resource.size = Some(text.len() as u64);
                (resource, text)
            })
            .collect()
    }

    /// Runs one tool call (blocking: it may load the registry). What `tools/call` does, for
    /// callers without a transport.
    pub fn call(
        &self,
        name: &str,
        arguments: Option<rmcp::model::JsonObject>,
    ) -> Result<rmcp::model::CallToolResult, ErrorData> {
        tools::call(&self.catalog, name, arguments)
    }
}

impl ServerHandler for RegistryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(
            Implementation::new("workerflow", env!("CARGO_PKG_VERSION"))
                .with_title("WorkerFlow connector registry"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::definitions()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let server = self.clone();
        // Loading a large registry takes CPU time: not on the protocol's threads.
        let answer =
            tokio::task::spawn_blocking(move || server.call(&request.name, request.arguments))
                .await
                .map_err(|error| {
                    ErrorData::internal_error(format!("the tool failed: {error}"), None)
                })?;
        answer.map(CallToolResponse::from)
    }

    /// The SDK hands over a request of a known method whose parameters do not parse as a
    /// custom one: answer with what is wrong instead of "method not found".
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let params = request.params.unwrap_or(serde_json::Value::Null);
        let problem = match request.method.as_str() {
            "tools/call" => serde_json::from_value::<CallToolRequestParams>(params).err(),
            "resources/read" => serde_json::from_value::<ReadResourceRequestParams>(params).err(),
            _ => {
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    format!("unknown method `{}`", request.method),
                    None,
                ));
            }
        };
        let problem = problem.map_or_else(|| "not understood".to_owned(), |e| e.to_string());
        Err(ErrorData::invalid_params(
            format!("invalid params for {}: {problem}", request.method),
            None,
        ))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let resources = RegistryServer::resources()
            .into_iter()
            .map(|(resource, _)| resource)
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some(&(uri, _, _, text)) = RESOURCES.iter().find(|r| r.0 == request.uri) else {
            let known: Vec<&str> = RESOURCES.iter().map(|r| r.0).collect();
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource `{}`; the resources are {}",
                    request.uri,
                    known.join(", ")
                ),
                None,
            ));
        };
        let contents = ResourceContents::TextResourceContents {
            uri: uri.to_owned(),
            mime_type: Some("text/markdown".to_owned()),
            text: text.to_owned(),
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the async runtime")]
    /// The Tokio runtime could not start.
    Runtime(#[source] std::io::Error),
    #[error("the MCP session did not start")]
    /// The MCP handshake with the client failed.
    Initialize(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the MCP session ended abnormally")]
    /// The session's task failed.
    Session(#[source] tokio::task::JoinError),
}

/// Serves the registry at `location` on standard input and output until the client closes
/// the session. The registry loads while the client initializes.
pub fn serve_stdio(location: Result<PathBuf, String>) -> Result<(), ServeError> {
    // One thread for the protocol; tools run on the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let server = RegistryServer::new(location);
        let preload = server.clone();
        tokio::task::spawn_blocking(move || preload.preload());
        let (reads, writes, mut wire) = frames::wire(tokio::io::stdin(), tokio::io::stdout());
        let running = server
            .serve((reads, writes))
            .await
            .map_err(|error| ServeError::Initialize(Box::new(error)))?;
        let ended = running.waiting().await.map_err(ServeError::Session);
        // The session is over: stop reading, and let the writer flush the last answers.
        let flushed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while wire.join_next().await.is_some() {}
        });
        let _ = flushed.await;
        ended?;
        Ok(())
    })
}

//! The routes a binary implements: declared routes matched with linked `#[connector]` handlers.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::config::{ConfigReport, RouteConfig};
use crate::connection::{ConnectionError, ConnectionName, ConnectionStore};
use crate::context::CallEnv;
use crate::enablement::EnablementError;
use crate::error::{
    ConnectorError, DisabledBy, DispatchError, InputProblem, LinkError, LinkProblem,
};
#[cfg(feature = "http")]
use crate::http::HttpClient;
use crate::private::{Call, Connector, HandlerFn, unwrap_envelope};
use crate::route::{RouteSpec, Setting};
use crate::secrets::{SecretSource, resolve_route};
use crate::trace_id::TraceId;
use crate::validation::{Schema, depth_problem, drop_iteratively, too_deep};

/// The declared routes of one registry and the handlers linked for them.
pub struct RouteTable {
    declared: &'static [&'static RouteSpec],
    /// Parallel to `declared`.
    linked: Vec<Option<LinkedRoute>>,
    /// Parallel to `declared`: the linked routes' contract schemas, compiled once at link time.
    schemas: Vec<RouteSchemas>,
    index: HashMap<&'static str, usize>,
    /// Parallel to `declared`: `None` for an enabled route, else the setting that disabled it.
    disabled: Vec<Option<DisabledBy>>,
    /// The client handlers send through; `None` means the shared default.
    #[cfg(feature = "http")]
    http: Option<HttpClient>,
    /// Where OAuth routes get their access tokens; `None`: no connection can be used.
    connections: Option<Arc<dyn ConnectionStore>>,
}

/// A declared route and the function that implements it.
#[derive(Clone, Copy)]
pub struct LinkedRoute {
    spec: &'static RouteSpec,
    function: &'static str,
    module_path: &'static str,
    handler: HandlerFn,
}

/// A route's compiled contract schemas; `None` where the contract has none.
#[derive(Default)]
struct RouteSchemas {
    input: Option<Schema>,
    /// Shared with the call's future, which checks the output in debug builds.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    output: Option<Arc<Schema>>,
}

impl RouteSchemas {
    /// Compiles both schemas of `spec` (in every build, so the link checks are the same in
    /// debug and release); a failure is a link problem naming the route.
    fn compile(spec: &'static RouteSpec, problems: &mut Vec<LinkProblem>) -> RouteSchemas {
        let mut compile = |which: &'static str, text: Option<&'static str>| {
            Schema::compile(text?)
                .map_err(|reason| {
                    problems.push(LinkProblem::InvalidSchema {
                        route: spec.id,
                        which,
                        reason,
                    });
                })
                .ok()
        };
        RouteSchemas {
            input: compile("input", spec.input_schema),
            output: compile("output", spec.output_schema).map(Arc::new),
        }
    }
}

impl LinkedRoute {
    /// What the registry declares about the route.
    pub fn spec(&self) -> &'static RouteSpec {
        self.spec
    }

    /// The optional settings the route's contract declares.
    pub fn settings(&self) -> &'static [Setting] {
        self.spec.settings
    }

    /// The route id.
    pub fn id(&self) -> &'static str {
        self.spec.id
    }

    /// The handler's path, `module::function`.
    pub fn function(&self) -> String {
        format!("{}::{}", self.module_path, self.function)
    }
}

impl fmt::Debug for LinkedRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedRoute")
            .field("route", &self.spec.id)
            .field("function", &self.function())
            .finish()
    }
}

impl RouteTable {
    /// Matches every `#[connector]` handler linked into this binary with `declared` (the
    /// generated `registry::ALL`; `registry::linked()` passes it for you).
    ///
    /// Handlers are matched by the address of their route item, so handlers written against
    /// another registry are ignored. Two handlers for one route are an error naming both;
    /// declared routes without a handler are listed by [`RouteTable::missing`].
    pub fn linked(declared: &'static [&'static RouteSpec]) -> Result<RouteTable, LinkError> {
        RouteTable::from_connectors(declared, inventory::iter::<Connector>)
    }

    pub(crate) fn from_connectors<'a>(
        declared: &'static [&'static RouteSpec],
        connectors: impl IntoIterator<Item = &'a Connector>,
    ) -> Result<RouteTable, LinkError> {
        let mut problems = Vec::new();
        let mut index = HashMap::with_capacity(declared.len());
        for (position, spec) in declared.iter().enumerate() {
            if index.insert(spec.id, position).is_some() {
                problems.push(LinkProblem::DuplicateRoute { route: spec.id });
            }
        }
        let mut candidates: Vec<Vec<LinkedRoute>> = vec![Vec::new(); declared.len()];
        for connector in connectors {
            let position = declared
                .iter()
                .position(|spec| std::ptr::eq(*spec, connector.route));
            if let Some(position) = position {
                for setting in declared[position].settings {
                    if declares_secret(declared, setting.name) {
                        problems.push(LinkProblem::SettingIsSecret {
                            route: declared[position].id,
                            setting: setting.name,
                        });
                    }
                }
                candidates[position].push(LinkedRoute {
                    spec: declared[position],
                    function: connector.function,
                    module_path: connector.module_path,
                    handler: connector.handler,
                });
            }
        }
        let mut linked = Vec::with_capacity(declared.len());
        let mut schemas = Vec::with_capacity(declared.len());
        for mut found in candidates {
            if found.len() > 1 {
                // `inventory` order depends on the linker: sort so the message is stable.
                let mut functions: Vec<String> = found.iter().map(LinkedRoute::function).collect();
                functions.sort();
                problems.push(LinkProblem::DuplicateHandler {
                    route: found[0].spec.id,
                    functions,
                });
            }
            let route = found.pop();
            // Only linked routes are ever called, so only their schemas are compiled.
            schemas.push(match &route {
                Some(route) => RouteSchemas::compile(route.spec, &mut problems),
                None => RouteSchemas::default(),
            });
            linked.push(route);
        }
        if problems.is_empty() {
            Ok(RouteTable {
                declared,
                linked,
                schemas,
                index,
                disabled: vec![None; declared.len()],
                #[cfg(feature = "http")]
                http: None,
                connections: None,
            })
        } else {
            Err(LinkError { problems })
        }
    }

    /// Sends every handler's HTTP requests through `client` (its policy and transport) instead
    /// of the shared default client.
    #[cfg(feature = "http")]
    pub fn with_http(mut self, client: HttpClient) -> Self {
        self.http = Some(client);
        self
    }

    /// Reads the access tokens of the connections callers name from `store` (a server's
    /// database). Without one, a call naming a connection fails with
    /// [`ConnectionError::NoStore`].
    pub fn with_connections(mut self, store: Arc<dyn ConnectionStore>) -> Self {
        self.connections = Some(store);
        self
    }

    /// The enabled, implemented routes that take an OAuth connection (`auth: "oauth2"`), in
    /// registry order; with `required`, only those without a static fallback secret
    /// (`unlessConnection`), which no call can run without a connection store.
    pub fn connection_routes(&self, required: bool) -> Vec<&'static str> {
        self.routes()
            .map(|linked| linked.spec)
            .filter(|spec| {
                spec.auth == Some(crate::route::AuthType::Oauth2)
                    && self.disabled_by(spec.id).is_none()
                    && !(required && spec.secrets.iter().any(|s| s.unless_connection))
            })
            .map(|spec| spec.id)
            .collect()
    }

    /// Runs only the routes `ENABLED_HTTP_ROUTES` and `DISABLED_HTTP_ROUTES` in `source` leave
    /// enabled (see [`crate::ENABLED_ROUTES`]; unset, all of them). A disabled route is left out
    /// of [`RouteTable::check_config`]'s verdict, and a call of it fails with
    /// [`DispatchError::Disabled`] (404) before anything is resolved or run.
    pub fn with_enablement(mut self, source: &dyn SecretSource) -> Result<Self, EnablementError> {
        self.disabled = crate::enablement::resolve(self.declared, source)?;
        Ok(self)
    }

    /// `None` when the declared route `id` is enabled (or not declared), else the setting that
    /// disabled it.
    pub fn disabled_by(&self, id: &str) -> Option<DisabledBy> {
        self.index
            .get(id)
            .and_then(|&position| self.disabled[position])
    }

    /// Every route the registry declares, implemented or not, in registry order.
    pub fn declared(&self) -> &'static [&'static RouteSpec] {
        self.declared
    }

    /// The implemented routes, in registry order.
    pub fn routes(&self) -> impl Iterator<Item = &LinkedRoute> {
        self.linked.iter().flatten()
    }

    /// The implemented route with this id.
    pub fn get(&self, id: &str) -> Option<&LinkedRoute> {
        self.index
            .get(id)
            .and_then(|&position| self.linked[position].as_ref())
    }

    /// Declared routes that no linked function implements, in registry order.
    pub fn missing(&self) -> Vec<&'static RouteSpec> {
        self.declared
            .iter()
            .zip(&self.linked)
            .filter(|(_, linked)| linked.is_none())
            .map(|(spec, _)| *spec)
            .collect()
    }

    /// For every declared route: enabled or not, implemented or not, configured or the missing
    /// requirements. Only enabled routes count towards [`ConfigReport::ok`]. Reads each
    /// requirement's names from `secrets`; no value ends up in the report.
    pub fn check_config(&self, secrets: &dyn SecretSource) -> ConfigReport {
        let routes = self
            .declared
            .iter()
            .zip(&self.linked)
            .zip(&self.disabled)
            .map(|((spec, linked), disabled_by)| {
                let missing = resolve_route(spec, secrets, false)
                    .err()
                    .unwrap_or_default();
                RouteConfig {
                    route: spec.id,
                    service: spec.service.id,
                    enabled: disabled_by.is_none(),
                    disabled_by: *disabled_by,
                    implemented: linked.is_some(),
                    configured: missing.is_empty(),
                    missing,
                }
            })
            .collect();
        ConfigReport::new(routes)
    }

    /// Calls a route with a fresh trace id. See [`RouteTable::dispatch_with_trace`].
    pub fn dispatch(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
    ) -> impl Future<Output = Result<Value, DispatchError>> + Send + 'static {
        self.dispatch_with_trace(route_id, payload, secrets, TraceId::generate())
    }

    /// Calls a route: looks it up, resolves its secrets (a missing one fails the call before the
    /// handler runs) and then its settings (an unusable base URL fails it too), unwraps the
    /// envelope and checks the input against the route's input schema (every problem in one
    /// invalid-input error), then runs the handler, which deserializes the input and
    /// serializes the output. Debug builds also check a successful output against the route's
    /// output schema ([`DispatchError::OutputSchema`]).
    ///
    /// Lookup, resolution and the input check happen now; the returned future owns all it
    /// needs, so it can be spawned on any executor. Handlers that use `tokio` I/O must be
    /// awaited inside a `tokio` runtime.
    pub fn dispatch_with_trace(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
        trace_id: TraceId,
    ) -> impl Future<Output = Result<Value, DispatchError>> + Send + 'static {
        let prepared = self.prepare_with_trace(route_id, payload, secrets, trace_id);
        async move {
            match prepared {
                Ok(prepared) => prepared.run().await,
                Err(error) => Err(error),
            }
        }
    }

    /// [`RouteTable::dispatch`], blocking the current thread until it is done (tests,
    /// command-line tools, worker threads). The handler runs on this thread.
    ///
    /// With the `reqwest` feature, the call is polled with the HTTP transport's own tokio
    /// runtime entered: every timer, socket and retry wait it makes belongs to that runtime,
    /// whose thread drives them while this one blocks (runtime/src/http/POLICY.md 2.9). So it
    /// works outside any runtime and inside one too (a `spawn_blocking` thread; even an async
    /// task, though that stalls the task's runtime for the call: await
    /// [`RouteTable::dispatch`] there instead). Without the feature it uses a plain
    /// executor, and a [`crate::http::Transport`]'s timers must not need a reactor.
    pub fn dispatch_blocking(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
    ) -> Result<Value, DispatchError> {
        let call = self.dispatch(route_id, payload, secrets);
        #[cfg(feature = "reqwest")]
        if let Some(runtime) = crate::http::own_runtime() {
            let _entered = runtime.enter();
            // Inside a tokio task the cooperative budget would run out and, never reset while
            // this thread blocks, leave the call pending forever.
            return pollster::block_on(tokio::task::unconstrained(call));
        }
        pollster::block_on(call)
    }

    /// The implemented, enabled route with this id, or the error a call of it gets: unknown
    /// (with a "did you mean"), disabled, or not implemented. Runs nothing.
    pub fn lookup(&self, route_id: &str) -> Result<&LinkedRoute, DispatchError> {
        self.position(route_id).map(|(linked, _)| linked)
    }

    /// [`RouteTable::lookup`], with the route's position in `declared`.
    fn position(&self, route_id: &str) -> Result<(&LinkedRoute, usize), DispatchError> {
        let Some(&position) = self.index.get(route_id) else {
            return Err(DispatchError::UnknownRoute {
                route: route_id.to_owned(),
                suggestion: workerflow_names::did_you_mean(
                    route_id,
                    self.declared.iter().map(|spec| spec.id),
                ),
            });
        };
        if let Some(by) = self.disabled[position] {
            return Err(DispatchError::Disabled {
                route: self.declared[position].id,
                by,
            });
        }
        match &self.linked[position] {
            Some(linked) => Ok((linked, position)),
            None => Err(DispatchError::NotImplemented {
                route: self.declared[position].id,
            }),
        }
    }

    /// Prepares a call with a fresh trace id. See [`RouteTable::prepare_with_trace`].
    pub fn prepare(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
    ) -> Result<PreparedCall, DispatchError> {
        self.prepare_with_trace(route_id, payload, secrets, TraceId::generate())
    }

    /// Prepares a call eagerly: looks the route up, resolves its secrets and settings, unwraps
    /// the envelope and checks the input against the route's input schema, all before anything
    /// is queued or sent and without running any handler code. Every error is the one
    /// [`RouteTable::dispatch_with_trace`] would give (it prepares the same way). Awaiting the
    /// [`PreparedCall`] runs the handler; checks only the handler can make (one field or
    /// another, say) fail then.
    pub fn prepare_with_trace(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
        trace_id: TraceId,
    ) -> Result<PreparedCall, DispatchError> {
        self.resolve_call(route_id, payload, secrets, trace_id)
    }

    /// docs/ROUTES.md 1.1 steps 1 to 3: lookup, secrets, settings, then the input.
    fn resolve_call(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
        trace_id: TraceId,
    ) -> Result<PreparedCall, DispatchError> {
        let (linked, position) = self.position(route_id)?;
        let spec = linked.spec;
        let schemas = &self.schemas[position];
        let connection = connection_of(spec.id, &payload)?;
        let mut env = CallEnv::resolve(spec, trace_id, secrets, connection)?;
        env.connections = self.connections.clone();
        #[cfg(feature = "http")]
        {
            env.http = self.http.clone();
            #[cfg(feature = "reqwest")]
            if env.http.is_none() {
                env.http = HttpClient::shared();
            }
        }
        let input = checked_input(spec.id, schemas.input.as_ref(), payload)?;
        Ok(PreparedCall {
            route: spec.id,
            handler: linked.handler,
            call: Call { env, input },
            output: schemas.output.clone(),
        })
    }
}

/// The connection an envelope names (`{"body": …, "connection": "acme"}`, docs/ROUTES.md 1.2):
/// only an envelope names one, so a bare input's own `connection` field stays input.
fn connection_of(
    route: &'static str,
    payload: &Value,
) -> Result<Option<ConnectionName>, ConnectorError> {
    let Value::Object(envelope) = payload else {
        return Ok(None);
    };
    if !envelope.contains_key("body") {
        return Ok(None);
    }
    match envelope.get("connection") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => {
            ConnectionName::new(name)
                .map(Some)
                .map_err(|invalid| ConnectorError::Connection {
                    route,
                    error: ConnectionError::InvalidName(invalid),
                })
        }
        Some(_) => Err(ConnectorError::Connection {
            route,
            error: ConnectionError::InvalidName(crate::connection::InvalidConnectionName),
        }),
    }
}

/// Unwraps the envelope (docs/ROUTES.md 1.2) and checks the input against `schema`: every
/// problem, as one invalid-input error. Without a schema the input is the handler's to check,
/// but its nesting is bounded all the same (a server stores it and must read it back).
fn checked_input(
    route: &'static str,
    schema: Option<&Schema>,
    payload: Value,
) -> Result<Value, ConnectorError> {
    let problems = if too_deep(&payload) {
        drop_iteratively(payload);
        vec![depth_problem("payload body")]
    } else {
        let Some(schema) = schema else {
            return Ok(unwrap_envelope(payload));
        };
        let input = unwrap_envelope(payload);
        let problems = schema.problems(&input, "payload body");
        if problems.is_empty() {
            return Ok(input);
        }
        problems
    };
    let problems = problems
        .into_iter()
        .map(|problem| InputProblem {
            field: problem.field,
            pointer: problem.pointer,
            message: format!("{route}: {}", problem.text),
        })
        .collect();
    Err(ConnectorError::InvalidInput { route, problems })
}

/// A successful output that breaks the route's output schema fails the call: a handler bug,
/// looked for in debug builds only, so release builds pay nothing.
#[cfg(debug_assertions)]
fn checked_output(
    route: &'static str,
    schema: Option<&Schema>,
    result: Result<Value, DispatchError>,
) -> Result<Value, DispatchError> {
    let (Ok(output), Some(schema)) = (&result, schema) else {
        return result;
    };
    let problems = if too_deep(output) {
        vec![depth_problem("output")]
    } else {
        schema.problems(output, "output")
    };
    let Some(first) = problems.first() else {
        return result;
    };
    let texts: Vec<&str> = problems
        .iter()
        .map(|problem| problem.text.as_str())
        .collect();
    Err(DispatchError::OutputSchema {
        route,
        pointer: first.pointer.clone(),
        problem: texts.join("; "),
    })
}

/// A call whose route, secrets, settings and input have been checked; `.await` it (or
/// [`IntoFuture::into_future`] it to queue the unpolled call) to run it.
pub struct PreparedCall {
    route: &'static str,
    handler: HandlerFn,
    call: Call,
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    output: Option<Arc<Schema>>,
}

impl PreparedCall {
    /// The id of the route this call runs.
    pub fn route(&self) -> &'static str {
        self.route
    }

    async fn run(self) -> Result<Value, DispatchError> {
        let result = match self.handler {
            HandlerFn::Sync(handler) => handler(self.call),
            HandlerFn::Async(handler) => handler(self.call).await,
        };
        #[cfg(debug_assertions)]
        let result = checked_output(self.route, self.output.as_deref(), result);
        result
    }
}

impl fmt::Debug for PreparedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedCall")
            .field("route", &self.route)
            .field("trace_id", &self.call.env.trace_id)
            .finish_non_exhaustive()
    }
}

impl IntoFuture for PreparedCall {
    type Output = Result<Value, DispatchError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'static>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Whether any declared route lists `name` among its secret names.
fn declares_secret(declared: &[&RouteSpec], name: &str) -> bool {
    declared.iter().any(|spec| {
        spec.secrets
            .iter()
            .any(|requirement| requirement.any_of.contains(&name))
    })
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteTable")
            .field("routes", &self.routes().collect::<Vec<_>>())
            .field(
                "missing",
                &self
                    .missing()
                    .iter()
                    .map(|spec| spec.id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::private::HandlerFuture;
    use crate::route::{AuthType, RequestType, ServiceSpec};

    const SERVICE: ServiceSpec = ServiceSpec {
        id: "demo",
        name: "Demo",
        auth_type: AuthType::None,
        docs_url: None,
        oauth2: None,
    };
    static A: RouteSpec = RouteSpec {
        id: "a",
        summary: "A.",
        request_type: RequestType::Sync,
        service: SERVICE,
        auth: None,
        secrets: &[],
        settings: &[],
        hosts: None,
        input_schema: None,
        output_schema: None,
    };
    // Same id as `A` but another item: a second registry declaring the same route.
    static A_AGAIN: RouteSpec = RouteSpec {
        id: "a",
        summary: "A elsewhere.",
        request_type: RequestType::Sync,
        service: SERVICE,
        auth: None,
        secrets: &[],
        settings: &[],
        hosts: None,
        input_schema: None,
        output_schema: None,
    };

    fn handler(_call: Call) -> HandlerFuture {
        Box::pin(async { Ok(Value::Null) })
    }

    fn connector(route: &'static RouteSpec, function: &'static str) -> Connector {
        Connector {
            route,
            function,
            module_path: "tests",
            handler: HandlerFn::Async(handler),
        }
    }

    #[test]
    fn handlers_of_another_registry_are_ignored() {
        static DECLARED: &[&RouteSpec] = &[&A];
        let other = [connector(&A_AGAIN, "elsewhere")];
        let registry = RouteTable::from_connectors(DECLARED, &other).expect("no problem");
        assert_eq!(registry.missing(), [&A]);
        assert_eq!(registry.routes().count(), 0);
    }

    #[test]
    fn a_route_declared_twice_is_refused() {
        static DECLARED: &[&RouteSpec] = &[&A, &A_AGAIN];
        let error = RouteTable::from_connectors(DECLARED, []).expect_err("declared twice");
        assert_eq!(error.to_string(), "route \"a\" is declared twice");
    }

    #[test]
    fn a_setting_named_like_a_secret_is_refused() {
        use crate::route::{SecretRequirement, Setting};
        static WITH_SECRET: RouteSpec = RouteSpec {
            id: "b",
            summary: "B.",
            request_type: RequestType::Sync,
            service: SERVICE,
            auth: None,
            secrets: &[SecretRequirement {
                label: "B key",
                any_of: &["B_KEY"],
                unless_connection: false,
            }],
            settings: &[],
            hosts: None,
            input_schema: None,
            output_schema: None,
        };
        static READS_B_KEY: RouteSpec = RouteSpec {
            id: "a",
            summary: "A.",
            request_type: RequestType::Sync,
            service: SERVICE,
            auth: None,
            secrets: &[],
            settings: &[Setting::text("B_KEY", "not a setting")],
            hosts: None,
            input_schema: None,
            output_schema: None,
        };
        static DECLARED: &[&RouteSpec] = &[&READS_B_KEY, &WITH_SECRET];
        let reading = connector(&READS_B_KEY, "reads_b_key");
        let error = RouteTable::from_connectors(DECLARED, &[reading]).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "route \"a\" declares the setting B_KEY, which the registry declares as a secret; read it with ctx.secret"
        );
    }

    #[test]
    fn a_schema_that_does_not_compile_is_a_link_problem() {
        static BAD: RouteSpec = RouteSpec {
            id: "bad",
            summary: "Bad.",
            request_type: RequestType::Sync,
            service: SERVICE,
            auth: None,
            secrets: &[],
            settings: &[],
            hosts: None,
            input_schema: Some(r#"{"type": 5}"#),
            output_schema: Some("not json"),
        };
        static DECLARED: &[&RouteSpec] = &[&BAD];
        let error =
            RouteTable::from_connectors(DECLARED, &[connector(&BAD, "bad")]).expect_err("refused");
        let which: Vec<_> = error
            .problems
            .iter()
            .map(|problem| match problem {
                LinkProblem::InvalidSchema { route, which, .. } => (*route, *which),
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(which, [("bad", "input"), ("bad", "output")]);
        assert!(
            error
                .to_string()
                .starts_with("route \"bad\" has an input schema that does not compile: "),
            "{error}"
        );
    }

    #[test]
    fn three_handlers_are_all_named() {
        static DECLARED: &[&RouteSpec] = &[&A];
        let connectors = [connector(&A, "z"), connector(&A, "x"), connector(&A, "y")];
        let error = RouteTable::from_connectors(DECLARED, &connectors).expect_err("duplicates");
        assert_eq!(
            error.to_string(),
            "route \"a\" has 3 handlers: tests::x, tests::y, tests::z; keep one"
        );
    }
}

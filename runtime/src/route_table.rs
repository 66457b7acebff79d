//! The routes a binary implements: declared routes matched with linked `#[connector]` handlers.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use serde_json::Value;

use crate::config::{ConfigReport, RouteConfig};
use crate::context::{CallEnv, TraceId};
use crate::enablement::{DisabledBy, EnablementError};
use crate::error::{ConnectorError, DispatchError, LinkError, LinkProblem};
#[cfg(feature = "http")]
use crate::http::HttpClient;
use crate::private::{Call, Connector, HandlerFn};
use crate::route::RouteSpec;
use crate::secrets::{SecretSource, resolve_route};
use crate::settings::Setting;

/// The declared routes of one registry and the handlers linked for them.
pub struct RouteTable {
    declared: &'static [&'static RouteSpec],
    /// Parallel to `declared`.
    linked: Vec<Option<LinkedRoute>>,
    index: HashMap<&'static str, usize>,
    /// Parallel to `declared`: `None` for an enabled route, else the setting that disabled it.
    disabled: Vec<Option<DisabledBy>>,
    /// The client handlers send through; `None` means the shared default.
    #[cfg(feature = "http")]
    http: Option<HttpClient>,
}

/// A declared route and the function that implements it.
#[derive(Clone, Copy)]
pub struct LinkedRoute {
    spec: &'static RouteSpec,
    settings: &'static [&'static Setting],
    function: &'static str,
    module_path: &'static str,
    handler: HandlerFn,
}

impl LinkedRoute {
    pub fn spec(&self) -> &'static RouteSpec {
        self.spec
    }

    /// The optional settings the handler reads, as its attribute names them.
    pub fn settings(&self) -> &'static [&'static Setting] {
        self.settings
    }

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
                for setting in connector.settings {
                    if declares_secret(declared, setting.name) {
                        problems.push(LinkProblem::SettingIsSecret {
                            route: declared[position].id,
                            setting: setting.name,
                        });
                    }
                }
                candidates[position].push(LinkedRoute {
                    spec: declared[position],
                    settings: connector.settings,
                    function: connector.function,
                    module_path: connector.module_path,
                    handler: connector.handler,
                });
            }
        }
        let mut linked = Vec::with_capacity(declared.len());
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
            linked.push(found.pop());
        }
        if problems.is_empty() {
            Ok(RouteTable {
                declared,
                linked,
                index,
                disabled: vec![None; declared.len()],
                #[cfg(feature = "http")]
                http: None,
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
                let missing = resolve_route(spec, secrets).err().unwrap_or_default();
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
    /// handler runs) and then its settings (an unusable base URL fails it too), then runs the
    /// handler, which unwraps the envelope, deserializes the input, and serializes the output.
    ///
    /// Lookup and secret resolution happen now; the returned future owns all it needs, so it can
    /// be spawned on any executor. Handlers that use `tokio` I/O must be awaited inside a
    /// `tokio` runtime.
    pub fn dispatch_with_trace(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
        trace_id: TraceId,
    ) -> impl Future<Output = Result<Value, DispatchError>> + Send + 'static {
        let prepared = self.resolve_call(route_id, payload, secrets, trace_id);
        async move {
            match prepared {
                Ok((HandlerFn::Sync(handler), call)) => handler(call),
                Ok((HandlerFn::Async(handler), call)) => handler(call).await,
                Err(error) => Err(error),
            }
        }
    }

    /// [`RouteTable::dispatch`] on the current thread, for handlers that need no particular async
    /// runtime (tests, command-line tools, handlers without I/O).
    pub fn dispatch_blocking(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
    ) -> Result<Value, DispatchError> {
        pollster::block_on(self.dispatch(route_id, payload, secrets))
    }

    /// The implemented, enabled route with this id, or the error a call of it gets: unknown
    /// (with a "did you mean"), disabled, or not implemented. Runs nothing.
    pub fn lookup(&self, route_id: &str) -> Result<&LinkedRoute, DispatchError> {
        let Some(&position) = self.index.get(route_id) else {
            return Err(DispatchError::UnknownRoute {
                route: route_id.to_owned(),
                suggestion: crate::suggest::did_you_mean(
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
            Some(linked) => Ok(linked),
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

    /// Prepares a call eagerly: looks the route up, resolves its secrets and settings, and runs
    /// the route's input checks, all before anything is queued or sent. Every error is the one
    /// [`RouteTable::dispatch_with_trace`] would give.
    ///
    /// The input check runs the handler once in check mode: [`RouteContext::send`] (the only
    /// way a handler sends HTTP) sends nothing, notes that it was reached and fails, and the
    /// context has no client. A handler that fails before reaching `send` rejected its input;
    /// one that reaches `send` (whatever it makes of the failure), returns, or waits on
    /// something else passed. Awaiting the [`PreparedCall`] runs the real call.
    ///
    /// [`RouteContext::send`]: crate::RouteContext::send
    pub fn prepare_with_trace(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
        trace_id: TraceId,
    ) -> Result<PreparedCall, DispatchError> {
        let (handler, call) = self.resolve_call(route_id, payload, secrets, trace_id)?;
        check_input(handler, &call)?;
        Ok(PreparedCall {
            route: call.env.route.id,
            handler,
            call,
        })
    }

    fn resolve_call(
        &self,
        route_id: &str,
        payload: Value,
        secrets: &dyn SecretSource,
        trace_id: TraceId,
    ) -> Result<(HandlerFn, Call), DispatchError> {
        let linked = self.lookup(route_id)?;
        let spec = linked.spec;
        #[cfg_attr(not(feature = "http"), allow(unused_mut))]
        let mut env = CallEnv::resolve(spec, linked.settings, trace_id, secrets)?;
        #[cfg(feature = "http")]
        {
            env.http = self.http.clone();
            #[cfg(feature = "reqwest")]
            if env.http.is_none() {
                env.http = HttpClient::shared();
            }
        }
        Ok((linked.handler, Call { env, payload }))
    }
}

/// A call whose route, secrets, settings and input have been checked; `.await` it (or
/// [`IntoFuture::into_future`] it to queue the unpolled call) to run it.
pub struct PreparedCall {
    route: &'static str,
    handler: HandlerFn,
    call: Call,
}

impl PreparedCall {
    /// The id of the route this call runs.
    pub fn route(&self) -> &'static str {
        self.route
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
        match self.handler {
            HandlerFn::Sync(handler) => {
                let call = self.call;
                Box::pin(async move { handler(call) })
            }
            HandlerFn::Async(handler) => handler(self.call),
        }
    }
}

/// Runs `handler` on a copy of `call` in check mode (see [`RouteTable::prepare_with_trace`]).
/// The copy's future is polled once, with a waker that does nothing: the checks come before the
/// first `send`, which is ready at once in check mode, so one poll reaches it.
fn check_input(handler: HandlerFn, call: &Call) -> Result<(), DispatchError> {
    let reached = Arc::new(AtomicBool::new(false));
    let check = Call {
        env: call.env.for_check(&reached),
        payload: call.payload.clone(),
    };
    // A panicking handler is left to the real run, which reports it as it always has.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match handler {
        HandlerFn::Sync(handler) => Poll::Ready(handler(check)),
        HandlerFn::Async(handler) => {
            let mut future = handler(check);
            future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
        }
    }));
    // Only a refusal of the input or the configuration is certain: any other error without a
    // request sent is left to the real run, which reports it the same way.
    match outcome {
        Ok(Poll::Ready(Err(
            error @ DispatchError::Connector(
                ConnectorError::InvalidInput { .. } | ConnectorError::Config { .. },
            ),
        ))) if !reached.load(Ordering::Relaxed) => Err(error),
        _ => Ok(()),
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
    };
    static A: RouteSpec = RouteSpec {
        id: "a",
        summary: "A.",
        request_type: RequestType::Sync,
        service: SERVICE,
        secrets: &[],
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
        secrets: &[],
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
            settings: &[],
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
        use crate::route::SecretRequirement;
        use crate::settings::Setting;
        static WITH_SECRET: RouteSpec = RouteSpec {
            id: "b",
            summary: "B.",
            request_type: RequestType::Sync,
            service: SERVICE,
            secrets: &[SecretRequirement {
                label: "B key",
                any_of: &["B_KEY"],
            }],
            hosts: None,
            input_schema: None,
            output_schema: None,
        };
        static BACK_DOOR: Setting = Setting::text("B_KEY", "not a setting");
        static DECLARED: &[&RouteSpec] = &[&A, &WITH_SECRET];
        static SETTINGS: &[&Setting] = &[&BACK_DOOR];
        let mut reading = connector(&A, "reads_b_key");
        reading.settings = SETTINGS;
        let error = RouteTable::from_connectors(DECLARED, &[reading]).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "route \"a\" declares the setting B_KEY, which the registry declares as a secret; read it with ctx.secret"
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

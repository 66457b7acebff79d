//! `workerflow check-urls`: is every URL the registry names still reachable?
//!
//! Each distinct URL gets a HEAD request (a GET when HEAD is refused), redirects are followed by
//! hand (at most [`MAX_REDIRECTS`], loops named), and `Retry-After` on 429/503 is honoured
//! within a budget. At most `concurrency` URLs are in flight overall and [`PER_HOST`] requests
//! at a time per host (host and port), so a vendor's docs site is never hammered.
//!
//! It needs the network, so it lives here, beside the runtime's HTTP stack, and never in the
//! registry crate: the registry CLI and `build.rs` compile no HTTP, TLS or async crate.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{LOCATION, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode, Url};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use workerflow_registry::Registry;
use workerflow_runtime::http::retry_after;

/// Redirects followed before a URL counts as failing.
pub(super) const MAX_REDIRECTS: usize = 5;
/// Requests in flight at a time to one host (host and port).
pub(super) const PER_HOST: usize = 2;
/// `Retry-After` waits honoured per URL at most.
const MAX_RETRIES: u32 = 2;

/// How a run behaves.
#[derive(Clone, Debug)]
pub(super) struct Options {
    /// URLs checked at a time.
    pub concurrency: usize,
    /// The limit for one request, from sending it to the response headers.
    pub timeout: Duration,
    /// The longest total wait per URL that `Retry-After` may ask for.
    pub retry_budget: Duration,
    /// Send `https` URLs whose host is a loopback address as plain `http` (tests and benchmarks
    /// against local servers). Hosts elsewhere are never downgraded.
    pub loopback_http: bool,
}

/// One distinct URL and the services that name it (in registry order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct UrlUse {
    pub url: String,
    pub services: Vec<String>,
}

/// What became of one URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Reachable {
        /// The final status (after redirects).
        status: u16,
        /// Whether HEAD was refused and GET answered.
        via_get: bool,
        redirects: usize,
    },
    Failed {
        /// The status when the failure is one (`None` for timeouts, connection errors, loops).
        status: Option<u16>,
        reason: String,
    },
}

impl Outcome {
    pub(super) fn is_reachable(&self) -> bool {
        matches!(self, Outcome::Reachable { .. })
    }
}

/// A URL with its outcome.
#[derive(Clone, Debug)]
pub(super) struct UrlResult {
    pub url: UrlUse,
    pub outcome: Outcome,
}

/// Every distinct URL of the registry (URL fields, `sources` and the `oauth2` block's
/// `sources`), sorted, with its services. An OAuth app's endpoints are not checked: they answer
/// a bare GET with an error by design (no client, no code).
pub(super) fn collect(registry: &Registry) -> Vec<UrlUse> {
    let mut uses: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for service in &registry.services {
        let oauth_sources = service.oauth2.iter().flat_map(|app| app.sources.iter());
        let urls = service
            .links()
            .map(|(_, url)| url)
            .chain(service.sources.iter().map(String::as_str))
            .chain(oauth_sources.map(String::as_str));
        for url in urls {
            let names = uses.entry(url).or_default();
            if names.last() != Some(&service.connector_name.as_str()) {
                names.push(&service.connector_name);
            }
        }
    }
    uses.into_iter()
        .map(|(url, services)| UrlUse {
            url: url.to_owned(),
            services: services.into_iter().map(str::to_owned).collect(),
        })
        .collect()
}

/// Checks every URL; `progress(done, total)` is called after each one. The result keeps the
/// order of `urls`.
pub(super) fn run(
    urls: Vec<UrlUse>,
    options: &Options,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> Result<Vec<UrlResult>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let client = Client::builder()
        // Redirects are followed by hand, to count them and to name loops.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .user_agent(concat!("workerflow-check-urls/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", root_cause(&e)))?;
    let checker = Arc::new(Checker {
        client,
        options: options.clone(),
        overall: Arc::new(Semaphore::new(options.concurrency.max(1))),
        hosts: Mutex::new(HashMap::new()),
    });
    let total = urls.len();
    let done = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(progress);
    runtime.block_on(async move {
        let tasks: Vec<_> = urls
            .into_iter()
            .map(|url| {
                let checker = Arc::clone(&checker);
                let done = Arc::clone(&done);
                let progress = Arc::clone(&progress);
                tokio::spawn(async move {
                    let outcome = checker.check(&url.url).await;
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    UrlResult { url, outcome }
                })
            })
            .collect();
        let mut checked = Vec::with_capacity(tasks.len());
        for task in tasks {
            checked.push(task.await.map_err(|e| format!("a check failed: {e}"))?);
        }
        Ok(checked)
    })
}

struct Checker {
    client: Client,
    options: Options,
    overall: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A response as far as the check needs it.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    via_get: bool,
    /// A `Retry-After` the budget could not honour, in seconds.
    refused_wait: Option<u64>,
}

impl Checker {
    async fn check(&self, url: &str) -> Outcome {
        let mut current = match Url::parse(url) {
            Ok(url) => url,
            Err(error) => return failed(None, format!("not a valid URL: {error}")),
        };
        // The host's permit first, then an overall one: a URL never holds an overall slot while
        // it queues behind its host, so the slots go to URLs whose host is free (URLs arrive
        // sorted, that is grouped by host).
        let mut first_host = Some(self.host_permit(&current).await);
        let Ok(_overall) = Arc::clone(&self.overall).acquire_owned().await else {
            return failed(None, "the check was cancelled");
        };
        let mut visited = vec![current.clone()];
        loop {
            let host = match first_host.take() {
                Some(permit) => permit,
                None => self.host_permit(&current).await,
            };
            let result = self.request(&current).await;
            // Released between hops: a redirect may lead to another host.
            drop(host);
            let reply = match result {
                Ok(reply) => reply,
                Err(reason) => return failed(None, reason),
            };
            let status = reply.status;
            if status.is_redirection()
                && let Some(location) = &reply.location
            {
                let next = match current.join(location) {
                    Ok(next) => next,
                    Err(_) => {
                        return failed(
                            Some(status.as_u16()),
                            format!("{} with an invalid Location header", describe(status)),
                        );
                    }
                };
                if visited.contains(&next) {
                    let chain: Vec<&str> = visited
                        .iter()
                        .skip_while(|u| **u != next)
                        .map(Url::as_str)
                        .chain([next.as_str()])
                        .collect();
                    return failed(None, format!("redirect loop: {}", chain.join(" -> ")));
                }
                if visited.len() > MAX_REDIRECTS {
                    return failed(
                        None,
                        format!("more than {MAX_REDIRECTS} redirects (the next to {next})"),
                    );
                }
                visited.push(next.clone());
                current = next;
                continue;
            }
            let redirects = visited.len() - 1;
            // Docs behind a login answer 401/403: the page exists.
            let reachable = status.is_success()
                || status.is_redirection()
                || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
            if reachable {
                return Outcome::Reachable {
                    status: status.as_u16(),
                    via_get: reply.via_get,
                    redirects,
                };
            }
            let mut reason = describe(status);
            if let Some(wait) = reply.refused_wait {
                reason.push_str(&format!(
                    " (Retry-After {wait} s is over the {} s budget)",
                    self.options.retry_budget.as_secs()
                ));
            }
            if redirects > 0 {
                reason.push_str(&format!(" at {current}"));
            }
            return failed(Some(status.as_u16()), reason);
        }
    }

    async fn host_permit(&self, url: &Url) -> Option<OwnedSemaphorePermit> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        );
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(
                hosts
                    .entry(key)
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST))),
            )
        };
        semaphore.acquire_owned().await.ok()
    }

    /// HEAD, then GET when HEAD is refused; 429/503 retried after `Retry-After` within budget.
    async fn request(&self, url: &Url) -> Result<Reply, String> {
        let target = self.effective(url);
        let mut method = Method::HEAD;
        let mut waited = Duration::ZERO;
        let mut retries = 0;
        loop {
            let response = self
                .client
                .request(method.clone(), target.clone())
                .send()
                .await
                .map_err(|error| self.describe_error(&error))?;
            let status = response.status();
            if method == Method::HEAD && head_refused(status) {
                method = Method::GET;
                continue;
            }
            let mut refused_wait = None;
            if matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) && let Some(wait) = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| retry_after(value, SystemTime::now()))
            {
                if retries < MAX_RETRIES && waited + wait <= self.options.retry_budget {
                    drop(response);
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    retries += 1;
                    continue;
                }
                refused_wait = Some(wait.as_secs());
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // The body is never read: dropping the response closes the exchange.
            return Ok(Reply {
                status,
                location,
                via_get: method == Method::GET,
                refused_wait,
            });
        }
    }

    /// The URL actually requested: loopback `https` as `http` when the options allow it.
    fn effective(&self, url: &Url) -> Url {
        let mut url = url.clone();
        if self.options.loopback_http && url.scheme() == "https" && is_loopback(&url) {
            let port = url.port();
            // https -> http keeps the URL valid; an explicit port stays explicit.
            if url.set_scheme("http").is_ok() && port.is_none() {
                let _ = url.set_port(Some(443));
            }
        }
        url
    }

    fn describe_error(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            format!("timed out after {} s", format_secs(self.options.timeout))
        } else if error.is_connect() {
            format!("connection failed: {}", root_cause(error))
        } else {
            format!("request failed: {}", root_cause(error))
        }
    }
}

fn failed(status: Option<u16>, reason: impl Into<String>) -> Outcome {
    Outcome::Failed {
        status,
        reason: reason.into(),
    }
}

/// Statuses servers use to say they do not do HEAD.
fn head_refused(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::NOT_ACCEPTABLE
            | StatusCode::NOT_IMPLEMENTED
    )
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `404 Not Found`.
fn describe(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn format_secs(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs}")
    }
}

/// The innermost cause: reqwest's own message repeats the URL, the cause says what happened.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oauth_apps_sources_are_checked_and_its_endpoints_are_not() {
        let text = include_str!("../../connector-registry/services.json");
        let registry = Registry::from_str(text).expect("the bundled registry");
        let urls: Vec<String> = collect(&registry).into_iter().map(|u| u.url).collect();
        let hubspot = registry
            .services
            .iter()
            .find(|service| service.id == "hubspot")
            .and_then(|service| service.oauth2.as_ref())
            .expect("HubSpot's OAuth app");
        for source in &hubspot.sources {
            assert!(urls.contains(source), "{source}");
        }
        assert!(!urls.contains(&hubspot.token_url));
        assert!(!urls.contains(&hubspot.authorization_url));
    }

    #[test]
    fn only_loopback_hosts_are_downgraded() {
        let checker = |loopback_http| Checker {
            client: Client::new(),
            options: Options {
                concurrency: 1,
                timeout: Duration::from_secs(1),
                retry_budget: Duration::ZERO,
                loopback_http,
            },
            overall: Arc::new(Semaphore::new(1)),
            hosts: Mutex::new(HashMap::new()),
        };
        let on = checker(true);
        let url = |s: &str| Url::parse(s).expect("url");
        assert_eq!(
            on.effective(&url("https://127.0.0.3:8080/a")).as_str(),
            "http://127.0.0.3:8080/a"
        );
        assert_eq!(
            on.effective(&url("https://localhost/a")).as_str(),
            "http://localhost:443/a"
        );
        assert_eq!(
            on.effective(&url("https://example.com/a")).as_str(),
            "https://example.com/a"
        );
        assert_eq!(
            checker(false)
                .effective(&url("https://127.0.0.1:8080/"))
                .as_str(),
            "https://127.0.0.1:8080/"
        );
    }
}

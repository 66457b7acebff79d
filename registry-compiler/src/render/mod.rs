//! Renders a validated registry into `SERVICE_API_INDEX.md` and `SERVICE_API_INDEX.html`.
//!
//! The pages are minijinja templates (embedded from `registry-compiler/templates/`, or read from
//! a directory that overrides them). Registry data reaches a template only as values, never as
//! template source, and every value is escaped for its page unless a filter of ours produced
//! it: HTML-escaped in the HTML page, Markdown-escaped in the Markdown one. Output is
//! deterministic: no clock, no environment, no hash-map order.
//!
//! ```
//! use std::sync::Arc;
//! use workerflow_registry::Registry;
//! use workerflow_registry::docs::{Page, Renderer, SourceInfo};
//!
//! let text = r#"{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": []}"#;
//! let registry = Arc::new(Registry::from_str(text).unwrap());
//! let source = SourceInfo::of_bytes("connector-registry/services.json", text.as_bytes());
//! let renderer = Renderer::embedded().unwrap();
//! let pages = renderer.prepare(registry, source);
//! let markdown = pages.render(Page::Markdown).unwrap();
//! assert!(markdown.contains("Do not edit"));
//! ```

mod context;
mod contract;
pub(crate) mod html;
pub(crate) mod links;
pub(crate) mod markdown;
mod oauth;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};
use sha2::{Digest, Sha256};

pub use context::SourceInfo;
use context::{Catalog, RouteList, ServiceList};

use crate::model::{AuthType, Registry, Service};

/// The command that regenerates the docs, as the pages, `build.rs` warnings and `build --check`
/// name it: the installed CLI, which works in any crate with a registry (`cargo run -p
/// workerflow-registry` works only in the toolkit's workspace).
pub(crate) const REGENERATE_COMMAND: &str = "workerflow-registry build";

/// The auto-escape mode of Markdown templates.
const MARKDOWN: &str = "markdown";

/// One generated page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Page {
    /// `SERVICE_API_INDEX.md`.
    Markdown,
    /// `SERVICE_API_INDEX.html`.
    Html,
}

impl Page {
    /// Both pages, in the order they are written.
    pub const ALL: [Page; 2] = [Page::Markdown, Page::Html];

    /// The output file name, written into the docs directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Page::Markdown => "SERVICE_API_INDEX.md",
            Page::Html => "SERVICE_API_INDEX.html",
        }
    }

    /// The template file name, in `registry-compiler/templates/` or an override directory.
    pub fn template_name(self) -> &'static str {
        match self {
            Page::Markdown => "SERVICE_API_INDEX.md.j2",
            Page::Html => "SERVICE_API_INDEX.html.j2",
        }
    }

    fn embedded_template(self) -> &'static str {
        match self {
            Page::Markdown => include_str!("../../templates/SERVICE_API_INDEX.md.j2"),
            Page::Html => include_str!("../../templates/SERVICE_API_INDEX.html.j2"),
        }
    }
}

/// The directory the embedded templates come from (for `rerun-if-changed` in build scripts).
pub(crate) fn embedded_templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

impl SourceInfo {
    /// Describes a registry file by its path (as shown in the pages) and the SHA-256 of its bytes.
    pub fn of_bytes(path: impl Into<String>, bytes: &[u8]) -> SourceInfo {
        SourceInfo {
            path: path.into(),
            sha256: format!("{:x}", Sha256::digest(bytes)),
        }
    }
}

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template {path}")]
    /// A template override could not be read.
    Read {
        /// The file, as shown to users.
        path: String,
        #[source]
        /// What the operating system said.
        source: std::io::Error,
    },
    #[error(
        "{dir} has neither SERVICE_API_INDEX.md.j2 nor SERVICE_API_INDEX.html.j2; nothing to override"
    )]
    /// The override directory has none of the page templates.
    NoTemplates {
        /// The directory, as shown to users.
        dir: String,
    },
    #[error("template {name}: {detail}")]
    /// A template failed to compile or render.
    Template {
        /// The template's name.
        name: &'static str,
        /// minijinja's message.
        detail: String,
    },
    #[error("cannot write the page")]
    /// The rendered page could not be written.
    Output(#[source] std::io::Error),
}

impl RenderError {
    fn template(page: Page, error: &Error) -> RenderError {
        // Chained causes (a filter's error inside a template error) make the message useful.
        let mut detail = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(inner) = cause {
            detail.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        RenderError::Template {
            name: page.template_name(),
            detail,
        }
    }
}

/// The templates, ready to render registries.
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    /// The templates built into this crate.
    pub fn embedded() -> Result<Renderer, RenderError> {
        Renderer::with_sources(
            Page::ALL
                .iter()
                .map(|&page| (page, page.embedded_template().to_owned()))
                .collect(),
        )
    }

    /// The embedded templates, with those present in `dir` taking their place.
    pub fn with_overrides(dir: &Path) -> Result<Renderer, RenderError> {
        let mut sources = Vec::new();
        let mut overridden = false;
        for page in Page::ALL {
            let path = dir.join(page.template_name());
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    overridden = true;
                    sources.push((page, text));
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    sources.push((page, page.embedded_template().to_owned()));
                }
                Err(error) => {
                    return Err(RenderError::Read {
                        path: path.display().to_string(),
                        source: error,
                    });
                }
            }
        }
        if !overridden {
            return Err(RenderError::NoTemplates {
                dir: dir.display().to_string(),
            });
        }
        Renderer::with_sources(sources)
    }

    fn with_sources(sources: Vec<(Page, String)>) -> Result<Renderer, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                AutoEscape::Html
            } else {
                AutoEscape::Custom(MARKDOWN.into())
            }
        });
        env.set_formatter(format_value);
        env.add_filter("link", link_filter);
        env.add_filter("prose", prose_filter);
        env.add_filter("csp_hash", |text: &str| html::csp_hash(text));
        env.add_filter("anchor", |id: &str| markdown::anchor(id));
        env.add_filter("md_inline", |text: &str| {
            Value::from_safe_string(markdown::inline(text))
        });
        env.add_filter("quote", |text: &str| {
            Value::from_safe_string(markdown::quote(text))
        });
        env.add_global("static_table_limit", html::STATIC_TABLE_LIMIT);
        env.add_global(
            "route_sections_inline_limit",
            contract::ROUTE_SECTIONS_INLINE_LIMIT,
        );
        env.add_filter("html_static_rows", |list: Value| {
            services(&list).map(|l| Value::from_object(Rows::HtmlStatic(l)))
        });
        env.add_filter("html_data_island", |list: Value| {
            services(&list).map(|l| Value::from_object(Rows::HtmlDataIsland(l)))
        });
        env.add_filter("md_service_rows", |list: Value, with_rank: bool| {
            services(&list).map(|l| Value::from_object(Rows::MarkdownServices(l, with_rank)))
        });
        env.add_filter("md_sections", |list: Value| {
            services(&list).map(|l| Value::from_object(Rows::MarkdownSections(l)))
        });
        env.add_filter("md_oauth_apps", |list: Value| {
            services(&list).map(|l| Value::from_object(Rows::MarkdownOAuth(l)))
        });
        env.add_filter("html_oauth_apps", |list: Value| {
            services(&list).map(|l| Value::from_object(Rows::HtmlOAuth(l)))
        });
        env.add_filter("md_route_rows", |list: Value| {
            let routes = list.downcast_object::<RouteList>().ok_or_else(|| {
                Error::new(ErrorKind::InvalidOperation, "md_route_rows takes `routes`")
            })?;
            Ok::<_, Error>(Value::from_object(Rows::MarkdownRoutes(routes)))
        });
        env.add_filter("md_route_sections", |list: Value| {
            route_list(&list, "md_route_sections")
                .map(|r| Value::from_object(Rows::MarkdownRouteSections(r)))
        });
        env.add_filter("html_route_sections", |list: Value| {
            route_list(&list, "html_route_sections")
                .map(|r| Value::from_object(Rows::HtmlRouteSections(r)))
        });
        for (page, source) in sources {
            env.add_template_owned(page.template_name(), source)
                .map_err(|e| RenderError::template(page, &e))?;
        }
        Ok(Renderer { env })
    }

    /// Binds a registry and its source description to these templates.
    pub fn prepare(&self, registry: Arc<Registry>, source: SourceInfo) -> Prepared<'_> {
        Prepared {
            renderer: self,
            catalog: Catalog::new(registry),
            source,
        }
    }
}

/// A registry bound to a renderer: render each page from it, one at a time.
#[derive(Debug)]
pub struct Prepared<'r> {
    renderer: &'r Renderer,
    catalog: Catalog,
    source: SourceInfo,
}

impl Prepared<'_> {
    /// The registry the pages are rendered from.
    pub fn registry(&self) -> &Registry {
        self.catalog.registry()
    }

    /// Renders `page` into a string.
    pub fn render(&self, page: Page) -> Result<String, RenderError> {
        // Sized up front: growing a 100 MB page by doubling costs more than rendering it.
        let mut out = Vec::with_capacity(self.estimated_len(page));
        self.render_to(page, &mut out)?;
        // Templates write UTF-8 only; a lossy conversion keeps this path panic-free regardless.
        Ok(String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// Renders `page` into `out` as it goes (a 100 MB page is never held in memory), ending it
    /// with exactly one newline whatever the template's last line looks like.
    pub fn render_to(&self, page: Page, out: impl Write) -> Result<(), RenderError> {
        let template = self
            .renderer
            .env
            .get_template(page.template_name())
            .map_err(|e| RenderError::template(page, &e))?;
        let context = self.catalog.context(&self.source, REGENERATE_COMMAND);
        let mut out = OneTrailingNewline::new(out);
        template
            .render_captured_to(context, &mut out)
            .map_err(|e| RenderError::template(page, &e))?;
        out.finish().map_err(RenderError::Output)
    }

    /// A generous guess of a page's size: per-service bytes seen on real registries, plus the
    /// page's fixed part.
    fn estimated_len(&self, page: Page) -> usize {
        let per_service = match page {
            Page::Markdown => 700,
            Page::Html => 1400,
        };
        64 * 1024 + self.registry().services.len() * per_service
    }
}

/// Passes output on except trailing ASCII whitespace, which it holds back until more text
/// follows; [`OneTrailingNewline::finish`] then ends the output with one `\n`.
struct OneTrailingNewline<W> {
    inner: W,
    held: Vec<u8>,
}

impl<W: Write> OneTrailingNewline<W> {
    fn new(inner: W) -> Self {
        OneTrailingNewline {
            inner,
            held: Vec::new(),
        }
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.inner.write_all(b"\n")?;
        self.inner.flush()
    }
}

impl<W: Write> Write for OneTrailingNewline<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match bytes.iter().rposition(|b| !b.is_ascii_whitespace()) {
            None => self.held.extend_from_slice(bytes),
            Some(last) => {
                if !self.held.is_empty() {
                    self.inner.write_all(&self.held)?;
                    self.held.clear();
                }
                self.inner.write_all(&bytes[..=last])?;
                self.held.extend_from_slice(&bytes[last + 1..]);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes a value into the page: HTML-escaped in HTML, Markdown-escaped in Markdown, empty for
/// none, as is when a filter of ours marked it safe.
fn format_value(
    out: &mut minijinja::Output<'_>,
    state: &mut State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    if value.downcast_object_ref::<Rows>().is_some() {
        return write!(out, "{value}").map_err(Error::from);
    }
    let text;
    let raw = match value.as_str() {
        Some(s) => s,
        None => {
            text = value.to_string();
            &text
        }
    };
    if value.is_safe() {
        return out.write_str(raw).map_err(Error::from);
    }
    let mut escaped = String::with_capacity(raw.len() + 8);
    match state.auto_escape() {
        AutoEscape::Html => html::escape_into(&mut escaped, raw),
        AutoEscape::Custom(name) if name == MARKDOWN => {
            markdown::escape_into(&mut escaped, raw, false)
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "unsupported auto-escape mode",
            ));
        }
    }
    out.write_str(&escaped).map_err(Error::from)
}

/// The repeated per-service markup, written by Rust rather than interpreted per row: a
/// template loop costs ~20 µs a row (seconds for a 100,000-service registry), these about one.
/// Always safe: every value in them went through the page's escaping.
#[derive(Debug)]
enum Rows {
    HtmlStatic(Arc<ServiceList>),
    HtmlDataIsland(Arc<ServiceList>),
    MarkdownServices(Arc<ServiceList>, bool),
    MarkdownSections(Arc<ServiceList>),
    MarkdownRoutes(Arc<RouteList>),
    MarkdownRouteSections(Arc<RouteList>),
    HtmlRouteSections(Arc<RouteList>),
    MarkdownOAuth(Arc<ServiceList>),
    HtmlOAuth(Arc<ServiceList>),
}

impl Object for Rows {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    /// Writes straight into the page (through [`format_value`]): no intermediate copy of a
    /// 100 MB table.
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &**self {
            Rows::HtmlStatic(l) => html::write_static_rows(f, l.registry(), l.order()),
            Rows::HtmlDataIsland(l) => html::write_data_island(f, l.registry(), l.order()),
            Rows::MarkdownServices(l, with_rank) => {
                markdown::write_service_rows(f, l.registry(), l.order(), *with_rank)
            }
            Rows::MarkdownSections(l) => markdown::write_sections(f, l.registry(), l.order()),
            Rows::MarkdownRoutes(r) => markdown::write_route_rows(f, r.registry(), r.routes()),
            Rows::MarkdownRouteSections(r) => contract::write_markdown(f, r.registry(), r.routes()),
            Rows::HtmlRouteSections(r) => contract::write_html(f, r.registry(), r.routes()),
            Rows::MarkdownOAuth(l) => oauth::write_markdown(f, l.registry(), l.order()),
            Rows::HtmlOAuth(l) => oauth::write_html(f, l.registry(), l.order()),
        }
    }
}

fn route_list(list: &Value, filter: &str) -> Result<Arc<RouteList>, Error> {
    list.downcast_object::<RouteList>().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("{filter} takes `routes`"),
        )
    })
}

/// Writes items through a reused buffer, flushed to `sink` in chunks: the row writers push
/// small strings, the page receives large ones.
pub(crate) fn write_chunked<T>(
    sink: &mut dyn fmt::Write,
    items: impl IntoIterator<Item = T>,
    mut write_item: impl FnMut(&mut String, T),
) -> fmt::Result {
    const CHUNK: usize = 64 * 1024;
    let mut buffer = String::with_capacity(CHUNK + 8 * 1024);
    for item in items {
        write_item(&mut buffer, item);
        if buffer.len() >= CHUNK {
            sink.write_str(&buffer)?;
            buffer.clear();
        }
    }
    sink.write_str(&buffer)
}

/// The service list behind `services`, `ranked` or `unranked`, for the row filters.
fn services(list: &Value) -> Result<Arc<ServiceList>, Error> {
    list.downcast_object::<ServiceList>().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "row filters take `services`, `ranked` or `unranked`",
        )
    })
}

/// `{{ url | link }}` or `{{ url | link(text) }}`: a link when `url` is https, else inert text.
fn link_filter(state: &State<'_, '_>, url: Value, text: Option<Value>) -> Value {
    let Some(url) = url.as_str() else {
        return Value::from_safe_string(String::new());
    };
    let text = text.as_ref().and_then(Value::as_str).unwrap_or(url);
    Value::from_safe_string(match state.auto_escape() {
        AutoEscape::Html => html::link(url, text),
        _ => markdown::link(url, text),
    })
}

/// `{{ notes | prose }}`: Markdown prose as HTML (raw HTML escaped) in HTML, escaped multi-line
/// text in Markdown.
fn prose_filter(state: &State<'_, '_>, text: Value) -> Value {
    let Some(text) = text.as_str() else {
        return Value::from_safe_string(String::new());
    };
    Value::from_safe_string(match state.auto_escape() {
        AutoEscape::Html => html::prose(text),
        _ => markdown::prose(text),
    })
}

/// Writes the service's auth scheme, then ` (routes: api_key)` with the schemes its routes'
/// contracts declare where they differ from it (Stripe: oauth2, its routes an API key), in
/// first-appearance order.
pub(crate) fn auth_with_routes(out: &mut String, service: &Service) {
    out.push_str(service.auth_type.as_str());
    let mut differing: Vec<AuthType> = Vec::new();
    for auth in service.routes().iter().filter_map(|route| route.auth) {
        if auth != service.auth_type && !differing.contains(&auth) {
            differing.push(auth);
        }
    }
    for (i, auth) in differing.iter().enumerate() {
        out.push_str(if i == 0 { " (routes: " } else { ", " });
        out.push_str(auth.as_str());
    }
    if !differing.is_empty() {
        out.push(')');
    }
}

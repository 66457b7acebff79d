//! The generated HTML page in a real browser: headless Chromium (Debian package `chromium`).
//!
//! Chromium's `--dump-dom` prints the DOM after the page's script ran. Two kinds of checks:
//! loading the page with a URL (`?q=slack`, `#slack`: a shared link must reproduce the view),
//! and a driver page that opens it in an iframe and types, ticks, clicks and goes Back through
//! DOM events, then reports what the page shows. No DevTools client is needed.
//!
//! On CI (`CI` set) Chromium must be present; elsewhere the test is skipped with a message.
//! A screenshot is saved to `target/browser/` for people to look at.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use workerflow_registry::Registry;
use workerflow_registry::docs::{Page, Renderer};

/// A window tall enough for the windowed table to render every row of the bundled registry, so
/// a view can be compared whole.
const TALL: &str = "--window-size=1280,6000";

/// The services `workerflow mcp`'s `search_services` finds for `query`, in its order
/// (mcp/src/tools.rs): by the tier of the shared rule, then rank, then registry order. For
/// registries with no file the tool could open; the bundled one is also asked of the tool.
fn ranked<'r>(registry: &'r Registry, query: &str) -> Vec<&'r str> {
    let rule = workerflow_registry::search::Query::new(query);
    let mut found: Vec<_> = registry
        .services
        .iter()
        .enumerate()
        .filter_map(|(index, service)| {
            let key = workerflow_registry::search::search_key(service);
            rule.matches(&key).then(|| {
                let rank = service.rank.unwrap_or(u32::MAX);
                (rule.tier(&key), rank, index, service.id.as_str())
            })
        })
        .collect();
    found.sort_unstable();
    found.into_iter().map(|(.., id)| id).collect()
}

/// What `workerflow mcp`'s `search_services` itself answers for `query` on the bundled
/// registry (called in-process): the ids, in its order.
fn search_services(query: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server =
        workerflow_mcp::RegistryServer::new(Ok(root.join(workerflow_registry::REGISTRY_PATH)));
    let args = serde_json::json!({"query": query, "limit": 100});
    let result = server
        .call("search_services", args.as_object().cloned())
        .expect("search_services answers");
    let result = serde_json::to_value(&result).unwrap();
    let found = &result["structuredContent"];
    assert!(
        found["total"].as_u64().unwrap() <= 100,
        "every match fits one answer: {query}"
    );
    found["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {result}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn chromium() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|path| {
        std::env::split_paths(&path)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
            .collect::<Vec<_>>()
    });
    std::iter::once(PathBuf::from("/usr/bin/chromium"))
        .chain(on_path)
        .find(|path| path.is_file())
}

use workerflow_registry::build_script::on_ci;

/// Records the request line of every connection Chromium makes through its proxy.
struct RequestLog {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RequestLog {
    fn start() -> RequestLog {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                log.lock().unwrap().push(line.trim_end().to_owned());
                // Dropping the stream refuses the request: nothing leaves this machine.
            }
        });
        RequestLog { port, requests }
    }
}

struct Browser {
    exe: PathBuf,
    profile: PathBuf,
    proxy: RequestLog,
}

struct Loaded_ {
    dom: String,
    log: String,
}

impl Browser {
    /// Loads `url` headless and returns the DOM after scripts ran, plus Chromium's log.
    fn load(&self, url: &str, extra: &[&str]) -> Loaded_ {
        let output = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=3000",
                "--window-size=1280,900",
                "--proxy-bypass-list=<-loopback>",
            ])
            .arg(format!("--proxy-server=127.0.0.1:{}", self.proxy.port))
            .arg(format!("--user-data-dir={}", self.profile.display()))
            .args(extra)
            // A screenshot run writes a file; every other run prints the DOM.
            .args((!extra.iter().any(|a| a.starts_with("--screenshot"))).then_some("--dump-dom"))
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .expect("run chromium");
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "chromium failed ({}):\n{log}",
            output.status
        );
        Loaded_ {
            dom: String::from_utf8_lossy(&output.stdout).into_owned(),
            log,
        }
    }
}

/// A `<tr>` of the services table as the browser left it.
#[derive(Debug)]
struct Row {
    id: String,
    hidden: bool,
    class: String,
}

/// Undoes the escaping of text content (`<pre>` in the no-JavaScript wrapper).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

/// The rows of the table `id` (`wf-table`, the window the script renders, or `wf-static`, the
/// table for readers without script).
fn table_rows(dom: &str, id: &str) -> Vec<Row> {
    let table = &dom[dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("table {id}"))..];
    let body = &table[table.find("<tbody>").expect("table body")..];
    let body = &body[..body.find("</tbody>").expect("end of the table body")];
    body.match_indices("<tr ")
        .map(|(at, _)| {
            let tag = &body[at..at + body[at..].find('>').unwrap()];
            Row {
                // The window's rows carry their service's id as data-id (html.j2 says why).
                id: attribute(tag, "data-id")
                    .or_else(|| attribute(tag, "id"))
                    .unwrap_or_default(),
                hidden: tag.contains(" hidden"),
                class: attribute(tag, "class").unwrap_or_default(),
            }
        })
        .collect()
}

/// The rows the script rendered.
fn rows(dom: &str) -> Vec<Row> {
    table_rows(dom, "wf-table")
}

fn visible(dom: &str) -> Vec<String> {
    rows(dom)
        .into_iter()
        .filter(|row| !row.hidden)
        .map(|row| row.id)
        .collect()
}

fn status(dom: &str) -> String {
    let start = dom.find("id=\"wf-status\"").expect("status line");
    let text_start = dom[start..].find('>').unwrap() + start + 1;
    let end = dom[text_start..].find('<').unwrap() + text_start;
    dom[text_start..end].to_owned()
}

/// The `aria-sort` of each sortable column header, in order.
fn sort_state(dom: &str) -> Vec<(String, String)> {
    let head = &dom[dom.find("<thead>").unwrap()..dom.find("</thead>").unwrap()];
    head.match_indices("<th ")
        .filter_map(|(at, _)| {
            let tag = &head[at..at + head[at..].find('>').unwrap()];
            Some((attribute(tag, "data-sort")?, attribute(tag, "aria-sort")?))
        })
        .collect()
}

/// The empty-results message: whether it is shown, and its text.
fn empty_message(dom: &str) -> (bool, String) {
    let start = dom
        .find("<p id=\"wf-empty\"")
        .expect("empty-results message");
    let tag_end = dom[start..].find('>').unwrap() + start;
    let end = dom[tag_end..].find("</p>").unwrap() + tag_end;
    (
        !dom[start..tag_end].contains(" hidden"),
        unescape(&dom[tag_end + 1..end]),
    )
}

/// What the page's search looks at for one service, lower-cased: name, id, vendor, auth,
/// route ids, secret names, URLs and notes.
fn search_key(service: &workerflow_registry::Service) -> String {
    let mut parts = vec![
        service.connector_name.clone(),
        service.id.clone(),
        service.official_vendor_name.clone().unwrap_or_default(),
        service.auth_type.as_str().to_owned(),
    ];
    parts.extend(service.routes().iter().map(|r| r.id.clone()));
    parts.extend(
        service
            .routes()
            .iter()
            .flat_map(|r| &r.secrets)
            .flat_map(|secret| secret.any_of.iter().cloned()),
    );
    parts.extend(service.links().map(|(_, url)| url.to_owned()));
    parts.extend(service.sources.iter().cloned());
    parts.extend(service.notes.clone());
    parts.join("\n").to_lowercase()
}

fn hosts(registry: &Registry) -> Vec<String> {
    let mut hosts: Vec<String> = registry
        .services
        .iter()
        .flat_map(|s| {
            s.links()
                .map(|(_, u)| u.to_owned())
                .chain(s.sources.clone())
        })
        .filter_map(|url| {
            let rest = url.strip_prefix("https://")?;
            Some(rest.split(['/', '?', '#']).next()?.to_owned())
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The driver: acts on the page in an iframe step by step, recording after each step the URL
/// query, the status line, the visible row ids, the first row, and the name column's
/// `aria-sort`. Waits between steps let the page's debounced handlers run.
const DRIVER: &str = r##"
var frame = document.getElementById("page"), results = {}, started = false;
function snapshot(w, d) {
  var rows = Array.prototype.slice.call(d.querySelectorAll("#wf-table tbody tr"));
  return {
    url: w.location.search,
    status: d.getElementById("wf-status").textContent,
    visible: rows.filter(function (r) { return !r.hidden; }).map(function (r) { return r.getAttribute("data-id"); }),
    first: rows.filter(function (r) { return !r.hidden; }).map(function (r) { return r.getAttribute("data-id"); })[0] || null,
    aria: d.querySelector("th[data-sort=name]").getAttribute("aria-sort"),
    checked: d.querySelector("input[name=auth][value=api_key]").checked
  };
}
frame.onload = function () {
  if (started) return;
  started = true;
  var w = frame.contentWindow, d = frame.contentDocument;
  var box = d.getElementById("wf-q");
  var steps = [
    function () { d.body.dispatchEvent(new w.KeyboardEvent("keydown", { key: "/", bubbles: true, cancelable: true })); },
    function () { results.slash = d.activeElement && d.activeElement.id; box.focus(); box.value = "slack"; box.dispatchEvent(new w.Event("input", { bubbles: true })); },
    function () { results.typed = snapshot(w, d); box.value = ""; box.dispatchEvent(new w.Event("input", { bubbles: true })); },
    function () { d.querySelector("input[name=auth][value=api_key]").click(); },
    function () { results.ticked = snapshot(w, d); var b = d.querySelector("th[data-sort=name] button"); b.click(); b.click(); },
    function () { results.sorted = snapshot(w, d); w.history.back(); },
    function () { results.back1 = snapshot(w, d); w.history.back(); },
    function () { results.back2 = snapshot(w, d); d.getElementById("wf-clear").click(); },
    function () { results.cleared = snapshot(w, d); document.getElementById("out").textContent = JSON.stringify(results); }
  ];
  (function next(i) { if (i < steps.length) { steps[i](); setTimeout(function () { next(i + 1); }, 200); } })(0);
};
"##;

/// Opens a link to a route's section (`#route-<id>`) and reports what the reader sees there:
/// whether the section is the `:target` and scrolled into the viewport, its heading, and for
/// its input-fields table and its first example whether each is rendered (has a box, not
/// hidden by style) and inside the viewport or below the heading.
const ROUTE_DRIVER: &str = r##"
var frame = document.getElementById("page"), started = false;
function shown(w, el) {
  if (!el) return false;
  var style = w.getComputedStyle(el), box = el.getBoundingClientRect();
  return el.getClientRects().length > 0 && box.width > 0 && box.height > 0
    && style.visibility !== "hidden" && style.display !== "none" && !el.closest("[hidden]");
}
frame.onload = function () {
  if (started) return;
  started = true;
  setTimeout(function () {
    var w = frame.contentWindow, d = frame.contentDocument;
    var section = d.getElementById(w.location.hash.slice(1));
    var heads = section ? Array.prototype.slice.call(section.querySelectorAll("h4")) : [];
    var inputHead = heads.filter(function (h) { return h.textContent === "Input fields"; })[0];
    var table = inputHead && inputHead.nextElementSibling;
    var example = heads.filter(function (h) { return h.textContent.indexOf("Example: ") === 0; })[0];
    var request = example && example.nextElementSibling;
    var top = section ? section.getBoundingClientRect().top : null;
    document.getElementById("out").textContent = JSON.stringify({
      target: !!section && section.matches(":target"),
      inViewport: top !== null && top >= -1 && top < w.innerHeight,
      heading: section ? section.querySelector("h3").textContent : null,
      headingShown: !!section && shown(w, section.querySelector("h3")),
      tableShown: shown(w, table),
      tableTag: table ? table.tagName : null,
      fields: table ? Array.prototype.map.call(table.querySelectorAll("tbody tr td:first-child"), function (c) { return c.textContent; }) : [],
      example: example ? example.textContent : null,
      exampleShown: shown(w, request),
      request: request ? request.textContent.split("\n")[0] : null
    });
  }, 300);
};
"##;

fn drive(browser: &Browser, target: &Path, url: &str) -> serde_json::Value {
    drive_sized(browser, target, url, DRIVER, (1280, 6000), &[])
}

fn drive_with(browser: &Browser, target: &Path, url: &str, script: &str) -> serde_json::Value {
    drive_sized(browser, target, url, script, (1280, 900), &[])
}

/// `drive_with`, the iframe (the page's viewport) `size` wide and high at the start, Chromium
/// run with `extra` arguments.
fn drive_sized(
    browser: &Browser,
    target: &Path,
    url: &str,
    script: &str,
    (width, height): (u32, u32),
    extra: &[&str],
) -> serde_json::Value {
    let driver = target.join("driver.html");
    std::fs::write(
        &driver,
        format!(
            "<!doctype html><iframe id=\"page\" src=\"{url}\" width=\"{width}\" height=\"{height}\"></iframe>\
             <pre id=\"out\"></pre><script>{script}</script>"
        ),
    )
    .unwrap();
    let run = browser.load(
        &format!("file://{}", driver.display()),
        &[&["--allow-file-access-from-files"], extra].concat(),
    );
    let start = run.dom.find("<pre id=\"out\">").expect("driver page") + "<pre id=\"out\">".len();
    let end = run.dom[start..].find("</pre>").unwrap() + start;
    serde_json::from_str(&unescape(&run.dom[start..end]))
        .unwrap_or_else(|e| panic!("the driver did not finish ({e}):\n{}\n{}", run.dom, run.log))
}

/// The page at `url` as the browser shows it without JavaScript. `--dump-dom` itself needs
/// script, so the page is opened in an iframe sandboxed without `allow-scripts` (its own script
/// cannot run), and a wrapper page copies the iframe's DOM out as text.
fn without_javascript(browser: &Browser, target: &Path, url: &str) -> String {
    let wrapper = target.join("no-javascript.html");
    std::fs::write(
        &wrapper,
        format!(
            "<!doctype html><iframe id=\"page\" sandbox=\"allow-same-origin\" src=\"{url}\"></iframe>\
             <pre id=\"dom\"></pre><script>document.getElementById('page').onload = function () {{\
             document.getElementById('dom').textContent = this.contentDocument.documentElement.outerHTML; }};</script>"
        ),
    )
    .unwrap();
    let wrapped = browser.load(
        &format!("file://{}", wrapper.display()),
        &["--allow-file-access-from-files"],
    );
    let copied = wrapped
        .dom
        .find("<pre id=\"dom\">&lt;html")
        .unwrap_or_else(|| {
            panic!(
                "the wrapper did not copy the page:\n{}\n{}",
                wrapped.dom, wrapped.log
            )
        });
    unescape(&wrapped.dom[copied..])
}

/// Chromium, or `None` after saying the test `name` is skipped (on CI a missing Chromium fails).
fn chromium_or_skip(name: &str) -> Option<PathBuf> {
    let exe = chromium();
    if exe.is_none() {
        if on_ci() {
            panic!(
                "chromium is not installed, and CI is set: .ci/run must install it (apt-get install -y chromium)"
            );
        }
        eprintln!(
            "SKIPPED {name}: no chromium at /usr/bin/chromium or on PATH \
             (install it with `apt-get install chromium`; on CI this test fails instead)"
        );
    }
    exe
}

/// The page rendered fresh from the bundled registry into `target/browser/<dir>/` (each test its
/// own directory and Chromium profile, as the tests run in parallel): the registry, the
/// directory, the page's `file://` URL and its HTML, and a browser to load it in.
/// The bundled registry, loaded for its docs.
fn docs_of(path: &Path) -> workerflow_registry::docs::Docs {
    workerflow_registry::Source::open(path)
        .expect("registry")
        .docs()
        .expect("a valid registry")
}

fn rendered(exe: PathBuf, dir: &str) -> (Arc<Registry>, PathBuf, String, String, Browser) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = docs_of(&root.join(workerflow_registry::REGISTRY_PATH));
    rendered_from(exe, dir, loaded.registry, loaded.source)
}

/// `rendered` for a registry of `size` services: the bundled ones again and again with
/// numbered names, ids, ranks and route ids.
fn rendered_large(
    exe: PathBuf,
    dir: &str,
    size: usize,
) -> (Arc<Registry>, PathBuf, String, String, Browser) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = docs_of(&root.join(workerflow_registry::REGISTRY_PATH));
    let mut registry = (*loaded.registry).clone();
    let originals = std::mem::take(&mut registry.services);
    registry.services = (0..size)
        .map(|i| {
            let mut service = originals[i % originals.len()].clone();
            if i >= originals.len() {
                service.id = format!("{}_{i}", service.id);
                service.connector_name = format!("{} {i}", service.connector_name);
                for route in service.runtime.iter_mut().flat_map(|r| &mut r.routes) {
                    route.id = format!("{}_{i}", route.id);
                }
            }
            service.rank = Some(u32::try_from(i).unwrap() + 1);
            service
        })
        .collect();
    rendered_from(exe, dir, Arc::new(registry), loaded.source)
}

fn rendered_from(
    exe: PathBuf,
    dir: &str,
    registry: Arc<Registry>,
    source: workerflow_registry::docs::SourceInfo,
) -> (Arc<Registry>, PathBuf, String, String, Browser) {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("browser")
        .join(dir);
    std::fs::create_dir_all(&target).unwrap();
    let html = Renderer::embedded()
        .unwrap()
        .prepare(registry.clone(), source)
        .render(Page::Html)
        .unwrap();
    let page = target.join("SERVICE_API_INDEX.html");
    std::fs::write(&page, &html).unwrap();
    let browser = Browser {
        exe,
        profile: target.join("profile"),
        proxy: RequestLog::start(),
    };
    (
        registry,
        target,
        format!("file://{}", page.display()),
        html,
        browser,
    )
}

#[test]
fn the_page_works_in_a_real_browser() {
    let Some(exe) = chromium_or_skip("the_page_works_in_a_real_browser") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = docs_of(&root.join(workerflow_registry::REGISTRY_PATH));
    let registry = loaded.registry.clone();
    let total = registry.services.len();

    // Render fresh from the registry (docs freshness is another test's business).
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("browser");
    std::fs::create_dir_all(&target).unwrap();
    let renderer = Renderer::embedded().unwrap();
    let html = renderer
        .prepare(registry.clone(), loaded.source.clone())
        .render(Page::Html)
        .unwrap();
    let page = target.join("SERVICE_API_INDEX.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let browser = Browser {
        exe,
        profile: target.join("profile"),
        proxy: RequestLog::start(),
    };

    let plain = without_javascript(&browser, &target, &url);
    assert!(
        !plain.contains("<button type=\"button\">"),
        "the page's script did not run"
    );
    let all = table_rows(&plain, "wf-static");
    assert_eq!(
        all.len(),
        total,
        "every service has a row without JavaScript"
    );
    assert!(rows(&plain).is_empty(), "no window without JavaScript");
    assert!(all.iter().all(|row| !row.hidden));
    assert_eq!(
        status(&plain),
        format!("Showing {total} of {total} services")
    );
    assert!(plain.contains("<form id=\"wf-controls\" class=\"controls\" role=\"search\" aria-label=\"Filter services\" hidden=\"\">"));

    // With JavaScript and no state: everything shown, controls revealed, sorted by rank. (The
    // window's first frame renders 64 rows before it has measured one; a dump taken on a loaded
    // machine may come before the frame that fills the tall viewport, so the count is read from
    // the status line and the grid's row count, which do not wait for frames.)
    let start = browser.load(&url, &[TALL]);
    let shown = visible(&start.dom).len();
    assert!((64..=total).contains(&shown), "{shown} rows rendered");
    assert_eq!(
        status(&start.dom),
        format!("Showing {total} of {total} services")
    );
    assert!(
        start
            .dom
            .contains(&format!("aria-rowcount=\"{}\"", total + 1)),
        "the grid counts every service"
    );
    assert!(start.dom.contains("<form id=\"wf-controls\" class=\"controls\" role=\"search\" aria-label=\"Filter services\">"));
    assert_eq!(rows(&start.dom)[0].id, "google_sheets");
    assert_eq!(
        sort_state(&start.dom)[0],
        ("rank".into(), "ascending".into())
    );
    assert!(start.dom.contains("<th scope=\"col\" data-sort=\"name\" aria-sort=\"none\"><button type=\"button\">Connector</button></th>"));

    // Typing "slack" in the search box (the box writes ?q=slack into the URL).
    // Results come best match first: the service named "Slack" before those that only mention it.
    let typed = browser.load(&format!("{url}?q=slack"), &[TALL]);
    let expected = ranked(&registry, "slack");
    let mut matching: Vec<&str> = registry
        .services
        .iter()
        .filter(|s| search_key(s).contains("slack"))
        .map(|s| s.id.as_str())
        .collect();
    matching.sort_unstable();
    let mut found = expected.clone();
    found.sort_unstable();
    assert_eq!(found, matching);
    assert_eq!(expected[0], "slack");
    assert_eq!(visible(&typed.dom), expected);
    assert_eq!(
        sort_state(&typed.dom)[0],
        ("rank".into(), "none".into()),
        "ordered by relevance, no column"
    );
    assert_eq!(
        status(&typed.dom),
        format!("Showing {} of {total} services", expected.len())
    );

    // Two words narrow further; a route id and a URL are searchable too.
    let route = browser.load(&format!("{url}?q=hubspot_deal"), &[TALL]);
    assert_eq!(visible(&route.dom), ["hubspot"]);
    let by_url = browser.load(&format!("{url}?q=api.slack.com"), &[TALL]);
    assert_eq!(visible(&by_url.dom), ["slack"]);

    // A secret's name finds the service whose route needs it.
    let by_secret = browser.load(&format!("{url}?q=SLACK_WEBHOOK_URL"), &[TALL]);
    assert_eq!(visible(&by_secret.dom), ["slack"]);

    // `workerflow mcp`'s search_services matches and orders by the registry crate's rule: the
    // page shows exactly the services it finds, in its order.
    for query in [
        "webhook",
        "api_key stripe",
        "https://developers",
        "OAuth2 CRM",
        "google",
        "mail",
        "go",
        "sheets google",
    ] {
        let page = browser.load(&format!("{url}?q={}", query.replace(' ', "+")), &[TALL]);
        let expected = ranked(&registry, query);
        assert!(!expected.is_empty(), "{query}");
        assert_eq!(visible(&page.dom), expected, "{query}");
        assert_eq!(search_services(query), expected, "{query}: the tool itself");
    }
    // A column header clicked during a search sorts the results by that column.
    let by_name = browser.load(&format!("{url}?q=google&sort=name&dir=asc"), &[TALL]);
    let mut google: Vec<(String, &str)> = ranked(&registry, "google")
        .into_iter()
        .map(|id| {
            (
                registry.service(id).unwrap().connector_name.to_lowercase(),
                id,
            )
        })
        .collect();
    google.sort();
    let google: Vec<&str> = google.into_iter().map(|(_, id)| id).collect();
    assert_eq!(visible(&by_name.dom), google);
    // A word that only notes hold finds the services whose notes say it.
    let in_notes: Vec<&str> = registry
        .services
        .iter()
        .filter(|s| s.notes.as_deref().is_some_and(|n| n.contains("quickly")))
        .map(|s| s.id.as_str())
        .collect();
    assert!(!in_notes.is_empty(), "the bundled notes say \"quickly\"");
    assert!(
        registry
            .services
            .iter()
            .all(|s| in_notes.contains(&s.id.as_str()) || !search_key(s).contains("quickly")),
        "\"quickly\" is found in notes only"
    );
    let by_notes = browser.load(&format!("{url}?q=quickly"), &[TALL]);
    assert_eq!(visible(&by_notes.dom), in_notes);
    assert!(!empty_message(&by_notes.dom).0, "results, so no message");

    // Nothing matches: no row, and a message that says so.
    let nothing = browser.load(&format!("{url}?q=zzqx-no-such-service&routes=1"), &[TALL]);
    assert!(visible(&nothing.dom).is_empty());
    assert_eq!(
        status(&nothing.dom),
        format!("Showing 0 of {total} services")
    );
    assert_eq!(
        empty_message(&nothing.dom),
        (
            true,
            format!(
                "No service matches \u{201c}zzqx-no-such-service\u{201d} with the chosen filters. \
                 Try fewer or shorter words, or Clear to see all {total} services."
            )
        )
    );
    // The search box says what it searches and how to reach it.
    assert!(
        start.dom.contains(
            "placeholder=\"Name, vendor, id, auth, route, secret, URL or notes (press /)\""
        )
    );

    // Ticking the "api_key" auth filter and "has runtime routes".
    let filtered = browser.load(&format!("{url}?auth=api_key&routes=1"), &[TALL]);
    let expected: Vec<&str> = registry
        .services
        .iter()
        .filter(|s| s.auth_type.as_str() == "api_key" && !s.routes().is_empty())
        .map(|s| s.id.as_str())
        .collect();
    let mut shown = visible(&filtered.dom);
    shown.sort();
    let mut expected_sorted: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected_sorted.sort();
    assert_eq!(shown, expected_sorted);
    assert_eq!(
        status(&filtered.dom),
        format!("Showing {} of {total} services", expected.len())
    );
    // Each filter's count says how many rows choosing it would show, given the other filters.
    let api_key_with_routes = expected.len();
    assert!(filtered.dom.contains(&format!(
        "data-count-for=\"auth:api_key\">{api_key_with_routes}<"
    )));

    // Clicking "Connector" twice: sorted by name, descending.
    let sorted = browser.load(&format!("{url}?sort=name&dir=desc"), &[TALL]);
    let order: Vec<String> = rows(&sorted.dom).into_iter().map(|r| r.id).collect();
    let mut names: Vec<(String, String)> = registry
        .services
        .iter()
        .map(|s| (s.connector_name.to_lowercase(), s.id.clone()))
        .collect();
    names.sort();
    assert_eq!(
        order[0],
        names.last().unwrap().1,
        "first row is last by name"
    );
    assert_eq!(
        order.last().unwrap(),
        &names[0].1,
        "last row is first by name"
    );
    assert_eq!(
        sort_state(&sorted.dom),
        [
            ("rank".into(), "none".into()),
            ("name".into(), "descending".into()),
            ("vendor".into(), "none".into()),
            ("auth".into(), "none".into()),
            ("confidence".into(), "none".into()),
        ]
    );

    // A link to #slack highlights that row, even while a filter would hide it.
    let anchored = browser.load(&format!("{url}?q=github#slack"), &[TALL]);
    let slack = rows(&anchored.dom)
        .into_iter()
        .find(|r| r.id == "slack")
        .expect("slack row");
    assert!(!slack.hidden, "the linked row stays visible");
    assert!(
        slack.class.split(' ').any(|c| c == "is-target"),
        "{slack:?}"
    );
    assert_eq!(
        rows(&anchored.dom)
            .iter()
            .filter(|r| r.class.contains("is-target"))
            .count(),
        1
    );
    // The count includes the linked row, and says why it is there.
    let github = registry
        .services
        .iter()
        .filter(|s| search_key(s).contains("github"))
        .count();
    assert!(github > 0 && !search_key(registry.service("slack").unwrap()).contains("github"));
    assert_eq!(visible(&anchored.dom).len(), github + 1);
    assert_eq!(
        status(&anchored.dom),
        format!(
            "Showing {} of {total} services ({github} matching, and the linked service #slack)",
            github + 1
        )
    );

    // Typing, ticking, clicking and Back, as events: a driver page opens the page in a
    // same-origin iframe and acts on it through the DOM the way a person's input does (set the
    // box's value and fire `input`; `click()` a checkbox and a header button; `history.back()`),
    // then reports what the page shows.
    let driven = drive(&browser, &target, &url);
    assert_eq!(driven["slash"], "wf-q", "pressing / focuses the search box");
    assert_eq!(driven["typed"]["url"], "?q=slack");
    assert_eq!(
        driven["typed"]["status"],
        format!(
            "Showing {} of {total} services",
            driven["typed"]["visible"].as_array().unwrap().len()
        )
    );
    assert!(
        driven["typed"]["visible"]
            .as_array()
            .unwrap()
            .contains(&"slack".into())
    );
    let api_key = registry
        .services
        .iter()
        .filter(|s| s.auth_type.as_str() == "api_key")
        .count();
    assert_eq!(driven["ticked"]["url"], "?auth=api_key");
    assert_eq!(
        driven["ticked"]["visible"].as_array().unwrap().len(),
        api_key
    );
    assert_eq!(
        driven["ticked"]["status"],
        format!("Showing {api_key} of {total} services")
    );
    assert_eq!(driven["sorted"]["url"], "?auth=api_key&sort=name&dir=desc");
    assert_eq!(driven["sorted"]["aria"], "descending");
    let mut api_key_names: Vec<(String, String)> = registry
        .services
        .iter()
        .filter(|s| s.auth_type.as_str() == "api_key")
        .map(|s| (s.connector_name.to_lowercase(), s.id.clone()))
        .collect();
    api_key_names.sort();
    assert_eq!(
        driven["sorted"]["first"],
        api_key_names.last().unwrap().1.as_str()
    );
    // Back undoes the second click (ascending), then the first (rank order again).
    assert_eq!(driven["back1"]["url"], "?auth=api_key&sort=name&dir=asc");
    assert_eq!(driven["back1"]["aria"], "ascending");
    assert_eq!(driven["back1"]["first"], api_key_names[0].1.as_str());
    assert_eq!(driven["back2"]["url"], "?auth=api_key");
    assert_eq!(driven["back2"]["aria"], "none");
    assert_eq!(
        driven["back2"]["checked"], true,
        "the checkbox follows the URL"
    );
    assert_eq!(driven["cleared"]["url"], "");
    assert_eq!(
        driven["cleared"]["status"],
        format!("Showing {total} of {total} services")
    );

    // The page's own style and script ran under its Content-Security-Policy, and nothing was
    // refused or thrown.
    for run in [
        &start, &typed, &filtered, &sorted, &anchored, &by_secret, &by_notes, &nothing,
    ] {
        for problem in ["Refused to", "Content Security Policy", "Uncaught"] {
            assert!(
                !run.log.contains(problem),
                "console: {problem}\n{}",
                run.log
            );
        }
    }

    // A link to a route's section lands on it: the heading, the input-fields table and the
    // first example are on screen, as the registry's contract says.
    let stripe = registry
        .routes()
        .find(|(_, route)| route.id == "stripe_customer_upsert")
        .map(|(_, route)| route)
        .expect("stripe_customer_upsert is bundled");
    let fields: Vec<String> = stripe
        .input
        .as_ref()
        .and_then(|schema| schema["properties"].as_object())
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default();
    assert!(!fields.is_empty(), "the route declares input fields");
    let first_example = stripe
        .examples
        .as_deref()
        .and_then(<[_]>::first)
        .map(|example| format!("Example: {}", example.name))
        .expect("the route declares an example");
    let section = drive_with(
        &browser,
        &target,
        &format!("{url}#route-stripe_customer_upsert"),
        ROUTE_DRIVER,
    );
    assert_eq!(
        section,
        serde_json::json!({
            "target": true,
            "inViewport": true,
            "heading": "Route stripe_customer_upsert",
            "headingShown": true,
            "tableShown": true,
            "tableTag": "TABLE",
            "fields": fields,
            "example": first_example,
            "exampleShown": true,
            "request": "POST /api/stripe_customer_upsert",
        })
    );

    // Screenshots for people to look at: desktop and phone widths.
    let shot = target.join("SERVICE_API_INDEX.png");
    let _ = std::fs::remove_file(&shot);
    browser.load(
        &format!("{url}?q=google&confidence=High"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--hide-scrollbars",
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture"
    );
    let phone = target.join("SERVICE_API_INDEX-phone.png");
    browser.load(
        &url,
        &[
            &format!("--screenshot={}", phone.display()),
            "--window-size=390,844",
            "--hide-scrollbars",
        ],
    );
    assert!(phone.is_file());
    eprintln!("screenshots: {} and {}", shot.display(), phone.display());

    // No request left the page: every connection Chromium made went through the logging
    // proxy, and none was for a host the page names or for a file beside it. (Chromium's own
    // background requests to its update servers may appear and are not the page's.)
    std::thread::sleep(std::time::Duration::from_millis(200));
    let requests = browser.proxy.requests.lock().unwrap().clone();
    for host in hosts(&registry) {
        for request in &requests {
            assert!(
                !request.contains(&host),
                "the page made a request to {host}: {request}"
            );
        }
    }
    assert!(
        !requests.iter().any(|r| r.contains("favicon")),
        "{requests:?}"
    );
}

/// Opens a link to a row far down and reports the focused row, then presses keys on it
/// (PageDown, ArrowDown, End, PageUp, Home) and reports the focused row after each: its id,
/// `aria-rowindex`, whether it is inside the viewport below the sticky header, and how many
/// rows are in the table.
const WINDOW_DRIVER: &str = r##"
var frame = document.getElementById("page"), started = false, out = {};
frame.onload = function () {
  if (started) return;
  started = true;
  var w = frame.contentWindow, d = frame.contentDocument;
  function focusedRow() {
    var row = d.activeElement, table = d.getElementById("wf-table");
    var box = row && row.getBoundingClientRect(), head = table.tHead.getBoundingClientRect();
    return {
      id: row && row.getAttribute("data-id"), tag: row && row.tagName, index: row && row.getAttribute("aria-rowindex"),
      target: !!row && row.classList.contains("is-target"),
      inView: !!box && box.top >= head.bottom - 1 && box.bottom <= w.innerHeight + 1,
      rendered: table.tBodies[0].rows.length, rowcount: table.getAttribute("aria-rowcount")
    };
  }
  var keys = ["PageDown", "ArrowDown", "End", "PageUp", "Home"];
  setTimeout(function () {
    out.linked = focusedRow();
    (function next(i) {
      if (i === keys.length) { document.getElementById("out").textContent = JSON.stringify(out); return; }
      d.activeElement.dispatchEvent(new w.KeyboardEvent("keydown", { key: keys[i], bubbles: true, cancelable: true }));
      setTimeout(function () { out[keys[i]] = focusedRow(); next(i + 1); }, 100);
    })(0);
  }, 500);
};
"##;

#[test]
fn the_window_holds_10000_services() {
    let Some(exe) = chromium_or_skip("the_window_holds_10000_services") else {
        return;
    };
    let (registry, target, url, html, browser) = rendered_large(exe, "large", 10_000);
    let total = registry.services.len();

    // Without script, the static table lists every service.
    let plain = without_javascript(&browser, &target, &url);
    let all = table_rows(&plain, "wf-static");
    assert_eq!(all.len(), total, "every service has a static row");
    assert_eq!(all[9_999].id, registry.services[9_999].id);
    assert!(html.contains("<noscript id=\"wf-static-source\">"));

    // With script, a screenful of rows is in the document, and the table says how many there are.
    let start = browser.load(&url, &[]);
    let shown = rows(&start.dom);
    assert!(
        (15..100).contains(&shown.len()),
        "{} rows rendered",
        shown.len()
    );
    assert_eq!(shown[0].id, registry.services[0].id);
    assert!(
        start
            .dom
            .contains(&format!("aria-rowcount=\"{}\"", total + 1))
    );
    assert_eq!(
        status(&start.dom),
        format!("Showing {total} of {total} services")
    );

    // A link to a row far down renders it, in view, marked and focused; the keys move the focus.
    let far = &registry.services[8_765].id;
    let keyed = drive_sized(
        &browser,
        &target,
        &format!("{url}#{far}"),
        WINDOW_DRIVER,
        (1400, 900),
        &[],
    );
    let linked = &keyed["linked"];
    assert_eq!(linked["id"], far.as_str(), "{keyed}");
    assert_eq!(linked["tag"], "TR");
    assert_eq!(linked["index"], "8767", "row 8,766 after the header row");
    assert_eq!(linked["target"], true);
    assert_eq!(linked["inView"], true, "{keyed}");
    assert_eq!(linked["rowcount"], "10001");
    assert!(linked["rendered"].as_u64().unwrap() < 100, "{keyed}");
    let index = |key: &str| -> u64 { keyed[key]["index"].as_str().unwrap().parse().unwrap() };
    let page = index("PageDown") - 8767;
    assert!(page >= 10, "Page Down moves a screenful: {keyed}");
    assert_eq!(index("ArrowDown"), 8767 + page + 1);
    assert_eq!(keyed["End"]["id"], registry.services[total - 1].id.as_str());
    assert_eq!(index("End"), 10_001);
    assert_eq!(index("PageUp"), 10_001 - page);
    assert_eq!(keyed["Home"]["id"], registry.services[0].id.as_str());
    assert_eq!(index("Home"), 2);
    for key in ["PageDown", "ArrowDown", "End", "PageUp", "Home"] {
        assert_eq!(keyed[key]["inView"], true, "{key}: {keyed}");
    }

    // The same on a phone, where rows are cards of their own heights.
    let phone = drive_sized(
        &browser,
        &target,
        &format!("{url}#{far}"),
        WINDOW_DRIVER,
        (375, 812),
        &[],
    );
    assert_eq!(phone["linked"]["id"], far.as_str(), "{phone}");
    for key in ["linked", "PageDown", "ArrowDown", "End", "PageUp", "Home"] {
        assert_eq!(phone[key]["inView"], true, "{key}: {phone}");
    }
    assert_eq!(phone["End"]["index"], "10001");
    assert_eq!(phone["Home"]["index"], "2");

    // Over 500 routes, a route's section is shown when a link asks for it (the badge's).
    let routes = registry.routes().count();
    assert!(routes > 500, "{routes} routes");
    assert!(html.contains("<noscript id=\"wf-route-sections\">"));
    let section = drive_with(
        &browser,
        &target,
        &format!("{url}#route-stripe_customer_upsert_9898"),
        ROUTE_DRIVER,
    );
    assert_eq!(
        section["heading"], "Route stripe_customer_upsert_9898",
        "{section}"
    );
    assert_eq!(section["inViewport"], true, "{section}");
    assert_eq!(section["tableShown"], true, "{section}");
    assert_eq!(section["exampleShown"], true, "{section}");

    // Ranked search at scale: the best matches first, as search_services orders them.
    let typed = browser.load(&format!("{url}?q=slack"), &[]);
    let expected = ranked(&registry, "slack");
    let shown = visible(&typed.dom);
    assert!(shown.len() >= 15, "{shown:?}");
    assert_eq!(shown, expected[..shown.len()]);
    assert_eq!(
        status(&typed.dom),
        format!("Showing {} of {total} services", expected.len())
    );
    for run in [&start, &typed] {
        for problem in ["Refused to", "Content Security Policy", "Uncaught"] {
            assert!(
                !run.log.contains(problem),
                "console: {problem}\n{}",
                run.log
            );
        }
    }
}

#[test]
fn the_page_cannot_request_anything_by_construction() {
    // A static check of the same page, which needs no browser: no external resource
    // references, a CSP that forbids every fetch, and a script with no network API in it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let html = std::fs::read_to_string(root.join("docs/SERVICE_API_INDEX.html")).unwrap();
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'sha256-"
    ));
    assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
    for attribute in [
        " src=\"",
        " srcset=\"",
        " action=\"",
        " poster=\"",
        " data=\"",
    ] {
        assert!(!html.contains(attribute), "{attribute} in the page");
    }
    // Every href is an outbound link the user may click, an in-page anchor, or the favicon.
    for (at, _) in html.match_indices(" href=\"") {
        let value = &html[at + 7..at + 7 + html[at + 7..].find('"').unwrap()];
        let tag_start = html[..at].rfind('<').unwrap();
        let tag = &html[tag_start..at];
        assert!(
            (tag.starts_with("<a") && (value.starts_with("https://") || value.starts_with('#')))
                || (tag.starts_with("<link rel=\"icon\"") && value == "data:,"),
            "{tag} href={value}"
        );
    }
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(
        !style.contains("@import") && !style.contains("url("),
        "CSS loads nothing"
    );
    let script = &html[html.rfind("<script>").unwrap()..html.rfind("</script>").unwrap()];
    for api in [
        "fetch(",
        "XMLHttpRequest",
        "WebSocket",
        "EventSource",
        "sendBeacon",
        "import(",
        "new Image",
        "createElement(\"img",
        "createElement(\"script",
        "src =",
        ".src=",
    ] {
        assert!(!script.contains(api), "the script uses {api}");
    }
}

/// The widths the layout is checked at, 320 to 2560 px: phones, the cards breakpoint (800) and
/// the one where Rank and Vendor come back (1280) with their neighbours, and common screens.
const WIDTHS: [u32; 22] = [
    320, 360, 375, 414, 480, 640, 720, 768, 799, 800, 801, 900, 1000, 1024, 1200, 1279, 1280, 1366,
    1400, 1600, 1920, 2560,
];

/// Measures the page at its starting size (the rows whose box is wholly inside the viewport),
/// then at each of `WIDTHS` (900 px high): the document's scroll and client widths, whether rows
/// are cards, the width of each column header shown, and the rows wider than the viewport or
/// than their own box.
const LAYOUT_DRIVER: &str = r##"
var frame = document.getElementById("page"), started = false;
frame.onload = function () {
  if (started) return;
  started = true;
  var w = frame.contentWindow, d = frame.contentDocument, de = d.documentElement;
  var table = d.getElementById("wf-table");
  function shownRows() {
    return Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; });
  }
  var result = {
    viewport: [w.innerWidth, w.innerHeight],
    rows: shownRows().filter(function (r) { return r.getBoundingClientRect().bottom <= w.innerHeight; }).length,
    widths: []
  };
  (function next(i) {
    if (i === WIDTHS.length) { document.getElementById("out").textContent = JSON.stringify(result); return; }
    frame.width = WIDTHS[i];
    frame.height = 900;
    setTimeout(function () {
      var cards = w.getComputedStyle(table).display === "block";
      var columns = Array.prototype.filter.call(table.tHead.rows[0].cells, function (th) {
        return th.getClientRects().length > 0;
      }).map(function (th) { return th.getBoundingClientRect().width; });
      result.widths.push({
        width: WIDTHS[i],
        scrollWidth: de.scrollWidth,
        clientWidth: de.clientWidth,
        cards: cards,
        columns: cards ? [] : columns,
        overflowing: shownRows().filter(function (r) {
          return r.getBoundingClientRect().right > de.clientWidth + 0.5 || r.scrollWidth > r.clientWidth + 1;
        }).map(function (r) { return r.getAttribute("data-id"); })
      });
      next(i + 1);
    }, 100);
  })(0);
};
"##;

#[test]
fn the_page_fits_every_width_and_a_screen_holds_15_rows() {
    let Some(exe) = chromium_or_skip("the_page_fits_every_width_and_a_screen_holds_15_rows") else {
        return;
    };
    let (registry, target, url, _, browser) = rendered(exe, "layout");
    assert!(registry.services.len() >= 100, "measured at scale");
    let script = format!("var WIDTHS = {WIDTHS:?};{LAYOUT_DRIVER}");
    let layout = drive_sized(&browser, &target, &url, &script, (1400, 900), &[]);

    // Rows per 1400 x 900 screen, everything above the table (heading, controls) included.
    assert_eq!(
        layout["viewport"],
        serde_json::json!([1400, 900]),
        "{layout}"
    );
    let rows = layout["rows"].as_u64().unwrap();
    eprintln!("rows wholly on the first 1400 x 900 screen: {rows}");
    assert!(rows >= 15, "only {rows} rows fit on a 1400 x 900 screen");

    let mut problems = Vec::new();
    for step in layout["widths"].as_array().unwrap() {
        let width = &step["width"];
        let (scroll, client) = (&step["scrollWidth"], &step["clientWidth"]);
        if scroll.as_f64() > client.as_f64() {
            problems.push(format!(
                "{width} px: the page scrolls sideways ({scroll} > {client})"
            ));
        }
        let cards = step["cards"].as_bool().unwrap();
        // Rows are cards below 800 px, a table from there on.
        if cards != (width.as_u64().unwrap() < 800) {
            problems.push(format!("{width} px: cards {cards}"));
        }
        let columns: Vec<f64> = step["columns"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_f64())
            .collect();
        let narrowest = columns.iter().copied().fold(f64::INFINITY, f64::min);
        eprintln!(
            "{width} px: {} narrowest column {}",
            if cards { "cards," } else { "table," },
            if cards {
                "-".to_owned()
            } else {
                format!("{narrowest:.0} px of {}", columns.len())
            }
        );
        if !cards && narrowest < 120.0 {
            problems.push(format!("{width} px: a column is {narrowest:.1} px wide"));
        }
        if !step["overflowing"].as_array().unwrap().is_empty() {
            problems.push(format!(
                "{width} px: rows wider than the page: {}",
                step["overflowing"]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The axe-core release `.ci/run` installs: the rules, and so the result, are this version's.
const AXE_CORE_VERSION: &str = "4.14.1";

/// axe-core's `axe.min.js`: `AXE_CORE_JS`, else where `.ci/run` installs the pinned version
/// (`target/axe`, beside the default target dir).
fn axe_core() -> Option<PathBuf> {
    std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .or_else(|| {
            Some(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("target/axe/node_modules/axe-core/axe.min.js"),
            )
        })
        .filter(|path| path.is_file())
}

/// Runs axe-core in the page at 1400 x 900 and at 375 x 812, and reports each run's size,
/// whether the page saw a dark colour scheme, and the violations (rule id, impact, help,
/// targets).
const AXE_DRIVER: &str = r##"
var frame = document.getElementById("page"), started = false, out = [];
function done() { document.getElementById("out").textContent = JSON.stringify(out); }
frame.onload = function () {
  var w = frame.contentWindow, d = frame.contentDocument;
  // A load event of the frame's initial about:blank is not the page's: wait for the page.
  if (started || d.URL.indexOf("SERVICE_API_INDEX-axe.html") < 0) return;
  started = true;
  var refused = [];
  d.addEventListener("securitypolicyviolation", function (e) {
    refused.push(e.violatedDirective + " refused " + e.blockedURI + " (sample " + e.sample + ")");
  });
  // Once more after a pause if the first insertion did not define axe (a refusal by the CSP is
  // deterministic, so it fails both times and is reported with what the browser said).
  (function insert(attempt) {
    var script = d.createElement("script");
    script.textContent = AXE_SOURCE;
    d.head.appendChild(script);
    if (w.axe) return measure();
    if (attempt < 2) return setTimeout(function () { insert(attempt + 1); }, 500);
    out.push({ error: "axe-core did not run in the page: url " + d.URL + ", readyState " +
      d.readyState + ", CSP refusals [" + refused.join("; ") + "]" });
    done();
  })(1);
};
function measure() {
  var w = frame.contentWindow, d = frame.contentDocument;
  var sizes = [[1400, 900], [375, 812]];
  (function next(i) {
    if (i === sizes.length) return done();
    frame.width = sizes[i][0];
    frame.height = sizes[i][1];
    setTimeout(function () {
      w.axe.run(d, { resultTypes: ["violations"] }).then(function (r) {
        out.push({
          size: [w.innerWidth, w.innerHeight],
          dark: w.matchMedia("(prefers-color-scheme: dark)").matches,
          version: w.axe.version,
          passed: r.passes.length,
          violations: r.violations.map(function (v) {
            return { id: v.id, impact: v.impact, help: v.help,
              targets: v.nodes.slice(0, 8).map(function (n) { return n.target.join(" "); }) };
          })
        });
        next(i + 1);
      }, function (e) { out.push({ error: String(e) }); done(); });
    }, 200);
  })(0);
}
"##;

/// Runs axe-core (its source `source`, from `axe`) on `html` at desktop and phone sizes, dark
/// and light, and returns the violations, each labelled with `label`.
fn axe_problems(
    browser: &Browser,
    target: &Path,
    html: &str,
    source: &str,
    axe: &Path,
    label: &str,
) -> Vec<String> {
    // The page's CSP runs only its own script, so a test copy also allows axe-core by its hash;
    // the driver then adds axe as an inline <script> in the page. (eval or Function from the
    // driver would be refused too: the page's CSP has no 'unsafe-eval'.) Everything else about
    // the page, its CSP included, is as shipped.
    let csp = "script-src '";
    assert!(html.contains(csp));
    let copy = target.join("SERVICE_API_INDEX-axe.html");
    std::fs::write(
        &copy,
        html.replacen(
            csp,
            &format!(
                "script-src '{}' '",
                workerflow_registry::internals::csp_hash(source)
            ),
            1,
        ),
    )
    .unwrap();
    // A JSON string is a JS string literal; "</" is escaped so it cannot end the driver's script.
    let literal = serde_json::to_string(&source)
        .unwrap()
        .replace("</", "<\\/");
    let script = format!("var AXE_SOURCE = {literal};{AXE_DRIVER}");
    let mut problems = Vec::new();
    for (scheme, dark) in [("0", true), ("1", false)] {
        let runs = drive_sized(
            browser,
            target,
            &format!("file://{}", copy.display()),
            &script,
            (1400, 900),
            &[
                &format!("--blink-settings=preferredColorScheme={scheme}"),
                "--virtual-time-budget=60000",
            ],
        );
        let runs = runs.as_array().unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        for run in runs {
            assert!(run.get("error").is_none(), "{run}");
            assert_eq!(run["dark"], dark, "the colour scheme was emulated: {run}");
            eprintln!(
                "axe-core {} on {label} services at {}, {}: {} rules passed, {} violated",
                run["version"],
                run["size"],
                if dark { "dark" } else { "light" },
                run["passed"],
                run["violations"].as_array().unwrap().len()
            );
            assert!(
                run["passed"].as_u64().unwrap() > 10,
                "axe checked the page: {run}"
            );
            assert_eq!(
                run["version"],
                AXE_CORE_VERSION,
                "{} is not the pinned axe-core (see .ci/run)",
                axe.display()
            );
            for violation in run["violations"].as_array().unwrap() {
                problems.push(format!(
                    "{label} services, {} {}: {} ({}) {}: {}",
                    if dark { "dark" } else { "light" },
                    run["size"],
                    violation["id"],
                    violation["impact"],
                    violation["help"],
                    violation["targets"]
                ));
            }
        }
    }
    problems
}

#[test]
fn axe_core_finds_no_violations() {
    let Some(exe) = chromium_or_skip("axe_core_finds_no_violations") else {
        return;
    };
    let Some(axe) = axe_core() else {
        if on_ci() {
            panic!(
                "axe-core is not installed, and CI is set: .ci/run must install it \
                 (npm install --prefix target/axe axe-core@{AXE_CORE_VERSION})"
            );
        }
        eprintln!(
            "SKIPPED axe_core_finds_no_violations: no target/axe/node_modules/axe-core/axe.min.js \
             (run the npm install line of .ci/run, or set AXE_CORE_JS; on CI this test fails instead)"
        );
        return;
    };
    let source = std::fs::read_to_string(&axe).unwrap();
    let (_, target, _, html, browser) = rendered(exe.clone(), "axe");
    let mut problems = axe_problems(&browser, &target, &html, &source, &axe, "103");
    // The page of a 10,000-service registry: the window and the live count at scale.
    let (_, target, _, html, browser) = rendered_large(exe, "axe-large", 10_000);
    problems.extend(axe_problems(
        &browser, &target, &html, &source, &axe, "10000",
    ));
    assert!(
        problems.is_empty(),
        "axe-core found violations:\n{}",
        problems.join("\n")
    );
}

//! Arbitrary valid registries through what `build` does: compile with the bundled schema, then
//! render both pages from one prepared renderer (`Docs::write_docs` minus the write).
//! Checks that rendering never fails, is deterministic, and that no value adds a `<script` or a
//! `javascript:` link to either page (the counts stay those of the templates alone).
#![no_main]

use std::path::Path;
use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::{Corpus, fuzz_target};
use serde_json::{Value, json};
use workerflow_registry::docs::SourceInfo;
use workerflow_registry::docs::{Page, Renderer};
use workerflow_registry::{Registry, Schema, Source};

static SCHEMA: LazyLock<Arc<Schema>> =
    LazyLock::new(|| Arc::new(Schema::bundled().expect("the bundled schema compiles")));
static RENDERER: LazyLock<Renderer> =
    LazyLock::new(|| Renderer::embedded().expect("the embedded templates compile"));
/// What the templates themselves contain, measured on an empty registry.
static BASELINE: LazyLock<[Markers; 2]> = LazyLock::new(|| {
    let empty = r#"{"version": 1, "updatedAt": "2026-01-01", "notes": null, "services": []}"#;
    let registry = Registry::from_str(empty).expect("the empty registry is valid");
    let pages = render(registry, empty);
    [Markers::of(&pages[0]), Markers::of(&pages[1])]
});

#[derive(Arbitrary, Debug)]
struct Input {
    notes: Option<String>,
    services: Vec<ServiceInput>,
}

#[derive(Arbitrary, Debug)]
struct ServiceInput {
    explicit_id: bool,
    ranked: bool,
    name: String,
    vendor: Option<String>,
    /// officialApiDocsUrl, bestBaseLink, authDocsUrl, webhookDocsUrl, rateLimitDocsUrl,
    /// openapiUrl, officialSdkUrl, changelogUrl: the path after a fixed https host.
    urls: [Option<String>; 8],
    score: Option<u8>,
    reason: Option<String>,
    auth: u8,
    login: u8,
    confidence: u8,
    notes: Option<String>,
    sources: Vec<String>,
    routes: Option<Vec<RouteInput>>,
}

#[derive(Arbitrary, Debug)]
struct RouteInput {
    summary: String,
    sync: bool,
    secrets: Vec<(u8, String, Vec<u8>)>,
}

use workerflow_registry::internals::URL_FIELDS;
use workerflow_registry::model::AuthType;

/// A URL the rules accept, keeping the characters that need escaping in HTML (`'`, `&`, …).
fn url(path: &str) -> String {
    let path: String = path
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !"<>\"`\\{}|^".contains(*c))
        .collect();
    format!("https://example.com/{path}")
}

impl Input {
    fn to_json(&self) -> Value {
        let services: Vec<Value> = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut service = serde_json::Map::new();
                if s.explicit_id {
                    service.insert("id".into(), json!(format!("svc{i}")));
                }
                service.insert("rank".into(), json!(s.ranked.then_some(i + 1)));
                // The index keeps names (and ids derived from them) unique.
                service.insert("connectorName".into(), json!(format!("S{i} {}", s.name)));
                service.insert("officialVendorName".into(), json!(s.vendor));
                for (field, path) in URL_FIELDS.iter().zip(&s.urls) {
                    service.insert((*field).into(), json!(path.as_deref().map(url)));
                }
                service.insert("bestBaseLinkScore".into(), json!(s.score.map(|n| n % 101)));
                service.insert("bestBaseLinkReason".into(), json!(s.reason));
                service.insert(
                    "authType".into(),
                    json!(AuthType::ALL[usize::from(s.auth % 8)].as_str()),
                );
                let login = match s.login % 4 {
                    0 => json!(true),
                    1 => json!(false),
                    2 => json!("unknown"),
                    _ => Value::Null,
                };
                service.insert("docsRequiresLogin".into(), login);
                let confidence = ["High", "Medium", "Low"][usize::from(s.confidence % 3)];
                service.insert("confidence".into(), json!(confidence));
                service.insert("notes".into(), json!(s.notes));
                let mut sources: Vec<String> = s.sources.iter().map(|p| url(p)).collect();
                if sources.is_empty() {
                    sources.push(url("source"));
                }
                service.insert("sources".into(), json!(sources));
                if let Some(routes) = &s.routes {
                    let routes: Vec<Value> = routes
                        .iter()
                        .enumerate()
                        .map(|(j, r)| route(i, j, r))
                        .collect();
                    service.insert("runtime".into(), json!({ "routes": routes }));
                }
                Value::Object(service)
            })
            .collect();
        json!({
            "version": 1,
            "updatedAt": "2026-03-01",
            "notes": self.notes,
            "services": services,
        })
    }
}

fn route(service: usize, index: usize, input: &RouteInput) -> Value {
    let mut seen = Vec::new();
    let secrets: Vec<Value> = input
        .secrets
        .iter()
        .filter(|(n, _, _)| {
            let fresh = !seen.contains(n);
            seen.push(*n);
            fresh
        })
        .map(|(n, label, names)| {
            let mut any_of: Vec<String> = names.iter().map(|k| format!("SECRET_{n}_{k}")).collect();
            any_of.sort();
            any_of.dedup();
            if any_of.is_empty() {
                any_of.push(format!("SECRET_{n}"));
            }
            json!({ "label": format!("L{n} {label}"), "anyOf": any_of })
        })
        .collect();
    json!({
        "id": format!("r{service}_{index}"),
        "summary": format!("R {}", input.summary),
        "requestType": if input.sync { "sync" } else { "async" },
        "secrets": secrets,
    })
}

#[derive(Debug, PartialEq)]
struct Markers {
    script: usize,
    javascript: usize,
}

impl Markers {
    fn of(page: &str) -> Markers {
        let lower = page.to_ascii_lowercase();
        Markers {
            script: lower.matches("<script").count(),
            javascript: lower.matches("href=\"javascript:").count()
                + lower.matches("href='javascript:").count()
                + lower.matches("](javascript:").count(),
        }
    }
}

fn render(registry: Registry, text: &str) -> Vec<String> {
    let source = SourceInfo::of_bytes("connector-registry/services.json", text.as_bytes());
    let prepared = RENDERER.prepare(Arc::new(registry), source);
    Page::ALL
        .iter()
        .map(|&page| {
            prepared
                .render(page)
                .unwrap_or_else(|error| panic!("{page:?} failed to render: {error}"))
        })
        .collect()
}

fuzz_target!(|input: Input| -> Corpus {
    let text = serde_json::to_string_pretty(&input.to_json()).expect("JSON serializes");
    let source = Source::from_bytes(
        Path::new("services.json"),
        "services.json".to_owned(),
        text.clone().into_bytes(),
        SCHEMA.clone(),
    )
    .expect("UTF-8 under the size limit");
    let compiled = source.compile();
    let Some(registry) = compiled.registry else {
        // The generator aims at valid registries; the rest is the check target's business.
        return Corpus::Reject;
    };
    let first = render(registry.clone(), &text);
    let second = render(registry, &text);
    assert_eq!(first, second, "rendering is not deterministic");
    for (page, baseline) in first.iter().zip(BASELINE.iter()) {
        assert_eq!(
            &Markers::of(page),
            baseline,
            "a value added markup:\n{text}"
        );
    }
    Corpus::Keep
});

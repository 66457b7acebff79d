//! The generated pages as people and agents see them: snapshots for a small registry, and a
//! registry whose every text field tries HTML, script, template and Markdown-table injection,
//! which must come out as inert text in both pages.

use std::sync::Arc;

use pulldown_cmark::{Event, Options, Parser, Tag};
use workerflow_registry::docs::SourceInfo;
use workerflow_registry::docs::{Page, Renderer};
use workerflow_registry::{Registry, Service};

const SMALL: &str = include_str!("fixtures/render/small.json");
const INJECTION: &str = include_str!("fixtures/render/injection.json");

fn render(registry: Registry, text: &str, page: Page) -> String {
    let source = SourceInfo::of_bytes("connector-registry/services.json", text.as_bytes());
    Renderer::embedded()
        .expect("embedded templates compile")
        .prepare(Arc::new(registry), source)
        .render(page)
        .expect("renders")
}

fn small(page: Page) -> String {
    let registry = Registry::from_str(SMALL).expect("the fixture is a valid registry");
    render(registry, SMALL, page)
}

/// The injection fixture, built without validation: the registry rules would reject its
/// `javascript:` and `http://` URLs, but a looser schema beside a registry could let them
/// through, so the renderer must be safe on its own.
fn injection(page: Page) -> String {
    let value: serde_json::Value = serde_json::from_str(INJECTION).unwrap();
    let services = value["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_value::<Service>(s.clone()).unwrap())
        .collect();
    let registry = Registry {
        name: value["name"].as_str().map(str::to_owned),
        version: 1,
        updated_at: "2026-03-01".into(),
        notes: value["notes"].as_str().map(str::to_owned),
        services,
        changes: Vec::new(),
    };
    render(registry, INJECTION, page)
}

#[test]
fn markdown_of_a_small_registry() {
    insta::assert_snapshot!(small(Page::Markdown));
}

#[test]
fn html_of_a_small_registry() {
    insta::assert_snapshot!(small(Page::Html));
}

#[test]
fn output_is_deterministic() {
    for page in Page::ALL {
        assert_eq!(small(page), small(page));
        assert_eq!(injection(page), injection(page));
    }
}

#[test]
fn validation_rejects_the_injection_urls_the_renderer_must_still_survive() {
    assert!(Registry::from_str(INJECTION).is_err());
}

/// The part of a page that carries registry data: no content hash, no CSP hashes, no CSS
/// colours, where "49" may occur by chance.
fn data_part(text: &str) -> String {
    let body = text.find("<body>").map_or(text, |start| {
        &text[start..text.rfind("<script>").unwrap_or(text.len())]
    });
    body.lines()
        .filter(|line| !line.contains("sha256") && !line.contains("SHA-256"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn template_syntax_in_data_stays_literal() {
    for page in Page::ALL {
        let text = injection(page);
        // The Markdown escapes `*` (no emphasis from data).
        let seven = if page == Page::Markdown {
            r"{{ 7\*7 }}"
        } else {
            "{{ 7*7 }}"
        };
        assert!(text.contains(seven), "{page:?}: template text kept");
        assert!(text.contains("{% if true %}tag{% endif %}"), "{page:?}");
        assert!(text.contains("{# c #}"), "{page:?}");
        assert!(
            !data_part(&text).contains("49"),
            "{page:?}: data was evaluated as a template"
        );
    }
}

/// A tag found in the HTML (outside the page's own `<style>` and `<script>` bodies).
#[derive(Debug)]
struct TagSeen {
    name: String,
    attributes: Vec<(String, String)>,
}

/// A small HTML tokenizer, enough to list the tags and attributes a browser would see.
fn tags(html: &str) -> Vec<TagSeen> {
    let bytes = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        i += offset + 1;
        if html[i..].starts_with("!--") {
            i += html[i..].find("-->").expect("comment closed") + 3;
            continue;
        }
        if html[i..].starts_with('!') || html[i..].starts_with('/') {
            continue;
        }
        let name_len = html[i..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(0);
        if name_len == 0 {
            continue;
        }
        let name = html[i..i + name_len].to_ascii_lowercase();
        i += name_len;
        let mut attributes = Vec::new();
        loop {
            while bytes[i].is_ascii_whitespace() || bytes[i] == b'/' {
                i += 1;
            }
            if bytes[i] == b'>' {
                i += 1;
                break;
            }
            let attr_len = html[i..]
                .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>')
                .unwrap();
            let attr = html[i..i + attr_len].to_ascii_lowercase();
            i += attr_len;
            let mut value = String::new();
            if bytes[i] == b'=' {
                i += 1;
                let quote = bytes[i];
                assert!(
                    quote == b'"',
                    "unquoted attribute {attr} in <{name}> at {i}"
                );
                let end = html[i + 1..].find('"').unwrap();
                value = html[i + 1..i + 1 + end].to_owned();
                i += end + 2;
            }
            attributes.push((attr, value));
        }
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            i += html[i..].find(&close).expect("raw text element closed");
        }
        tags.push(TagSeen { name, attributes });
    }
    tags
}

const ALLOWED_TAGS: &[&str] = &[
    "html", "head", "meta", "title", "link", "style", "body", "a", "header", "h1", "p", "code",
    "div", "main", "form", "label", "input", "fieldset", "legend", "span", "button", "table",
    "caption", "thead", "tr", "th", "tbody", "td", "details", "summary", "dl", "dt", "dd", "br",
    "footer", "script", "em", "strong", "del", // The route sections (issue 13.2).
    "h2", "h3", "h4", "section", "ul", "li",
    "pre", // Issue 16: fixed column widths, the `/` hint.
    "colgroup", "col", "kbd",
    "noscript", // Issue 31: the static table for readers without script.
];

#[test]
fn html_values_are_escaped_and_only_https_becomes_a_link() {
    let html = injection(Page::Html);
    let tags = tags(&html);
    for tag in &tags {
        assert!(
            ALLOWED_TAGS.contains(&tag.name.as_str()),
            "unexpected <{}> tag: {tag:?}",
            tag.name
        );
        for (attr, value) in &tag.attributes {
            assert!(!attr.starts_with("on"), "event handler attribute: {tag:?}");
            if attr == "href" || attr == "src" {
                assert!(
                    value.starts_with("https://") || value.starts_with('#') || value == "data:,",
                    "{attr}={value:?} in {tag:?}"
                );
            }
        }
        if tag.name == "a"
            && tag
                .attributes
                .iter()
                .any(|(a, v)| a == "href" && v.starts_with("https://"))
        {
            assert!(
                tag.attributes
                    .iter()
                    .any(|(a, v)| a == "rel" && v == "noopener noreferrer"),
                "outbound link without rel: {tag:?}"
            );
        }
    }
    let scripts: Vec<_> = tags.iter().filter(|t| t.name == "script").collect();
    assert_eq!(
        scripts.len(),
        2,
        "the page's own script and its data island"
    );
    assert!(
        scripts[0]
            .attributes
            .contains(&("type".into(), "application/json".into()))
    );
    assert!(
        scripts[1].attributes.is_empty(),
        "only the page's own script runs"
    );
    // The data island is one JSON value whose values cannot end its block.
    let body = island_text(&html);
    assert!(!body.contains('<'), "{body}");
    let index: serde_json::Value = serde_json::from_str(body).expect("the island is JSON");
    assert!(
        index.to_string().contains("<script>alert('name')</script>"),
        "the values are all there, as data: {index}"
    );
    assert!(!tags.iter().any(|t| t.name == "img" || t.name == "iframe"));
    // The attempts are visible as text.
    assert!(html.contains("Evil &lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(&#39;vendor&#39;)&gt;"));
    // The API docs URL is in the data island only (the static table shows the docs link, here
    // the base link); the script shows it as text, as it is not https.
    assert!(
        index.to_string().contains("javascript:alert('docs')"),
        "kept as data"
    );
    assert!(
        html.contains("http://insecure.example/base"),
        "shown, not linked"
    );
    // The one https URL with a quote in it is data in the island (the script escapes what it
    // writes into an attribute; the browser test checks the rows it makes).
    assert!(
        index
            .to_string()
            .contains(r#"https://ok.example/a\"><script>alert('href')</script>"#)
    );
}

/// The text of the page's data island.
fn island_text(html: &str) -> &str {
    let open = "<script type=\"application/json\" id=\"wf-data\">";
    let body = &html[html.find(open).expect("data island") + open.len()..];
    &body[..body.find("</script>").unwrap()]
}

#[test]
fn html_prose_keeps_markdown_but_not_raw_html() {
    let html = injection(Page::Html);
    // Registry notes: raw HTML as text, the javascript: link as its text, the image as a link.
    assert!(html.contains("&lt;script&gt;alert('registry notes')&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("click"));
    assert!(html.contains(
        "<a href=\"https://tracker.example/pixel.png\" rel=\"noopener noreferrer\">pixel</a>"
    ));
    // A service's prose is rendered for the script to show, in the data island.
    let small = small(Page::Html);
    let island: serde_json::Value = serde_json::from_str(island_text(&small)).unwrap();
    assert!(
        island
            .to_string()
            .contains("The <strong>reference</strong> lists every endpoint.")
    );
    assert!(small.contains(
        "See <a href=\"https://example.com/schema\" rel=\"noopener noreferrer\">the schema</a> for <em>every</em> field."
    ));
}

/// `|` characters that end a table cell (not escaped with a backslash).
fn cell_separators(line: &str) -> usize {
    let mut count = 0;
    let mut backslashes = 0;
    for c in line.chars() {
        if c == '|' && backslashes % 2 == 0 {
            count += 1;
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    count
}

#[test]
fn markdown_tables_keep_their_shape() {
    let markdown = injection(Page::Markdown);
    let mut columns = None;
    for line in markdown.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let separators = cell_separators(line);
        match columns {
            None => columns = Some(separators),
            Some(expected) => assert_eq!(separators, expected, "row breaks its table: {line}"),
        }
    }
}

#[test]
fn markdown_has_no_html_and_only_https_links() {
    let markdown = injection(Page::Markdown);
    let mut links = 0;
    for event in Parser::new_ext(&markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                let html = html.trim_end();
                // The anchors before each service heading: `<a id="slug">` then `</a>`.
                let anchor = html == "</a>"
                    || html
                        .strip_prefix("<a id=\"")
                        .and_then(|rest| rest.strip_suffix("\">"))
                        .is_some_and(|id| {
                            id.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        });
                let header = html.starts_with("<!-- Generated by") && html.ends_with("-->");
                assert!(anchor || header, "raw HTML in the Markdown: {html:?}");
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                links += 1;
                assert!(
                    dest_url.starts_with("https://") || dest_url.starts_with('#'),
                    "link to {dest_url:?}"
                );
            }
            Event::Start(Tag::Image { dest_url, .. }) => panic!("image {dest_url:?}"),
            _ => {}
        }
    }
    assert!(links > 5, "the https links are still links");
    // The attempts are there as text.
    assert!(markdown.contains(
        "Evil &lt;script>alert('name')&lt;/script> {{ 7\\*7 }} \\| a \\| b \\| \\`tick\\` second line"
    ));
    assert!(markdown.contains("`javascript:alert%28'docs'%29`"));
    assert!(markdown.contains("`http://insecure.example/base`"));
}

#[test]
fn override_templates_get_values_never_source() {
    let dir = std::env::temp_dir().join(format!("wf-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SERVICE_API_INDEX.md.j2"),
        "{% for s in services %}- {{ s.name }} ({{ s.vendor }}) {{ s.api_docs_url | link }}\n{% endfor %}",
    )
    .unwrap();
    let renderer = Renderer::with_overrides(&dir).unwrap();
    let value: serde_json::Value = serde_json::from_str(INJECTION).unwrap();
    let service: Service = serde_json::from_value(value["services"][0].clone()).unwrap();
    let registry = Registry {
        name: None,
        version: 1,
        updated_at: "2026-03-01".into(),
        notes: None,
        services: vec![service],
        changes: Vec::new(),
    };
    let source = SourceInfo::of_bytes("services.json", b"");
    let pages = renderer.prepare(Arc::new(registry), source);
    let markdown = pages.render(Page::Markdown).unwrap();
    assert!(
        markdown
            .starts_with("- Evil &lt;script>alert('name')&lt;/script> {{ 7\\*7 }} \\| a \\| b \\|")
    );
    assert!(markdown.contains("`javascript:alert%28'docs'%29`"));
    // The HTML page was not overridden: it is the built-in one.
    assert!(
        pages
            .render(Page::Html)
            .unwrap()
            .contains("<!doctype html>")
    );

    std::fs::write(
        dir.join("SERVICE_API_INDEX.md.j2"),
        "{{ services[0].nmae }}",
    )
    .unwrap();
    let renderer = Renderer::with_overrides(&dir).unwrap();
    let error = renderer
        .prepare(
            Arc::new(Registry::from_str(SMALL).unwrap()),
            SourceInfo::of_bytes("s", b""),
        )
        .render(Page::Markdown)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("template SERVICE_API_INDEX.md.j2: "),
        "{error}"
    );
    assert!(error.contains("undefined"), "{error}");

    std::fs::remove_dir_all(&dir).unwrap();
    let empty = std::env::temp_dir().join(format!("wf-templates-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let error = Renderer::with_overrides(&empty).unwrap_err().to_string();
    assert!(error.contains("nothing to override"), "{error}");
    std::fs::remove_dir_all(&empty).unwrap();
}

const CONTRACT: &str = include_str!("fixtures/render/contract.json");

/// The OpenAPI document of a registry with one full contract and two routes without one.
#[test]
fn openapi_document_for_a_small_registry() {
    let registry = Registry::from_str(CONTRACT).expect("the fixture is a valid registry");
    let text = workerflow_registry::internals::render_openapi(&registry);
    insta::assert_snapshot!("openapi_contract", text);
}

/// A route section with a full contract, and one without, in both pages.
#[test]
fn route_sections_for_a_small_registry() {
    let registry = Registry::from_str(CONTRACT).expect("the fixture is a valid registry");
    let markdown = render(registry.clone(), CONTRACT, Page::Markdown);
    let start = markdown
        .find("## Route contracts")
        .expect("a route contracts section");
    let end = markdown.find("## Summary").expect("a summary");
    insta::assert_snapshot!("route_sections_markdown", &markdown[start..end]);
    assert!(markdown.contains(
        "| `slack_message` | async | Slack webhook URL: `SLACK_WEBHOOK_URL` | webhook |"
    ));
    // The service row and section name the routes' scheme where it differs from the service's.
    assert!(markdown.contains(
        "| 1 | [Slack](#slack) | Slack | oauth2 (routes: webhook) | High | <https://api.slack.com/> |\n"
    ));
    assert!(markdown.contains("- Auth: oauth2 (routes: webhook) · confidence: High"));
    let html = render(registry, CONTRACT, Page::Html);
    assert!(html.contains("<td>oauth2 (routes: webhook)<td>"));
    let start = html
        .find("<h2 id=\"route-contracts\">")
        .expect("a route contracts section");
    let end = html.find("</main>").expect("the end of main");
    insta::assert_snapshot!("route_sections_html", &html[start..end]);
}

const OAUTH: &str = include_str!("fixtures/valid/oauth2.json");

/// A service's OAuth app and a route taking a connection: the OAuth apps section of both
/// pages, the route's auth and its `unlessConnection` secret, the OpenAPI security scheme and
/// the `workerflow-connection` header.
#[test]
fn oauth_app_in_every_output() {
    let registry = Registry::from_str(OAUTH).expect("the fixture is a valid registry");
    let markdown = render(registry.clone(), OAUTH, Page::Markdown);
    let start = markdown
        .find("## OAuth apps")
        .expect("an OAuth apps section");
    let end = markdown.find("## Summary").expect("a summary");
    insta::assert_snapshot!("oauth_apps_markdown", &markdown[start..end]);
    assert!(markdown.contains(
        "| [HubSpot](#hubspot) | `hubspot_contact_upsert` | sync | HubSpot access token: `HUBSPOT_ACCESS_TOKEN` (only without a connection) | oauth2 |"
    ));
    assert!(markdown.contains("- OAuth 2.0 app: [HubSpot OAuth app](#oauth-hubspot)\n"));
    assert!(markdown.contains(
        "- Auth: oauth2 (callers name a connection in the `workerflow-connection` header; [HubSpot OAuth app](#oauth-hubspot))\n"
    ));

    let html = render(registry.clone(), OAUTH, Page::Html);
    let start = html
        .find("<h2 id=\"oauth-apps\">")
        .expect("an OAuth apps section");
    let end = html.find("</main>").expect("the end of main");
    insta::assert_snapshot!("oauth_apps_html", &html[start..end]);
    assert!(html.contains(
        "<li>Secrets: HubSpot access token: <code>HUBSPOT_ACCESS_TOKEN</code> (only without a connection)</li>"
    ));
    assert!(html.contains("\"HubSpot access token (only without a connection)\""));

    let openapi: serde_json::Value =
        serde_json::from_str(&workerflow_registry::internals::render_openapi(&registry))
            .expect("JSON");
    insta::assert_snapshot!(
        "oauth_openapi_scheme",
        serde_json::to_string_pretty(&openapi["components"]["securitySchemes"]).expect("JSON")
    );
    let operation = &openapi["paths"]["/api/hubspot_contact_upsert"]["post"];
    assert_eq!(
        operation["security"],
        serde_json::json!([
            {"bearer": [], "oauth2_hubspot": ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write"]},
            {"bearer": []}
        ])
    );
    assert_eq!(operation["parameters"][0]["name"], "workerflow-connection");
    assert_eq!(operation["parameters"][0]["in"], "header");
    assert_eq!(operation["parameters"][0]["required"], false);
    // Routes without `auth: oauth2` keep the document's bearer security.
    let other = &openapi["paths"]["/api/slack_message"]["post"];
    assert!(other.get("security").is_none() && other.get("parameters").is_none());

    // The same registry without any OAuth app renders no OAuth section at all.
    let mut plain = registry;
    for service in &mut plain.services {
        service.oauth2 = None;
    }
    assert!(!render(plain.clone(), OAUTH, Page::Markdown).contains("OAuth app"));
    assert!(!render(plain, OAUTH, Page::Html).contains("oauth-apps"));
}

//! `workerflow-registry diff`: what changed between two valid registries, and whether it breaks
//! callers.
//!
//! [`changes`] compares two loaded registries (the model for meaning, the scanned documents for
//! places) and names every change with a stable WF4xx code, a subject and the place in the head
//! file, or in the base file for removals. [`review`] matches the head registry's top-level
//! `changes` list against them: breaking changes must be acknowledged there, and entries added
//! since the base must name a real change. [`compare`] runs both on two source files (validation, then the models of the services
//! that differ); the CLI only reads the files, prints and picks the exit code.
//!
//! Files: `compare.rs` pairs the services and routes and names the changes, `review.rs` matches
//! them with the acknowledgements, `render.rs` prints a review in every format.

mod compare;
mod render;
mod review;

pub(crate) use compare::changes;
pub(crate) use render::Files;
pub(crate) use review::{Review, review};

use serde::Serialize;

use crate::codes::ChangeClass as Class;
use crate::compile::{check_to_document, model_of_services};
use crate::load::Document;
use crate::model::Registry;
use crate::{Code, Source, Span, parallel};

/// Which file a change is located in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Side {
    Base,
    Head,
}

/// One classified change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub code: Code,
    pub class: Class,
    /// What changed, as acknowledgements name it: a service id, a route id, `ROUTE:LABEL`,
    /// `ROUTE:NAME`, `ROUTE.input.FIELD`, `ROUTE.output.FIELD`, `SERVICE:SCOPE`,
    /// `SERVICE.oauth2.tokenUrl`, `SERVICE.oauth2.authorizationUrl` or `registry`.
    pub subject: String,
    pub message: String,
    pub side: Side,
    pub pointer: String,
    pub span: Span,
}

/// One side of a diff: a valid registry and the document it was built from.
#[derive(Clone, Copy)]
pub(crate) struct Version<'a> {
    pub registry: &'a Registry,
    pub document: &'a Document<'a>,
    /// Each model service's index in the document's `services`, when the registry holds only
    /// some of them (`diff` leaves out the services that are the same bytes on both sides);
    /// `None` when it holds all.
    pub indices: Option<&'a [usize]>,
}

impl Version<'_> {
    /// The document index of model service `index`.
    fn at(&self, index: usize) -> usize {
        self.indices
            .and_then(|indices| indices.get(index).copied())
            .unwrap_or(index)
    }

    /// The pointer of route `route` of model service `service`.
    fn route_pointer(&self, service: usize, route: usize) -> String {
        format!("/services/{}/runtime/routes/{route}", self.at(service))
    }

    /// The span of the value at `pointer`, or of the root's first byte when it has none.
    fn span(&self, pointer: &str) -> Span {
        let doc = self.document;
        match doc.resolve(pointer) {
            Some(id) => doc.span(id),
            None => {
                let start = doc.root().map_or(0, |root| doc.span(root).start);
                Span::new(start, start + 1)
            }
        }
    }

    /// The pointer naming service `index`: its `id` when written, else its `connectorName`.
    fn service_pointer(&self, index: usize) -> String {
        let index = self.at(index);
        let id = format!("/services/{index}/id");
        if self.document.resolve(&id).is_some() {
            id
        } else {
            format!("/services/{index}/connectorName")
        }
    }
}

/// Why two files could not be compared.
#[derive(Debug)]
pub(crate) enum Refused {
    /// One side or both are invalid: their diagnostics, as `check` reports them.
    Invalid(Vec<crate::Invalid>),
    /// A side has no document and no error to say why (not expected).
    NoDocument,
    /// Building the base model panicked.
    Panicked,
}

/// Compares two registry files: both validated as `check` does (at once, on two threads), then
/// the models of the services whose text differs (the same bytes on both sides cannot change
/// anything), then [`review`].
pub(crate) fn compare_sources(base_file: &Source, head_file: &Source) -> Result<Review, Refused> {
    // Both sides validated as `check` does, at once, each against its own schema (the CLI
    // gives both the head's).
    let check_base = || check_to_document(base_file.text(), base_file.schema());
    let (base, (head_document, head_diagnostics)) = parallel::join(check_base, || {
        check_to_document(head_file.text(), head_file.schema())
    });
    // A panic there would be a bug; check here rather than propagate it.
    let (base_document, base_diagnostics) = base.unwrap_or_else(|_| check_base());
    let invalid: Vec<crate::Invalid> = [
        (base_file, &base_document, base_diagnostics),
        (head_file, &head_document, head_diagnostics),
    ]
    .into_iter()
    .filter(|(_, document, diagnostics)| {
        document.is_none() || diagnostics.iter().any(crate::Diagnostic::is_error)
    })
    .map(|(file, _, diagnostics)| invalid_of(file, diagnostics))
    .collect();
    if !invalid.is_empty() {
        return Err(Refused::Invalid(invalid));
    }
    let (Some(base_owned), Some(head_owned)) = (base_document, head_document) else {
        return Err(Refused::NoDocument);
    };
    let (base_document, head_document) = (&base_owned, &head_owned);
    // A service that is the same bytes on both sides has nothing to report: only the others
    // are built into the models (building every service is most of the cost on large files).
    let base_texts = service_texts(base_document);
    let head_texts = service_texts(head_document);
    let (base, head) = parallel::join(
        || {
            model_of_services(base_document, base_file.schema(), &|id| {
                !head_texts.contains(&ServiceText(base_document.text(id)))
            })
        },
        || {
            model_of_services(head_document, head_file.schema(), &|id| {
                !base_texts.contains(&ServiceText(head_document.text(id)))
            })
        },
    );
    let base = base.map_err(|_| Refused::Panicked)?;
    let not_modelled = |file: &Source, diagnostic: Box<crate::Diagnostic>| {
        Refused::Invalid(vec![invalid_of(file, vec![*diagnostic])])
    };
    let (base_model, base_indices) = base.map_err(|d| not_modelled(base_file, d))?;
    let (head_model, head_indices) = head.map_err(|d| not_modelled(head_file, d))?;
    let review = review(
        Version {
            registry: &base_model,
            document: base_document,
            indices: Some(&base_indices),
        },
        Version {
            registry: &head_model,
            document: head_document,
            indices: Some(&head_indices),
        },
    );
    // Two 100,000-service documents take longer to free than to diff (a third of the run); the
    // process ends soon after, so leave them to the operating system.
    drop((base_texts, head_texts));
    std::mem::forget((base_model, head_model, base_owned, head_owned));
    Ok(review)
}

/// A registry's text with diagnostics, as an [`Refused::Invalid`] entry.
fn invalid_of(file: &Source, diagnostics: Vec<crate::Diagnostic>) -> crate::Invalid {
    crate::Invalid {
        path: file.display().to_owned(),
        source: file.text().to_owned(),
        diagnostics,
    }
}

/// The source text of each service of a valid document.
fn service_texts<'d>(
    document: &'d crate::load::Document<'_>,
) -> rustc_hash::FxHashSet<ServiceText<'d>> {
    let services = document
        .root()
        .and_then(|root| document.get(root, "services"));
    services
        .into_iter()
        .flat_map(|services| document.children(services))
        .map(|id| ServiceText(document.text(id)))
        .collect()
}

/// A service's source text in a set: hashed by its length and its first and last 64 bytes
/// (hashing all 100 MB of a large registry would cost more than the diff), compared whole.
#[derive(PartialEq, Eq)]
struct ServiceText<'d>(&'d str);

impl std::hash::Hash for ServiceText<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let bytes = self.0.as_bytes();
        bytes.len().hash(state);
        bytes[..bytes.len().min(64)].hash(state);
        bytes[bytes.len().saturating_sub(64)..].hash(state);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::compare::narrowed;
    use super::*;
    use crate::Schema;
    use crate::compile::compile_document;

    fn with_versions<T>(
        base: &str,
        head: &str,
        f: impl FnOnce(Version<'_>, Version<'_>) -> T,
    ) -> T {
        let schema = Schema::bundled().expect("bundled schema");
        let (b, bd) = compile_document(base, &schema);
        let (h, hd) = compile_document(head, &schema);
        let (b, bd) = (b.registry.expect("valid base"), bd.expect("document"));
        let (h, hd) = (h.registry.expect("valid head"), hd.expect("document"));
        f(
            Version {
                registry: &b,
                document: &bd,
                indices: None,
            },
            Version {
                registry: &h,
                document: &hd,
                indices: None,
            },
        )
    }

    fn registry(services: &str, changes: &str) -> String {
        format!(
            r#"{{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": [{services}]{changes}}}"#
        )
    }

    fn service(id: &str, rank: u32, routes: &str) -> String {
        format!(
            r#"{{"id": "{id}", "rank": {rank}, "connectorName": "{id} name", "officialVendorName": null,
            "officialApiDocsUrl": "https://{id}.example.com", "bestBaseLink": null, "bestBaseLinkScore": null,
            "bestBaseLinkReason": null, "authType": "token", "authDocsUrl": null, "webhookDocsUrl": null,
            "rateLimitDocsUrl": null, "openapiUrl": null, "officialSdkUrl": null, "changelogUrl": null,
            "docsRequiresLogin": null, "confidence": "High", "notes": null,
            "sources": ["https://{id}.example.com"]{routes}}}"#
        )
    }

    fn route(id: &str, summary: &str, kind: &str, secrets: &str) -> String {
        format!(
            r#"{{"id": "{id}", "summary": "{summary}", "requestType": "{kind}", "secrets": [{secrets}]}}"#
        )
    }

    fn codes(base: &str, head: &str) -> Vec<(Code, String)> {
        with_versions(base, head, |b, h| {
            changes(b, h)
                .into_iter()
                .map(|c| (c.code, c.subject))
                .collect()
        })
    }

    #[test]
    fn identical_registries_have_no_changes() {
        let text = registry(&service("a", 1, ""), "");
        assert!(codes(&text, &text).is_empty());
    }

    #[test]
    fn services_pair_by_id_then_name() {
        let base = registry(
            &format!("{}, {}", service("a", 1, ""), service("b", 2, "")),
            "",
        );
        let renamed = service("b", 2, "").replace(r#""id": "b""#, r#""id": "bee""#);
        let head = registry(&format!("{}, {}", renamed, service("c", 3, "")), "");
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::ServiceRemoved, "a".to_owned()),
                (Code::ServiceIdChanged, "b".to_owned()),
                (Code::ServiceAdded, "c".to_owned()),
            ]
        );
    }

    #[test]
    fn a_renamed_connector_with_a_derived_id_pairs_by_rank() {
        let derived = |name: &str| {
            service("x", 1, "")
                .replace(r#""id": "x", "#, "")
                .replace("x name", name)
        };
        let base = registry(&derived("Old Name"), "");
        let head = registry(&derived("New Name"), "");
        assert_eq!(
            codes(&base, &head),
            vec![(Code::ServiceIdChanged, "old_name".to_owned())]
        );
    }

    #[test]
    fn routes_and_secrets() {
        let secret =
            |label: &str, names: &str| format!(r#"{{"label": "{label}", "anyOf": [{names}]}}"#);
        let routes =
            |list: &[String]| format!(r#", "runtime": {{"routes": [{}]}}"#, list.join(", "));
        let base = registry(
            &service(
                "a",
                1,
                &routes(&[
                    route(
                        "a_send",
                        "Send.",
                        "sync",
                        &secret("key", r#""A_KEY", "A_TOKEN""#),
                    ),
                    route("a_old", "Old.", "sync", ""),
                    route("a_gone", "Gone.", "sync", ""),
                ]),
            ),
            "",
        );
        let head = registry(
            &service(
                "a",
                1,
                &routes(&[
                    route(
                        "a_send",
                        "Send.",
                        "async",
                        &format!(
                            "{}, {}",
                            secret("key", r#""A_KEY""#),
                            secret("other", r#""A_OTHER""#)
                        ),
                    ),
                    route("a_new", "Old.", "sync", ""),
                ]),
            ),
            "",
        );
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::RouteRemoved, "a_gone".to_owned()),
                (Code::RouteRenamed, "a_old".to_owned()),
                (Code::RequestTypeChanged, "a_send".to_owned()),
                (Code::SecretRequirementAdded, "a_send:other".to_owned()),
                (Code::SecretNameRemoved, "a_send:A_TOKEN".to_owned()),
            ]
        );
    }

    #[test]
    fn contracts_compare_fields() {
        let with = |input: &str, output: &str| {
            registry(
                &service(
                    "a",
                    1,
                    &format!(
                        r#", "runtime": {{"routes": [{{"id": "a_x", "summary": "X.", "requestType": "sync", "secrets": [], "input": {input}, "output": {output}}}]}}"#
                    ),
                ),
                "",
            )
        };
        let base = with(
            r#"{"type": "object", "properties": {"n": {"type": ["number", "string"]}, "m": {"type": "integer"}}}"#,
            r#"{"type": "object", "properties": {"id": {"type": "string"}, "gone": {}}}"#,
        );
        let head = with(
            r#"{"type": "object", "required": ["m"], "properties": {"n": {"type": "integer"}, "m": {"type": "number"}}}"#,
            r#"{"type": "object", "properties": {"id": {"type": "integer"}}}"#,
        );
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::RequiredInputAdded, "a_x.input.m".to_owned()),
                (Code::InputTypeNarrowed, "a_x.input.n".to_owned()),
                (Code::OutputFieldRemoved, "a_x.output.gone".to_owned()),
                (Code::OutputTypeChanged, "a_x.output.id".to_owned()),
            ]
        );
    }

    #[test]
    fn oauth_apps_and_route_auth() {
        let app = |token: &str, scopes: &str| {
            format!(
                r#", "oauth2": {{"authorizationUrl": "https://a.example.com/authorize", "tokenUrl": "{token}",
                "scopes": [{scopes}], "pkce": true, "clientAuth": "client_secret_basic", "rotatesRefreshTokens": false,
                "clientId": {{"label": "id", "anyOf": ["A_CLIENT_ID"]}}, "clientSecret": {{"label": "secret", "anyOf": ["A_CLIENT_SECRET"]}},
                "sources": ["https://a.example.com/oauth"]}}"#
            )
        };
        let routes = |auth: Option<&str>| {
            let auth = auth.map_or_else(String::new, |a| format!(r#", "auth": "{a}""#));
            format!(
                r#", "runtime": {{"routes": [{{"id": "a_x", "summary": "X.", "requestType": "sync"{auth}, "secrets": []}}]}}"#
            )
        };
        let with = |oauth: &str, auth: Option<&str>| {
            registry(&service("a", 1, &format!("{oauth}{}", routes(auth))), "")
        };
        let base = with(
            &app("https://a.example.com/token", r#""read", "admin""#),
            None,
        );
        let head = with(
            &app("https://a.example.com/v2/token", r#""read", "write""#),
            Some("oauth2"),
        );
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::OAuthEndpointChanged, "a.oauth2.tokenUrl".to_owned()),
                (Code::OAuthScopeRemoved, "a:admin".to_owned()),
                (Code::RouteAuthChanged, "a_x".to_owned()),
                (Code::OAuthScopeAdded, "a:write".to_owned()),
            ]
        );
        // Declaring a route's auth where there was none documents it, unless it is oauth2;
        // changing a declared one is breaking.
        let plain = with("", None);
        assert!(codes(&plain, &with("", Some("api_key"))).is_empty());
        assert_eq!(
            codes(&with("", Some("api_key")), &with("", Some("token"))),
            vec![(Code::RouteAuthChanged, "a_x".to_owned())]
        );
        // The block added, then removed.
        let app = app("https://a.example.com/token", r#""read""#);
        assert_eq!(
            codes(&plain, &with(&app, None)),
            vec![(Code::OAuthAdded, "a".to_owned())]
        );
        assert_eq!(
            codes(&with(&app, None), &plain),
            vec![(Code::OAuthRemoved, "a".to_owned())]
        );
    }

    #[test]
    fn acknowledgements_clear_breaking_changes_and_stale_ones_fail() {
        let base = registry(
            &format!("{}, {}", service("a", 1, ""), service("b", 2, "")),
            "",
        );
        let ack = |subject: &str| {
            format!(
                r#"{{"code": "WF410", "subject": "{subject}", "reason": "Gone.", "migration": "Use c."}}"#
            )
        };
        let head =
            |acks: &str| registry(&service("a", 1, ""), &format!(r#", "changes": [{acks}]"#));
        with_versions(&base, &head(&ack("b")), |b, h| {
            let review = review(b, h);
            assert!(!review.fails());
            assert_eq!(review.changes.len(), 1);
            assert!(review.changes[0].acknowledged.is_some());
        });
        with_versions(&base, &head(&ack("x")), |b, h| {
            let review = review(b, h);
            assert!(review.fails());
            assert_eq!(review.stale.len(), 1);
            assert!(review.changes[0].is_blocking());
        });
        // An acknowledgement already in the base is history, not stale.
        let old = head(&ack("b"));
        with_versions(&old, &old, |b, h| assert!(!review(b, h).fails()));
    }

    #[test]
    fn narrowing_rules() {
        let set = |t: &[&'static str]| t.iter().copied().collect::<BTreeSet<&str>>();
        assert!(!narrowed(Some(&set(&["integer"])), Some(&set(&["number"]))));
        assert!(narrowed(Some(&set(&["number"])), Some(&set(&["integer"]))));
        assert!(narrowed(None, Some(&set(&["string"]))));
        assert!(!narrowed(Some(&set(&["string"])), None));
    }
}

//! The semantic rules: what services.schema.json cannot say (uniqueness across entries, real
//! dates, well-formed URLs, derivable ids). Each rule has its own code, runs over the whole
//! document and skips values of the wrong type, which the schema already reports.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostics::{Code, Diagnostic, Span};
use crate::load::{Document, NodeId, NodeKind};
use crate::model::{derive_id, id_stem};
use crate::schema::service_place;

mod chars;
mod contract;

/// The URL fields of a service (besides `sources`).
pub(crate) const URL_FIELDS: [&str; 8] = [
    "officialApiDocsUrl",
    "bestBaseLink",
    "authDocsUrl",
    "webhookDocsUrl",
    "rateLimitDocsUrl",
    "openapiUrl",
    "officialSdkUrl",
    "changelogUrl",
];

/// Runs every rule over `document` and returns what they found.
pub(crate) fn check<'src>(document: &Document<'src>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(root) = document.root() else {
        return out;
    };
    if document.kind(root) != NodeKind::Object {
        return out;
    }
    check_text(document, &mut out);
    check_registry_name(document, root, &mut out);
    if let Some(date) = document.get(root, "updatedAt") {
        check_date(document, date, &mut out);
    }
    let Some(services) = document
        .get(root, "services")
        .filter(|&s| document.kind(s) == NodeKind::Array)
    else {
        return out;
    };

    let count = document.children(services).count();
    // Keys borrow from the document: a 100,000-service registry would otherwise allocate a
    // few hundred thousand strings here.
    let mut names: HashMap<Caseless<'src>, (usize, Span)> =
        HashMap::with_capacity_and_hasher(count, Default::default());
    let mut ids: HashMap<Cow<'src, str>, (usize, Span)> =
        HashMap::with_capacity_and_hasher(count, Default::default());
    let mut ranks: HashMap<u64, (usize, Span)> =
        HashMap::with_capacity_and_hasher(count, Default::default());
    let mut route_names = RouteNames::default();
    let mut contracts = contract::Compiled::default();

    for (index, service) in document.children(services).enumerate() {
        if document.kind(service) != NodeKind::Object {
            continue;
        }
        let fields = ServiceFields::read(document, service);
        let name_node = fields.connector_name;
        let name = name_node.and_then(|n| document.str(n));

        let name_is_blank = match (name_node, &name) {
            (Some(node), Some(name)) => {
                check_blank(document, node, name, index, "connectorName", &mut out)
            }
            _ => false,
        };
        if let (Some(node), Some(name)) = (name_node, &name)
            && !name_is_blank
        {
            check_name(document, node, name, index, "connectorName", &mut out);
        }
        if let Some(node) = fields.vendor
            && let Some(vendor) = document.str(node)
        {
            check_name(
                document,
                node,
                &vendor,
                index,
                "officialVendorName",
                &mut out,
            );
        }

        let mut name_is_duplicate = false;
        if let (Some(node), Some(name)) = (name_node, &name) {
            let trimmed = trim_cow(name.clone());
            if !trimmed.is_empty() {
                name_is_duplicate = first_or_duplicate(
                    &mut names,
                    Caseless(trimmed),
                    index,
                    document.span(node),
                    |first_index, first_span| {
                        Diagnostic::error(
                            Code::DuplicateConnectorName,
                            format!(
                                "{}connector name `{}` is already used by services[{first_index}]",
                                service_place(document, index),
                                name.trim()
                            ),
                            document.span(node),
                        )
                        .with_label("duplicate name")
                        .with_secondary(first_span, "first used here")
                        .with_pointer(format!("/services/{index}/connectorName"))
                        .with_help(
                            "names are compared ignoring case and compatibility forms (Unicode NFKC: a fullwidth `Ｓ` is `S`); merge the two entries or rename one",
                        )
                    },
                    &mut out,
                );
            }
        }

        // The id: explicit, or derived from the connector name.
        let explicit = fields.id.and_then(|n| document.str(n).map(|s| (n, s)));
        let id = match (&explicit, name_node, &name) {
            (Some((node, id)), _, _) => Some((id.clone(), document.span(*node), "id", false)),
            (None, Some(node), Some(name)) => match derive_id(name) {
                Some(id) => Some((Cow::Owned(id), document.span(node), "connectorName", true)),
                None => {
                    if !name_is_blank && !name.is_empty() {
                        let stem = id_stem(name);
                        let why = if stem.is_empty() {
                            "no ASCII letters or digits to build an id from".to_owned()
                        } else {
                            format!("the id derived from it, `{stem}`, would start with a digit")
                        };
                        out.push(
                            Diagnostic::error(
                                Code::UnderivableId,
                                format!(
                                    "{}no id can be derived from the connector name {:?}",
                                    service_place(document, index),
                                    name.as_ref()
                                ),
                                document.span(node),
                            )
                            .with_label(why)
                            .with_pointer(format!("/services/{index}/connectorName"))
                            .with_help("add an explicit `\"id\"`, such as \"acme_crm\""),
                        );
                    }
                    None
                }
            },
            _ => None,
        };
        // A duplicate name already says it all when the id is derived from that name.
        let id = id.filter(|(_, _, _, derived)| !(*derived && name_is_duplicate));
        if let Some((id, span, id_field, derived)) = id {
            // The id moves into the map; the message reads it back from the source.
            let shown = || match (&explicit, &name) {
                (Some((_, explicit)), _) => explicit.to_string(),
                (None, Some(name)) => derive_id(name).unwrap_or_default(),
                (None, None) => String::new(),
            };
            first_or_duplicate(
                &mut ids,
                id,
                index,
                span,
                |first_index, first_span| {
                    let shown = shown();
                    let (how, label) = if derived {
                        (
                            " (derived from the connector name)",
                            format!("derives id `{shown}`"),
                        )
                    } else {
                        ("", "duplicate id".to_owned())
                    };
                    let place = service_place(document, index);
                    Diagnostic::error(
                        Code::DuplicateId,
                        format!("{place}service id `{shown}`{how} is already used by services[{first_index}]"),
                        span,
                    )
                    .with_label(label)
                    .with_secondary(first_span, "first used here")
                    .with_pointer(format!("/services/{index}/{id_field}"))
                    .with_help("give one of them an explicit, unique `\"id\"`")
                },
                &mut out,
            );
        }

        if let Some(rank) = fields.rank
            && let Some(value) = document.number(rank).and_then(|n| n.as_u64())
        {
            first_or_duplicate(
                &mut ranks,
                value,
                index,
                document.span(rank),
                |first_index, first_span| {
                    Diagnostic::error(
                        Code::DuplicateRank,
                        format!(
                            "{}rank {value} is already taken by services[{first_index}]",
                            service_place(document, index)
                        ),
                        document.span(rank),
                    )
                    .with_label("duplicate rank")
                    .with_secondary(first_span, "first taken here")
                    .with_pointer(format!("/services/{index}/rank"))
                    .with_help(
                        "renumber one of them, or use null for a service outside the ranked set",
                    )
                },
                &mut out,
            );
        }

        // A runtime-only service (no rank) may be declared before its docs are known, as
        // `workerflow-registry new` does without `--docs`; a ranked one was found through them.
        let ranked = fields
            .rank
            .is_some_and(|rank| document.kind(rank) != NodeKind::Null);
        if ranked
            && let [Some(docs), Some(best), ..] = fields.urls
            && document.kind(docs) == NodeKind::Null
            && document.kind(best) == NodeKind::Null
        {
            out.push(
                Diagnostic::error(
                    Code::RankedWithoutLink,
                    format!(
                        "{}a ranked service needs an https link, but `officialApiDocsUrl` and `bestBaseLink` are both null",
                        service_place(document, index)
                    ),
                    document.span(docs),
                )
                .with_label("no link to the API docs")
                .with_secondary(document.span(best), "null as well")
                .with_pointer(format!("/services/{index}/officialApiDocsUrl"))
                .with_help("set `officialApiDocsUrl` (`fmt` copies it to `bestBaseLink`), or use `rank: null` for a runtime-only service"),
            );
        }

        for (field, node) in URL_FIELDS.iter().zip(fields.urls) {
            if let Some(node) = node {
                check_url(
                    document,
                    node,
                    index,
                    || format!("/services/{index}/{field}"),
                    &mut out,
                );
            }
        }
        if let Some(sources) = fields
            .sources
            .filter(|&s| document.kind(s) == NodeKind::Array)
        {
            let mut count = 0;
            for (n, source) in document.children(sources).enumerate() {
                count += 1;
                check_url(
                    document,
                    source,
                    index,
                    || format!("/services/{index}/sources/{n}"),
                    &mut out,
                );
            }
            if count == 0 {
                // Unranked: nothing is guessed, and the gap stays visible as a warning. A
                // ranked service must cite its sources.
                let diagnostic = if ranked {
                    Diagnostic::error
                } else {
                    Diagnostic::warning
                };
                out.push(
                    diagnostic(
                        Code::EmptySources,
                        format!("{}`sources` is empty", service_place(document, index)),
                        document.span(sources),
                    )
                    .with_label("no source listed")
                    .with_pointer(format!("/services/{index}/sources"))
                    .with_help(
                        "list the pages the facts were taken from, usually the API docs URL",
                    ),
                );
            }
        }

        if let Some(runtime) = fields.runtime {
            let pointer = format!("/services/{index}");
            check_routes(
                document,
                runtime,
                index,
                &pointer,
                (&mut route_names, &mut contracts),
                &mut out,
            );
        }
    }
    route_names.check_settings(document, &mut out);
    out
}

/// Names across every route: ids (unique, WF3xx) and secret and setting names, for WF322: a
/// setting must not be named like any route's secret (the runtime would refuse to link it).
#[derive(Default)]
struct RouteNames<'src> {
    ids: HashMap<Cow<'src, str>, (usize, Span)>,
    secrets: rustc_hash::FxHashSet<Cow<'src, str>>,
    /// Each setting's name, its service, its span and its pointer.
    settings: Vec<(Cow<'src, str>, usize, Span, String)>,
}

impl RouteNames<'_> {
    fn check_settings(&self, document: &Document<'_>, out: &mut Vec<Diagnostic>) {
        for (name, index, span, pointer) in &self.settings {
            if self.secrets.contains(name) {
                out.push(
                    Diagnostic::error(
                        Code::SettingConflict,
                        format!(
                            "{}setting `{name}` is also declared as a secret",
                            service_place(document, *index)
                        ),
                        *span,
                    )
                    .with_label("named like a secret")
                    .with_pointer(pointer.clone())
                    .with_help(
                        "a handler can read every setting of its route; give the setting a \
                         name no route uses for a secret",
                    ),
                );
            }
        }
    }
}

/// The members of a service the rules look at, found in one pass over its keys.
#[derive(Default)]
struct ServiceFields {
    connector_name: Option<NodeId>,
    vendor: Option<NodeId>,
    id: Option<NodeId>,
    rank: Option<NodeId>,
    sources: Option<NodeId>,
    runtime: Option<NodeId>,
    urls: [Option<NodeId>; URL_FIELDS.len()],
}

impl ServiceFields {
    fn read(document: &Document<'_>, service: NodeId) -> ServiceFields {
        let mut fields = ServiceFields::default();
        // With duplicate keys the last one wins, as in `Document::get`.
        for (key, child) in document.members(service) {
            let slot = match key.as_ref() {
                "connectorName" => &mut fields.connector_name,
                "officialVendorName" => &mut fields.vendor,
                "id" => &mut fields.id,
                "rank" => &mut fields.rank,
                "sources" => &mut fields.sources,
                "runtime" => &mut fields.runtime,
                other => match URL_FIELDS.iter().position(|f| *f == other) {
                    Some(n) => &mut fields.urls[n],
                    None => continue,
                },
            };
            *slot = Some(child);
        }
        fields
    }
}

/// Records `key` for the service at `index`, or reports it as a duplicate of an earlier one
/// (and returns true).
fn first_or_duplicate<K: Hash + Eq>(
    seen: &mut HashMap<K, (usize, Span)>,
    key: K,
    index: usize,
    span: Span,
    report: impl FnOnce(usize, Span) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) -> bool {
    match seen.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert((index, span));
            false
        }
        Entry::Occupied(first) => {
            let (first_index, first_span) = *first.get();
            out.push(report(first_index, first_span));
            true
        }
    }
}

/// A name compared and hashed ignoring case, without a lower-cased copy.
struct Caseless<'a>(Cow<'a, str>);

impl Caseless<'_> {
    /// NFKC, then lower case: a fullwidth `Ｓlack` and `SLACK` both fold to `slack`.
    fn folded(&self) -> impl Iterator<Item = char> + '_ {
        use unicode_normalization::UnicodeNormalization;
        self.0.nfkc().flat_map(char::to_lowercase)
    }
}

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Each folded character hashes the same way on both paths, so equal names hash alike.
        if self.0.is_ascii() {
            for byte in self.0.bytes() {
                state.write_u32(u32::from(byte.to_ascii_lowercase()));
            }
        } else {
            for c in self.folded() {
                state.write_u32(c as u32);
            }
        }
    }
}

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.0.is_ascii() && other.0.is_ascii() {
            self.0.eq_ignore_ascii_case(&other.0)
        } else {
            self.folded().eq(other.folded())
        }
    }
}

impl Eq for Caseless<'_> {}

fn trim_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

fn check_routes<'src>(
    document: &Document<'src>,
    runtime: NodeId,
    index: usize,
    pointer: &str,
    (route_names, contracts): (&mut RouteNames<'src>, &mut contract::Compiled<'src>),
    out: &mut Vec<Diagnostic>,
) {
    let Some(routes) = document
        .get(runtime, "routes")
        .filter(|&r| document.kind(r) == NodeKind::Array)
    else {
        return;
    };
    for (r, route) in document.children(routes).enumerate() {
        if document.kind(route) != NodeKind::Object {
            continue;
        }
        let route_pointer = format!("{pointer}/runtime/routes/{r}");
        contract::check(
            document,
            route,
            &contract::RoutePlace {
                index,
                pointer: &route_pointer,
            },
            contracts,
            out,
        );
        if let Some(node) = document.get(route, "summary")
            && let Some(summary) = document.str(node)
        {
            check_blank(
                document,
                node,
                &summary,
                index,
                &format!("runtime/routes/{r}/summary"),
                out,
            );
        }
        if let Some(id_node) = document.get(route, "id")
            && let Some(id) = document.str(id_node)
        {
            let span = document.span(id_node);
            let shown = id.to_string();
            first_or_duplicate(
                &mut route_names.ids,
                id,
                index,
                span,
                |first_index, first_span| {
                    Diagnostic::error(
                        Code::DuplicateRouteId,
                        format!(
                            "{}route id `{shown}` is already declared by services[{first_index}]",
                            service_place(document, index)
                        ),
                        span,
                    )
                    .with_label("duplicate route id")
                    .with_secondary(first_span, "first declared here")
                    .with_pointer(format!("{route_pointer}/id"))
                    .with_help("route ids are unique across the registry; rename one of them")
                },
                out,
            );
        }
        if let Some(settings) = document
            .get(route, "settings")
            .filter(|&s| document.kind(s) == NodeKind::Array)
        {
            let mut seen: HashMap<Cow<'src, str>, (usize, Span)> = HashMap::default();
            for (s, setting) in document.children(settings).enumerate() {
                let Some(name_node) = document.get(setting, "name") else {
                    continue;
                };
                let Some(name) = document.str(name_node) else {
                    continue;
                };
                let span = document.span(name_node);
                let pointer = format!("{route_pointer}/settings/{s}/name");
                let shown = name.to_string();
                let repeated = first_or_duplicate(
                    &mut seen,
                    name.clone(),
                    index,
                    span,
                    |_, first_span| {
                        Diagnostic::error(
                            Code::SettingConflict,
                            format!(
                                "{}setting `{shown}` is listed twice in this route",
                                service_place(document, index)
                            ),
                            span,
                        )
                        .with_label("listed again")
                        .with_secondary(first_span, "first listed here")
                        .with_pointer(pointer.clone())
                        .with_help("remove the repeated setting")
                    },
                    out,
                );
                if !repeated {
                    route_names.settings.push((name, index, span, pointer));
                }
            }
        }
        let Some(secrets) = document
            .get(route, "secrets")
            .filter(|&s| document.kind(s) == NodeKind::Array)
        else {
            continue;
        };
        let mut labels: HashMap<String, (usize, Span)> = HashMap::default();
        for (s, requirement) in document.children(secrets).enumerate() {
            let requirement_pointer = format!("{route_pointer}/secrets/{s}");
            if let Some(label_node) = document.get(requirement, "label")
                && let Some(label) = document.str(label_node)
            {
                check_blank(
                    document,
                    label_node,
                    &label,
                    index,
                    &format!("runtime/routes/{r}/secrets/{s}/label"),
                    out,
                );
                let span = document.span(label_node);
                let shown = label.to_string();
                first_or_duplicate(
                    &mut labels,
                    shown.trim().to_lowercase(),
                    index,
                    span,
                    |_, first_span| {
                        Diagnostic::error(
                            Code::DuplicateSecretLabel,
                            format!(
                                "{}two secret requirements of this route are labelled {shown:?}",
                                service_place(document, index)
                            ),
                            span,
                        )
                        .with_label("duplicate label")
                        .with_secondary(first_span, "first used here")
                        .with_pointer(format!("{requirement_pointer}/label"))
                        .with_help(
                            "give each requirement its own label, or merge their `anyOf` lists",
                        )
                    },
                    out,
                );
            }
            let Some(names) = document
                .get(requirement, "anyOf")
                .filter(|&a| document.kind(a) == NodeKind::Array)
            else {
                continue;
            };
            let mut seen: HashMap<String, (usize, Span)> = HashMap::default();
            for (n, name_node) in document.children(names).enumerate() {
                let Some(name) = document.str(name_node) else {
                    continue;
                };
                let span = document.span(name_node);
                let shown = name.to_string();
                route_names.secrets.insert(name);
                first_or_duplicate(
                    &mut seen,
                    shown.clone(),
                    index,
                    span,
                    |_, first_span| {
                        Diagnostic::error(
                            Code::DuplicateSecretName,
                            format!(
                                "{}secret name `{shown}` is listed twice in the same requirement",
                                service_place(document, index)
                            ),
                            span,
                        )
                        .with_label("listed again")
                        .with_secondary(first_span, "first listed here")
                        .with_pointer(format!("{requirement_pointer}/anyOf/{n}"))
                        .with_help(
                            "remove the duplicate, or replace it with the name that was meant",
                        )
                    },
                    out,
                );
            }
        }
    }
}

/// WF311: a name, summary or label with nothing visible in it (an empty one is the schema's
/// WF207). `field` is the member's path inside the service. Returns whether it is blank.
fn check_blank(
    document: &Document<'_>,
    node: NodeId,
    text: &str,
    index: usize,
    field: &str,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let blank = is_blank(text);
    if blank {
        let name = field.rsplit('/').next().unwrap_or(field);
        out.push(
            Diagnostic::error(
                Code::BlankText,
                format!(
                    "{}`{name}` is blank: it holds only whitespace or invisible characters",
                    service_place(document, index)
                ),
                document.span(node),
            )
            .with_label("nothing visible here")
            .with_pointer(format!("/services/{index}/{field}"))
            .with_help(format!("write the {}", noun(name))),
        );
    }
    blank
}

/// Not empty, yet nothing visible: only whitespace or invisible characters.
fn is_blank(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_whitespace() || chars::is_invisible(c))
}

/// WF311 for the registry's own `name`, which its pages and OpenAPI document show as a title.
fn check_registry_name(document: &Document<'_>, root: NodeId, out: &mut Vec<Diagnostic>) {
    let Some(node) = document.get(root, "name") else {
        return;
    };
    if document.str(node).is_some_and(|text| is_blank(&text)) {
        out.push(
            Diagnostic::error(
                Code::BlankText,
                "`name` is blank: it holds only whitespace or invisible characters",
                document.span(node),
            )
            .with_label("nothing visible here")
            .with_pointer("/name")
            .with_help(
                "write the registry's name, such as \"Acme connectors\", or leave `name` out",
            ),
        );
    }
}

fn noun(field: &str) -> &'static str {
    match field {
        "connectorName" => "connector name, such as \"Acme CRM\"",
        "summary" => "route's summary: one line saying what it does",
        "label" => "secret's label, such as \"Acme API key\"",
        _ => "value",
    }
}

/// WF313 and WF314: a name (`connectorName`, `officialVendorName`) that looks like another one.
fn check_name(
    document: &Document<'_>,
    node: NodeId,
    name: &str,
    index: usize,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    let place = || service_place(document, index);
    let pointer = || format!("/services/{index}/{field}");
    let mut invisible: Vec<char> = Vec::new();
    for c in name.chars().filter(|&c| chars::is_invisible(c)) {
        if !invisible.contains(&c) {
            invisible.push(c);
        }
    }
    if !invisible.is_empty() {
        let named: Vec<String> = invisible.iter().map(|&c| chars::describe(c)).collect();
        let visible: String = name.chars().filter(|&c| !chars::is_invisible(c)).collect();
        out.push(
            Diagnostic::warning(
                Code::InvisibleCharacter,
                format!(
                    "{}`{field}` contains {} that shows as nothing: {}",
                    place(),
                    if invisible.len() == 1 {
                        "a character"
                    } else {
                        "characters"
                    },
                    named.join(", ")
                ),
                document.span(node),
            )
            .with_label(format!("displayed as {visible:?}"))
            .with_pointer(pointer())
            .with_help(format!(
                "remove {}: {visible:?}",
                if invisible.len() == 1 { "it" } else { "them" }
            )),
        );
    }
    if !name.is_ascii() {
        use unicode_normalization::UnicodeNormalization;
        let visible: String = name.chars().filter(|&c| !chars::is_invisible(c)).collect();
        let folded: String = visible.nfkc().collect();
        if folded != visible {
            let mut changed: Vec<char> = Vec::new();
            for c in visible.chars() {
                let alone: String = std::iter::once(c).nfkc().collect();
                if alone != c.to_string() && !changed.contains(&c) {
                    changed.push(c);
                }
            }
            let named: Vec<String> = changed.iter().map(|&c| chars::describe(c)).collect();
            out.push(
                Diagnostic::warning(
                    Code::CompatibilityCharacter,
                    format!(
                        "{}`{field}` uses compatibility characters: {}",
                        place(),
                        named.join(", ")
                    ),
                    document.span(node),
                )
                .with_label(format!("reads as {folded:?}"))
                .with_pointer(pointer())
                .with_help(format!("write {folded:?}")),
            );
        }
    }
    if let Some((main, outside)) = chars::mixed_scripts(name) {
        let named: Vec<String> = outside.iter().map(|&c| chars::describe(c)).collect();
        let mut d = Diagnostic::warning(
            Code::MixedScript,
            format!(
                "{}`{field}` mixes scripts: {main} with {}",
                place(),
                named.join(", ")
            ),
            document.span(node),
        )
        .with_label(format!("not all {main}"))
        .with_pointer(pointer());
        // When every stray letter has a Latin look-alike, the name that was meant is plain.
        let meant: Option<String> = (main == "Latin")
            .then(|| {
                name.chars()
                    .map(|c| {
                        if outside.contains(&c) {
                            chars::latin_lookalike(c)
                        } else {
                            Some(c)
                        }
                    })
                    .collect()
            })
            .flatten();
        d = match meant {
            Some(meant) => d.with_help(format!(
                "write it in one script; with Latin letters only it reads {meant:?}"
            )),
            None => d.with_help("write it in one script, retyping the letters named above"),
        };
        out.push(d);
    }
}

/// WF312: control and bidirectional control characters in any string of the registry. Walks
/// the nodes in document order, keeping the path of the current node, so a pointer is only
/// built for a string that has a problem.
fn check_text(document: &Document<'_>, out: &mut Vec<Diagnostic>) {
    /// An open container: its id, where its subtree ends, how many children were seen, and
    /// its own position in its parent.
    struct Open {
        id: NodeId,
        end: u32,
        seen: usize,
        position: usize,
    }
    let mut open: Vec<Open> = Vec::new();
    for (id, node) in document.nodes.iter().enumerate() {
        let id = id as NodeId;
        while open.last().is_some_and(|o| o.end <= id) {
            open.pop();
        }
        let position = match open.last_mut() {
            Some(parent) => {
                parent.seen += 1;
                parent.seen - 1
            }
            None => 0,
        };
        match node.kind {
            NodeKind::Array | NodeKind::Object => open.push(Open {
                id,
                end: node.subtree_end,
                seen: 0,
                position,
            }),
            NodeKind::String => {
                let raw = inner(document, node.span);
                // Only a string with an escape can hold a line break: the path is looked at then.
                let in_name = raw.contains('\\') && {
                    let keys: Vec<Option<Cow<'_, str>>> =
                        open.iter().skip(1).map(|o| document.key(o.id)).collect();
                    is_name_path(&keys, document.key(id).as_deref())
                };
                let Some((range, c, why)) = chars::first_forbidden(raw, in_name) else {
                    continue;
                };
                // Segments of the path: each open container but the root, then this string.
                let mut segments: Vec<String> = Vec::with_capacity(open.len());
                let path = open
                    .iter()
                    .skip(1)
                    .map(|o| (o.id, o.position))
                    .chain([(id, position)]);
                let parents = open.iter().map(|o| o.id);
                for ((node_id, position), parent) in path.zip(parents) {
                    segments.push(if document.kind(parent) == NodeKind::Array {
                        position.to_string()
                    } else {
                        document
                            .key(node_id)
                            .map(|k| crate::load::pointer_segment(&k).into_owned())
                            .unwrap_or_default()
                    });
                }
                let pointer: String = segments.iter().flat_map(|s| ["/", s]).collect();
                let place = match segments.as_slice() {
                    [services, index, ..] if services == "services" => index
                        .parse::<usize>()
                        .map(|index| service_place(document, index))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let field = match segments.as_slice() {
                    [.., list, last] if last.bytes().all(|b| b.is_ascii_digit()) => {
                        format!("{list}[{last}]")
                    }
                    [.., last] => last.clone(),
                    [] => "the text".to_owned(),
                };
                let start = node.span.start + 1 + range.start as u32;
                let span = Span::new(start, node.span.start + 1 + range.end as u32);
                let help = if why == "a bidirectional control" {
                    "remove it: bidirectional controls make the pages show text in another order than the registry holds it"
                } else if why == "a line break or tab" {
                    "write it on one line: names, summaries and labels are shown on one line, in the pages and in messages"
                } else {
                    "remove it; only tab, line feed and carriage return are allowed in text"
                };
                out.push(
                    Diagnostic::error(
                        Code::ForbiddenCharacter,
                        format!("{place}`{field}` contains {}, {why}", chars::describe(c)),
                        span,
                    )
                    .with_label(why)
                    .with_pointer(pointer)
                    .with_help(help),
                );
            }
            _ => {}
        }
    }
}

/// Whether a string at this path (the keys of its containers below the root, `None` for an
/// array element, then its own key) is a name or one-line text, where WF312 refuses line
/// breaks and tabs too: the registry's `name`, a service's `connectorName` and
/// `officialVendorName`, a route's `summary`, a secret's or setting's `label`. Contract schemas
/// and examples hold any text.
fn is_name_path(keys: &[Option<Cow<'_, str>>], key: Option<&str>) -> bool {
    let keys: Vec<Option<&str>> = keys.iter().map(Option::as_deref).collect();
    matches!(
        (keys.as_slice(), key),
        ([], Some("name"))
            | (
                [Some("services"), None],
                Some("connectorName" | "officialVendorName")
            )
            | (
                [
                    Some("services"),
                    None,
                    Some("runtime"),
                    Some("routes"),
                    None
                ],
                Some("summary")
            )
            | (
                [
                    Some("services"),
                    None,
                    Some("runtime"),
                    Some("routes"),
                    None,
                    Some("secrets" | "settings"),
                    None,
                ],
                Some("label")
            )
    )
}

/// The raw text between a string token's quotes.
fn inner<'src>(document: &Document<'src>, span: Span) -> &'src str {
    let start = span.start as usize + 1;
    let end = (span.end as usize).saturating_sub(1).max(start);
    document.source.get(start..end).unwrap_or_default()
}

fn check_date(document: &Document<'_>, node: NodeId, out: &mut Vec<Diagnostic>) {
    let Some(text) = document.str(node) else {
        return;
    };
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return; // the schema's pattern reports it
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if year == 0 || day == 0 || day > days_in_month {
        let why = if days_in_month == 0 {
            format!("there is no month {month}")
        } else {
            format!("month {month} of {year} has {days_in_month} days")
        };
        out.push(
            Diagnostic::error(
                Code::InvalidDate,
                format!("`updatedAt` is not a real date: {why}"),
                document.span(node),
            )
            .with_label("not a calendar date")
            .with_pointer("/updatedAt")
            .with_help("use a real date, YYYY-MM-DD"),
        );
    }
}

fn check_url(
    document: &Document<'_>,
    node: NodeId,
    index: usize,
    pointer: impl FnOnce() -> String,
    out: &mut Vec<Diagnostic>,
) {
    let Some(url) = document.str(node) else {
        return;
    };
    let Some(rest) = url.strip_prefix("https://") else {
        return;
    }; // the schema's pattern reports it
    if let Some(problem) = url_problem(&url, rest) {
        out.push(
            Diagnostic::error(
                Code::InvalidUrl,
                format!(
                    "{}{problem}: {:?}",
                    service_place(document, index),
                    url.as_ref()
                ),
                document.span(node),
            )
            .with_label("not a well-formed https URL")
            .with_pointer(pointer())
            .with_help("write a full URL such as https://api.example.com/docs"),
        );
    }
}

/// Why a URL starting with `https://` is not well formed, if it is not.
fn url_problem(url: &str, rest: &str) -> Option<&'static str> {
    // One pass over the bytes; the rare non-ASCII URL is checked character by character.
    for &byte in url.as_bytes() {
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => return Some("URL contains whitespace"),
            0..=0x1f | 0x7f => return Some("URL contains a control character"),
            b'<' | b'>' | b'"' | b'`' | b'\\' | b'{' | b'}' | b'|' | b'^' => {
                return Some("URL contains a character that must be percent-encoded");
            }
            _ => {}
        }
    }
    if !url.is_ascii() {
        if url.chars().any(char::is_whitespace) {
            return Some("URL contains whitespace");
        }
        if url.chars().any(char::is_control) {
            return Some("URL contains a control character");
        }
    }
    // Byte searches: this runs for every URL of a 100,000-service registry.
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = match authority.bytes().rposition(|b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = if host_port.starts_with('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        match host_port.bytes().position(|b| b == b']') {
            Some(end) => match &host_port[end + 1..] {
                "" => (&host_port[..=end], None),
                after => match after.strip_prefix(':') {
                    Some(port) => (&host_port[..=end], Some(port)),
                    None => return Some("URL has an invalid host name"),
                },
            },
            None => return Some("URL has an invalid host name"),
        }
    } else {
        match host_port.bytes().rposition(|b| b == b':') {
            Some(colon) => (&host_port[..colon], Some(&host_port[colon + 1..])),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Some("URL has no host");
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return Some("URL has an invalid port");
    }
    let valid_label = |label: &[u8]| {
        !label.is_empty()
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b >= 0x80)
    };
    if !host.starts_with('[') && !host.as_bytes().split(|b| *b == b'.').all(valid_label) {
        return Some("URL has an invalid host name");
    }
    // Non-ASCII host labels must be letters or digits (internationalised names).
    if !host.is_ascii()
        && !host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Some("URL has an invalid host name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::url_problem;

    fn problem(url: &str) -> Option<&'static str> {
        url_problem(url, url.strip_prefix("https://").unwrap())
    }

    #[test]
    fn well_formed_urls_pass() {
        assert_eq!(problem("https://api.slack.com/"), None);
        assert_eq!(
            problem("https://developers.google.com/sheets/api?x=1#y"),
            None
        );
        assert_eq!(problem("https://localhost:8443/docs"), None);
        assert_eq!(problem("https://[::1]:8080/"), None);
        assert_eq!(problem("https://[::1]/"), None);
        assert_eq!(problem("https://bücher.example/"), None);
    }

    #[test]
    fn malformed_urls_are_named() {
        assert_eq!(problem("https://"), Some("URL has no host"));
        assert_eq!(problem("https:///path"), Some("URL has no host"));
        assert_eq!(
            problem("https://exa mple.com"),
            Some("URL contains whitespace")
        );
        assert_eq!(
            problem("https://example..com/"),
            Some("URL has an invalid host name")
        );
        assert_eq!(
            problem("https://example.com:99999/"),
            Some("URL has an invalid port")
        );
        assert_eq!(
            problem("https://example.com/<script>"),
            Some("URL contains a character that must be percent-encoded")
        );
    }
}

//! `workerflow-registry new`: declare a route (and its service when it is new) in the registry
//! and write a connector that works as generated, with a test against a loopback server.
//!
//! What is not known is never guessed: a new service gets `null` for every unknown field, `rank`
//! `null` and confidence `Low`; the connector's base URL is a setting without a default.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::canonical::{self, FormatError, SERVICE_KEYS};
use crate::compile::compile;
use crate::generate::{comment_line, literal, route_ident};
use crate::model::derive_id;
use crate::model::{AuthType, RequestType};
use crate::write::Written;
use crate::{Invalid, Schema};
use workerflow_names::{PATH_KEYWORDS, RAW_KEYWORDS};

// What a plan's reader shows beside it: the registry edit as a diff, and the items a handler
// for the route names.
pub use crate::generate::{HandlerItems, handler_items};
pub use crate::write::unified_diff;

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// The service id (`--service`).
    pub service: String,
    /// The route to declare and scaffold; without one, only the service's catalogue entry is
    /// added.
    pub route: Option<String>,
    /// The route's auth scheme (`--auth`).
    pub auth: Option<AuthType>,
    /// Alternative names of the route's one secret requirement, in lookup order.
    pub secrets: Vec<String>,
    /// The provider's docs page for the operation (`--docs`).
    pub docs: Option<String>,
    /// Sync or async (`--async`).
    pub request_type: RequestType,
    /// The route's one-line summary (`--summary`).
    pub summary: Option<String>,
}

/// The edits `new` would make.
#[derive(Debug)]
pub struct Plan {
    /// The registry the plan edits.
    pub registry_path: PathBuf,
    /// The registry's text before the edit.
    pub registry_before: String,
    /// The registry's text after it (canonical form).
    pub registry_after: String,
    /// Files to write, with their contents (the connector, its test, the module list).
    pub files: Vec<PlannedFile>,
    /// The service the route belongs to.
    pub service_id: String,
    /// Whether the plan adds the service too.
    pub service_is_new: bool,
    /// The generated test's name.
    pub test_name: String,
    /// What becomes of `tests/examples.rs`; `None` when no route is scaffolded.
    pub examples_test: Option<ExamplesTest>,
    /// Whether the new Rust files went through rustfmt. Without it they are as the templates
    /// lay them out: rustfmt-clean for names of ordinary length (a test checks), perhaps not
    /// for very long ones.
    pub formatted: bool,
}

/// `tests/examples.rs`, the crate's one test of every contract example
/// (`workerflow_runtime::testing::assert_examples`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExamplesTest {
    /// Among the planned files.
    Planned,
    /// There already (whatever it holds): never replaced.
    Exists,
    /// Not written: the crate's `workerflow-runtime` lacks feature `testing`, so it would not
    /// compile.
    NoTestingFeature,
}

/// The examples test's path in the crate.
pub const EXAMPLES_TEST: &str = "tests/examples.rs";

#[derive(Debug)]
/// One file the plan writes.
pub struct PlannedFile {
    /// Where it goes.
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
    /// Whether the file exists now (and would be replaced or edited).
    pub exists: bool,
}

/// Why `new` refuses.
#[derive(Debug)]
pub enum Refusal {
    /// The request itself is wrong (a bad id or name, an existing route or file): a message
    /// for the person who asked, with `= help:` lines, returned to the CLI's one printer. It
    /// stays text because nothing matches on it; each refusal is written once, where it is found.
    Request(String),
    /// The registry is invalid, or would be after the edit.
    Invalid(Invalid),
}

/// The first line of every file `new` writes from scratch. `new --force` replaces a connector or
/// test file only when it starts with this line, so a file `new` did not create is never
/// overwritten.
pub const MARKER: &str = "// Written by `workerflow-registry new`: while this line comes first, `new --force` may replace the file.";

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal::Request(message.into())
}

/// Whether `id` is a valid route id (lowercase snake case).
pub fn is_route_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `name` is a valid secret (environment) name.
pub fn is_secret_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The crate a registry belongs to: the directory that holds its `connector-registry/`.
pub fn crate_root(registry_path: &Path) -> PathBuf {
    let absolute = std::path::absolute(registry_path).unwrap_or_else(|_| registry_path.to_owned());
    absolute
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Works out every edit without writing anything. `crate_root` holds `Cargo.toml`, `src/` and
/// `tests/`; `force` allows replacing the connector and test files.
pub fn plan(
    request: &Request,
    registry_path: &Path,
    registry_text: &str,
    schema: &Schema,
    crate_root: &Path,
    force: bool,
) -> Result<Plan, Refusal> {
    let service_name = request.service.trim();
    if service_name.is_empty() {
        return Err(refuse("the service name is empty"));
    }
    if let Some(route) = &request.route {
        if !is_route_id(route) {
            return Err(refuse(format!(
                "invalid route id `{route}`\n  = help: a route id is lower-case letters, digits and `_`, starting with a letter, for example `{}`",
                derive_id(route).unwrap_or_else(|| "acme_contact_upsert".into())
            )));
        }
        if route_ident(route).is_none() {
            return Err(refuse(format!(
                "route id `{route}` is a Rust keyword that no identifier can spell, so no code can name the route\n  = help: pick another route id, for example `{route}_route`"
            )));
        }
    }
    let mut seen = Vec::new();
    for name in &request.secrets {
        if !is_secret_name(name) {
            return Err(refuse(format!(
                "invalid secret name `{name}`\n  = help: a secret name is upper-case letters, digits and `_`, starting with a letter, for example `{}`",
                name.to_ascii_uppercase().replace(['-', ' ', '.'], "_")
            )));
        }
        if seen.contains(&name) {
            return Err(refuse(format!("secret `{name}` is given twice")));
        }
        seen.push(name);
    }
    if let Some(docs) = &request.docs
        && !docs.starts_with("https://")
    {
        return Err(refuse(format!(
            "--docs must be an https:// URL, found `{docs}`"
        )));
    }

    let display = crate::display_path(registry_path);
    let registry = compile(registry_text, schema)
        .into_result(&display, registry_text)
        .map_err(Refusal::Invalid)?;
    if let Some(route) = &request.route
        && let Some(owner) = registry.services.iter().find(|s| {
            s.runtime
                .iter()
                .flat_map(|r| &r.routes)
                .any(|r| &r.id == route)
        })
    {
        return Err(refuse(format!(
            "route `{route}` already exists (service `{}`)\n  = help: pick another route id, or edit the existing route in {display}",
            owner.connector_name
        )));
    }
    let wanted_id = derive_id(service_name);
    let existing = registry.services.iter().position(|s| {
        s.connector_name.eq_ignore_ascii_case(service_name) || Some(&s.id) == wanted_id.as_ref()
    });
    let service_id = match existing {
        Some(index) => registry.services[index].id.clone(),
        None => wanted_id.clone().ok_or_else(|| {
            refuse(format!(
                "no id can be derived from the service name `{service_name}`\n  = help: use a name with a letter first, such as `Acme CRM`"
            ))
        })?,
    };

    let Some(route_id) = &request.route else {
        if let Some(index) = existing {
            return Err(refuse(format!(
                "service `{}` is in {display} already\n  = help: add a route to it with `--route ROUTE_ID`, or edit its entry in {display}",
                registry.services[index].connector_name
            )));
        }
        return service_only_plan(request, registry_path, registry_text, schema, service_id);
    };
    if PATH_KEYWORDS.contains(&service_id.as_str()) || RAW_KEYWORDS.contains(&service_id.as_str()) {
        return Err(refuse(format!(
            "the service id `{service_id}` is a Rust keyword, so it cannot name the connector module (`mod {service_id};`)\n  = help: use a service name whose id is not a keyword, such as `{service_name} API`, or give the service another `id` in {display}"
        )));
    }

    // Edit the JSON value, so unknown keys and every other service stay as they are.
    let mut value: Value = serde_json::from_str(registry_text.trim_start_matches('\u{feff}'))
        .map_err(|e| refuse(format!("cannot read {display}: {e}")))?;
    let services = value
        .get_mut("services")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| refuse(format!("{display} has no `services` list")))?;
    let service_index = match existing.and_then(|_| {
        services.iter().position(|s| {
            let name = s
                .get("connectorName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = s
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| derive_id(name));
            name.eq_ignore_ascii_case(service_name) || id.as_deref() == Some(&service_id)
        })
    }) {
        Some(index) => index,
        None => {
            services.push(new_service(service_name, request));
            services.len() - 1
        }
    };
    let label = secret_label(
        registry
            .services
            .get(existing.unwrap_or(usize::MAX))
            .map_or(&*request.service, |s| &s.connector_name),
        request
            .auth
            .or(existing.map(|i| registry.services[i].auth_type)),
    );
    let service_display = existing.map_or(service_name, |i| &registry.services[i].connector_name);
    let setting_env = Names::setting_env(&service_id);
    let route = route_value(
        request,
        route_id,
        service_name,
        &label,
        service_display,
        &setting_env,
    );
    let service = services[service_index]
        .as_object_mut()
        .ok_or_else(|| refuse("the service is not an object"))?;
    let runtime = service
        .entry("runtime")
        .or_insert_with(|| json!({ "routes": [] }));
    if !runtime.is_object() {
        *runtime = json!({ "routes": [] });
    }
    let routes = runtime
        .as_object_mut()
        .map(|r| r.entry("routes").or_insert_with(|| json!([])))
        .and_then(Value::as_array_mut)
        .ok_or_else(|| refuse("the service's `runtime.routes` is not a list"))?;
    routes.push(route);

    let after = canonical::to_text(&canonical::canonical_value(value));
    let after = match canonical::validate_canonical(after, schema, &display) {
        Ok(text) => text,
        Err(FormatError::Invalid(invalid) | FormatError::WouldBeInvalid(invalid)) => {
            return Err(Refusal::Invalid(invalid));
        }
    };

    let display_name = existing.map_or(service_name, |i| &registry.services[i].connector_name);
    let manifest = Manifest::read(crate_root)?;
    let crate_name = manifest.crate_name()?;
    let connector_path = crate_root.join(format!("src/connectors/{service_id}.rs"));
    let test_name = format!("connector_{service_id}");
    let test_path = crate_root.join(format!("tests/{test_name}.rs"));
    let mut files = Vec::new();
    let module_dir = crate_root.join(format!("src/connectors/{service_id}"));
    if module_dir.symlink_metadata().is_ok() {
        return Err(not_ours(&module_dir));
    }
    for path in [&connector_path, &test_path] {
        match scaffolded(path) {
            None => {}
            Some(false) => return Err(not_ours(path)),
            Some(true) if force => {}
            Some(true) => {
                return Err(refuse(format!(
                    "{} exists\n  = help: pass --force to replace it, or add the handler to it by hand",
                    crate::display_path(path)
                )));
            }
        }
    }
    let names = Names::new(display_name, &service_id, route_id, &request.secrets);
    let (connector, connector_formatted) = rustfmt(connector_source(&names, request.request_type)?);
    let (test, test_formatted) = rustfmt(test_source(&names, &crate_name)?);
    let mut formatted = connector_formatted && test_formatted;
    files.push(PlannedFile {
        exists: connector_path.exists(),
        contents: connector,
        path: connector_path,
    });
    files.push(PlannedFile {
        exists: test_path.exists(),
        contents: test,
        path: test_path,
    });
    let examples_path = crate_root.join(EXAMPLES_TEST);
    let examples_test = if examples_path.symlink_metadata().is_ok() {
        ExamplesTest::Exists
    } else if !manifest.has_testing_feature() {
        ExamplesTest::NoTestingFeature
    } else {
        let (examples, examples_formatted) = rustfmt(examples_source(&crate_name)?);
        formatted &= examples_formatted;
        files.push(PlannedFile {
            path: examples_path,
            contents: examples,
            exists: false,
        });
        ExamplesTest::Planned
    };
    files.extend(module_edits(crate_root, &service_id)?);
    for file in &files {
        stays_in_crate(crate_root, &file.path)?;
    }
    Ok(Plan {
        registry_path: registry_path.to_owned(),
        registry_before: registry_text.to_owned(),
        registry_after: after,
        files,
        service_id,
        service_is_new: existing.is_none(),
        test_name,
        examples_test: Some(examples_test),
        formatted,
    })
}

/// `new --service` without `--route`: the service's complete catalogue entry (every field of
/// the schema, unknowns `null`), so a hand-written one missing fields is never needed.
fn service_only_plan(
    request: &Request,
    registry_path: &Path,
    registry_text: &str,
    schema: &Schema,
    service_id: String,
) -> Result<Plan, Refusal> {
    let display = crate::display_path(registry_path);
    let mut value: Value = serde_json::from_str(registry_text.trim_start_matches('\u{feff}'))
        .map_err(|e| refuse(format!("cannot read {display}: {e}")))?;
    value
        .get_mut("services")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| refuse(format!("{display} has no `services` list")))?
        .push(new_service(request.service.trim(), request));
    // Written out, as `fmt` does for ranked services, so the anchor stays when the name changes.
    if let Some(service) = value["services"]
        .as_array_mut()
        .and_then(|services| services.last_mut())
        .and_then(Value::as_object_mut)
    {
        service.insert("id".into(), json!(service_id));
    }
    let after = canonical::to_text(&canonical::canonical_value(value));
    let after = match canonical::validate_canonical(after, schema, &display) {
        Ok(text) => text,
        Err(FormatError::Invalid(invalid) | FormatError::WouldBeInvalid(invalid)) => {
            return Err(Refusal::Invalid(invalid));
        }
    };
    Ok(Plan {
        registry_path: registry_path.to_owned(),
        registry_before: registry_text.to_owned(),
        registry_after: after,
        files: Vec::new(),
        service_id,
        service_is_new: true,
        test_name: String::new(),
        examples_test: None,
        formatted: true,
    })
}

/// Why [`apply`] wrote nothing.
#[derive(Debug)]
pub struct ApplyError {
    /// The file.
    pub path: PathBuf,
    /// What the operating system said.
    pub error: std::io::Error,
    /// What could not be put back, when undoing failed too.
    pub not_undone: Vec<(PathBuf, std::io::Error)>,
}

/// One file of the plan on its way to disk.
struct Staged<'a> {
    target: &'a Path,
    /// The bytes the target held, to put back when a later step fails.
    before: Option<Vec<u8>>,
    temp: Option<PathBuf>,
    renamed: bool,
}

/// Writes every file of the plan and the registry, or none: each goes to a temp file in its
/// target's directory first, and only when all are written are they renamed into place. On any
/// failure the temp files are removed, the renamed files get their old bytes back (or are
/// removed), and the directories created for them are removed. Returns what happened to each
/// path, files first and the registry last.
pub fn apply(plan: &Plan) -> Result<Vec<(PathBuf, Written)>, ApplyError> {
    let files: Vec<(&Path, &[u8])> = plan
        .files
        .iter()
        .map(|f| (f.path.as_path(), f.contents.as_bytes()))
        .chain([(plan.registry_path.as_path(), plan.registry_after.as_bytes())])
        .collect();
    write_all(&files)
}

/// Writes each `(path, contents)` or none, in order, as [`apply`] does (`init` shares it).
pub fn write_all(files: &[(&Path, &[u8])]) -> Result<Vec<(PathBuf, Written)>, ApplyError> {
    // Through symbolic links to the files they name, as `fmt` and `build` write.
    let resolved: Vec<(PathBuf, &[u8])> = files
        .iter()
        .map(|&(path, contents)| {
            let target = crate::write::final_target(path).unwrap_or_else(|_| path.to_owned());
            (target, contents)
        })
        .collect();
    let mut staged: Vec<Staged> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let result = resolved.iter().try_for_each(|(target, contents)| {
        let (target, contents) = (target.as_path(), *contents);
        let before = match std::fs::read(target) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err((target.to_owned(), error)),
        };
        let mut file = Staged {
            target,
            before,
            temp: None,
            renamed: false,
        };
        if file.before.as_deref() != Some(contents) {
            let temp = stage(target, contents, &mut created_dirs);
            match temp {
                Ok(temp) => file.temp = Some(temp),
                Err(error) => {
                    staged.push(file);
                    return Err((target.to_owned(), error));
                }
            }
        }
        staged.push(file);
        Ok(())
    });
    let result = result.and_then(|()| {
        staged.iter_mut().try_for_each(|file| {
            let Some(temp) = &file.temp else {
                return Ok(());
            };
            std::fs::rename(temp, file.target).map_err(|e| (file.target.to_owned(), e))?;
            file.renamed = true;
            Ok(())
        })
    });
    match result {
        Ok(()) => Ok(staged
            .iter()
            .map(|file| {
                let written = match (&file.before, &file.temp) {
                    (_, None) => Written::Unchanged,
                    (None, Some(_)) => Written::Created,
                    (Some(_), Some(_)) => Written::Updated,
                };
                (file.target.to_owned(), written)
            })
            .collect()),
        Err((path, error)) => Err(ApplyError {
            path,
            error,
            not_undone: undo(&staged, &created_dirs),
        }),
    }
}

/// Writes `contents` to a new temp file beside `target`, creating the missing directories
/// (noted in `created_dirs`, outermost first).
fn stage(
    target: &Path,
    contents: &[u8],
    created_dirs: &mut Vec<PathBuf>,
) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let dir = target.parent().unwrap_or(Path::new("."));
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && d.symlink_metadata().is_err())
        .collect();
    for d in missing.into_iter().rev() {
        std::fs::create_dir(d)?;
        created_dirs.push(d.to_owned());
    }
    // The temp names of write.rs, so the next `new` or build removes those of a killed run.
    let name = crate::write::target_name(target);
    crate::write::remove_stale_temps(dir, &name);
    let temp = dir.join(crate::write::temp_name(&name));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    // A rewritten file keeps its mode.
    let kept_mode = match std::fs::metadata(target) {
        Ok(metadata) => file.set_permissions(metadata.permissions()),
        Err(_) => Ok(()),
    };
    if let Err(error) = kept_mode.and_then(|()| file.write_all(contents)) {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    Ok(temp)
}

/// Puts everything [`apply`] touched back as it was; returns what could not be.
fn undo(staged: &[Staged], created_dirs: &[PathBuf]) -> Vec<(PathBuf, std::io::Error)> {
    let mut failed = Vec::new();
    for file in staged.iter().rev() {
        if file.renamed {
            let undone = match &file.before {
                Some(bytes) => std::fs::write(file.target, bytes),
                None => std::fs::remove_file(file.target),
            };
            if let Err(error) = undone {
                failed.push((file.target.to_owned(), error));
            }
        } else if let Some(temp) = &file.temp {
            let _ = std::fs::remove_file(temp);
        }
    }
    for dir in created_dirs.iter().rev() {
        if let Err(error) = std::fs::remove_dir(dir) {
            failed.push((dir.clone(), error));
        }
    }
    failed
}

/// `None` when nothing is at `path`; else whether it is a file `new` wrote (it starts with
/// [`MARKER`]).
fn scaffolded(path: &Path) -> Option<bool> {
    path.symlink_metadata().ok()?;
    let text = std::fs::read_to_string(path).ok();
    Some(text.is_some_and(|t| t.lines().next() == Some(MARKER)))
}

fn not_ours(path: &Path) -> Refusal {
    refuse(format!(
        "{} exists and was not written by `workerflow-registry new`\n  = help: `new` never replaces what it did not create, even with --force: pick another service name, or add the handler to the existing module by hand",
        crate::display_path(path)
    ))
}

/// The generated source as rustfmt lays it out, and whether rustfmt ran. The templates are
/// laid out as rustfmt would for ordinary names, so this changes the text only when a long
/// name pushes a line past 100 columns; without rustfmt the text stays as rendered.
fn rustfmt(source: String) -> (String, bool) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return (source, false);
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(source.as_bytes());
    }
    match child.wait_with_output() {
        Ok(output) if output.status.success() && !output.stdout.is_empty() => {
            match String::from_utf8(output.stdout) {
                Ok(formatted) => (formatted, true),
                Err(_) => (source, false),
            }
        }
        _ => (source, false),
    }
}

/// A new service: every field the schema lists, unknown ones `null`.
fn new_service(name: &str, request: &Request) -> Value {
    let mut service = Map::new();
    for key in SERVICE_KEYS {
        service.insert((*key).to_owned(), Value::Null);
    }
    service.remove("id");
    service.remove("oauth2");
    service.remove("runtime");
    service.insert("connectorName".into(), json!(name));
    service.insert(
        "authType".into(),
        json!(request.auth.unwrap_or(AuthType::Unknown).as_str()),
    );
    // Nothing about the service has been researched yet.
    service.insert("confidence".into(), json!("Low"));
    service.insert("officialApiDocsUrl".into(), json!(request.docs));
    // `fmt` completes the list with the docs URL; without one it stays empty (a warning).
    service.insert("sources".into(), json!([]));
    Value::Object(service)
}

fn secret_label(service: &str, auth: Option<AuthType>) -> String {
    let what = match auth {
        Some(AuthType::ApiKey) => "API key",
        Some(AuthType::Oauth2 | AuthType::Token) => "access token",
        Some(AuthType::Basic) => "credentials",
        Some(AuthType::Webhook) => "webhook secret",
        _ => "secret",
    };
    format!("{service} {what}")
}

fn route_value(
    request: &Request,
    route_id: &str,
    service: &str,
    label: &str,
    display: &str,
    setting_env: &str,
) -> Value {
    let summary = request
        .summary
        .clone()
        .unwrap_or_else(|| format!("POST a JSON payload to the {service} API."));
    let secrets = if request.secrets.is_empty() {
        json!([])
    } else {
        json!([{ "label": label, "anyOf": request.secrets }])
    };
    // The contract's skeleton: what the scaffolded handler takes and returns. An input without
    // `properties` is a JSON object (the generated `Input` is a map); declaring properties turns
    // it into a struct with those fields.
    json!({
        "id": route_id,
        "summary": summary,
        "requestType": request.request_type.as_str(),
        "secrets": secrets,
        // No default: the service's address is not known yet.
        "settings": [{
            "name": setting_env,
            "label": format!("{display} base URL"),
            "kind": "base_url",
        }],
        "input": {
            "type": "object",
            "description": "The fields the route takes, forwarded as JSON; declare them under `properties`."
        },
        "output": {
            "type": "object",
            "required": ["ok", "route", "status", "response"],
            "properties": {
                "ok": {"const": true, "description": "Always `true` on success."},
                "route": {"const": route_id, "description": "The route id."},
                "status": {"type": "integer", "description": "The service's HTTP status."},
                "response": {"type": "object", "description": "The service's JSON answer."}
            },
            "additionalProperties": false
        },
        // What the scaffolded handler does, as `tests/examples.rs` checks it: the payload
        // posted, the service's answer passed on. Rewrite it with the real call.
        "examples": [{
            "name": "the service answers",
            "input": {"name": "Ada"},
            "provider": [{"status": 200, "body": {"id": "created-1"}}],
            "output": {"ok": true, "route": route_id, "status": 200, "response": {"id": "created-1"}}
        }],
    })
}

/// The crate's `Cargo.toml`, read as TOML.
struct Manifest {
    table: toml::Table,
    /// Its path as shown in messages.
    shown: String,
}

impl Manifest {
    fn read(crate_root: &Path) -> Result<Manifest, Refusal> {
        let path = crate_root.join("Cargo.toml");
        let shown = crate::display_path(&path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            refuse(format!(
                "cannot read {shown}: {e}\n  = help: `new` writes into the crate whose connector-registry/ holds the registry"
            ))
        })?;
        let table = text.parse().map_err(|e: toml::de::Error| {
            refuse(format!("cannot read {shown}: {}", e.to_string().trim_end()))
        })?;
        Ok(Manifest { table, shown })
    }

    /// The name the crate's tests `use` it by: `[lib] name`, else `[package] name` with `-` as
    /// `_`.
    fn crate_name(&self) -> Result<String, Refusal> {
        let shown = &self.shown;
        let field = |section: &str| self.table.get(section).and_then(|t| t.get("name"));
        let name = match (field("lib"), field("package")) {
            (Some(toml::Value::String(name)), _) => name.clone(),
            (None, Some(toml::Value::String(name))) => name.replace('-', "_"),
            (None, Some(toml::Value::Table(_))) => {
                return Err(refuse(format!(
                    "{shown}: `package.name` is inherited, which Cargo does not allow\n  = help: write the name, as in `name = \"my-connectors\"`"
                )));
            }
            (None, None) => return Err(refuse(format!("{shown} has no [package] name"))),
            _ => return Err(refuse(format!("{shown}: the crate name is not a string"))),
        };
        let is_ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name != "_"
            && !PATH_KEYWORDS.contains(&name.as_str())
            && !RAW_KEYWORDS.contains(&name.as_str());
        if !is_ident {
            return Err(refuse(format!(
                "{shown}: the crate name `{name}` is not a Rust identifier, so the generated test cannot `use` it"
            )));
        }
        Ok(name)
    }

    /// Whether the crate's tests can use `workerflow_runtime::testing`: `workerflow-runtime`
    /// (by key, or renamed with `package`) with feature `testing` in `[dependencies]` or
    /// `[dev-dependencies]`.
    fn has_testing_feature(&self) -> bool {
        ["dependencies", "dev-dependencies"]
            .iter()
            .filter_map(|section| self.table.get(*section)?.as_table())
            .flat_map(|deps| deps.iter())
            .filter(|(key, dependency)| {
                *key == "workerflow-runtime"
                    || dependency.get("package").and_then(toml::Value::as_str)
                        == Some("workerflow-runtime")
            })
            .any(|(_, dependency)| {
                dependency
                    .get("features")
                    .and_then(toml::Value::as_array)
                    .is_some_and(|features| features.iter().any(|f| f.as_str() == Some("testing")))
            })
    }
}

/// Refuses a file `new` would write through a symbolic link, or into a directory that is a
/// link out of the crate: with `--force` the write would land wherever the link points (the
/// registry is the exception, written through its link as `fmt` and `build` do).
fn stays_in_crate(crate_root: &Path, path: &Path) -> Result<(), Refusal> {
    let shown = crate::display_path(path);
    if path
        .symlink_metadata()
        .is_ok_and(|meta| meta.file_type().is_symlink())
    {
        return Err(refuse(format!(
            "{shown} is a symbolic link; `new` never writes through one (it could point outside the crate)\n  = help: replace the link with the file, or pick another service name"
        )));
    }
    // The nearest existing directory above the file must resolve inside the crate.
    let root = crate_root
        .canonicalize()
        .unwrap_or_else(|_| crate_root.to_owned());
    let existing = path
        .ancestors()
        .skip(1)
        .find(|dir| dir.symlink_metadata().is_ok());
    if let Some(dir) = existing
        && let Ok(real) = dir.canonicalize()
        && !real.starts_with(&root)
    {
        return Err(refuse(format!(
            "{} leads outside the crate (to {}); `new` never writes there\n  = help: make it a directory of the crate",
            crate::display_path(dir),
            real.display()
        )));
    }
    Ok(())
}

/// The names a module declaration would clash with in `text` (a module file): modules, types,
/// traits, `use` and `extern crate` names, the items of Rust's type namespace. `None` when the
/// file does not parse (the compiler will say why).
fn type_namespace_names(text: &str) -> Option<Vec<String>> {
    fn use_names(tree: &syn::UseTree, out: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(path) => use_names(&path.tree, out),
            syn::UseTree::Name(name) => out.push(name.ident.to_string()),
            syn::UseTree::Rename(rename) => out.push(rename.rename.to_string()),
            syn::UseTree::Group(group) => group.items.iter().for_each(|t| use_names(t, out)),
            syn::UseTree::Glob(_) => {}
        }
    }
    let file = syn::parse_file(text).ok()?;
    let mut names = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Mod(item) => names.push(item.ident.to_string()),
            syn::Item::Struct(item) => names.push(item.ident.to_string()),
            syn::Item::Enum(item) => names.push(item.ident.to_string()),
            syn::Item::Union(item) => names.push(item.ident.to_string()),
            syn::Item::Type(item) => names.push(item.ident.to_string()),
            syn::Item::Trait(item) => names.push(item.ident.to_string()),
            syn::Item::TraitAlias(item) => names.push(item.ident.to_string()),
            syn::Item::ExternCrate(item) => names.push(
                item.rename
                    .as_ref()
                    .map_or(&item.ident, |(_, rename)| rename)
                    .to_string(),
            ),
            syn::Item::Use(item) => use_names(&item.tree, &mut names),
            _ => {}
        }
    }
    Some(names)
}

/// `mod <id>;` added to `src/connectors/mod.rs` (created, and declared in `src/lib.rs`, when
/// the crate has no connectors module yet).
fn module_edits(crate_root: &Path, service_id: &str) -> Result<Vec<PlannedFile>, Refusal> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| refuse(format!("cannot read {}: {e}", crate::display_path(path))))
    };
    let modules = crate_root.join("src/connectors/mod.rs");
    let declaration = format!("mod {service_id};");
    if modules.exists() {
        let text = read(&modules)?;
        if text.lines().any(|l| {
            let l = l.trim();
            l == declaration || l == format!("pub {declaration}")
        }) {
            return Ok(Vec::new());
        }
        if type_namespace_names(&text).is_some_and(|names| names.iter().any(|n| n == service_id)) {
            return Err(refuse(format!(
                "{} already has an item named `{service_id}`; `mod {service_id};` beside it would not compile (E0428)\n  = help: pick another service name (its id names the module), or rename that item",
                crate::display_path(&modules)
            )));
        }
        return Ok(vec![PlannedFile {
            contents: insert_module(&text, &declaration),
            path: modules,
            exists: true,
        }]);
    }
    let lib = crate_root.join("src/lib.rs");
    let lib_text = read(&lib)?;
    let mut files = vec![PlannedFile {
        path: modules,
        contents: format!(
            "//! The crate's connectors, one file per service (`workerflow-registry new` adds them).\n\n{declaration}\n"
        ),
        exists: false,
    }];
    if !lib_text
        .lines()
        .any(|l| l.trim().trim_start_matches("pub ") == "mod connectors;")
    {
        let mut text = lib_text;
        // Right after `include_registry!()` (where `init` puts it, before any test module:
        // clippy's `items_after_test_module`), else at the end.
        let include = text
            .find("include_registry!();\n")
            .map(|at| at + "include_registry!();\n".len());
        match include {
            Some(at) => text.insert_str(at, "\npub mod connectors;\n"),
            None => {
                if !text.ends_with('\n') && !text.is_empty() {
                    text.push('\n');
                }
                text.push_str("\npub mod connectors;\n");
            }
        }
        files.push(PlannedFile {
            path: lib,
            contents: text,
            exists: true,
        });
    }
    Ok(files)
}

/// Inserts `declaration` among the `mod x;` lines in name order (as rustfmt sorts them), or
/// after the leading comments when there are none.
fn insert_module(text: &str, declaration: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let is_mod = |l: &str| l.starts_with("mod ") && l.ends_with(';');
    let position = match lines.iter().position(|l| is_mod(l)) {
        Some(first) => {
            let mut at = first;
            while at < lines.len() && is_mod(lines[at]) && lines[at] < declaration {
                at += 1;
            }
            at
        }
        None => lines
            .iter()
            .position(|l| !l.starts_with("//") && !l.trim().is_empty())
            .unwrap_or(lines.len()),
    };
    let mut out: Vec<&str> = lines[..position].to_vec();
    out.push(declaration);
    out.extend_from_slice(&lines[position..]);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// The identifiers and texts the templates use.
struct Names {
    /// The service's name, for one line of a comment.
    service_doc: String,
    /// The service's name, for string literals (escaped where it lands).
    service: String,
    route: String,
    /// The route id as an identifier (`r#type` for a keyword).
    route_ident: String,
    handler: String,
    /// The base-URL setting the route's contract declares (and the item `ctx.setting` takes).
    setting_env: String,
    /// The first secret name (the item `ctx.secret` takes), when the route has a secret.
    secret: Option<String>,
}

impl Names {
    /// `WORKERFLOW_<SERVICE ID>_BASE_URL`.
    fn setting_env(service_id: &str) -> String {
        format!("WORKERFLOW_{}_BASE_URL", service_id.to_ascii_uppercase())
    }

    fn new(service: &str, service_id: &str, route: &str, secrets: &[String]) -> Names {
        Names {
            service_doc: comment_line(service),
            service: service.to_owned(),
            route: route.to_owned(),
            route_ident: route_ident(route).unwrap_or_else(|| route.to_owned()),
            handler: format!("{route}_handler"),
            setting_env: Names::setting_env(service_id),
            secret: secrets.first().cloned(),
        }
    }
}

/// The connector and test templates (`templates/scaffold/`), filled with values made safe in
/// Rust: identifiers checked, literals escaped, comment text on one line.
const CONNECTOR_TEMPLATE: &str = include_str!("../templates/scaffold/connector.rs.j2");
const TEST_TEMPLATE: &str = include_str!("../templates/scaffold/test.rs.j2");
const EXAMPLES_TEMPLATE: &str = include_str!("../templates/scaffold/examples.rs.j2");

/// Renders one scaffold template. Nothing is escaped by the engine: every value is Rust text
/// already (see [`Names`]), and a variable the template names but the context lacks is an error.
fn render_template(
    name: &str,
    template: &str,
    context: minijinja::Value,
) -> Result<String, Refusal> {
    let mut env = minijinja::Environment::new();
    // `{% if %}` lines vanish whole; the file keeps its final newline.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|error| refuse(format!("internal error: the scaffold syntax: {error}")))?;
    env.set_syntax(syntax);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.render_named_str(name, template, context)
        .map_err(|error| {
            refuse(format!(
                "internal error: the scaffold template {name}: {error}"
            ))
        })
}

fn connector_source(names: &Names, request_type: RequestType) -> Result<String, Refusal> {
    render_template(
        "connector.rs.j2",
        CONNECTOR_TEMPLATE,
        minijinja::context! {
            marker => MARKER,
            service_doc => &names.service_doc,
            route => &names.route,
            request_type => request_type.as_str(),
            ident => &names.route_ident,
            handler => &names.handler,
            setting_env => &names.setting_env,
            setting_env_lit => literal(&names.setting_env),
            label_lit => literal(&format!("{} base URL", names.service)),
            failed_lit => literal(&format!("{} request failed", names.service)),
            secret => &names.secret,
        },
    )
}

fn test_source(names: &Names, crate_name: &str) -> Result<String, Refusal> {
    render_template(
        "test.rs.j2",
        TEST_TEMPLATE,
        minijinja::context! {
            marker => MARKER,
            service_doc => &names.service_doc,
            route => &names.route,
            route_lit => literal(&names.route),
            crate_name => crate_name,
            setting_env_lit => literal(&names.setting_env),
            secret => &names.secret,
            secret_lit => names.secret.as_deref().map(literal),
        },
    )
}

fn examples_source(crate_name: &str) -> Result<String, Refusal> {
    render_template(
        "examples.rs.j2",
        EXAMPLES_TEMPLATE,
        minijinja::context! { crate_name => crate_name },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_inserted_in_name_order() {
        let text = "//! Connectors.\n\nmod alpha;\nmod gamma;\n\npub use alpha::a;\n";
        assert_eq!(
            insert_module(text, "mod beta;"),
            "//! Connectors.\n\nmod alpha;\nmod beta;\nmod gamma;\n\npub use alpha::a;\n"
        );
        assert_eq!(
            insert_module(text, "mod zeta;"),
            "//! Connectors.\n\nmod alpha;\nmod gamma;\nmod zeta;\n\npub use alpha::a;\n"
        );
        assert_eq!(
            insert_module("//! Empty.\n", "mod acme;"),
            "//! Empty.\nmod acme;\n"
        );
    }

    /// A rename that fails after others succeeded: the renamed files get their old bytes back,
    /// new files and created directories go, and no temp file stays.
    #[test]
    fn a_failed_rename_undoes_the_renamed_files() {
        let dir = std::env::temp_dir().join(format!("wf-apply-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("blocker/inside")).expect("mkdir");
        std::fs::write(dir.join("old.txt"), "old\n").expect("write");
        let file = |path: &str, contents: &str| PlannedFile {
            path: dir.join(path),
            contents: contents.to_owned(),
            exists: false,
        };
        let plan = Plan {
            registry_path: dir.join("registry.json"),
            registry_before: String::new(),
            registry_after: "{}\n".into(),
            // Renamed in this order: a new file (and its directory), an edited one, then a
            // non-empty directory, which fails; the registry is never reached.
            files: vec![
                file("made/new.txt", "made\n"),
                file("old.txt", "changed\n"),
                file("blocker", "x\n"),
            ],
            service_id: "x".into(),
            service_is_new: false,
            test_name: "x".into(),
            examples_test: None,
            formatted: true,
        };
        let before: Vec<_> = walk(&dir);
        let failed = apply(&plan).expect_err("the rename over a directory fails");
        assert_eq!(failed.path, dir.join("blocker"));
        assert!(failed.not_undone.is_empty(), "{:?}", failed.not_undone);
        assert_eq!(walk(&dir), before);
        assert_eq!(
            std::fs::read_to_string(dir.join("old.txt")).expect("read"),
            "old\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Like `fmt` and `build`, `new` writes a symlinked registry through the link and keeps the
    /// mode of every file it rewrites.
    #[test]
    fn apply_writes_through_symlinks_and_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wf-apply-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("real.json"), "{ }\n").expect("write");
        std::fs::set_permissions(
            dir.join("real.json"),
            std::fs::Permissions::from_mode(0o640),
        )
        .expect("chmod");
        std::os::unix::fs::symlink("real.json", dir.join("registry.json")).expect("link");
        let plan = Plan {
            registry_path: dir.join("registry.json"),
            registry_before: "{ }\n".into(),
            registry_after: "{}\n".into(),
            files: Vec::new(),
            service_id: "x".into(),
            service_is_new: false,
            test_name: "x".into(),
            examples_test: None,
            formatted: true,
        };
        apply(&plan).expect("applied");
        let link = std::fs::symlink_metadata(dir.join("registry.json")).expect("stat");
        assert!(link.file_type().is_symlink(), "the link was replaced");
        assert_eq!(
            std::fs::read_to_string(dir.join("real.json")).expect("read"),
            "{}\n"
        );
        let mode = std::fs::metadata(dir.join("real.json"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn walk(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                out.push((path.clone(), None));
                out.extend(walk(&path));
            } else {
                out.push((path.clone(), std::fs::read(&path).ok()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn path_keywords_are_refused_and_the_others_are_raw() {
        // One table in `workerflow-names`, so `new`, codegen and `#[connector]` agree.
        for keyword in RAW_KEYWORDS {
            assert_eq!(route_ident(keyword), Some(format!("r#{keyword}")));
        }
        for keyword in PATH_KEYWORDS {
            assert_eq!(route_ident(keyword), None);
        }
        assert_eq!(route_ident("union").as_deref(), Some("union"));
    }

    #[test]
    fn ids_and_secret_names() {
        assert!(is_route_id("acme_contact_upsert"));
        assert!(!is_route_id("Acme-contact"));
        assert!(!is_route_id("1acme"));
        assert!(is_secret_name("ACME_API_KEY"));
        assert!(!is_secret_name("acme_key"));
    }
}

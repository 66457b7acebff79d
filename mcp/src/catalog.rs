//! The registry the tools answer from: loaded once, and again whenever the registry file (or the
//! schema beside it) changes, so an agent that edits `services.json` and calls `check_registry`
//! sees its edit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::Value;
use workerflow_registry::search::search_key;
use workerflow_registry::{
    Diagnostic, LoadError, Registry, Report, SCHEMA_FILE_NAME, compile, read_source, schema_for,
};

/// Where the registry is, or why none was found (every tool then answers with that error).
pub struct Catalog {
    location: Result<PathBuf, String>,
    current: Mutex<Option<Arc<Snapshot>>>,
}

/// The registry as it was at one moment.
pub struct Snapshot {
    stamp: Stamp,
    pub state: State,
}

pub enum State {
    /// The registry is valid (it may have warnings).
    Valid(Box<Valid>),
    /// The registry has errors: what `check` reports.
    Invalid(Checked),
    /// The registry or its schema cannot be read.
    Unreadable(String),
}

pub struct Valid {
    pub registry: Registry,
    pub checked: Checked,
    /// Each service's search key, in registry order.
    pub keys: Vec<String>,
    services: HashMap<String, usize>,
    /// Route id → (service index, route index).
    routes: HashMap<String, (usize, usize)>,
}

/// The diagnostics of one load, in `check --format json`'s shape and as rustc-style text.
pub struct Checked {
    pub report: Value,
    pub text: String,
    pub services: usize,
    pub routes: usize,
}

/// What identifies one version of the files: their modification times and sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp(Vec<Option<(SystemTime, u64)>>);

impl Stamp {
    fn of(registry: &Path) -> Stamp {
        let schema = registry.parent().map(|dir| dir.join(SCHEMA_FILE_NAME));
        let files = std::iter::once(Some(registry.to_path_buf())).chain(std::iter::once(schema));
        Stamp(
            files
                .map(|file| {
                    let meta = std::fs::metadata(file?).ok()?;
                    Some((meta.modified().ok()?, meta.len()))
                })
                .collect(),
        )
    }
}

impl Catalog {
    pub fn new(location: Result<PathBuf, String>) -> Catalog {
        Catalog {
            location,
            current: Mutex::new(None),
        }
    }

    pub fn location(&self) -> Result<&Path, &str> {
        match &self.location {
            Ok(path) => Ok(path),
            Err(message) => Err(message),
        }
    }

    /// The registry as it is now on disk: the last snapshot when the files did not change since.
    /// `Err` when no registry was found at start.
    pub fn current(&self) -> Result<Arc<Snapshot>, String> {
        let path = self.location.as_ref().map_err(Clone::clone)?;
        let stamp = Stamp::of(path);
        // A poisoned lock only means a load panicked: the next call loads again.
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(snapshot) = current.as_ref().filter(|s| s.stamp == stamp) {
            return Ok(snapshot.clone());
        }
        let snapshot = Arc::new(Snapshot {
            state: load(path),
            stamp,
        });
        *current = Some(snapshot.clone());
        Ok(snapshot)
    }
}

fn load(path: &Path) -> State {
    let unreadable = |error: LoadError| match error {
        LoadError::Invalid(invalid) => State::Invalid(checked(&invalid.report(), 0, 0)),
        other => State::Unreadable(workerflow_registry::ErrorChain(&other).to_string()),
    };
    let schema = match schema_for(path) {
        Ok(schema) => schema,
        Err(error) => return unreadable(error),
    };
    let file = match read_source(path) {
        Ok(file) => file,
        Err(error) => return unreadable(error),
    };
    let compiled = compile(&file.text, &schema);
    // The search keys on this thread, the id maps on another.
    let index = compiled.registry.as_ref().map(|registry| {
        std::thread::scope(|scope| {
            let maps = scope.spawn(|| (id_map(registry), route_map(registry)));
            let keys: Vec<String> = registry.services.iter().map(search_key).collect();
            let maps = maps
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (keys, maps)
        })
    });
    let report = |diagnostics: &[Diagnostic], services, routes| {
        let report = Report {
            path: &file.display,
            source: &file.text,
            diagnostics,
        };
        checked(&report, services, routes)
    };
    let (Some(registry), Some((keys, (services, routes)))) = (compiled.registry, index) else {
        return State::Invalid(report(&compiled.diagnostics, 0, 0));
    };
    let checked = report(
        &compiled.diagnostics,
        registry.services.len(),
        registry.routes().count(),
    );
    // The text (~100 MB for 100,000 services) is freed on its own thread: nothing waits for it.
    std::thread::spawn(move || drop(file));
    State::Valid(Box::new(Valid {
        registry,
        checked,
        keys,
        services,
        routes,
    }))
}

fn id_map(registry: &Registry) -> HashMap<String, usize> {
    let ids = registry.services.iter().map(|service| service.id.clone());
    ids.zip(0..).collect()
}

fn route_map(registry: &Registry) -> HashMap<String, (usize, usize)> {
    let services = registry.services.iter().enumerate();
    services
        .flat_map(|(s, service)| {
            let routes = service.routes().iter().enumerate();
            routes.map(move |(r, route)| (route.id.clone(), (s, r)))
        })
        .collect()
}

fn checked(report: &Report<'_>, services: usize, routes: usize) -> Checked {
    let mut text = report.render_snippets(false);
    text.push_str(&report.summary(false));
    Checked {
        report: report.to_json(),
        text,
        services,
        routes,
    }
}

impl Valid {
    pub fn service_index(&self, id: &str) -> Option<usize> {
        self.services.get(id).copied()
    }

    pub fn route_index(&self, id: &str) -> Option<(usize, usize)> {
        self.routes.get(id).copied()
    }

    pub fn route_ids(&self) -> impl Iterator<Item = &str> {
        self.registry.routes().map(|(_, route)| route.id.as_str())
    }
}

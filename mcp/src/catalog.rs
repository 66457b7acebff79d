//! The registry the tools answer from: loaded once, and again whenever the registry file (or the
//! schema beside it) changes, so an agent that edits `services.json` and calls `check_registry`
//! sees its edit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::Value;
use workerflow_registry::search::search_key;
use workerflow_registry::{Diagnostic, LoadError, Registry, Report, SCHEMA_FILE_NAME, Source};

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
}

/// Why there is no registry to answer from; the text says where to look or what failed.
pub enum Unusable {
    /// None was found at start.
    NoRegistry(String),
    /// The registry or its schema cannot be read (tried again on the next call).
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

/// What identifies one version of the files: for the registry and the schema beside it, the
/// device, inode, size, and modification and status-change times (nanoseconds). An edit that
/// keeps the size and puts the mtime back still moves the ctime, which no one can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp([Option<Version>; 2]);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Version {
    device: u64,
    inode: u64,
    size: u64,
    modified: Option<SystemTime>,
    changed_ns: i128,
}

impl Version {
    fn of(file: &Path) -> Option<Version> {
        let meta = std::fs::metadata(file).ok()?;
        #[cfg(unix)]
        let (device, inode, changed_ns) = {
            use std::os::unix::fs::MetadataExt;
            let changed = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
            (meta.dev(), meta.ino(), changed)
        };
        #[cfg(not(unix))]
        let (device, inode, changed_ns) = (0, 0, 0);
        Some(Version {
            device,
            inode,
            size: meta.len(),
            modified: meta.modified().ok(),
            changed_ns,
        })
    }
}

impl Stamp {
    fn of(registry: &Path) -> Stamp {
        let schema = registry.parent().map(|dir| dir.join(SCHEMA_FILE_NAME));
        Stamp([
            Version::of(registry),
            schema.as_deref().and_then(Version::of),
        ])
    }
}

impl Catalog {
    /// The catalogue of the registry at `location` (or the reason none was found).
    pub fn new(location: Result<PathBuf, String>) -> Catalog {
        Catalog {
            location,
            current: Mutex::new(None),
        }
    }

    /// Where the registry is, or why none was found.
    pub fn location(&self) -> Result<&Path, &str> {
        match &self.location {
            Ok(path) => Ok(path),
            Err(message) => Err(message),
        }
    }

    /// The registry as it is now on disk: the last snapshot when the files did not change since.
    /// The lock is held only to look at and to swap the snapshot, never while a file is read, so
    /// a slow read (a network disk, a huge file) never holds up the other tools.
    pub fn current(&self) -> Result<Arc<Snapshot>, Unusable> {
        let path = self
            .location
            .as_ref()
            .map_err(|message| Unusable::NoRegistry(message.clone()))?;
        let stamp = Stamp::of(path);
        if let Some(snapshot) = self.snapshot().filter(|s| s.stamp == stamp) {
            return Ok(snapshot);
        }
        let snapshot = Arc::new(Snapshot {
            state: load(path).map_err(Unusable::Unreadable)?,
            stamp,
        });
        // A poisoned lock only means a load panicked: the next call loads again.
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot.clone());
        Ok(snapshot)
    }

    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The registry at `path`, valid or not; `Err` with why it cannot be read.
fn load(path: &Path) -> Result<State, String> {
    let unreadable = |error: LoadError| match error {
        // Too large or not UTF-8: located diagnostics like any other problem.
        LoadError::Invalid(invalid) => Ok(State::Invalid(Checked::of(&invalid.report(), 0, 0))),
        other => Err(workerflow_registry::ErrorChain(&other).to_string()),
    };
    let file = match Source::open(path) {
        Ok(file) => file,
        Err(error) => return unreadable(error),
    };
    let compiled = file.compile();
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
            path: file.display(),
            source: file.text(),
            diagnostics,
        };
        Checked::of(&report, services, routes)
    };
    let (Some(registry), Some((keys, (services, routes)))) = (compiled.registry, index) else {
        return Ok(State::Invalid(report(&compiled.diagnostics, 0, 0)));
    };
    let checked = report(
        &compiled.diagnostics,
        registry.services.len(),
        registry.routes().count(),
    );
    // The text (~100 MB for 100,000 services) is freed on its own thread: nothing waits for it.
    std::thread::spawn(move || drop(file));
    Ok(State::Valid(Box::new(Valid {
        registry,
        checked,
        keys,
        services,
        routes,
    })))
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

impl Checked {
    /// `report` as `check` prints it, of a registry with `services` and `routes`.
    pub fn of(report: &Report<'_>, services: usize, routes: usize) -> Checked {
        Checked {
            report: report.to_json(),
            text: report.render_text(false),
            services,
            routes,
        }
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

//! Crash safety of `workerflow-registry build`'s writes: killed with SIGKILL at random moments,
//! or racing another build, it leaves each docs file either the old or the new complete
//! version, never a torn one, and the temp files a killed build leaves are removed by the next
//! build.
//!
//! Two registries (A and B, differing in every service) are built alternately into one docs
//! directory; their pages are first built into reference directories. Half of the kills come
//! at a random delay over a whole build, half right after the build's temp file appears (the
//! test polls for a file named with the child's pid), so that many land in the middle of a
//! write; if none has after those, more kills follow the temp file at once until one does.
//! Delays come from a seeded RNG: set `WF_CRASH_SEED` to replay a run. The registry has
//! 1,000 services (~0.7 and ~1.4 MB pages) so that 30 kills of a debug build stay within about 30 s
//! on a busy 2-core machine; `WF_CRASH_SERVICES` and `WF_CRASH_KILLS` make the run larger.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

// `openapi.json` (issue 13.2) and `llms.txt` (issue 17.2) are written by `build` too, with the
// same atomic replace.
const PAGES: [&str; 4] = [
    "SERVICE_API_INDEX.md",
    "SERVICE_API_INDEX.html",
    "openapi.json",
    "llms.txt",
];

/// SplitMix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A registry of `n` services cycled from the upstream top 100, as `bench/gen_registry.py`
/// makes them; `edition` changes every service's name and notes, so A and B differ throughout.
fn registry(n: usize, edition: &str) -> String {
    let upstream: Value = serde_json::from_str(include_str!(
        "fixtures/upstream/workerflow-services.v1.json"
    ))
    .unwrap();
    let top = upstream["services"].as_array().unwrap();
    let services: Vec<Value> = (0..n)
        .map(|i| {
            let mut s = top[i % top.len()].clone();
            let name = format!("{} {i}{edition}", s["connectorName"].as_str().unwrap());
            s["rank"] = Value::from(i + 1);
            s["connectorName"] = Value::from(name);
            s["notes"] = Value::from(format!("Edition {edition}: service {i}."));
            let base = s["officialApiDocsUrl"]
                .as_str()
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
            s["officialApiDocsUrl"] = Value::from(format!("{base}/v{i}"));
            s["bestBaseLink"] = Value::from(format!("{base}/v{i}"));
            s["sources"] = Value::from(vec![format!("{base}/v{i}")]);
            s
        })
        .collect();
    let registry = serde_json::json!({
        "version": 1,
        "updatedAt": "2026-03-01",
        "notes": format!("Crash-safety registry, edition {edition}."),
        "services": services,
    });
    serde_json::to_string_pretty(&registry).unwrap()
}

struct Setup {
    root: PathBuf,
    /// `a/connector-registry/services.json` and `b/…`: the same shown path in both pages.
    registries: [PathBuf; 2],
    /// The reference pages of A and B, in [`PAGES`] order.
    references: [[Vec<u8>; 4]; 2],
    docs: PathBuf,
}

fn build(registry: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_workerflow-registry"));
    command
        .arg("build")
        .arg("--registry")
        .arg(registry)
        .arg("--out")
        .arg(out)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn build_to_end(registry: &Path, out: &Path) {
    let output = build(registry, out).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn setup(name: &str, services: usize) -> Setup {
    let root = std::env::temp_dir().join(format!("wf-crash-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let registries = ["a", "b"].map(|edition| {
        let path = root.join(edition).join("connector-registry/services.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, registry(services, edition)).unwrap();
        path
    });
    let references = [0, 1].map(|i| {
        let out = root.join(format!("reference-{i}"));
        build_to_end(&registries[i], &out);
        PAGES.map(|page| fs::read(out.join(page)).unwrap())
    });
    assert_ne!(references[0][0], references[1][0]);
    assert_ne!(references[0][1], references[1][1]);
    let docs = root.join("docs");
    build_to_end(&registries[0], &docs);
    Setup {
        root,
        registries,
        references,
        docs,
    }
}

impl Setup {
    /// Each page is A's or B's complete bytes; returns which (0 or 1) per page.
    fn assert_whole(&self, context: &str) -> [usize; 4] {
        [0, 1, 2, 3].map(|p| {
            let bytes = fs::read(self.docs.join(PAGES[p])).unwrap();
            match (0..2).find(|&r| self.references[r][p] == bytes) {
                Some(r) => r,
                None => panic!(
                    "{context}: {} is torn ({} bytes; A has {}, B has {})",
                    PAGES[p],
                    bytes.len(),
                    self.references[0][p].len(),
                    self.references[1][p].len()
                ),
            }
        })
    }

    /// The temp files in the docs directory; anything else unexpected fails the test.
    fn temp_files(&self) -> Vec<String> {
        let mut temps = Vec::new();
        for entry in fs::read_dir(&self.docs).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if PAGES.contains(&name.as_str()) {
                continue;
            }
            assert!(
                PAGES
                    .iter()
                    .any(|page| name.starts_with(&format!(".{page}.")) && name.ends_with(".tmp")),
                "unexpected file {name}"
            );
            temps.push(name);
        }
        temps
    }
}

/// Waits until `child` has a temp file in `docs` (or has exited, or 30 s passed). Polls
/// without sleeping: on a fast machine a page's temp file lives for well under a millisecond.
fn wait_for_temp_file(child: &mut Child, docs: &Path) {
    let marker = format!(".{}.", child.id());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let found = fs::read_dir(docs).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".tmp") && name.contains(&marker)
            })
        });
        if found || child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::yield_now();
    }
}

/// When a round's kill comes.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This long after the build started.
    Delay(Duration),
    /// This long after the build's first temp file appeared.
    AfterTempFile(Duration),
}

/// How a killed build ended.
struct Round {
    finished: bool,
    killed_mid_write: bool,
}

impl Setup {
    /// Starts a build of `registry` into the docs directory, SIGKILLs it at `kill_at`, then
    /// checks that both pages are whole (the old or the new version).
    fn kill_round(&self, registry: &Path, kill_at: KillAt, context: &str) -> Round {
        let mut child = build(registry, &self.docs).spawn().unwrap();
        match kill_at {
            KillAt::Delay(delay) => std::thread::sleep(delay),
            KillAt::AfterTempFile(delay) => {
                wait_for_temp_file(&mut child, &self.docs);
                std::thread::sleep(delay);
            }
        }
        let _ = child.kill(); // SIGKILL; a child that already finished just gets reaped
        let status = child.wait().unwrap();
        if !status.success() {
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9),
                "{context}: {status}"
            );
        }
        self.assert_whole(context);
        let pid = format!(".{}.", child.id());
        Round {
            finished: status.success(),
            killed_mid_write: self.temp_files().iter().any(|t| t.contains(&pid)),
        }
    }
}

#[test]
fn killed_builds_leave_old_or_new_pages_and_no_lasting_temp_files() {
    let seed = env_number("WF_CRASH_SEED", 0x5eed_2026);
    let services = env_number("WF_CRASH_SERVICES", 1_000) as usize;
    let kills = env_number("WF_CRASH_KILLS", 30);
    let mut rng = Rng(seed);
    let setup = setup("kill", services);

    // How long a whole build takes here, to spread the random delays over it.
    let start = Instant::now();
    build_to_end(&setup.registries[1], &setup.root.join("timing"));
    let full = start.elapsed();

    let mut outcomes = Vec::new();
    for round in 0..kills {
        let registry = &setup.registries[usize::from(round % 2 == 0)];
        let kill_at = if rng.below(2) == 0 {
            KillAt::AfterTempFile(Duration::from_micros(rng.below(1_000)))
        } else {
            KillAt::Delay(Duration::from_millis(
                rng.below(full.as_millis() as u64 * 6 / 5),
            ))
        };
        let context = format!("round {round} (seed {seed:#x}, {kill_at:?})");
        outcomes.push(setup.kill_round(registry, kill_at, &context));
    }
    // A write can be over before the kill lands (the window is a fraction of a millisecond on
    // a fast machine), so when none landed mid-write yet, keep killing right as the temp file
    // appears until one does: the test must exercise a torn write, not just hope for one.
    for extra in 0..300 {
        if outcomes.iter().any(|o| o.killed_mid_write) {
            break;
        }
        let registry = &setup.registries[extra % 2];
        let context = format!("extra round {extra} (immediately after the temp file appears)");
        let kill_at = KillAt::AfterTempFile(Duration::ZERO);
        outcomes.push(setup.kill_round(registry, kill_at, &context));
    }
    let rounds = outcomes.len();
    let killed_mid_write = outcomes.iter().filter(|o| o.killed_mid_write).count();
    let finished = outcomes.iter().filter(|o| o.finished).count();
    eprintln!(
        "{rounds} builds of {services} services (seed {seed:#x}, a whole build {full:?}): \
         {killed_mid_write} killed mid-write, {finished} finished before the kill"
    );
    assert!(
        killed_mid_write > 0,
        "no kill landed in the middle of a write in {rounds} rounds"
    );

    // The next build replaces the pages and removes every temp file the killed ones left.
    build_to_end(&setup.registries[0], &setup.docs);
    assert_eq!(setup.assert_whole("after a full build"), [0, 0, 0, 0]);
    assert_eq!(setup.temp_files(), Vec::<String>::new());
    fs::remove_dir_all(&setup.root).unwrap();
}

#[test]
fn concurrent_builds_never_leave_a_torn_page() {
    let setup = Arc::new(setup("race", 600));
    // A reader that checks the pages all along: readers never see half a file either.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (setup, done) = (setup.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                setup.assert_whole("read during concurrent builds");
                reads += 1;
            }
            reads
        })
    };
    for round in 0..4 {
        let mut children: Vec<Child> = setup
            .registries
            .iter()
            .map(|registry| build(registry, &setup.docs).spawn().unwrap())
            .collect();
        for child in &mut children {
            let status = child.wait().unwrap();
            assert!(status.success(), "round {round}: {status}");
        }
        setup.assert_whole(&format!("round {round}"));
        assert_eq!(setup.temp_files(), Vec::<String>::new(), "round {round}");
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    fs::remove_dir_all(&setup.root).unwrap();
}

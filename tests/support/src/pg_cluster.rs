//! A throwaway PostgreSQL cluster for one test: `initdb` into a scratch directory, a server on a
//! free loopback port with its socket in that directory, password authentication, stopped and
//! removed on drop.
//!
//! The server binaries come from Debian's `postgresql` package (`/usr/lib/postgresql/N/bin`,
//! newest first) or `PATH`. PostgreSQL refuses to run as root, so as root every server command
//! runs as the `postgres` user the package creates.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The cluster's superuser and its password (the tests check that it never reaches a log).
pub const USER: &str = "workerflow";
/// The superuser's password; it holds the sentinel `SECRET`.
pub const PASSWORD: &str = "pg-SECRET-pw";

/// A running throwaway cluster; stopped and removed on drop.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    /// The loopback port the server listens on.
    pub port: u16,
}

/// The directory holding `initdb` and `pg_ctl`, if PostgreSQL's server is installed.
fn server_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

impl Cluster {
    /// Starts a fresh cluster, or `None` (with a message) when PostgreSQL is not installed.
    /// Under `CI` a missing PostgreSQL fails the test: `.ci/run` installs it.
    pub fn start(name: &str) -> Option<Cluster> {
        let Some(bin) = server_bin() else {
            assert!(
                !workerflow_registry::build_script::on_ci(),
                "PostgreSQL is not installed, and CI is set: .ci/run installs it (apt-get install postgresql)"
            );
            eprintln!(
                "skipped: PostgreSQL's server (initdb, pg_ctl) is not installed; apt-get install postgresql"
            );
            return None;
        };
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = crate::scratch_dir(&format!("pg-{name}"));
        std::fs::write(dir.join("pwfile"), format!("{PASSWORD}\n")).expect("pwfile");
        let cluster = Cluster {
            dir,
            bin,
            run_as,
            port: free_port(),
        };
        if let Some(user) = &cluster.run_as {
            let owned = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(&cluster.dir)
                .status()
                .is_ok_and(|status| status.success());
            assert!(owned, "cannot give {} to {user}", cluster.dir.display());
        }
        let data = cluster.data_dir();
        let pwfile = cluster.dir.join("pwfile");
        let init = cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                USER,
                "--pwfile",
                path_str(&pwfile),
                "--auth",
                "scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
            ],
        );
        assert!(init.status.success(), "initdb failed: {}", describe(&init));
        cluster.start_server();
        Some(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `bin/NAME ARGS…`, as the `postgres` user when this runs as root.
    fn run(&self, name: &str, args: &[&str]) -> Output {
        let program = self.bin.join(name);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()))
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c shared_buffers=16MB -c max_connections=60",
            self.port,
            path_str(&self.dir)
        );
        let data = self.data_dir();
        let log = self.dir.join("server.log");
        let started = self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-l",
                path_str(&log),
                "-o",
                &options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}\n{}",
            describe(&started),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server (fast: open connections are closed) and waits until it is gone.
    pub fn stop_server(&self) {
        let data = self.data_dir();
        let stopped = self.run(
            "pg_ctl",
            &["-D", path_str(&data), "-m", "fast", "-w", "stop"],
        );
        assert!(
            stopped.status.success(),
            "pg_ctl stop failed: {}",
            describe(&stopped)
        );
    }

    /// `postgres://workerflow:PASSWORD@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        self.url_with_password(db, PASSWORD)
    }

    /// The connection URL of `db` with `password` in place of the real one.
    pub fn url_with_password(&self, db: &str, password: &str) -> String {
        format!("postgres://{USER}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    /// A client on database `db`, and the task driving its connection (it ends when the client
    /// is dropped).
    async fn connect(&self, db: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
        let (client, connection) = tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
            .await
            .expect("connects to the test cluster");
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        (client, driver)
    }

    /// Runs `sql` in database `db` (the `postgres` database exists from the start).
    pub async fn execute(&self, db: &str, sql: &str) {
        let (client, driver) = self.connect(db).await;
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
        drop(client);
        let _ = driver.await;
    }

    /// The first column of each row of `sql`, as text.
    pub async fn query_texts(&self, db: &str, sql: &str) -> Vec<String> {
        let (client, driver) = self.connect(db).await;
        let rows = client
            .query(sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
        drop(client);
        let _ = driver.await;
        rows.iter().map(|row| row.get::<_, String>(0)).collect()
    }

    /// `pg_dump` of database `db` (schema and data, plain SQL), as an operator would take a
    /// backup: what the tests search for secrets in clear.
    pub fn dump(&self, db: &str) -> String {
        let program = self.bin.join("pg_dump");
        let output = Command::new(&program)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                db,
            ])
            .env("PGPASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()));
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            describe(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A new empty database.
    pub async fn create_database(&self, db: &str) {
        self.execute("postgres", &format!("CREATE DATABASE {db}"))
            .await;
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self.run(
            "pg_ctl",
            &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

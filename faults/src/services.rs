//! Private PostgreSQL and RabbitMQ instances: the suite stops, restarts and
//! kills its own servers, on ports of their own, so it never disturbs the
//! machine's shared ones (or tests running against them).
//!
//! Both run from the Debian packages' programs. When run as root, PostgreSQL
//! runs as the `postgres` user (it refuses root) and RabbitMQ's wrapper
//! switches to `rabbitmq`; their directories are handed to those users.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::wait;

/// A throwaway PostgreSQL cluster.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// `initdb` and start a cluster on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin_dir()?;
        let dir = tempfile::Builder::new().prefix("faults-pg-").tempdir()?;
        let data = dir.path().join("data");
        let port = crate::free_port()?;
        hand_to(dir.path(), "postgres").await?;
        run_as(
            "postgres",
            Command::new(bin.join("initdb")).args([
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]),
        )
        .await
        .context("initdb")?;
        let postgres = Self {
            bin,
            data,
            port,
            _dir: dir,
        };
        postgres.start_again().await?;
        Ok(postgres)
    }

    /// The server-level URL (database `postgres`).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the (stopped) cluster and waits until it takes connections.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            self.port,
            self.data.display()
        );
        run_as(
            "postgres",
            Command::new(self.bin.join("pg_ctl")).args([
                "-D",
                &self.data.display().to_string(),
                "-o",
                &options,
                "-l",
                &self.data.join("server.log").display().to_string(),
                "-w",
                "start",
            ]),
        )
        .await
        .context("pg_ctl start")?;
        wait::port_open(self.port, Duration::from_secs(30)).await
    }

    /// Stops the server the way a crash does: `immediate` skips the
    /// shutdown checkpoint, and every client connection is cut.
    pub async fn stop(&self) -> anyhow::Result<()> {
        run_as(
            "postgres",
            Command::new(self.bin.join("pg_ctl")).args([
                "-D",
                &self.data.display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ]),
        )
        .await
        .context("pg_ctl stop")
    }

    /// Creates a fresh database and returns its URL.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<String> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await?;
        Ok(self.url(name))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = ["-D", data.as_str(), "-m", "immediate", "stop"];
        // As root, pg_ctl must run as postgres.
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            std::process::Command::new(pg_ctl)
        };
        let _ = command
            .args(stop)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A server the scenarios can take away and bring back.
pub trait Server {
    /// What the report calls it.
    const NAME: &'static str;
    fn stop(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn start_again(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

impl Server for Postgres {
    const NAME: &'static str = "PostgreSQL";
    async fn stop(&self) -> anyhow::Result<()> {
        Postgres::stop(self).await
    }
    async fn start_again(&self) -> anyhow::Result<()> {
        Postgres::start_again(self).await
    }
}

impl Server for Rabbit {
    const NAME: &'static str = "RabbitMQ";
    async fn stop(&self) -> anyhow::Result<()> {
        Rabbit::stop(self).await
    }
    async fn start_again(&self) -> anyhow::Result<()> {
        Rabbit::start_again(self).await
    }
}

/// A throwaway RabbitMQ node (its own name, ports and database).
pub struct Rabbit {
    node: String,
    port: u16,
    pid_file: String,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Rabbit {
    pub async fn start() -> anyhow::Result<Self> {
        which("rabbitmq-server").context(
            "RabbitMQ is not installed (Debian/Ubuntu: apt-get install rabbitmq-server)",
        )?;
        let dir = tempfile::Builder::new().prefix("faults-rmq-").tempdir()?;
        let port = crate::free_port()?;
        let dist_port = crate::free_port()?;
        let node = format!("faults{port}@localhost");
        let base = dir.path();
        std::fs::write(
            base.join("rabbitmq.conf"),
            format!("listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n"),
        )?;
        std::fs::write(base.join("enabled_plugins"), "[].\n")?;
        hand_to(base, "rabbitmq").await?;
        let at = |name: &str| base.join(name).display().to_string();
        let env = vec![
            ("RABBITMQ_NODENAME".into(), node.clone()),
            ("RABBITMQ_NODE_PORT".into(), port.to_string()),
            ("RABBITMQ_DIST_PORT".into(), dist_port.to_string()),
            ("RABBITMQ_MNESIA_BASE".into(), at("mnesia")),
            ("RABBITMQ_LOG_BASE".into(), at("log")),
            ("RABBITMQ_CONFIG_FILE".into(), at("rabbitmq")),
            (
                "RABBITMQ_ENABLED_PLUGINS_FILE".into(),
                at("enabled_plugins"),
            ),
            ("RABBITMQ_PID_FILE".into(), at("pid")),
            // Ignore the machine's rabbitmq-env.conf (it names the shared node).
            ("RABBITMQ_CONF_ENV_FILE".into(), "/dev/null".into()),
        ];
        let rabbit = Self {
            node,
            port,
            pid_file: at("pid"),
            env,
            _dir: dir,
        };
        rabbit.start_again().await?;
        Ok(rabbit)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the (stopped) node and waits until it takes connections.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        run(Command::new("rabbitmq-server")
            .arg("-detached")
            .envs(self.env.iter().map(|(k, v)| (k, v))))
        .await
        .context("rabbitmq-server -detached")?;
        run(Command::new("rabbitmqctl")
            .args(["-n", &self.node, "wait", "--timeout", "90"])
            .arg(&self.pid_file)
            .envs(self.env.iter().map(|(k, v)| (k, v))))
        .await
        .context("rabbitmqctl wait")?;
        wait::port_open(self.port, Duration::from_secs(30)).await
    }

    /// Stops the node; durable queues and their messages survive.
    pub async fn stop(&self) -> anyhow::Result<()> {
        run(Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .arg(&self.pid_file)
            .envs(self.env.iter().map(|(k, v)| (k, v))))
        .await
        .context("rabbitmqctl stop")
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// PostgreSQL's server programs: `PG_BIN_DIR`, else the newest Debian
/// install under /usr/lib/postgresql.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL's server programs are not installed (Debian/Ubuntu: apt-get install postgresql), or set PG_BIN_DIR"
        ),
    }
}

fn which(program: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/lib/rabbitmq/bin"),
        ])
        .map(|dir| dir.join(program))
        .find(|p| p.exists())
        .with_context(|| format!("{program} not found"))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Gives `dir` to `user` when running as root (servers refuse to run as
/// root, and run as their own user).
async fn hand_to(dir: &Path, user: &str) -> anyhow::Result<()> {
    if is_root() {
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(dir))
        .await?;
    }
    Ok(())
}

async fn run_as(user: &str, command: &mut Command) -> anyhow::Result<()> {
    if !is_root() {
        return run(command).await;
    }
    let std = command.as_std();
    let mut wrapped = Command::new("runuser");
    wrapped
        .args(["-u", user, "--"])
        .arg(std.get_program())
        .args(std.get_args());
    run(&mut wrapped).await
}

async fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {:?}", command.as_std().get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            command.as_std().get_program(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The local three-node RabbitMQ cluster of `scripts/rabbitmq-cluster`,
/// beside the suite's own node, for the scenarios that kill one node of a
/// cluster.
pub struct Cluster {
    script: PathBuf,
}

impl Default for Cluster {
    fn default() -> Self {
        Self {
            script: Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rabbitmq-cluster"),
        }
    }
}

impl Cluster {
    /// Starts whatever nodes are down (all of them the first time) and
    /// returns the nodes' AMQP URLs, comma-separated (`AMQP_URL`).
    pub async fn up(&self) -> anyhow::Result<String> {
        let output = Command::new(&self.script)
            .arg("up")
            .stderr(Stdio::inherit())
            .output()
            .await
            .context("running scripts/rabbitmq-cluster")?;
        anyhow::ensure!(
            output.status.success(),
            "scripts/rabbitmq-cluster up failed"
        );
        let stdout = String::from_utf8(output.stdout)?;
        let urls = stdout.lines().last().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            urls.starts_with("amqp://"),
            "scripts/rabbitmq-cluster up printed no URLs: {stdout:?}"
        );
        Ok(urls)
    }

    /// `kill -9` node `n` (1 to 3).
    pub async fn kill(&self, n: usize) -> anyhow::Result<()> {
        let status = Command::new(&self.script)
            .args(["kill", &n.to_string()])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "scripts/rabbitmq-cluster kill {n} failed");
        Ok(())
    }
}

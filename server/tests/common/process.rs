//! Real processes on loopback for the multi-process tests: `confab-server`
//! nodes, a `redis-server` per test, nginx in front of two nodes; one
//! `free_port`, bounded waits, logs shown when a process dies early.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Panics (the test fails, in CI and out of it) when `tool` is not
/// installed.
fn require(tool: &str, version_flag: &str) {
    let found = Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{tool} is not installed: run scripts/install-tools.sh (these tests need a real {tool})"
    );
}

/// Longest wait for a process to come up.
pub const START_WAIT: Duration = Duration::from_secs(20);

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "confab-{tag}-{}-{:08x}",
        std::process::id(),
        rand_u32()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() as u32
}

pub async fn wait_port(addr: SocketAddr, child: &mut Child, log: &PathBuf) {
    let deadline = tokio::time::Instant::now() + START_WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "process exited early ({status}); log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} did not come up; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One real `confab-server` process.
pub struct Node {
    pub addr: SocketAddr,
    pub args: Vec<String>,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Starts the server binary on a free port with `args`.
    pub async fn start(args: &[String]) -> Node {
        Self::start_on(free_port(), args).await
    }

    /// Starts the server binary on `port`.
    pub async fn start_on(port: u16, args: &[String]) -> Node {
        Self::start_env(port, args, &[]).await
    }

    /// Starts the server binary on `port` with extra environment variables.
    pub async fn start_env(port: u16, args: &[String], env: &[(&str, &str)]) -> Node {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::env::temp_dir().join(format!(
            "confab-node-{port}-{}-{:08x}.log",
            std::process::id(),
            rand_u32()
        ));
        let out = std::fs::File::create(&log).unwrap();
        let layer_given = args.iter().any(|a| a == "--data-dir" || a == "--redis-url");
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab-server"))
            .arg("--bind")
            .arg(addr.to_string())
            .arg("--static-dir")
            .arg("/nonexistent-confab-dist")
            .args(args)
            .args((!layer_given).then_some("--in-memory"))
            .env("RUST_LOG", "confab_server=info")
            .envs(env.iter().copied())
            .env_remove("CONFAB_REDIS_URL")
            .env_remove("CONFAB_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn confab-server");
        wait_port(addr, &mut child, &log).await;
        Node {
            addr,
            args: args.to_vec(),
            log,
            child: Some(child),
        }
    }

    /// `ws://addr{path}`.
    pub fn ws(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// SIGKILL: a crash, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns its status code.
    pub fn term(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("server did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, …).
    pub fn signal(&self, sig: &str) {
        signal(self.child.as_ref().expect("node not running"), sig);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A key prefix unique to one test, so tests share one Redis.
pub fn prefix(test: &str) -> String {
    format!("t-{test}-{:08x}", rand_u32())
}

/// The arguments of a node on `url` under `prefix`.
pub fn redis_args(url: &str, prefix: &str, ttl_secs: u64) -> Vec<String> {
    vec![
        "--redis-url".into(),
        url.into(),
        "--redis-prefix".into(),
        prefix.into(),
        "--presence-ttl-secs".into(),
        ttl_secs.to_string(),
    ]
}

/// A redis-server this test owns (to crash and restart it). [`Redis::start`]
/// persists with an fsync'd append-only file so a restart keeps the data;
/// [`Redis::start_with`] takes any other settings (replication, cluster
/// mode, TLS).
pub struct Redis {
    pub port: u16,
    pub dir: PathBuf,
    /// Settings after the port, bind address, directory and log file.
    args: Vec<String>,
    /// TLS only: `port` is the `--tls-port` and the plain port is off.
    tls: bool,
    child: Option<Child>,
}

impl Redis {
    /// Starts `redis-server` on a free port (a test fails, never skips,
    /// when it is not installed: `scripts/install-tools.sh` installs it).
    pub async fn start() -> Redis {
        Self::start_with(&[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .await
    }

    /// Starts `redis-server` on a free port with `args` (no persistence
    /// unless they ask for it).
    pub async fn start_with(args: &[&str]) -> Redis {
        Self::launch(args, false).await
    }

    /// Starts a TLS-only `redis-server` whose certificate `ca` signed; it
    /// asks clients for a certificate signed by `ca` too.
    pub async fn start_tls(ca: &TestCa) -> Redis {
        let p = |f: &str| ca.dir.join(f).to_str().unwrap().to_owned();
        let args = [
            "--save".to_owned(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--tls-cert-file".into(),
            p("redis.crt"),
            "--tls-key-file".into(),
            p("redis.key"),
            "--tls-ca-cert-file".into(),
            p("ca.crt"),
            "--tls-auth-clients".into(),
            "yes".into(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::launch(&args, true).await
    }

    async fn launch(args: &[&str], tls: bool) -> Redis {
        require("redis-server", "--version");
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis"),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            tls,
            child: None,
        };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        if self.tls {
            format!("rediss://127.0.0.1:{}/", self.port)
        } else {
            format!("redis://127.0.0.1:{}/", self.port)
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (Re)starts it on the same port and directory.
    pub async fn restart(&mut self) {
        let log = self.dir.join("redis.log");
        let port = self.port.to_string();
        let ports: Vec<&str> = if self.tls {
            vec!["--port", "0", "--tls-port", &port]
        } else {
            vec!["--port", &port]
        };
        let mut child = Command::new("redis-server")
            .args(&ports)
            .args(["--bind", "127.0.0.1"])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(["--logfile", log.to_str().unwrap()])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        wait_port(addr, &mut child, &log).await;
        self.child = Some(child);
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it runs (not killed).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Sends a signal by name (`STOP` freezes it, `CONT` thaws it).
    pub fn signal(&self, sig: &str) {
        signal(self.child.as_ref().expect("redis not running"), sig);
    }

    /// `redis-cli -p port args…` (plain port only): its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port, args)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

/// `redis-cli -p port args…`: its output, trimmed (a test fails when
/// redis-cli is missing).
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    require("redis-cli", "--version");
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Polls `check` every 100 ms until it holds, up to `wait`; panics with
/// `what` otherwise. Returns how long it took.
pub async fn eventually(what: &str, wait: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let t0 = std::time::Instant::now();
    while !check() {
        assert!(t0.elapsed() < wait, "{what}: not within {wait:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t0.elapsed()
}

/// A CA made for one test with `openssl` (a test fails when it is
/// missing): `ca.crt`, and `redis.crt`/`redis.key` for `127.0.0.1` and
/// `client.crt`/`client.key` it signed, in `dir`.
pub struct TestCa {
    pub dir: PathBuf,
}

impl TestCa {
    pub fn new() -> TestCa {
        require("openssl", "version");
        let dir = temp_dir("ca");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["genrsa", "-out", "ca.key", "2048"]);
        run(&[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-key",
            "ca.key",
            "-sha256",
            "-days",
            "2",
            "-subj",
            "/CN=confab-test-ca",
            "-out",
            "ca.crt",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, cn, ext) in [
            ("redis", "localhost", "server.ext"),
            ("client", "confab-node", "client.ext"),
        ] {
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let crt = format!("{name}.crt");
            run(&["genrsa", "-out", &key, "2048"]);
            run(&[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={cn}"),
                "-out",
                &csr,
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-sha256",
                "-extfile",
                ext,
            ]);
        }
        TestCa { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A local Redis Cluster of `masters` primaries with `replicas` replicas
/// each (`redis-cli --cluster create`), node timeout 1 s, no persistence.
pub struct RedisCluster {
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    pub async fn start(masters: usize, replicas: usize) -> RedisCluster {
        let mut nodes = Vec::new();
        for _ in 0..masters * (1 + replicas) {
            nodes.push(
                Redis::start_with(&[
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    // A replica cut off for a while may still be promoted.
                    "--cluster-replica-validity-factor",
                    "0",
                    // Replicas sync at once (the default waits 5 s for more
                    // replicas, during which a replica has nothing).
                    "--repl-diskless-sync-delay",
                    "0",
                ])
                .await,
            );
        }
        let addrs: Vec<String> = nodes.iter().map(Redis::addr).collect();
        let mut args: Vec<&str> = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        let r = replicas.to_string();
        args.extend(["--cluster-replicas", &r, "--cluster-yes"]);
        let out = nodes[0].cli(&args);
        assert!(out.contains("All 16384 slots covered"), "{out}");
        let cluster = RedisCluster { nodes };
        cluster.wait_ok(Duration::from_secs(20)).await;
        cluster
    }

    /// Waits until every running node says `cluster_state:ok` and knows
    /// every other node, and every replica finished syncing.
    pub async fn wait_ok(&self, wait: Duration) {
        let running: Vec<&Redis> = self.nodes.iter().filter(|n| n.running()).collect();
        let n = running.len();
        eventually("cluster state ok, replicas in sync", wait, || {
            running.iter().all(|r| {
                let info = r.cli(&["cluster", "info"]);
                let replication = r.cli(&["info", "replication"]);
                info.contains("cluster_state:ok")
                    && r.cli(&["cluster", "nodes"])
                        .lines()
                        .filter(|l| !l.contains("fail") && !l.contains("handshake"))
                        .count()
                        >= n
                    && (replication.contains("role:master")
                        || replication.contains("master_link_status:up"))
            })
        })
        .await;
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Redis::url).collect()
    }

    /// The index of the node serving `key`'s slot as primary, and of its
    /// replicas (from a running node's `CLUSTER NODES`).
    pub fn owner(&self, key: &str) -> (usize, Vec<usize>) {
        let asker = self.nodes.iter().find(|n| n.running()).unwrap();
        let slot: u16 = asker.cli(&["cluster", "keyslot", key]).parse().unwrap();
        let table = asker.cli(&["cluster", "nodes"]);
        let index = |addr: &str| {
            let port: u16 = addr.split(['@', ':']).nth(1).unwrap().parse().unwrap();
            self.nodes.iter().position(|n| n.port == port).unwrap()
        };
        let mut primary = None;
        for line in table.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            for range in &f[8..] {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    if (a..=b).contains(&slot) {
                        primary = Some((f[0].to_owned(), index(f[1])));
                    }
                }
            }
        }
        let (id, p) = primary.unwrap_or_else(|| panic!("no primary serves slot {slot}:\n{table}"));
        let replicas = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| {
                f.len() > 3 && f[3] == id && f[2].contains("slave") && !f[2].contains("fail")
            })
            .map(|f| index(f[1]))
            .collect();
        (p, replicas)
    }
}

impl RedisCluster {
    /// Every serving primary with its replicas (node indexes).
    pub fn primaries(&self) -> Vec<(usize, Vec<usize>)> {
        let asker = self.nodes.iter().find(|n| n.running()).unwrap();
        let table = asker.cli(&["cluster", "nodes"]);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() >= 8 && !f[2].contains("fail"))
            .collect();
        let index = |addr: &str| {
            let port: u16 = addr.split(['@', ':']).nth(1).unwrap().parse().unwrap();
            self.nodes.iter().position(|n| n.port == port).unwrap()
        };
        rows.iter()
            .filter(|f| f[2].contains("master") && f.len() > 8)
            .map(|f| {
                let replicas = rows
                    .iter()
                    .filter(|r| r[3] == f[0] && r[2].contains("slave"))
                    .map(|r| index(r[1]))
                    .collect();
                (index(f[1]), replicas)
            })
            .collect()
    }
}

/// Redis Sentinels watching one primary as `service` (quorum: a
/// majority; down after 1 s).
pub struct Sentinels {
    pub nodes: Vec<Redis>,
}

impl Sentinels {
    pub async fn start(count: usize, primary: &Redis, service: &str) -> Sentinels {
        require("redis-server", "--version");
        let mut nodes = Vec::new();
        for _ in 0..count {
            let port = free_port();
            let dir = temp_dir("sentinel");
            let conf = dir.join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\n\
                     sentinel monitor {service} 127.0.0.1 {} {}\n\
                     sentinel down-after-milliseconds {service} 1000\n\
                     sentinel failover-timeout {service} 5000\n\
                     sentinel parallel-syncs {service} 1\n",
                    dir.display(),
                    primary.port,
                    count / 2 + 1
                ),
            )
            .unwrap();
            let log = dir.join("redis.log");
            let mut child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .args(["--logfile", log.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server --sentinel");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            wait_port(addr, &mut child, &log).await;
            nodes.push(Redis {
                port,
                dir,
                args: Vec::new(),
                tls: false,
                child: Some(child),
            });
        }
        Sentinels { nodes }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Redis::url).collect()
    }

    /// The primary's port as the first Sentinel says.
    pub fn primary_port(&self, service: &str) -> Option<u16> {
        let out = self.nodes[0].cli(&["sentinel", "get-master-addr-by-name", service]);
        out.lines().nth(1)?.trim().parse().ok()
    }
}

/// Sends signal `sig` (a name: `STOP`, `CONT`, `TERM`) to `child`.
fn signal(child: &Child, sig: &str) {
    let pid = child.id();
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid} failed");
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Token secret the multi-process tests start servers with.
pub const SECRET: &str = "confab-test-secret";

/// `--token-secret` arguments for [`SECRET`].
pub fn token_args() -> Vec<String> {
    vec!["--token-secret".into(), SECRET.into()]
}

/// `?token=…` for user `id` (stable ids across reconnects and nodes).
pub fn as_user(id: &str) -> String {
    let claims = confab_server::auth::Claims {
        sub: id.to_owned(),
        name: Some(id.to_owned()),
        exp: confab_server::auth::unix_now() + 3600,
        ..Default::default()
    };
    format!("?token={}", confab_server::auth::mint(SECRET, &claims))
}

/// A real nginx running deploy/nginx.conf with its upstream and listen
/// ports substituted.
pub struct Nginx {
    pub addr: SocketAddr,
    pub prefix: PathBuf,
    child: Option<Child>,
}

impl Nginx {
    /// Starts nginx in front of `upstreams` (a test fails, never skips,
    /// when nginx is not installed).
    pub async fn start(upstreams: [SocketAddr; 2]) -> Nginx {
        require("nginx", "-v");
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx.conf");
        let conf = std::fs::read_to_string(shipped).unwrap();
        let port = free_port();
        for needle in ["127.0.0.1:8001", "127.0.0.1:8002", "listen 127.0.0.1:8080;"] {
            assert!(conf.contains(needle), "deploy/nginx.conf lost {needle:?}");
        }
        let conf = conf
            .replace("127.0.0.1:8001", &upstreams[0].to_string())
            .replace("127.0.0.1:8002", &upstreams[1].to_string())
            .replace(
                "listen 127.0.0.1:8080;",
                &format!("listen 127.0.0.1:{port};"),
            )
            .replace("worker_processes auto;", "worker_processes 1;");
        let prefix = temp_dir("nginx");
        for d in ["logs", "tmp"] {
            std::fs::create_dir_all(prefix.join(d)).unwrap();
        }
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = prefix.join("logs/error.log");
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(&prefix)
            .arg("-e")
            .arg(&log)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_port(addr, &mut child, &log).await;
        Nginx {
            addr,
            prefix,
            child: Some(child),
        }
    }

    pub fn ws(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGQUIT-free shutdown: SIGKILL the master; workers exit with it
            // (they watch the master) — then make sure.
            let _ = Command::new("nginx")
                .arg("-p")
                .arg(&self.prefix)
                .arg("-e")
                .arg(self.prefix.join("logs/error.log"))
                .arg("-c")
                .arg(self.prefix.join("nginx.conf"))
                .args(["-s", "stop"])
                .stderr(Stdio::null())
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while c.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

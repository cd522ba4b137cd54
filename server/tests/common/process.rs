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

/// A redis-server this test owns (to crash and restart it), persisting with
/// an fsync'd append-only file so a restart keeps the data.
pub struct Redis {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    /// Starts `redis-server` on a free port (a test fails, never skips,
    /// when it is not installed: `scripts/install-tools.sh` installs it).
    pub async fn start() -> Redis {
        require("redis-server", "--version");
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// (Re)starts it on the same port and directory.
    pub async fn restart(&mut self) {
        let log = self.dir.join("redis.log");
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(["--logfile", log.to_str().unwrap()])
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

    /// Sends a signal by name (`STOP` freezes it, `CONT` thaws it).
    pub fn signal(&self, sig: &str) {
        signal(self.child.as_ref().expect("redis not running"), sig);
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

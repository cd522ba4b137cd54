//! The real `confab-server` binary: `--help`, `token`, and graceful
//! shutdown on SIGTERM (every socket closed with 1012, bounded exit).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_confab-server");

#[test]
fn help_lists_every_flag_and_subcommand() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind",
        "--static-dir",
        "--allowed-origins",
        "--api-key",
        "--token-secret",
        "--max-message-bytes",
        "--rate-per-sec",
        "--rate-burst",
        "--rate-abuse-limit",
        "--max-rooms",
        "--outbound-queue",
        "--history-size",
        "--join-history",
        "--heartbeat-ms",
        "--shutdown-grace-secs",
        "CONFAB_BIND",
        "RUST_LOG",
        "serve",
        "token",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let out = Command::new(BIN)
        .args(["token", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--user", "--name", "--ttl", "--token-secret"] {
        assert!(help.contains(flag), "token --help lacks {flag}:\n{help}");
    }
}

#[test]
fn token_subcommand_mints_verifiable_tokens() {
    let out = Command::new(BIN)
        .args(["token", "--user", "alice", "--name", "Alice", "--ttl", "1h"])
        .env("CONFAB_TOKEN_SECRET", "s1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap();
    let claims = confab_server::auth::verify(
        &["s1".into()],
        token.trim(),
        confab_server::auth::unix_now(),
    )
    .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.name.as_deref(), Some("Alice"));
    let ttl = claims.exp - confab_server::auth::unix_now();
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    assert!(confab_server::auth::verify(
        &["s2".into()],
        token.trim(),
        confab_server::auth::unix_now()
    )
    .is_err());

    // No secret, bad user, bad ttl: clear errors, non-zero exit.
    let out = Command::new(BIN)
        .args(["token", "--user", "alice"])
        .env_remove("CONFAB_TOKEN_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-secret"));
    let out = Command::new(BIN)
        .args(["token", "--user", "a b", "--token-secret", "s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args([
            "token",
            "--user",
            "a",
            "--ttl",
            "soon",
            "--token-secret",
            "s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free port and returns it with its address.
fn spawn(args: &[&str]) -> (Proc, std::net::SocketAddr) {
    let durable = args.contains(&"--data-dir");
    spawn_in(None, args, !durable)
}

/// Starts the binary in `cwd` (default: this process's), adding
/// `--in-memory` when `in_memory`.
fn spawn_in(
    cwd: Option<&std::path::Path>,
    args: &[&str],
    in_memory: bool,
) -> (Proc, std::net::SocketAddr) {
    let mut cmd = Command::new(BIN);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .args([
            "--bind",
            "127.0.0.1:0",
            "--static-dir",
            "/nonexistent-confab-dist",
        ])
        .args(args)
        .args(in_memory.then_some("--in-memory"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let first = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(first.trim_end_matches('/').to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server did not report its address");
    (Proc(child), addr.parse().unwrap())
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1012_and_exits_promptly() {
    let (mut proc, addr) = spawn(&["--shutdown-grace-secs", "3"]);
    let server_url = |p: &str| format!("ws://{addr}{p}");
    let mut native_ws = connect(&server_url("/ws")).await;
    assert_eq!(recv(&mut native_ws).await["type"], "welcome");
    send(
        &mut native_ws,
        json!({"type": "join", "ref": "1", "room": "lobby"}),
    )
    .await;
    recv_type(&mut native_ws, "joined").await;
    let mut compat = connect(&server_url("/ws/chat/lobby/")).await;
    assert_eq!(http(addr, "GET", "/healthz", &[], "").await.0, 200);

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &proc.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (a, b) = tokio::join!(recv_close(&mut native_ws), recv_close(&mut compat));
    assert_eq!((a, b), (1012, 1012));
    let exit = loop {
        if let Some(s) = proc.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "server did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
    // Stopped accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn sigterm_with_a_client_that_never_reads_still_exits_in_bounded_time() {
    let (mut proc, addr) = spawn(&["--shutdown-grace-secs", "1"]);
    let ws = connect(&format!("ws://{addr}/ws")).await;
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &proc.0.id().to_string()])
        .status()
        .unwrap();
    loop {
        if proc.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "server did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(ws);
}

#[test]
fn empty_or_blank_token_secrets_refuse_to_start() {
    for secret in ["", " ", ",", "current, "] {
        let out = Command::new(BIN)
            .args([
                "--bind",
                "127.0.0.1:0",
                "--static-dir",
                "/nonexistent-confab-dist",
            ])
            .env("CONFAB_TOKEN_SECRET", secret)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{secret:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--token-secret"), "{secret:?}: {err}");
        let out = Command::new(BIN)
            .args(["token", "--user", "a", "--token-secret", secret])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "token {secret:?}: {out:?}");
    }
    // A trailing comma is only dropped: the first secret still signs.
    let out = Command::new(BIN)
        .args(["token", "--user", "a", "--token-secret", ",s1,"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(confab_server::auth::verify(
        &["s1".into()],
        token.trim(),
        confab_server::auth::unix_now()
    )
    .is_ok());
}

#[tokio::test]
async fn guest_token_survives_a_restart_with_data_dir() {
    let dir = std::env::temp_dir().join(format!("confab-guest-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap();
    let (proc, addr) = spawn(&["--data-dir", data]);
    let mut ws = connect(&format!("ws://{addr}/ws?name=Robert")).await;
    let welcome = recv(&mut ws).await;
    let id = welcome["user"]["id"].as_str().unwrap().to_owned();
    let token = welcome["guest_token"].as_str().unwrap().to_owned();
    drop(ws);
    drop(proc);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("guest.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    let (_proc, addr) = spawn(&["--data-dir", data]);
    let mut ws = connect(&format!("ws://{addr}/ws?name=Robert&guest={token}")).await;
    let again = recv(&mut ws).await;
    assert_eq!(again["user"]["id"], id.as_str(), "{again}");
    // Without the token: a new guest.
    let mut ws2 = connect(&format!("ws://{addr}/ws?name=Robert")).await;
    assert_ne!(recv(&mut ws2).await["user"]["id"], id.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--metrics-bind`: `/metrics` answers on its own address, and only there.
#[tokio::test]
async fn metrics_bind_serves_metrics_on_its_own_address_only() {
    let port = common::process::free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let (_server, addr) = spawn(&["--metrics-bind", &metrics_addr]);
    let metrics_addr: std::net::SocketAddr = metrics_addr.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, body) = loop {
        if tokio::net::TcpStream::connect(metrics_addr).await.is_ok() {
            break http(metrics_addr, "GET", "/metrics", &[], "").await;
        }
        assert!(Instant::now() < deadline, "metrics address never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 200);
    assert!(body.contains("confab_connections 0"), "{body}");
    assert_eq!(http(addr, "GET", "/metrics", &[], "").await.0, 404);
    assert_eq!(http(addr, "GET", "/healthz", &[], "").await.0, 200);
    // Only /metrics lives there.
    assert_eq!(http(metrics_addr, "GET", "/ws", &[], "").await.0, 404);
}

/// The quick start runs the server with no layer flag: it keeps history
/// and the guest key in ./confab-data, so a restart resumes the room and a
/// returning guest keeps their id (and their messages stay theirs).
#[tokio::test]
async fn the_default_server_is_durable_guests_and_history_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("confab-default-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (proc, addr) = spawn_in(Some(&dir), &[], false);
    let mut ws = connect(&format!("ws://{addr}/ws?name=Robert")).await;
    let welcome = recv(&mut ws).await;
    let id = welcome["user"]["id"].as_str().unwrap().to_owned();
    let token = welcome["guest_token"].as_str().unwrap().to_owned();
    join(&mut ws, "lobby").await;
    publish(
        &mut ws,
        "lobby",
        "p",
        json!({"message": "before the restart"}),
    )
    .await;
    drop(ws);
    drop(proc);
    assert!(dir.join("confab-data/history.redb").is_file());

    let (_proc, addr) = spawn_in(Some(&dir), &[], false);
    let mut ws = connect(&format!("ws://{addr}/ws?name=Robert&guest={token}")).await;
    assert_eq!(recv(&mut ws).await["user"]["id"], id.as_str());
    let joined = join(&mut ws, "lobby").await;
    let history = joined["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{joined}");
    assert_eq!(history[0]["from"]["id"], id.as_str());
    assert_eq!(history[0]["payload"]["message"], "before the restart");
    let _ = std::fs::remove_dir_all(&dir);
}

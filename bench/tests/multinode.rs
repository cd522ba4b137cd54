//! Smoke test of the multi-node scenario (issue 17): two `redis-server`
//! shards and two `confab-server` nodes on free loopback ports, a tiny
//! `confab-load multinode` run with every room's clients on both nodes;
//! checks that messages crossed the nodes (every member of every room got
//! every message, half of them published on the other node), none were lost
//! or duplicated, the rooms landed on both shards and the Redis CPU was
//! measured. Needs `redis-server` (scripts/install-tools.sh) and the
//! confab-server binary next to confab-load (a workspace `cargo test`
//! builds it); missing either, it fails. About 10 s.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the child process when dropped, so a failed assertion leaves nothing behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(addr: &str, child: &mut Proc) {
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the process for {addr} exited"
        );
        assert!(Instant::now() < end, "nothing listening on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dir(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "confab-multinode-smoke-{what}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A redis-server without persistence on a free port.
fn start_redis(dir: &Path) -> (Proc, u16) {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let mut p = Proc(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (scripts/install-tools.sh installs it)"),
    );
    wait_listening(&format!("127.0.0.1:{port}"), &mut p);
    (p, port)
}

/// How many keys of the Redis on `port` name a benchmark room (`KEYS *room*`:
/// the length of the RESP array reply).
fn room_keys(port: u16) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"*2\r\n$4\r\nKEYS\r\n$6\r\n*room*\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    reply
        .lines()
        .next()
        .and_then(|l| l.strip_prefix('*'))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unexpected KEYS reply {reply:?}"))
}

fn confab_server_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_confab-load"))
        .parent()
        .expect("target dir")
        .join("confab-server");
    assert!(
        bin.exists(),
        "confab-server is not built next to confab-load (run `cargo build -p confab-server` first)"
    );
    bin
}

#[test]
fn two_nodes_on_two_redis_shards_deliver_across_nodes_without_loss() {
    let dir = temp_dir("redis");
    let (r1, p1) = start_redis(&dir.join("a"));
    let (r2, p2) = start_redis(&dir.join("b"));
    let urls = format!("redis://127.0.0.1:{p1}/,redis://127.0.0.1:{p2}/");
    let bin = confab_server_bin();
    let mut nodes = Vec::new();
    for i in 0..2 {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut node = Proc(
            Command::new(&bin)
                .args(["--bind", &addr, "--redis-url", &urls])
                .args(["--node-id", &format!("smoke{i}")])
                .args(["--rate-per-sec", "1000000", "--rate-burst", "1000000"])
                .args(["--max-connections-per-ip", "0"])
                .env("RUST_LOG", "warn")
                .env_remove("CONFAB_REDIS_URL")
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_listening(&addr, &mut node);
        nodes.push((node, addr));
    }
    let out = dir.join("result.json");
    let url = nodes
        .iter()
        .map(|(_, a)| format!("ws://{a}"))
        .collect::<Vec<_>>()
        .join(",");
    let pids = format!("{},{}", nodes[0].0.pid(), nodes[1].0.pid());
    let layer = format!("{},{}", r1.pid(), r2.pid());
    let status = Command::new(env!("CARGO_BIN_EXE_confab-load"))
        .args(["--url", &url, "--proto", "seed"])
        .args(["--server-pid", &pids, "--layer-pid", &layer])
        .arg("--json")
        .arg(&out)
        .args(["multinode", "--rooms", "8", "--per-room", "3"])
        .args(["--rates-per-client", "4", "--secs", "1"])
        .args(["--warmup-secs", "0", "--drain-secs", "2"])
        .args(["--connect-timeout-secs", "10"])
        .status()
        .unwrap();
    assert!(status.success(), "confab-load multinode failed");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let r = &v["result"];
    assert_eq!(r["connected"], 24, "{r}");
    assert_eq!(r["nodes"], 2, "{r}");
    assert_eq!(r["clients_per_node"], serde_json::json!([12, 12]), "{r}");
    let p = &r["phases"][0];
    let n = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("no {k}: {p}"));
    assert!(n("published") > 0, "nothing published: {p}");
    assert!(n("delivered") > 0, "nothing delivered: {p}");
    // Every published message reaches its room's 3 members, on both nodes.
    assert_eq!(n("expected"), n("published") * 3, "{p}");
    assert_eq!(n("delivered"), n("expected"), "lost deliveries: {p}");
    assert_eq!(n("lost"), 0, "{p}");
    assert_eq!(n("dups"), 0, "duplicates: {p}");
    assert_eq!(n("closed_conns"), 0, "connections dropped: {p}");
    // CPU of both nodes and both shards was measured.
    assert_eq!(p["server_cpu_secs_each"].as_array().map(Vec::len), Some(2));
    assert_eq!(p["layer_cpu_secs_each"].as_array().map(Vec::len), Some(2));
    assert!(p["layer_cpu_secs"].as_f64().unwrap() > 0.0, "{p}");
    assert!(
        p["layer_cpu_us_per_delivery"].as_f64().unwrap() > 0.0,
        "{p}"
    );
    assert!(
        p["server_cpu_us_per_delivery"].as_f64().unwrap() > 0.0,
        "{p}"
    );
    // The rooms were spread over both shards (their history keys live there).
    let (k1, k2) = (room_keys(p1), room_keys(p2));
    assert!(k1 > 0 && k2 > 0, "room keys per shard: {k1}, {k2}");
    drop(nodes);
    drop((r1, r2));
    let _ = std::fs::remove_dir_all(&dir);
}

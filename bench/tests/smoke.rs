//! Smoke test for the benchmark tools: starts `raw-broadcast` (and
//! `confab-server` when it has been built next to this crate's binaries) on
//! free loopback ports, runs a tiny `confab-load` fan-out and many-rooms run
//! against each, and checks that messages arrived, none were lost and none
//! were duplicated. Real processes, real sockets; about 15 s.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the child process when dropped, so a failed assertion leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(addr: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < end, "nothing listening on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_raw() -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_raw-broadcast"))
        .args(["--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (Server(child), addr)
}

/// Runs confab-load and returns its JSON result.
fn load(addr: &str, proto: &str, args: &[&str]) -> Value {
    let dir = std::env::temp_dir();
    let out = dir.join(format!(
        "confab-smoke-{}-{}.json",
        std::process::id(),
        free_port()
    ));
    let status = Command::new(env!("CARGO_BIN_EXE_confab-load"))
        .args(["--url", &format!("ws://{addr}"), "--proto", proto])
        .arg("--json")
        .arg(&out)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "confab-load {proto} {args:?} failed");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(out);
    v["result"].clone()
}

fn assert_clean(what: &str, phase: &Value) {
    let n = |k: &str| {
        phase[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: no {k}"))
    };
    assert!(n("published") > 0, "{what}: nothing published: {phase}");
    assert!(n("delivered") > 0, "{what}: nothing delivered: {phase}");
    assert_eq!(
        n("expected"),
        n("delivered"),
        "{what}: lost deliveries: {phase}"
    );
    assert_eq!(n("lost"), 0, "{what}: {phase}");
    assert_eq!(n("dups"), 0, "{what}: duplicates: {phase}");
    assert_eq!(n("closed_conns"), 0, "{what}: connections dropped: {phase}");
}

fn fanout_and_rooms(addr: &str, proto: &str) {
    let fan = load(
        addr,
        proto,
        &[
            "fanout",
            "--subscribers",
            "20",
            "--publishers",
            "2",
            "--warmup-secs",
            "0.5",
            "--fixed-rates",
            "40",
            "--fixed-secs",
            "1",
            "--start-rate",
            "100",
            "--max-steps",
            "1",
            "--step-secs",
            "1",
        ],
    );
    assert_eq!(fan["connected"], 20, "{fan}");
    assert_clean(&format!("{proto} fanout fixed"), &fan["fixed"][0]);
    assert_clean(&format!("{proto} fanout step"), &fan["steps"][0]);
    // 20 members each get every message: 100 msg/s × 20 over 1 s.
    assert!(
        fan["ceiling_deliveries_per_sec"].as_f64().unwrap() > 1000.0,
        "{fan}"
    );

    let rooms = load(
        addr,
        proto,
        &[
            "rooms",
            "--rooms",
            "5",
            "--per-room",
            "3",
            "--rate-per-client",
            "5",
            "--secs",
            "1",
            "--warmup-secs",
            "0",
        ],
    );
    assert_eq!(rooms["connected"], 15, "{rooms}");
    assert_clean(&format!("{proto} rooms"), &rooms["phase"]);
    // Each message reaches only its own room's 3 members.
    let p = &rooms["phase"];
    assert_eq!(
        p["expected"].as_u64(),
        p["published"].as_u64().map(|n| n * 3)
    );
}

#[test]
fn raw_broadcast_fanout_and_rooms() {
    let (_server, addr) = start_raw();
    fanout_and_rooms(&addr, "seed");
}

#[test]
fn raw_broadcast_rejects_other_paths() {
    let (_server, addr) = start_raw();
    let out = Command::new(env!("CARGO_BIN_EXE_confab-load"))
        .args(["--url", &format!("ws://{addr}/nope"), "--proto", "seed"])
        .args(["fanout", "--subscribers", "1", "--publishers", "1"])
        .args(["--connect-timeout-secs", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "connecting to a bad route must fail");
}

/// The Confab server binary built in the same target directory (a
/// workspace `cargo test`, or `cargo build -p confab-server`, puts it
/// there). Missing, the test fails: it never passes without running.
fn confab_server_bin() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_confab-load"))
        .parent()
        .expect("target dir");
    let bin = dir.join("confab-server");
    assert!(
        bin.exists(),
        "confab-server is not built next to confab-load (run `cargo build -p confab-server` first)"
    );
    bin
}

#[test]
fn confab_server_fanout_and_rooms() {
    let bin = confab_server_bin();
    let addr = format!("127.0.0.1:{}", free_port());
    let _server = Server(
        Command::new(bin)
            .args(["--bind", &addr, "--in-memory"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(&addr);
    fanout_and_rooms(&addr, "seed");
    fanout_and_rooms(&addr, "confab");
}

#[test]
fn confab_server_reconnect_storm_resumes_without_loss() {
    let bin = confab_server_bin();
    let addr = format!("127.0.0.1:{}", free_port());
    let data = std::env::temp_dir().join(format!("confab-smoke-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let storm = load(
        &addr,
        "confab",
        &[
            "reconnect",
            "--clients",
            "60",
            "--per-room",
            "20",
            "--rate-per-room",
            "10",
            "--before-secs",
            "1",
            "--after-secs",
            "1",
            "--drain-secs",
            "1",
            "--timeout-secs",
            "15",
            "--",
            bin.to_str().unwrap(),
            "--bind",
            &addr,
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_dir_all(&data);
    let n = |k: &str| {
        storm[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k}: {storm}"))
    };
    assert_eq!(n("joined_before"), 60, "{storm}");
    assert_eq!(n("not_rejoined"), 0, "{storm}");
    assert!(n("acked") > 0, "nothing was acknowledged: {storm}");
    // Durable history: every re-join resumes in the same epoch, nothing is lost.
    assert_eq!(n("not_recovered"), 0, "{storm}");
    assert_eq!(n("lost"), 0, "{storm}");
    assert!(storm["rejoin_all_secs"].as_f64().is_some(), "{storm}");
}

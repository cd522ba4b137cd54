//! `--config FILE`: every flag can be set there (the command line wins
//! over the environment, which wins over the file, which wins over the
//! defaults), a bad file stops the server with a clear error,
//! `--guests off`, the policy on the seed-compatible routes, and
//! `confab-server policy` printing what a policy decides.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::bystanders::Bystanders;
use common::process::{free_port, temp_dir, Node, SECRET};
use common::tokens::{claims, granting, ALL};
use common::*;
use confab_server::auth::mint;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_confab-server");

fn write(name: &str, text: &str) -> String {
    let path = temp_dir("conf").join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn command_line_beats_environment_beats_file_beats_defaults() {
    let file = write(
        "confab.toml",
        r#"
        max_rooms = 3
        rate_per_sec = 7
        max-message-bytes = 5000
        heartbeat_ms = 12345
        token_secret = ["file-new", "file-old"]
        allowed_origins = ["https://a.example", "https://b.example"]
        "#,
    );
    let n = Node::start_env(
        free_port(),
        &["--config".into(), file, "--max-rooms".into(), "4".into()],
        &[("CONFAB_RATE_PER_SEC", "9")],
    )
    .await;
    let (_, w) = {
        let mut ws = connect(&n.ws("/ws")).await;
        let w = recv(&mut ws).await;
        (ws, w)
    };
    assert_eq!(w["limits"]["max_rooms"], 4, "command line: {w}");
    assert_eq!(w["limits"]["rate_per_sec"], 9, "environment: {w}");
    assert_eq!(w["limits"]["max_message_bytes"], 5000, "file: {w}");
    assert_eq!(w["heartbeat_ms"], 12345, "file: {w}");
    // Lists: both secrets verify.
    for secret in ["file-new", "file-old"] {
        let t = mint(secret, &claims("alice"));
        let (_, user) = native_at(&n.ws(&format!("/ws?token={t}"))).await;
        assert_eq!(user["id"], "alice");
    }
    // An allowed origin from the file's list.
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(n.ws("/ws"))
            .unwrap();
    req.headers_mut()
        .insert("Origin", "https://b.example".parse().unwrap());
    assert_eq!(connect_status(req).await, 101);
}

#[test]
fn a_bad_config_file_stops_the_server_with_a_clear_error() {
    for (what, text, needle) in [
        (
            "unknown key",
            "max_roms = 3\n",
            "unknown setting \"max_roms\"",
        ),
        ("wrong type", "max_rooms = \"many\"\n", "max-rooms"),
        ("not TOML", "max_rooms = \n", "confab.toml"),
        (
            "bad policy action",
            "[[policy.rooms]]\nmatch = \"a.*\"\nguest = [\"read\"]\n",
            "unknown action \"read\"",
        ),
        (
            "bad pattern",
            "[[policy.rooms]]\nmatch = \"a.**.b\"\n",
            "'**' may only be the last segment",
        ),
        (
            "a bool that is not",
            "in_memory = \"yes\"\n",
            "true or false",
        ),
    ] {
        let file = write("confab.toml", text);
        // (`timeout`: a server that wrongly starts fails the test, not hangs it.)
        let out = Command::new("timeout")
            .args([
                "10",
                BIN,
                "--bind",
                "127.0.0.1:0",
                "--in-memory",
                "--config",
                &file,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
    }
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/confab.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/confab.toml"));
    // A key file that is not a key.
    let out = Command::new(BIN)
        .args(["--in-memory", "--token-public-key", "/etc/hostname"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a PEM"));
}

#[tokio::test]
async fn guests_off_needs_a_token_everywhere() {
    let file = write("confab.toml", "guests = \"off\"\n");
    let n = Node::start(&[
        "--config".into(),
        file,
        "--token-secret".into(),
        SECRET.into(),
    ])
    .await;
    let t = mint(SECRET, &claims("speaker"));
    let l = mint(SECRET, &claims("listener"));
    let mut by = Bystanders::join_at(
        &n.ws("/ws"),
        "lobby",
        &format!("?token={t}"),
        &format!("?token={l}"),
    )
    .await;
    for path in [
        "/ws",
        "/ws?name=guest",
        "/ws/chat/lobby/",
        "/ws/chat/",
        "/ws/game/x/",
        "/ws/echo/",
    ] {
        assert_eq!(connect_status(n.ws(path).as_str()).await, 401, "{path}");
        by.assert_receiving().await;
    }
    let (_, user) = native_at(&n.ws(&format!("/ws?token={t}"))).await;
    assert_eq!(user["id"], "speaker");
    assert_eq!(
        connect_status(n.ws(&format!("/ws/chat/lobby/?token={t}")).as_str()).await,
        101
    );
}

#[tokio::test]
async fn seed_compatible_routes_follow_the_policy() {
    let file = write(
        "confab.toml",
        r#"
        [[policy.rooms]]
        match = "staff_*"
        [[policy.rooms]]
        match = "news_*"
        guest = ["join", "presence", "history"]
        "#,
    );
    let n = Node::start(&[
        "--config".into(),
        file,
        "--token-secret".into(),
        SECRET.into(),
    ])
    .await;
    let token = |sub: &str| {
        mint(
            SECRET,
            &granting(claims(sub), &[("staff_*", ALL), ("news_*", ALL)]),
        )
    };
    let q = |sub: &str| format!("?token={}", token(sub));
    let mut staff =
        Bystanders::join_at(&n.ws("/ws"), "staff_room", &q("speaker"), &q("listener")).await;
    let mut news =
        Bystanders::join_at(&n.ws("/ws"), "news_today", &q("speaker"), &q("listener")).await;
    // A private room: 403 at the handshake for a guest or a user without a
    // grant; a granted user gets the room's messages.
    let plain = mint(SECRET, &claims("alice"));
    for url in [
        n.ws("/ws/chat/staff_room/"),
        n.ws(&format!("/ws/chat/staff_room/?token={plain}")),
        n.ws("/chat/staff_room/"),
    ] {
        assert_eq!(connect_status(url.as_str()).await, 403, "{url}");
        staff.assert_receiving().await;
    }
    let mut granted = connect(&n.ws(&format!("/ws/chat/staff_room/{}", q("carol")))).await;
    staff.assert_receiving().await;
    let got: serde_json::Value = serde_json::from_str(&recv_text(&mut granted).await).unwrap();
    assert!(
        got["text"].as_str().unwrap().starts_with("still-here"),
        "{got}"
    );
    // A read-only room: a guest receives; what it sends is dropped.
    let mut guest = connect(&n.ws("/ws/chat/news_today/")).await;
    send(&mut guest, json!({"message": "let me in"})).await;
    let before = news.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
    // The socket is in the room shortly after its handshake: a message
    // published before that is not its to see, so the bystanders speak
    // again until it hears one.
    let mut heard = None;
    for _ in 0..10 {
        let wait = tokio::time::timeout(Duration::from_millis(500), recv_text(&mut guest));
        if let Ok(text) = wait.await {
            heard = Some(text);
            break;
        }
        news.assert_receiving().await;
    }
    let got: serde_json::Value =
        serde_json::from_str(&heard.expect("the guest heard nothing")).unwrap();
    assert!(
        got["text"].as_str().unwrap().starts_with("still-here"),
        "{got}"
    );
    wait_metric_at_least(n.addr, "confab_errors_total{code=\"forbidden\"}", 4).await;
}

#[test]
fn the_policy_subcommand_shows_what_a_policy_decides() {
    let file = write(
        "confab.toml",
        r#"
        [[policy.rooms]]
        match = "team.*.**"
        [[policy.rooms]]
        match = "announce.**"
        guest = ["join", "presence", "history"]
        granted = ["publish"]
        "#,
    );
    let out = Command::new(BIN)
        .args([
            "policy",
            "--config",
            &file,
            "team.1.x",
            "announce.news",
            "lobby",
            "dm:a:b",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1], "team.1.x\tteam.*.**\t-\t-\tjoin,publish,presence,history",
        "{text}"
    );
    assert_eq!(
        lines[2],
        "announce.news\tannounce.**\tjoin,presence,history\tjoin,presence,history\tjoin,publish,presence,history",
        "{text}"
    );
    assert_eq!(
        lines[3],
        "lobby\t(default)\tjoin,publish,presence,history\tjoin,publish,presence,history\tjoin,publish,presence,history",
        "{text}"
    );
    assert!(lines[4].starts_with("dm:a:b\tdm"), "{text}");
}

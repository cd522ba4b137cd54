//! A token minted by a standard JWT library, not by Confab: Python's PyJWT
//! (installed in tools/pyenv by scripts/install-tools.sh; missing, the test
//! fails), the one-liner of docs/PERMISSIONS.md. The server accepts it and
//! refuses it where the policy says so.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::bystanders::Bystanders;
use common::process::{temp_dir, Node, SECRET};
use common::tokens::{claims, granting, ALL};
use common::*;
use confab_server::auth::mint;
use serde_json::{json, Value};

fn python() -> String {
    let py = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/pyenv/bin/python");
    let ok = Command::new(py)
        .args(["-c", "import jwt"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "PyJWT is not installed in tools/pyenv: run scripts/install-tools.sh"
    );
    py.to_owned()
}

#[tokio::test]
async fn a_pyjwt_token_connects_and_is_refused_where_the_policy_says() {
    let file = temp_dir("interop").join("confab.toml");
    std::fs::write(&file, "[[policy.rooms]]\nmatch = \"team.**\"\n").unwrap();
    let n = Node::start(&[
        "--config".into(),
        file.to_str().unwrap().into(),
        "--token-secret".into(),
        SECRET.into(),
    ])
    .await;
    // The docs' one-liner, with the secret and claims of this test.
    let script = format!(
        r#"import jwt, time; print(jwt.encode({{"sub": "py", "name": "Py Thon", "exp": int(time.time()) + 600, "rooms": {{"team.42": ["join", "publish", "presence", "history"]}}}}, "{SECRET}", algorithm="HS256"))"#
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");

    let q = |sub: &str| {
        format!(
            "?token={}",
            mint(SECRET, &granting(claims(sub), &[("team.**", ALL)]))
        )
    };
    let mut by = Bystanders::join_at(&n.ws("/ws"), "team.7", &q("speaker"), &q("listener")).await;
    let (mut ws, user) = native_at(&n.ws(&format!("/ws?token={token}"))).await;
    assert_eq!(user["id"], "py");
    assert_eq!(user["name"], "Py Thon");
    join(&mut ws, "team.42").await;
    publish(
        &mut ws,
        "team.42",
        "p",
        json!({"text": "hello from python"}),
    )
    .await;
    send(
        &mut ws,
        json!({"type": "join", "ref": "j7", "room": "team.7"}),
    )
    .await;
    let e: Value = recv_type(&mut ws, "error").await;
    assert_eq!(e["code"], "forbidden", "{e}");
    assert_eq!(e["room"], "team.7", "{e}");
    by.assert_receiving().await;
}

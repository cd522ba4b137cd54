//! `rediss://`: a TLS-only `redis-server` with a CA made for the test
//! (openssl), asking clients for certificates too. Confab refuses it
//! without the CA (or without a client certificate) and works with both.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use serde_json::json;

use common::process::{as_user, prefix, token_args, Node, Redis, TestCa};
use common::{join_since, native_at, next_message, publish_collect};

/// Runs the server with `args`; it must exit (non-zero) by itself.
async fn must_fail(args: &[String]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_confab-server"))
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env_remove("CONFAB_DATA_DIR")
            .output(),
    )
    .await
    .expect("server did not give up in time")
    .unwrap();
    assert!(!out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn rediss_is_refused_without_the_ca_and_accepted_with_it() {
    let ca = TestCa::new();
    let redis = Redis::start_tls(&ca).await;
    let url = redis.url();
    assert!(url.starts_with("rediss://"), "{url}");
    let client_cert = [
        "--redis-tls-cert".to_owned(),
        ca.path("client.crt"),
        "--redis-tls-key".to_owned(),
        ca.path("client.key"),
    ];

    // No CA: the system roots do not know this one.
    let mut args = vec!["--redis-url".to_owned(), url.clone()];
    args.extend(client_cert.iter().cloned());
    let err = must_fail(&args).await;
    assert!(err.contains("cannot reach redis"), "{err}");
    eprintln!("without the CA: {}", err.trim());

    // The CA but no client certificate: Redis refuses the handshake.
    let args = [
        "--redis-url".to_owned(),
        url.clone(),
        "--redis-tls-ca".to_owned(),
        ca.path("ca.crt"),
    ];
    let err = must_fail(&args).await;
    assert!(err.contains("cannot reach redis"), "{err}");

    // Plain redis:// to the TLS port: no.
    let plain = url.replace("rediss://", "redis://");
    let err = must_fail(&["--redis-url".to_owned(), plain]).await;
    assert!(err.contains("cannot reach redis"), "{err}");

    // Both: two nodes share rooms through the TLS Redis.
    let mut args = vec![
        "--redis-url".to_owned(),
        url,
        "--redis-prefix".to_owned(),
        prefix("tls"),
        "--redis-tls-ca".to_owned(),
        ca.path("ca.crt"),
    ];
    args.extend(client_cert.iter().cloned());
    args.extend(token_args());
    let b = Node::start(&args).await;
    // The webhook queue reaches the same Redis the same way (a node that
    // could not would not start).
    args.extend([
        "--webhook-url".to_owned(),
        "http://127.0.0.1:9/hooks".to_owned(),
        "--backend-secret".to_owned(),
        "s".to_owned(),
    ]);
    let a = Node::start(&args).await;
    let (mut alice, _) = native_at(&a.ws(&format!("/ws{}", as_user("alice")))).await;
    let (mut bob, _) = native_at(&b.ws(&format!("/ws{}", as_user("bob")))).await;
    join_since(&mut alice, "secure", None).await;
    join_since(&mut bob, "secure", None).await;
    let mut seen = Vec::new();
    let ack = publish_collect(
        &mut alice,
        "secure",
        "p1",
        json!({"t": "over tls"}),
        &mut seen,
    )
    .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let m = next_message(&mut bob, "secure").await;
    assert_eq!(m["payload"]["t"], "over tls", "{m}");
}

//! The listening socket's accept queue (`--listen-backlog`): after a restart
//! every client reconnects at once, and a queue shorter than the flood makes
//! the kernel drop SYNs (each dropped client then waits a 1 s retransmit).
//! Linux only: the queue length is read from `/proc/net/tcp`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use confab_server::serve::listen;

/// Current accept-queue length of the listening socket on 127.0.0.1:`port`
/// (for a LISTEN socket, the rx_queue column of /proc/net/tcp).
fn accept_queue(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[1] == local && f[3] == "0A")
        .map(|f| {
            let rx = f[4].split(':').nth(1).unwrap();
            usize::from_str_radix(rx, 16).unwrap()
        })
        .expect("listening socket in /proc/net/tcp")
}

/// Opens `n` connections to a listener that never accepts; returns the
/// accept-queue length once it has stopped growing.
async fn queued_after(backlog: u32, n: usize) -> usize {
    let listener = listen("127.0.0.1:0".parse().unwrap(), backlog).unwrap();
    let addr = listener.local_addr().unwrap();
    // Clients whose SYN is dropped stay in connect(): not awaited.
    let clients: Vec<_> = (0..n)
        .map(|_| tokio::spawn(tokio::net::TcpStream::connect(addr)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut last, mut stable_since) = (usize::MAX, Instant::now());
    loop {
        let q = accept_queue(addr.port());
        if q != last {
            (last, stable_since) = (q, Instant::now());
        }
        // Settled: everything queued, or unchanged for 300 ms (the rest dropped).
        if q >= n || stable_since.elapsed() >= Duration::from_millis(300) {
            break;
        }
        assert!(Instant::now() < deadline, "accept queue still at {q}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for c in clients {
        c.abort();
    }
    drop(listener);
    last
}

fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

#[tokio::test]
async fn listen_uses_the_backlog_it_is_given() {
    // 300 stays under the default soft limit of 1024 open files.
    let n = 300;
    assert!(
        somaxconn() > n,
        "net.core.somaxconn too small for this test"
    );
    // A short queue keeps about `backlog` (Linux: backlog + 1) and drops
    // the rest; tokio's own bind would have queued all 300 (it asks for 1024).
    let short = queued_after(100, n).await;
    assert!((100..=101).contains(&short), "backlog 100 queued {short}");
    // A long one takes the whole flood.
    assert_eq!(queued_after(400, n).await, n);
}

#[test]
fn help_documents_listen_backlog() {
    let out = Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--listen-backlog"), "{help}");
    assert!(help.contains("CONFAB_LISTEN_BACKLOG"), "{help}");
    assert!(help.contains("[default: 4096]"), "{help}");
}

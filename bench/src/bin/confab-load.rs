//! `confab-load`: drives one benchmark scenario against one server and
//! prints its figures as JSON (stdout, or `--json FILE`); progress goes to
//! stderr. Loopback only; every scenario is bounded in count and time.
//!
//! ```text
//! confab-load --url ws://127.0.0.1:8001 --proto seed fanout --subscribers 100
//! confab-load --url ws://127.0.0.1:8000 --proto confab --server-pid 1234 idle --conns 10000
//! confab-load --url ws://127.0.0.1:8000 --proto confab reconnect -- target/release/confab-server
//! confab-load --url ws://127.0.0.1:8000,ws://127.0.0.1:8001 --server-pid 11,12 --layer-pid 13 multinode
//! ```

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use confab_bench::scenario::{fanout, idle, multinode, reconnect, rooms, Target};
use confab_bench::{Error, Protocol, Result};

/// Load generator for Confab's side-by-side benchmarks.
///
/// Speaks Confab's native protocol (`confab`: /ws, welcome, join, publish
/// with ref, ack, message), the seed/Django Channels shape (`seed`:
/// /ws/chat/{room}/ with {"message": m}) and Socket.IO 4 (`socketio`:
/// engine.io v4 websocket transport, event "chat"). Every message carries
/// "<publisher>:<seq>:<send time µs>", so receivers measure end-to-end
/// latency and count loss and duplicates. Results are JSON.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Server base URL (loopback only). Comma-separated: the nodes of one
    /// deployment (clients are spread over them; `fanout`, `rooms`,
    /// `multinode`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ws://127.0.0.1:8000",
        global = true
    )]
    url: Vec<String>,
    /// Wire protocol the server speaks.
    #[arg(long, value_enum, default_value = "seed", global = true)]
    proto: Protocol,
    /// Server process id: CPU use per phase, and RSS for `idle` (of the
    /// first). Comma-separated: several processes (nodes), CPU summed.
    #[arg(long, value_delimiter = ',', global = true)]
    server_pid: Vec<u32>,
    /// Channel-layer (Redis) process ids, comma-separated: their CPU per
    /// phase and per delivered message, reported apart from the server's.
    #[arg(long, value_delimiter = ',', global = true)]
    layer_pid: Vec<u32>,
    /// WebSocket handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 64, global = true)]
    connect_concurrency: usize,
    /// Set when the server does not echo a publisher's own messages back to it.
    #[arg(long, global = true)]
    no_self_echo: bool,
    /// Free-form label copied into the JSON (e.g. the server's name).
    #[arg(long, default_value = "", global = true)]
    label: String,
    /// Write the JSON result to this file instead of stdout.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Tokio worker threads (1 = a current-thread runtime, the least overhead
    /// when the load generator is pinned to one core).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One room, N members, P publishers: p50/p99 at a fixed rate, then the
    /// rate steps up; the ceiling is the best step with p99 under the limit
    /// and zero loss.
    Fanout(fanout::FanoutArgs),
    /// R rooms × K clients, every client publishing.
    Rooms(rooms::RoomsArgs),
    /// Several nodes on one channel layer: R rooms × K publishing clients,
    /// each room's clients spread over the nodes (`--url a,b,c`); a few
    /// fixed rates; server and layer (`--layer-pid`) CPU per delivery.
    Multinode(multinode::MultinodeArgs),
    /// N idle connections; server RSS per connection over the zero-client
    /// baseline (needs --server-pid of a freshly started server).
    Idle(idle::IdleArgs),
    /// Confab only: N clients joined; the server (started by this command
    /// from the arguments after `--`) is restarted; time until 99% re-joined
    /// and messages lost despite resume.
    Reconnect(reconnect::ReconnectArgs),
}

fn raise_nofile(need: u64) -> Result<u64> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    if limit < need {
        return Err(Error::Usage(format!(
            "open-file limit is {limit} but this run needs about {need}: raise the hard limit (ulimit -Hn)"
        )));
    }
    Ok(limit)
}

async fn run(cli: Cli) -> Result<serde_json::Value> {
    let mut urls = cli.url.iter().map(|u| u.trim().to_owned());
    let base = urls
        .next()
        .ok_or_else(|| Error::Usage("--url is empty".into()))?;
    let target = Target {
        base,
        more_bases: urls.collect(),
        proto: cli.proto,
        server_pid: cli.server_pid.first().copied(),
        more_server_pids: cli.server_pid.iter().skip(1).copied().collect(),
        layer_pids: cli.layer_pid.clone(),
        connect_concurrency: cli.connect_concurrency,
        self_echo: !cli.no_self_echo,
    };
    let conns = match &cli.scenario {
        Scenario::Fanout(a) => a.subscribers,
        Scenario::Rooms(a) => a.rooms * a.per_room,
        Scenario::Multinode(a) => a.rooms * a.per_room,
        Scenario::Idle(a) => a.conns,
        Scenario::Reconnect(a) => a.clients,
    };
    let limit = raise_nofile(conns as u64 + 64)?;
    eprintln!("open-file limit {limit}");
    let (name, body) = match cli.scenario {
        Scenario::Fanout(a) => (
            "fanout",
            serde_json::to_value(fanout::run(&target, a).await?),
        ),
        Scenario::Rooms(a) => ("rooms", serde_json::to_value(rooms::run(&target, a).await?)),
        Scenario::Multinode(a) => (
            "multinode",
            serde_json::to_value(multinode::run(&target, a).await?),
        ),
        Scenario::Idle(a) => ("idle", serde_json::to_value(idle::run(&target, a).await?)),
        Scenario::Reconnect(a) => (
            "reconnect",
            serde_json::to_value(reconnect::run(&target, a).await?),
        ),
    };
    let body = body.map_err(|e| Error::Protocol(e.to_string()))?;
    Ok(serde_json::json!({
        "scenario": name,
        "label": cli.label,
        "proto": cli.proto,
        "url": cli.url.join(","),
        "result": body,
    }))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("confab-load: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let out = cli.json.clone();
    match rt.block_on(run(cli)) {
        Ok(v) => {
            let text = format!("{v:#}\n");
            let written = match out {
                Some(path) => std::fs::write(&path, text),
                None => {
                    print!("{text}");
                    Ok(())
                }
            };
            if let Err(e) = written {
                eprintln!("confab-load: cannot write the result: {e}");
                return std::process::ExitCode::FAILURE;
            }
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("confab-load: {e}");
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
            std::process::ExitCode::FAILURE
        }
    }
}

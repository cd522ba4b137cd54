//! `confab-server`: run the room server, or mint a user token.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use confab_server::auth::{check_secrets, mint, parse_ttl, unix_now, valid_user_id, Claims};
use confab_server::{app, shutdown, AppState, Config};
use tracing_subscriber::EnvFilter;

/// Confab's room server: WebSocket rooms with presence, history and direct
/// messages, seed-compatible Channels/dwebsocket endpoints, and the demo app.
///
/// Logging: RUST_LOG (default "info"), e.g. RUST_LOG=confab_server=debug.
#[derive(Debug, Parser)]
#[command(
    name = "confab-server",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Server settings (when no subcommand is given, `serve` runs).
    #[command(flatten)]
    serve: Config,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start
enum Command {
    /// Run the server (the default).
    Serve(Config),
    /// Print a signed user token for `?token=` or `Authorization: Bearer`.
    Token(TokenArgs),
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// User id: 1-40 of A-Z a-z 0-9 _ . -
    #[arg(long)]
    user: String,
    /// Display name (default: the user id).
    #[arg(long)]
    name: Option<String>,
    /// Lifetime, e.g. 90s, 30m, 24h, 7d.
    #[arg(long, default_value = "24h", value_parser = parse_ttl)]
    ttl: u64,
    /// Signing secret (the first --token-secret of the server).
    #[arg(
        long,
        env = "CONFAB_TOKEN_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    token_secret: Vec<String>,
}

fn token(args: TokenArgs) -> ExitCode {
    let secrets = match check_secrets(args.token_secret) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(secret) = secrets.first() else {
        eprintln!("error: --token-secret (or CONFAB_TOKEN_SECRET) is required to sign a token");
        return ExitCode::from(2);
    };
    if !valid_user_id(&args.user) || confab_server::auth::is_reserved_id(&args.user) {
        eprintln!(
            "error: --user must be 1-40 characters of A-Z a-z 0-9 _ . -, and not server or g-…"
        );
        return ExitCode::from(2);
    }
    if let Some(n) = &args.name {
        if confab_server::auth::display_name(n).is_none() {
            eprintln!("error: --{}", confab_server::auth::NAME_RULE);
            return ExitCode::from(2);
        }
    }
    let claims = Claims {
        sub: args.user,
        name: args.name,
        exp: unix_now().saturating_add(args.ttl),
    };
    println!("{}", mint(secret, &claims));
    ExitCode::SUCCESS
}

async fn serve(config: Config) -> ExitCode {
    let listener = match confab_server::serve::listen(config.bind, config.listen_backlog) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(bind = %config.bind, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.bind.to_string(), |a| a.to_string());
    let grace = config.shutdown_grace();
    let layer = (!config.redis_url.is_empty())
        .then(|| format!("cannot reach redis at {}", config.redis_url.join(",")))
        .or_else(|| {
            (config.data_dir.as_ref().filter(|_| !config.in_memory))
                .map(|d| format!("cannot open the history store in {}", d.display()))
        })
        .unwrap_or_else(|| "cannot start the channel layer".to_owned());
    let state = match AppState::from_config(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "{layer}");
            eprintln!("error: {layer}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, static_dir = %state.config.static_dir.display(), "confab-server listening on http://{addr}/");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = confab_server::serve::serve(
        listener,
        app(state.clone()),
        state.config.header_read_timeout(),
        async {
            let _ = stop_rx.await;
        },
    );
    let server = tokio::spawn(server);
    if let Some(bind) = state.config.metrics_bind {
        match confab_server::serve::listen(bind, 128) {
            Ok(listener) => {
                tracing::info!(%bind, "metrics on http://{bind}/metrics");
                tokio::spawn(confab_server::serve::serve(
                    listener,
                    confab_server::endpoints::metrics_router(state.clone()),
                    state.config.header_read_timeout(),
                    std::future::pending(),
                ));
            }
            Err(e) => {
                tracing::error!(%bind, error = %e, "cannot listen for metrics");
                return ExitCode::FAILURE;
            }
        }
    }
    shutdown::signal().await;
    let _ = stop_tx.send(());
    let left = shutdown::close_all(&state, grace).await;
    if left > 0 {
        tracing::warn!(left, "connections still open after the grace period");
    }
    // In-flight plain HTTP requests get what is left of a short wait.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), server).await;
    tracing::info!("bye");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => token(args),
        Some(Command::Serve(config)) => run_server(config),
        None => run_server(cli.serve),
    }
}

fn run_server(mut config: Config) -> ExitCode {
    config.token_secret = match check_secrets(std::mem::take(&mut config.token_secret)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(serve(config)),
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

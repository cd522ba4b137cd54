//! `confab-server`: run the room server, or mint a user token.

use std::process::ExitCode;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use confab_server::auth::{
    check_secrets, mint, parse_ttl, unix_now, valid_user_id, Audience, Claims, Verifier,
};
use confab_server::layer::redact_url;
use confab_server::policy::{Action, Actions, Grants, Policy};
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
    /// Print a user token (an HS256 JWT) for `?token=` or `Authorization: Bearer`.
    Token(TokenArgs),
    /// Print what the `[policy]` of a config file lets guests, users and
    /// users with a grant do in each of the given rooms.
    Policy(PolicyArgs),
}

#[derive(Debug, clap::Args)]
struct PolicyArgs {
    /// The config file (as `serve --config`); none: the open default.
    #[arg(long, env = "CONFAB_CONFIG")]
    config: Option<PathBuf>,
    /// Room names to show.
    #[arg(required = true)]
    rooms: Vec<String>,
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
    /// Small JSON other members see with the user's presence (the `info`
    /// claim), e.g. '{"avatar":"https://…/a.png"}'.
    #[arg(long)]
    info: Option<String>,
    /// A room grant (the `rooms` claim): PATTERN=ACTIONS, e.g.
    /// 'team.42.**=join,publish,presence,history' (or PATTERN=all). Repeat
    /// for several patterns.
    #[arg(long = "grant", value_name = "PATTERN=ACTIONS")]
    grants: Vec<String>,
    /// The `iss` claim.
    #[arg(long)]
    issuer: Option<String>,
    /// The `aud` claim.
    #[arg(long)]
    audience: Option<String>,
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
    let info = match args
        .info
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            eprintln!("error: --info is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut rooms = BTreeMap::new();
    for g in &args.grants {
        let Some((pattern, actions)) = g.split_once('=') else {
            eprintln!("error: --grant {g:?}: use PATTERN=ACTIONS, e.g. team.42.**=join,publish");
            return ExitCode::from(2);
        };
        let actions: Vec<String> = if actions == "all" {
            Action::ALL.iter().map(|a| a.as_str().to_owned()).collect()
        } else {
            actions.split(',').map(|a| a.trim().to_owned()).collect()
        };
        rooms.insert(pattern.to_owned(), actions);
    }
    if let Err(e) = Grants::from_claim(&rooms) {
        eprintln!("error: --grant: {e}");
        return ExitCode::from(2);
    }
    let now = unix_now();
    let claims = Claims {
        sub: args.user,
        name: args.name,
        exp: now.saturating_add(args.ttl),
        iat: Some(now),
        iss: args.issuer,
        aud: args.audience.map(Audience::One),
        info,
        rooms: (!rooms.is_empty()).then_some(rooms),
        ..Claims::default()
    };
    let token = mint(secret, &claims);
    // Whatever the server would refuse (an info claim too large…) is
    // refused here.
    if let Err(e) = confab_server::auth::verify(std::slice::from_ref(secret), &token, now) {
        eprintln!("error: the server would refuse this token: {e}");
        return ExitCode::from(2);
    }
    println!("{token}");
    ExitCode::SUCCESS
}

fn show(set: Actions) -> String {
    let names: Vec<&str> = (Action::ALL.iter())
        .filter(|a| set.contains(**a))
        .map(|a| a.as_str())
        .collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

fn policy(args: PolicyArgs) -> ExitCode {
    let policy = match &args.config {
        None => Policy::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| Policy::from_toml_str(&t))
        {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    println!("room\trule\tguest\tuser\tuser with a grant (at most)");
    for room in &args.rooms {
        if let Err(e) = confab_protocol::validate_room_name(room) {
            eprintln!("error: {room:?}: {e}");
            return ExitCode::from(2);
        }
        let rule = (policy.rules().iter())
            .find(|r| r.pattern.matches(room))
            .map_or("(default)".to_owned(), |r| r.pattern.to_string());
        match policy.rights(room) {
            None => println!("{room}\tdm\t(its two users: all)\t\t"),
            Some(r) => {
                let user = r.guest.union(r.user);
                println!(
                    "{room}\t{rule}\t{}\t{}\t{}",
                    show(r.guest),
                    show(user),
                    show(user.union(r.granted))
                );
            }
        }
    }
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
        .then(|| {
            let urls: Vec<String> = config.redis_url.iter().map(|u| redact_url(u)).collect();
            format!("cannot reach redis at {}", urls.join(","))
        })
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

/// The command line, with the `--config` file of `serve` applied under
/// the command line and the environment.
fn parse(args: Vec<OsString>) -> Result<Cli, String> {
    let matches = Cli::command()
        .try_get_matches_from(&args)
        .unwrap_or_else(|e| e.exit());
    let serve = match matches.subcommand() {
        None => Some(&matches),
        Some(("serve", m)) => Some(m),
        Some(_) => None,
    };
    let file = serve.and_then(|m| Some((m, m.get_one::<PathBuf>("config")?.clone())));
    let Some((m, path)) = file else {
        return Cli::from_arg_matches(&matches).map_err(|e| e.to_string());
    };
    let file = confab_server::config::file_settings(m, &path)?;
    let mut all = args;
    all.extend(file.args.into_iter().map(OsString::from));
    let mut cli = Cli::try_parse_from(all).map_err(|e| format!("{}: {e}", path.display()))?;
    let serve = match &mut cli.command {
        Some(Command::Serve(c)) => c,
        _ => &mut cli.serve,
    };
    serve.policy = Arc::new(file.policy);
    serve.hooks = file.hooks;
    Ok(cli)
}

fn main() -> ExitCode {
    let cli = match parse(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Some(Command::Token(args)) => token(args),
        Some(Command::Policy(args)) => policy(args),
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
    if let Err(e) = Verifier::new(&config.token_settings()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = config.hook_settings() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
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

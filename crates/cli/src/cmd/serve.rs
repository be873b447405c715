//! `floodgate serve`: the HTTP API (floodgate-api) on one address, and its API keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use floodgate_api::auth::KeyStore;
use floodgate_cases::model::Role;

use crate::config::Context;
use crate::output;

/// Serve the HTTP API: screening, KYT decisions, alerts, cases, reports (docs/api.md).
///
/// OpenAPI 3.1 at /openapi.json, interactive docs at /docs, Prometheus metrics at /metrics.
/// Logs are JSON lines on stderr, one per request with its x-request-id. Ctrl-C or SIGTERM
/// stops accepting and finishes the requests in flight.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate serve keys create --tenant vasp-a --user lan --role analyst
  floodgate serve --addr 127.0.0.1:8080
  curl -H \"Authorization: Bearer $KEY\" -H 'content-type: application/json' \\
       -d '{\"name\":\"Vladimir Putin\"}' http://127.0.0.1:8080/v1/screen/name")]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Option<Sub>,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080", env = "FLOODGATE_ADDR")]
    addr: SocketAddr,
    /// Case store: a postgres:// URL or a SQLite file [default: DATA_DIR/cases.db]
    #[arg(long, env = "FLOODGATE_DATABASE_URL", value_name = "URL|FILE")]
    cases_db: Option<String>,
    /// KYT rules file (TOML; docs/rules.md) [default: the built-in vn pack]
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// KYT customer file (CSV or JSON Lines)
    #[arg(long, value_name = "FILE")]
    customers: Option<PathBuf>,
    /// Directory of OFAC sanctioned_addresses_<ASSET>.txt files for KYT
    #[arg(long, value_name = "DIR")]
    ofac_dir: Option<PathBuf>,
    /// Directory `POST /v1/admin/lists/load` reads list files from [default: DATA_DIR/imports]
    #[arg(long, value_name = "DIR")]
    import_dir: Option<PathBuf>,
    /// Requests a second per API key (token bucket; 0 = no limit)
    #[arg(long, default_value_t = 50.0, value_name = "N")]
    rate_limit: f64,
    /// Burst per key [default: twice --rate-limit]
    #[arg(long, value_name = "N")]
    burst: Option<f64>,
    /// Largest request body in bytes
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Longest a request may take, in seconds
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
    /// Mark the session cookie Secure (when served behind TLS)
    #[arg(long)]
    secure_cookies: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// API keys: create (shown once), list, revoke
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
}

#[derive(Debug, clap::Subcommand)]
enum KeysCmd {
    /// Create a key bound to a tenant and a role; the key is printed once and stored only as a hash
    Create {
        /// Tenant (the VASP)
        #[arg(long)]
        tenant: String,
        /// User name its actions are recorded under
        #[arg(long)]
        user: String,
        /// analyst, approver, admin or supervisor
        #[arg(long)]
        role: String,
    },
    /// List keys (never their secrets)
    List,
    /// Revoke a key by its id (takes effect within 2 s in a running server)
    Revoke {
        /// Key id
        id: String,
    },
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    if let Some(Sub::Keys { cmd }) = args.cmd {
        return keys(cmd, ctx);
    }
    // Each tenant's monitor: the set-up `floodgate monitor` uses (floodgate_app::monitor::open),
    // with the data directory's loaded lists and its state in the tenant's own directory.
    let setup = floodgate_app::monitor::MonitorSetup {
        rules: args.rules.clone(),
        customers: args.customers.clone(),
        ofac_dir: args.ofac_dir.clone(),
        ..Default::default()
    };
    let assets = ctx.assets.clone();
    let data = floodgate_app::DataDir::new(&ctx.data_dir);
    let monitor: floodgate_api::MonitorFactory = Arc::new(move |dir: &std::path::Path| {
        let setup = floodgate_app::monitor::MonitorSetup {
            state_dir: Some(dir.to_path_buf()),
            ..setup.clone()
        };
        floodgate_app::monitor::open(&data, &assets, &setup).map_err(|e| e.to_string())
    });
    let mut cfg = floodgate_api::ApiConfig::new(&ctx.data_dir, monitor);
    let db = args.cases_db.clone().or_else(|| ctx.cases.database_url.clone());
    cfg.cases = floodgate_cases::Location::resolve(db.as_deref(), &ctx.data_dir);
    cfg.rate_per_sec = args.rate_limit;
    cfg.burst = args.burst.unwrap_or(args.rate_limit * 2.0).max(1.0);
    cfg.body_limit = args.max_body_bytes;
    cfg.timeout = Duration::from_secs(args.timeout.max(1));
    cfg.secure_cookies = args.secure_cookies;
    cfg.assets = ctx.assets.clone();
    if let Some(d) = &args.import_dir {
        cfg.import_dir = d.clone();
    }
    // Fail before binding when the rules or customer files are bad.
    floodgate_app::monitor::open(
        &floodgate_app::DataDir::new(&ctx.data_dir),
        &ctx.assets,
        &floodgate_app::monitor::MonitorSetup {
            rules: args.rules.clone(),
            customers: args.customers.clone(),
            ofac_dir: args.ofac_dir.clone(),
            no_state: true,
            ..Default::default()
        },
    )
    .context("setting up the KYT engine")?;
    let state = floodgate_api::AppState::open(cfg).context("opening the stores")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let local = listener.local_addr()?;
        tracing::warn!(target: "floodgate::api", addr = %local, "serving; docs at http://{local}/docs");
        floodgate_api::serve(listener, state.clone(), shutdown_signal()).await?;
        state.close();
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            () = term => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn keys(cmd: KeysCmd, ctx: &Context) -> Result<ExitCode> {
    std::fs::create_dir_all(&ctx.data_dir).with_context(|| ctx.data_dir.display().to_string())?;
    let mut store = KeyStore::open(&ctx.data_dir)?;
    match cmd {
        KeysCmd::Create { tenant, user, role } => {
            let role = Role::parse(&role).context("--role")?;
            let (info, secret) = store.create(&tenant, &user, role)?;
            output::write_json(&serde_json::json!({
                "id": info.id, "tenant": info.tenant, "user": info.user, "role": info.role,
                "key": secret,
                "note": "the key is shown this once; only its SHA-256 is stored",
            }))?;
        }
        KeysCmd::List => output::write_json(&store.list()?)?,
        KeysCmd::Revoke { id } => {
            if !store.revoke(&id)? {
                anyhow::bail!("no API key with id '{id}'");
            }
            output::write_json(&serde_json::json!({"revoked": id}))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

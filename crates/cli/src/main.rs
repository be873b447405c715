//! The `floodgate` command: flags, configuration and wiring. The work happens in the library
//! crates; each subcommand lives in `cmd/`.

mod cmd;
mod config;
mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// mimalloc instead of glibc's malloc for the binary's Rust allocations, with a longer purge
/// delay ([`floodgate_alloc::tune`], which says why).
#[global_allocator]
static ALLOCATOR: floodgate_alloc::MiMalloc = floodgate_alloc::MiMalloc;

fn main() -> ExitCode {
    // Before any thread is started.
    floodgate_alloc::tune();
    let matches = cmd::Cli::command().get_matches();
    let cli = cmd::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_tracing(cli.global.verbose, cli.global.quiet, matches.subcommand_name() == Some("serve"));
    match cmd::run(cli, cmd::access(&matches)) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`floodgate transfers | head`) is not an error for the user: the
            // output writer reports every write failure as an io::Error (output.rs).
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // The message may quote hostile input (a list entry, a ledger field).
            let msg = error_text(&err);
            let _ = writeln!(std::io::stderr(), "{}", output::escape_text(&msg));
            ExitCode::from(cmd::EXIT_ERROR)
        }
    }
}

/// `error: ` and the error with its causes, `: `-separated as anyhow's `{:#}` prints them,
/// leaving out a cause whose message the text before it already quotes: library errors often
/// show their source in their own message too, and the user would read it twice.
fn error_text(err: &anyhow::Error) -> String {
    let mut msg = String::from("error: ");
    for (i, cause) in err.chain().enumerate() {
        let text = cause.to_string();
        if i > 0 {
            if msg.contains(&text) {
                continue;
            }
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn init_tracing(verbose: u8, quiet: bool, json: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOODGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    // `floodgate serve` logs JSON lines (one per request, with its request id).
    if json {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

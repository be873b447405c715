//! `floodgate users`: the tenant's user registry — who may act, with which role.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_cases::model::{Role, User, UserId};
use serde::Serialize;

use crate::cmd::cases::StoreArgs;
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// The tenant's users and their roles.
///
/// With nobody registered a tenant is in single-user mode: the CLI trusts `--as` and `--role`
/// (default analyst). The first user added must be an admin; from then on only registered,
/// enabled users act, with the role the registry gives them (docs/cases.md).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate users add hoa admin
  floodgate users add lan analyst --as hoa
  floodgate users add minh approver --as hoa
  floodgate users list --format csv
  floodgate users disable lan --as hoa
  printf '%s\n' \"$NEW_PASSWORD\" | floodgate users passwd lan --as hoa
  floodgate users passwd lan --clear --as hoa

Exit codes: 0 done, 2 error (not an admin, unknown or known user, last admin, password too
short; nothing changed).")]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    store: StoreArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    format: Format,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Add a user with a role (admin; the tenant's first user must be an admin)
    Add {
        /// The user id
        #[arg(value_name = "USER")]
        name: String,
        /// analyst, approver, admin or supervisor
        #[arg(value_name = "ROLE")]
        new_role: String,
    },
    /// List the tenant's users
    List,
    /// Disable a user (admin); the last enabled admin stays
    Disable {
        /// The user id
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Set a user's workbench password, read as one line from standard input (admin, or the
    /// user for themself). Only its argon2id hash is stored, in the data directory's
    /// api-keys.db; the user must be registered and enabled.
    Passwd {
        /// The user id
        #[arg(value_name = "USER")]
        name: String,
        /// Remove the password instead (password sign-in stops)
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Row(User);

impl Tabular for Row {
    fn headers() -> Vec<&'static str> {
        vec!["user", "role", "disabled", "created", "created_by"]
    }
    fn cells(&self) -> Vec<String> {
        let u = &self.0;
        vec![
            u.user.to_string(),
            u.role.to_string(),
            u.disabled.to_string(),
            u.created.to_rfc3339(),
            u.created_by.clone(),
        ]
    }
}

/// Sets or clears `user`'s password after checking who asks and that the user may act.
fn passwd(
    ctx: &Context,
    s: &mut dyn floodgate_cases::CaseStore,
    actor: &floodgate_cases::model::Actor,
    user: &UserId,
    clear: bool,
) -> Result<()> {
    if actor.role != Role::Admin && actor.user != *user {
        anyhow::bail!(
            "{} ({}) may not set {user}'s password: only an admin, or the user themself",
            actor.user,
            actor.role
        );
    }
    let known = s.users(actor)?.into_iter().any(|u| u.user == *user && !u.disabled);
    if !known {
        anyhow::bail!(
            "user '{user}' is not a registered, enabled user of tenant '{}' (add it with `floodgate users add`)",
            actor.tenant
        );
    }
    std::fs::create_dir_all(&ctx.data_dir).with_context(|| ctx.data_dir.display().to_string())?;
    let mut keys = floodgate_api::auth::KeyStore::open(&ctx.data_dir)?;
    if clear {
        let had = keys.clear_password(actor.tenant.as_str(), user.as_str())?;
        output::write_text(&format!(
            "{}\n",
            if had {
                format!("password of {user} removed")
            } else {
                format!("{user} had no password")
            }
        ))?;
        return Ok(());
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    keys.set_password(actor.tenant.as_str(), user.as_str(), password)?;
    output::write_text(&format!(
        "password of {user} (tenant {}) set; only its argon2id hash is stored\n",
        actor.tenant
    ))?;
    Ok(())
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut store = args.store.open(ctx)?;
    let s = store.as_mut();
    let rows = match args.cmd {
        Cmd::Add { name, new_role } => {
            let role = Role::parse(&new_role)?;
            let user = UserId::new(name)?;
            // In an empty registry anyone may add the first user, who must be an admin.
            let actor = args.store.actor(ctx, s)?;
            vec![Row(s.add_user(&actor, &user, role)?)]
        }
        Cmd::List => {
            let actor = args.store.actor(ctx, s)?;
            s.users(&actor)?.into_iter().map(Row).collect()
        }
        Cmd::Disable { name } => {
            let actor = args.store.actor(ctx, s)?;
            vec![Row(s.disable_user(&actor, &UserId::new(name)?)?)]
        }
        Cmd::Passwd { name, clear } => {
            let actor = args.store.actor(ctx, s)?;
            let user = UserId::new(name)?;
            passwd(ctx, s, &actor, &user, clear)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

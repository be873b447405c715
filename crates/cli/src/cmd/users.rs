//! `floodgate users`: the tenant's user registry — who may act, with which role.

use std::process::ExitCode;

use anyhow::Result;
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

Exit codes: 0 done, 2 error (not an admin, unknown or known user, last admin; nothing changed).")]
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
    };
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

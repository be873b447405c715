//! `floodgate cases`: work cases — open, assign, note, attach evidence, escalate, decide,
//! approve, snooze, reopen, show, list — and the case-store flags every case command shares.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_cases::model::*;
use floodgate_cases::{CaseStore, ListFilter, Location};
use serde::Serialize;

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Where the case store is and who acts: shared by `alerts`, `cases`, `audit` and `report`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct StoreArgs {
    /// Case store: a postgres:// URL, or a SQLite file [default: DATA_DIR/cases.db]
    #[arg(long, env = "FLOODGATE_DATABASE_URL", value_name = "URL|FILE", global = true)]
    pub(crate) db: Option<String>,
    /// Tenant (the VASP) to act for [default: config cases.tenant, else "default"]
    #[arg(long, env = "FLOODGATE_TENANT", value_name = "ID", global = true)]
    pub(crate) tenant: Option<String>,
    /// The user acting [default: config cases.user, else $USER]
    #[arg(long = "as", env = "FLOODGATE_USER", value_name = "USER", global = true)]
    pub(crate) user: Option<String>,
    /// The user's role: analyst, approver, admin or supervisor [default: config cases.role, else the user registry's, else analyst]
    #[arg(long, env = "FLOODGATE_ROLE", value_name = "ROLE", global = true)]
    pub(crate) role: Option<String>,
}

impl StoreArgs {
    /// Opens the case store (flag > FLOODGATE_DATABASE_URL > config `cases.database_url` >
    /// DATA_DIR/cases.db).
    pub(crate) fn open(&self, ctx: &Context) -> Result<Box<dyn CaseStore>> {
        let db = self.db.clone().or_else(|| ctx.cases.database_url.clone());
        let loc = Location::resolve(db.as_deref(), &ctx.data_dir);
        floodgate_cases::open(&loc).context("opening the case store")
    }

    /// The acting user, checked against the tenant's user registry (`floodgate users`): with
    /// nobody registered the tenant is in single-user mode and `--role` (default analyst) is
    /// trusted; once users exist, only a registered, enabled user acts, with the registry's
    /// role.
    pub(crate) fn actor(&self, ctx: &Context, store: &mut dyn CaseStore) -> Result<Actor> {
        let (tenant, user, role) = self.claimed(ctx)?;
        Ok(store.authenticate(&tenant, &user, role)?)
    }

    /// Tenant, user and the role claimed by flag, environment or config (none: the registry's).
    pub(crate) fn claimed(&self, ctx: &Context) -> Result<(TenantId, UserId, Option<Role>)> {
        let tenant = self
            .tenant
            .clone()
            .or_else(|| ctx.cases.tenant.clone())
            .unwrap_or_else(|| "default".into());
        let user = self
            .user
            .clone()
            .or_else(|| ctx.cases.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "cli".into());
        let role = self.role.clone().or_else(|| ctx.cases.role.clone());
        Ok((
            TenantId::new(tenant).context("--tenant")?,
            UserId::new(user).context("--as")?,
            role.as_deref().map(Role::parse).transpose().context("--role")?,
        ))
    }

    /// The actor feeds (monitor, screen) write alerts as.
    pub(crate) fn feed_actor(&self, ctx: &Context, feed: &str) -> Result<Actor> {
        let (tenant, _, _) = self.claimed(ctx)?;
        Ok(Actor::new(tenant, UserId::new(feed)?, Role::Analyst))
    }
}

/// Work cases: the alerts of one customer or entity, investigated, decided and approved.
///
/// Alerts from `floodgate monitor` and `floodgate screen` open cases by themselves; every
/// action is checked by the case state machine and recorded in the audit log (docs/cases.md).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate cases list --state open
  floodgate cases show 12
  floodgate cases assign 12 lan
  floodgate cases attach 12 --label screening_hit hit.json
  floodgate cases decide 12 report --reason 'structuring into a sanctioned cluster' --as lan
  floodgate cases approve 12 --as minh --role approver
  floodgate --db postgres://postgres@127.0.0.1/floodgate cases list

Exit codes: 0 done, 2 error (unknown case, refused transition or role, invalid field; nothing changed).")]
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
    /// List cases, newest first
    List {
        /// Only cases in this state (open, escalated, pending_approval, snoozed, closed)
        #[arg(long)]
        state: Option<String>,
        /// Only cases about this customer or entity
        #[arg(long)]
        subject: Option<String>,
        /// At most this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one case: its alerts, notes, evidence and audit trail
    Show {
        /// Case number
        case: i64,
    },
    /// Open a case by hand for a customer or entity (or show its open case)
    Open {
        /// Customer or entity id
        subject: String,
        /// Why
        #[arg(long)]
        reason: String,
    },
    /// Assign a case to a user
    Assign {
        /// Case number
        case: i64,
        /// User to assign
        user: String,
    },
    /// Add a note
    Note {
        /// Case number
        case: i64,
        /// The note
        text: String,
    },
    /// Attach an evidence document (JSON file or - for stdin): a screening hit, trace path, exposure
    Attach {
        /// Case number
        case: i64,
        /// What it is (screening_hit, trace_path, exposure, …)
        #[arg(long)]
        label: String,
        /// JSON file, or - for stdin
        file: PathBuf,
    },
    /// Hand the case to approvers
    Escalate {
        /// Case number
        case: i64,
        /// Why
        #[arg(long)]
        reason: String,
    },
    /// Decide: no_action, report, exit_relationship or freeze (four-eyes kinds wait for approval)
    Decide {
        /// Case number
        case: i64,
        /// no_action, report, exit_relationship or freeze
        decision: String,
        /// Why
        #[arg(long)]
        reason: String,
    },
    /// Approve the pending decision (a different user from the decider)
    Approve {
        /// Case number
        case: i64,
    },
    /// Send the pending decision back to open
    Reject {
        /// Case number
        case: i64,
        /// Why
        #[arg(long)]
        reason: String,
    },
    /// Put a case aside until a date (YYYY-MM-DD or RFC 3339); a new alert wakes it
    Snooze {
        /// Case number
        case: i64,
        /// Until
        #[arg(long)]
        until: String,
    },
    /// Open a snoozed or closed case again
    Reopen {
        /// Case number
        case: i64,
        /// Why
        #[arg(long)]
        reason: String,
    },
    /// Set whether a decision kind needs four-eyes approval (admin)
    Policy {
        /// no_action, report, exit_relationship or freeze
        decision: String,
        /// on or off
        #[arg(value_parser = ["on", "off"])]
        four_eyes: String,
    },
}

/// A case as a table row.
#[derive(Debug, Serialize)]
pub(crate) struct CaseRow(pub(crate) Case);

impl Tabular for CaseRow {
    fn headers() -> Vec<&'static str> {
        vec![
            "case",
            "subject",
            "state",
            "severity",
            "alerts",
            "assignee",
            "decision",
            "decided_by",
            "approved_by",
            "updated",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let c = &self.0;
        let o = |u: &Option<UserId>| u.as_ref().map(ToString::to_string).unwrap_or_default();
        vec![
            c.id.0.to_string(),
            c.subject.clone(),
            c.state.to_string(),
            c.severity.to_string(),
            c.alert_count.to_string(),
            o(&c.assignee),
            c.decision.map(|d| d.to_string()).unwrap_or_default(),
            o(&c.decided_by),
            o(&c.approved_by),
            c.updated.to_rfc3339(),
        ]
    }
}

fn parse_time(s: &str) -> Result<UnixTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(UnixTime(t.timestamp()));
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--until '{s}' is not YYYY-MM-DD or RFC 3339"))?;
    Ok(UnixTime(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp()))
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut store = args.store.open(ctx)?;
    let a = args.store.actor(ctx, store.as_mut())?;
    let s = store.as_mut();
    let case = match args.cmd {
        Cmd::List { state, subject, limit } => {
            let filter = ListFilter {
                state: state.as_deref().map(CaseState::parse).transpose()?,
                subject,
                case: None,
                limit,
            };
            let rows: Vec<CaseRow> = s.cases(&a, &filter)?.into_iter().map(CaseRow).collect();
            output::write_rows(args.format, &rows)?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Show { case } => {
            let v = s.case(&a, CaseId(case))?;
            match args.format {
                Format::Table => show_table(&v)?,
                Format::Json | Format::Jsonl => output::write_json(&v)?,
                Format::Csv => output::write_rows(Format::Csv, &[CaseRow(v.case)])?,
            }
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Open { subject, reason } => s.open_case(&a, &subject, &reason)?,
        Cmd::Assign { case, user } => s.assign(&a, CaseId(case), &UserId::new(user)?)?,
        Cmd::Note { case, text } => s.note(&a, CaseId(case), &text)?,
        Cmd::Attach { case, label, file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(&file).with_context(|| file.display().to_string())?
            };
            let doc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON document", file.display()))?;
            s.attach(&a, CaseId(case), &label, doc)?
        }
        Cmd::Escalate { case, reason } => s.escalate(&a, CaseId(case), &reason)?,
        Cmd::Decide { case, decision, reason } => {
            s.decide(&a, CaseId(case), DecisionKind::parse(&decision)?, &reason)?
        }
        Cmd::Approve { case } => s.approve(&a, CaseId(case))?,
        Cmd::Reject { case, reason } => s.reject(&a, CaseId(case), &reason)?,
        Cmd::Snooze { case, until } => s.snooze(&a, CaseId(case), parse_time(&until)?)?,
        Cmd::Reopen { case, reason } => s.reopen(&a, CaseId(case), &reason)?,
        Cmd::Policy { decision, four_eyes } => {
            let kind = DecisionKind::parse(&decision)?;
            s.set_four_eyes(&a, kind, four_eyes == "on")?;
            output::write_text(&format!("four-eyes for {kind}: {four_eyes}\n"))?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    output::write_rows(args.format, &[CaseRow(case)])?;
    Ok(ExitCode::SUCCESS)
}

fn show_table(v: &floodgate_cases::CaseView) -> Result<()> {
    let mut out = Vec::new();
    output::write_table(
        &mut out,
        &CaseRow::headers(),
        std::iter::once(CaseRow(v.case.clone()).cells()),
    )?;
    let mut s = String::from_utf8(out).expect("tables are UTF-8");
    s.push_str("\nalerts:\n");
    for al in &v.alerts {
        s.push_str(&format!(
            "  #{} {} {} {} ({}): {}\n",
            al.id.0,
            al.created.to_rfc3339(),
            al.alert.source,
            al.alert.rule,
            al.alert.severity,
            al.alert.reasons.join("; ")
        ));
    }
    s.push_str("notes and evidence:\n");
    for it in &v.items {
        let body = match &it.body {
            serde_json::Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        let label = if it.label.is_empty() { String::new() } else { format!(" [{}]", it.label) };
        s.push_str(&format!("  {} {} {}{label}: {body}\n", it.time.to_rfc3339(), it.user, it.kind));
    }
    s.push_str("trail:\n");
    for e in &v.trail {
        s.push_str(&format!(
            "  {:>6} {} {:<20} {:<22} {}\n",
            e.seq,
            UnixTime(e.time).to_rfc3339(),
            e.actor,
            e.action,
            e.object
        ));
    }
    output::write_text(&s)
}

/// The case store and the `screen` feed actor the screening services store alerts as
/// (`floodgate_app::alerts::record` opens it only when a screening has hits).
pub(crate) fn screen_feed(args: &StoreArgs, ctx: &Context) -> Result<(Box<dyn CaseStore>, Actor)> {
    Ok((args.open(ctx)?, args.feed_actor(ctx, "screen")?))
}

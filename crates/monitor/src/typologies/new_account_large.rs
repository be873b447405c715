//! A large transfer on a newly opened account.

use serde::Serialize;

use super::{hit, usd, when, Ctx, Findings, Time, Typology, DAY};
use crate::decision::{Evidence, HitKind};
use crate::pack::typology_struct;

typology_struct!(
    /// A large transfer on a newly opened account.
    Settings {
        /// Account younger than this many days (onboarding date, else first activity).
        max_account_age_days: u32,
        /// Transfer at least this, whole USD.
        min_usd: u64,
    }
);

pub(crate) struct NewAccountLarge;

impl Typology for NewAccountLarge {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "new_account_large"
    }
    fn check(&self, n: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
        let e = &cx.ev.entry;
        let age = cx.now - cx.account_opened();
        if age < i64::from(n.max_account_age_days) * DAY && cx.usd() >= u128::from(n.min_usd) * 100
        {
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                n.action,
                &n.source,
                n.severity,
                format!(
                    "{} of USD {} at {} on an account opened {} days ago (thresholds: account younger than {} days, at least USD {})",
                    e.id,
                    usd(cx.usd()),
                    when(cx.now),
                    age / DAY,
                    n.max_account_age_days,
                    n.min_usd
                ),
                Evidence::of(&Ev {
                    account_age_days: age / DAY,
                    amount_usd_cents: cx.usd(),
                    max_account_age_days: n.max_account_age_days,
                    min_usd: n.min_usd,
                    onboarded_from_customer_file: cx
                        .customer
                        .and_then(|c| c.onboarded)
                        .is_some(),
                    transfers: [Tx {
                        amount_usd_cents: cx.usd(),
                        id: &e.id,
                        time: Time(cx.now),
                    }],
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct Ev<'a> {
    account_age_days: i64,
    amount_usd_cents: u128,
    max_account_age_days: u32,
    min_usd: u64,
    onboarded_from_customer_file: bool,
    transfers: [Tx<'a>; 1],
}

#[derive(Serialize)]
struct Tx<'a> {
    amount_usd_cents: u128,
    id: &'a str,
    time: Time,
}

//! Screening hits as alerts in the case store: which hits of a screening become alerts, about
//! which subject, and their storage — one decision for every door (the CLI's `screen` and
//! `lists load`, the HTTP API's screening endpoints).
//!
//! A hit an analyst suppressed for its subject never becomes an alert; the others are stored
//! once per subject under the dedup key `screen:<list>:<entry>:<subject>`
//! ([`floodgate_cases::feed::screening_alerts`]), so a hit already alerted is not alerted
//! again.

use std::collections::BTreeMap;

use floodgate_cases::model::{Actor, AlertSource};
use floodgate_cases::{CaseStore, CasesError};
use serde::Serialize;

use crate::{AppError, Result};

/// Hits of one screening, each with the subject its alert is about.
#[derive(Debug, Clone)]
pub struct ScreeningAlerts<'a, H> {
    /// Where the hits come from (onboarding, a batch, a list change).
    pub source: AlertSource,
    /// `(subject, hit)` in the order the screening found them.
    pub hits: Vec<(String, &'a H)>,
}

impl<H> ScreeningAlerts<'_, H> {
    /// Whether there is nothing to store (no case store needs to be opened).
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

/// Stores `alerts` in `store` as `feed`, subject by subject in subject order; the number of
/// alerts created (hits alerted before are not counted).
///
/// # Errors
/// The case store refused or failed; the subjects before stay stored.
pub fn record_into<H: Serialize>(
    store: &mut dyn CaseStore,
    feed: &Actor,
    alerts: &ScreeningAlerts<'_, H>,
) -> std::result::Result<usize, CasesError> {
    let mut by_subject: BTreeMap<&str, Vec<&H>> = BTreeMap::new();
    for (subject, h) in &alerts.hits {
        by_subject.entry(subject.as_str()).or_default().push(h);
    }
    let mut created = 0;
    for (subject, hs) in by_subject {
        created +=
            floodgate_cases::feed::screening_alerts(store, feed, alerts.source, subject, &hs)?
                .created
                .len();
    }
    Ok(created)
}

/// Stores `alerts`, opening the case store with `open` only when there is something to
/// store (a screening without hits leaves the case store untouched); the number of alerts
/// created.
///
/// # Errors
/// `open`'s error, or [`AppError::Cases`] (as [`record_into`]).
pub fn record<H: Serialize, E: From<AppError>>(
    alerts: &ScreeningAlerts<'_, H>,
    open: impl FnOnce() -> std::result::Result<(Box<dyn CaseStore>, Actor), E>,
) -> std::result::Result<usize, E> {
    if alerts.is_empty() {
        return Ok(0);
    }
    let (mut store, feed) = open()?;
    record_into(store.as_mut(), &feed, alerts).map_err(|e| {
        AppError::context("writing screening alerts to the case store", e.into()).into()
    })
}

/// The monitor's alert feed: after every group commit (and once at start-up, to catch up on
/// decisions committed before a crash) the committed non-allow decisions become alerts, with
/// the feed's cursor in the same transaction ([`floodgate_cases::feed::catch_up_monitor`]).
pub struct MonitorAlerts {
    store: Box<dyn CaseStore>,
    feed: Actor,
    /// The feed's cursor when known: the decisions up to it have what they raised stored.
    /// `None` after a failure, so the next group catches up in full.
    cursor: Option<u64>,
}

impl std::fmt::Debug for MonitorAlerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorAlerts").field("feed", &self.feed).finish_non_exhaustive()
    }
}

impl MonitorAlerts {
    /// Opens the feed with `open` and catches up; `None` for a monitor without state
    /// (`stateful` false): its decisions are not kept, so no alert can be written exactly
    /// once, and the case store is not opened.
    ///
    /// # Errors
    /// `open`'s error, or as [`MonitorAlerts::after_commit`].
    pub fn open<E: From<AppError>>(
        stateful: bool,
        mon: &floodgate_monitor::monitor::Monitor,
        open: impl FnOnce() -> std::result::Result<(Box<dyn CaseStore>, Actor), E>,
    ) -> std::result::Result<Option<MonitorAlerts>, E> {
        if !stateful {
            tracing::warn!(target: "floodgate::cases", "--no-state: decisions are not kept, so no alerts are written");
            return Ok(None);
        }
        let (store, feed) = open()?;
        let mut m = MonitorAlerts { store, feed, cursor: None };
        m.after_commit(mon)?;
        Ok(Some(m))
    }

    /// Stores the alerts of decisions committed since the last call; the number created.
    ///
    /// # Errors
    /// [`AppError::Cases`]: the decisions cannot be read or the case store failed.
    pub fn after_commit(&mut self, mon: &floodgate_monitor::monitor::Monitor) -> Result<usize> {
        self.cursor = None;
        let r = floodgate_cases::feed::catch_up_monitor(self.store.as_mut(), &self.feed, mon)
            .map_err(|e| AppError::context("writing monitor alerts to the case store", e.into()))?;
        self.cursor = Some(mon.committed());
        let created = r.ingested.created.len();
        if created > 0 {
            tracing::info!(target: "floodgate::cases", alerts = created, cases_opened = r.ingested.cases_opened.len(), "monitor alerts stored");
        }
        Ok(created)
    }

    /// Stores the alerts of `group`, the decisions the last commit made durable, straight
    /// from them (no read of the monitor's decision log, which grows with every decision),
    /// moving the feed's cursor past them in the same transaction; the number created. When
    /// the cursor is not known to sit right before the group (a failure before), catches up
    /// in full as [`MonitorAlerts::after_commit`].
    ///
    /// # Errors
    /// As [`MonitorAlerts::after_commit`].
    pub fn after_group(
        &mut self,
        mon: &floodgate_monitor::monitor::Monitor,
        group: &[floodgate_monitor::decision::Decision],
    ) -> Result<usize> {
        let n = group.len() as u64;
        let Some(at) = self.cursor.filter(|c| c + n == mon.committed()) else {
            return self.after_commit(mon);
        };
        if n == 0 {
            return Ok(0);
        }
        let reports: Vec<_> =
            group.iter().flat_map(floodgate_cases::feed::monitor_reports).collect();
        let alerts: Vec<_> = group.iter().flat_map(floodgate_cases::feed::monitor_alerts).collect();
        self.cursor = None;
        let cursor = i64::try_from(at + n).unwrap_or(i64::MAX);
        let r = floodgate_cases::feed::ingest_decided(
            self.store.as_mut(),
            &self.feed,
            &reports,
            &alerts,
            cursor,
        )
        .map_err(|e| AppError::context("writing monitor alerts to the case store", e.into()))?;
        self.cursor = Some(at + n);
        let created = r.created.len();
        if created > 0 {
            tracing::info!(target: "floodgate::cases", alerts = created, cases_opened = r.cases_opened.len(), "monitor alerts stored");
        }
        Ok(created)
    }
}

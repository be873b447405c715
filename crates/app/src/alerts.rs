//! Screening hits as alerts in the case store: which hits of a screening become alerts, about
//! which subject, and their storage — one decision for every door (the CLI's `screen` and
//! `lists load`, the HTTP API's screening endpoints).
//!
//! A hit an analyst suppressed for its subject never becomes an alert; the others are stored
//! once per subject under the dedup key `screen:<list>:<entry>:<subject>`
//! ([`floodgate_cases::feed::screening_alerts`]), so a hit already alerted is not alerted
//! again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

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

/// The monitor's alert feed: the committed non-allow decisions become alerts, with the feed's
/// cursor in the same transaction. [`MonitorAlerts::open`] catches up on decisions committed
/// before (a crash, a failed feed) from `monitor.db`
/// ([`floodgate_cases::feed::catch_up_monitor`]); [`MonitorAlerts::spawn`] then runs the feed
/// on its own thread, behind the emission of the decisions ([`AlertFeed`]).
pub struct MonitorAlerts {
    store: Box<dyn CaseStore>,
    feed: Actor,
    /// The feed's cursor when known: the decisions up to it have what they raised stored.
    /// `None` after a failure.
    cursor: Option<u64>,
    /// Alerts created by this feed (its catch-up included).
    created: u64,
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
        let mut m = MonitorAlerts { store, feed, cursor: None, created: 0 };
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
        self.created += created as u64;
        if created > 0 {
            tracing::info!(target: "floodgate::cases", alerts = created, cases_opened = r.ingested.cases_opened.len(), "monitor alerts stored");
        }
        Ok(created)
    }

    /// Stores the alerts of `groups`, each the decisions a commit made durable that brought
    /// the monitor's committed count to its `committed`, straight from them (no read of the
    /// monitor's decision log, which grows with every decision), moving the feed's cursor past
    /// them in the same transaction: one transaction for them all, each group stored as on
    /// its own ([`floodgate_cases::CaseStore::ingest_decided_groups`]); the number created.
    ///
    /// # Errors
    /// [`floodgate_cases::CasesError::Feed`] when the cursor does not sit right before a
    /// group (a group skipped or handed over twice); otherwise as [`MonitorAlerts::after_commit`].
    fn store_groups(&mut self, groups: &[FeedGroup]) -> Result<usize> {
        let mut at = self.cursor;
        let mut built = Vec::with_capacity(groups.len());
        for g in groups {
            let n = g.decisions.len() as u64;
            match at {
                Some(c) if c + n == g.committed => at = Some(g.committed),
                c => {
                    return Err(AppError::Cases(floodgate_cases::CasesError::Feed {
                        feed: floodgate_cases::feed::MONITOR_FEED.into(),
                        message: format!(
                            "out of step: cursor {c:?}, a group of {n} decisions up to {}",
                            g.committed
                        ),
                    }))
                }
            }
            if n == 0 {
                continue;
            }
            let reports: Vec<_> =
                g.decisions.iter().flat_map(floodgate_cases::feed::monitor_reports).collect();
            let alerts: Vec<_> =
                g.decisions.iter().flat_map(floodgate_cases::feed::monitor_alerts).collect();
            built.push((reports, alerts, i64::try_from(g.committed).unwrap_or(i64::MAX)));
        }
        if built.is_empty() {
            return Ok(0);
        }
        let feeds: Vec<_> = built
            .iter()
            .map(|(reports, alerts, cursor)| floodgate_cases::DecidedGroup {
                reports,
                alerts,
                cursor: Some((floodgate_cases::feed::MONITOR_FEED, *cursor)),
            })
            .collect();
        self.cursor = None;
        let r = self
            .store
            .ingest_decided_groups(&self.feed, &feeds)
            .map_err(|e| AppError::context("writing monitor alerts to the case store", e.into()))?;
        self.cursor = at;
        let created: usize = r.iter().map(|i| i.created.len()).sum();
        self.created += created as u64;
        tracing::debug!(target: "floodgate::cases", alerts = created, cases_opened = r.iter().map(|i| i.cases_opened.len()).sum::<usize>(), groups = groups.len(), cursor = ?at, "monitor alerts stored");
        Ok(created)
    }

    /// Runs the feed on its own thread (named `alert-feed`), behind the decisions' emission:
    /// [`AlertFeed::send`] hands it each committed group, in commit order, and it stores the
    /// group's alerts and its cursor in one transaction of its own case-store connection.
    /// `mon` is the monitor the feed has caught up with ([`MonitorAlerts::open`]).
    ///
    /// # Errors
    /// [`AppError::Io`] when the thread cannot be started.
    pub fn spawn(self, mon: &floodgate_monitor::monitor::Monitor) -> Result<AlertFeed> {
        let (tx, rx) = mpsc::sync_channel::<FeedGroup>(FEED_QUEUE);
        // Stored groups go back to the deciding thread, which allocated them, to be freed
        // there: freed on the feed's thread, every allocation of a decision was a free
        // across threads (measured on 200,000 transfers: 8.5 s of user CPU against 8.1 s,
        // and the deciding side waited longer for the feed).
        let (back_tx, back) = mpsc::sync_channel::<FeedGroup>(FEED_QUEUE + 2);
        let done = Arc::new(AtomicU64::new(mon.committed()));
        let done_in_feed = Arc::clone(&done);
        let mut m = self;
        let thread = std::thread::Builder::new()
            .name("alert-feed".into())
            .spawn(move || {
                let mut batch: Vec<FeedGroup> = Vec::with_capacity(FEED_QUEUE + 1);
                while let Ok(g) = rx.recv() {
                    // The groups already waiting join this one's transaction (one commit for
                    // them all, the same rows): the feed falls behind when deciding is
                    // faster, and then each commit's rewrite of the case and index pages it
                    // touched is shared by several groups.
                    batch.push(g);
                    while batch.len() <= FEED_QUEUE {
                        match rx.try_recv() {
                            Ok(g) => batch.push(g),
                            Err(_) => break,
                        }
                    }
                    m.store_groups(&batch)?;
                    if let Some(last) = batch.last() {
                        done_in_feed.store(last.committed, Ordering::Release);
                    }
                    for g in batch.drain(..) {
                        // Full (the deciding side not back yet) or gone: freed here.
                        let _ = back_tx.try_send(g);
                    }
                }
                Ok(m.created)
            })
            .map_err(|source| AppError::Io {
                context: "starting the alert feed thread".into(),
                source,
            })?;
        Ok(AlertFeed {
            tx: Some(tx),
            back,
            thread: Some(thread),
            done,
            sent: mon.committed(),
            summary: FeedSummary::default(),
        })
    }
}

/// Committed groups the feed thread may hold waiting, beside the one it stores: when they are
/// all taken the deciding side waits, so the decisions held for the feed stay bounded.
const FEED_QUEUE: usize = 4;

/// A committed group on its way to the feed thread.
struct FeedGroup {
    /// The monitor's committed count after the group.
    committed: u64,
    decisions: Vec<floodgate_monitor::decision::Decision>,
}

/// What the alert feed did in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FeedSummary {
    /// Alerts stored (the start-up catch-up included).
    pub alerts_stored: u64,
    /// The most decisions emitted whose alerts were not stored yet, at a group's hand-over.
    pub max_behind: u64,
    /// Decisions whose alerts were not stored yet when the stream ended.
    pub behind_at_end: u64,
    /// Milliseconds the deciding side waited for the feed to take a group (the queue full).
    pub waited_ms: u64,
    /// Milliseconds waited at the end for the feed to store what it had left.
    pub finish_ms: u64,
}

/// The alert feed on its thread ([`MonitorAlerts::spawn`]). Dropped without
/// [`AlertFeed::finish`] (an error elsewhere), it still lets the feed store what it was handed
/// and waits for it.
pub struct AlertFeed {
    tx: Option<mpsc::SyncSender<FeedGroup>>,
    /// Groups stored, handed back to be freed on the thread that allocated them.
    back: mpsc::Receiver<FeedGroup>,
    thread: Option<std::thread::JoinHandle<Result<u64>>>,
    /// The monitor's committed count up to which the feed stored the alerts.
    done: Arc<AtomicU64>,
    /// The committed count of the last group handed over.
    sent: u64,
    summary: FeedSummary,
}

impl std::fmt::Debug for AlertFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertFeed").field("summary", &self.summary).finish_non_exhaustive()
    }
}

impl AlertFeed {
    /// Hands the feed `decisions`, the group the monitor's last commit made durable (`mon`
    /// after it); waits while the feed holds [`FEED_QUEUE`] groups already.
    ///
    /// # Errors
    /// The feed stopped on an error (the case store's, as [`MonitorAlerts::after_commit`]):
    /// that error. The groups it had not stored are caught up at the next start.
    pub fn send(
        &mut self,
        mon: &floodgate_monitor::monitor::Monitor,
        decisions: Vec<floodgate_monitor::decision::Decision>,
    ) -> Result<()> {
        while let Ok(stored) = self.back.try_recv() {
            drop(stored);
        }
        if decisions.is_empty() {
            return Ok(());
        }
        let committed = mon.committed();
        let behind = self.sent.saturating_sub(self.done.load(Ordering::Acquire));
        self.summary.max_behind = self.summary.max_behind.max(behind);
        let Some(tx) = &self.tx else { return self.stopped() };
        let g = FeedGroup { committed, decisions };
        let sent = match tx.try_send(g) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(g)) => {
                let t = Instant::now();
                let r = tx.send(g).map_err(|_| ());
                self.summary.waited_ms += millis(t);
                r
            }
            Err(mpsc::TrySendError::Disconnected(_)) => Err(()),
        };
        if sent.is_err() {
            return self.stopped();
        }
        self.sent = committed;
        Ok(())
    }

    /// The feed thread ended before it was told to: its error.
    fn stopped(&mut self) -> Result<()> {
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(AppError::Unavailable { what: "the alert feed".into() }),
        }
    }

    fn join(&mut self) -> Result<u64> {
        self.tx = None;
        match self.thread.take() {
            None => Err(AppError::Unavailable { what: "the alert feed".into() }),
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(AppError::Unavailable { what: "the alert feed (its thread panicked)".into() })
            }),
        }
    }

    /// Waits for the feed to store every group handed over; what it did.
    ///
    /// # Errors
    /// As [`AlertFeed::send`].
    pub fn finish(mut self) -> Result<FeedSummary> {
        self.summary.behind_at_end = self.sent.saturating_sub(self.done.load(Ordering::Acquire));
        let t = Instant::now();
        self.summary.alerts_stored = self.join()?;
        self.summary.finish_ms = millis(t);
        if self.summary.behind_at_end > 0 {
            tracing::info!(target: "floodgate::cases", decisions = self.summary.behind_at_end, ms = self.summary.finish_ms, "waited for the alert feed");
        }
        Ok(self.summary)
    }
}

impl Drop for AlertFeed {
    fn drop(&mut self) {
        if self.thread.is_some() {
            if let Err(e) = self.join() {
                tracing::error!(target: "floodgate::cases", "the alert feed failed: {e}");
            }
        }
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

//! What the server holds: the screening index (shared, swapped atomically after a list
//! load), one KYT worker per tenant (its monitor state and group commits), the case store,
//! keys, sessions, rate limits and metrics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;

use floodgate_cases::model::{Actor, Role, TenantId, UserId};
use floodgate_cases::{CaseStore, Location};
use floodgate_monitor::decision::Decision;
use floodgate_monitor::input::MonitorEvent;
use floodgate_monitor::monitor::{Monitor, Processed};
use floodgate_screen::score::ScoreConfig;
use floodgate_screen::screener::ListInfo;
use floodgate_screen::{Matcher, Screener};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::auth::{KeyStore, Keys, RateLimiter, Sessions};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Opens a tenant's KYT monitor (engine + state) in the directory given. The CLI passes
/// `floodgate_app::monitor::open`, the set-up `floodgate monitor` uses.
pub type MonitorFactory = Arc<dyn Fn(&Path) -> Result<Monitor, String> + Send + Sync>;

/// Server settings.
#[derive(Clone)]
pub struct ApiConfig {
    /// The data directory (screening.db, api-keys.db, per-tenant monitor state).
    pub data_dir: PathBuf,
    /// The case store.
    pub cases: Location,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Longest time a request may take.
    pub timeout: Duration,
    /// Requests a second per key (0: no limit).
    pub rate_per_sec: f64,
    /// Bucket size per key.
    pub burst: f64,
    /// Browser session lifetime.
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (serve behind TLS).
    pub secure_cookies: bool,
    /// Directory list files are loaded from (`POST /v1/admin/lists/load` names a file in it).
    pub import_dir: PathBuf,
    /// Screening score settings.
    pub score: ScoreConfig,
    /// Opens a tenant's KYT monitor.
    pub monitor: MonitorFactory,
    /// Decisions per group commit at most.
    pub kyt_batch: usize,
    /// Assets known to the ledger parser.
    pub assets: floodgate_types::AssetRegistry,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("data_dir", &self.data_dir)
            .field("body_limit", &self.body_limit)
            .field("timeout", &self.timeout)
            .field("rate_per_sec", &self.rate_per_sec)
            .finish_non_exhaustive()
    }
}

impl ApiConfig {
    /// Defaults for a data directory, with the given engine builder.
    pub fn new(data_dir: &Path, monitor: MonitorFactory) -> ApiConfig {
        ApiConfig {
            data_dir: data_dir.to_path_buf(),
            cases: Location::resolve(None, data_dir),
            body_limit: 1 << 20,
            timeout: Duration::from_secs(30),
            rate_per_sec: 50.0,
            burst: 100.0,
            session_ttl: Duration::from_secs(8 * 3600),
            secure_cookies: false,
            import_dir: data_dir.join("imports"),
            score: ScoreConfig::default(),
            monitor,
            kyt_batch: 512,
            assets: floodgate_types::AssetRegistry::builtin(),
        }
    }
}

/// Server start-up failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The screening database.
    #[error("screening lists: {0}")]
    Screen(#[from] floodgate_screen::ScreenError),
    /// The case store.
    #[error("case store: {0}")]
    Cases(#[from] floodgate_cases::CasesError),
    /// The data directory.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key store.
    #[error("api keys: {0}")]
    Keys(#[from] crate::auth::AuthError),
}

/// The screening index in force: the matcher and the list versions it was built from.
pub(crate) struct ScreenIndex {
    pub(crate) matcher: Matcher,
    pub(crate) lists: Vec<ListInfo>,
}

impl ScreenIndex {
    fn build(
        data_dir: &Path,
        cfg: &ScoreConfig,
    ) -> Result<ScreenIndex, floodgate_screen::ScreenError> {
        let s = Screener::open(data_dir, cfg.clone(), None)?;
        let lists = s.lists()?;
        Ok(ScreenIndex { matcher: s.into_matcher(), lists })
    }
}

pub(crate) struct Inner {
    pub(crate) cfg: ApiConfig,
    pub(crate) keys: Keys,
    pub(crate) sessions: Sessions,
    pub(crate) limiter: RateLimiter,
    /// Password sign-in attempts per tenant and user (guessing is slowed whoever asks).
    pub(crate) login_limiter: RateLimiter,
    pub(crate) metrics: Metrics,
    screen: RwLock<Arc<ScreenIndex>>,
    /// The screening database (subject registration, list loads); screening itself reads
    /// `screen` only.
    pub(crate) screener: Mutex<Screener>,
    /// `None` only while being dropped.
    cases: Option<Arc<Mutex<Box<dyn CaseStore>>>>,
    kyt: Mutex<HashMap<TenantId, mpsc::SyncSender<KytJob>>>,
    pub(crate) ready: AtomicBool,
    /// The graph, opened on first use (`floodgate trace build` makes it).
    pub(crate) tracer: Mutex<Option<Arc<Mutex<floodgate_app::trace::Tracer>>>>,
}

impl Inner {
    fn cases_arc(&self) -> Result<Arc<Mutex<Box<dyn CaseStore>>>, ApiError> {
        self.cases.clone().ok_or_else(|| ApiError::unavailable("shutting down"))
    }
}

impl Drop for Inner {
    /// The PostgreSQL client blocks on its own runtime when dropped, which tokio forbids on
    /// an async worker thread: the store is dropped on a plain thread.
    fn drop(&mut self) {
        if let Some(c) = self.cases.take() {
            let _ = std::thread::spawn(move || drop(c)).join();
        }
    }
}

/// Password sign-in attempts per tenant and user: a burst of this many …
pub const LOGIN_BURST: f64 = 5.0;
/// … then one every ten seconds.
pub const LOGIN_RATE_PER_SEC: f64 = 0.1;

/// Shared server state (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("cfg", &self.0.cfg).finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens everything the server needs.
    ///
    /// # Errors
    /// [`StartError`] naming the store that failed.
    pub fn open(cfg: ApiConfig) -> Result<AppState, StartError> {
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| StartError::Io { path: cfg.data_dir.clone(), source: e })?;
        let index = ScreenIndex::build(&cfg.data_dir, &cfg.score)?;
        let screener = Screener::open(&cfg.data_dir, cfg.score.clone(), None)?;
        let cases = floodgate_cases::open(&cfg.cases)?;
        let keys = Keys::new(KeyStore::open(&cfg.data_dir)?);
        Ok(AppState(Arc::new(Inner {
            limiter: RateLimiter::new(cfg.rate_per_sec, cfg.burst),
            login_limiter: RateLimiter::new(LOGIN_RATE_PER_SEC, LOGIN_BURST),
            cfg,
            keys,
            sessions: Sessions::default(),
            metrics: Metrics::default(),
            screen: RwLock::new(Arc::new(index)),
            screener: Mutex::new(screener),
            cases: Some(Arc::new(Mutex::new(cases))),
            kyt: Mutex::new(HashMap::new()),
            ready: AtomicBool::new(true),
            tracer: Mutex::new(None),
        })))
    }

    /// The screening index in force (an `Arc` clone: a screening request never waits for a
    /// list load).
    pub(crate) fn screen(&self) -> Arc<ScreenIndex> {
        match self.0.screen.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Rebuilds the index from the screening database and swaps it in.
    pub(crate) fn reload_screen(&self) -> Result<(), ApiError> {
        let idx = ScreenIndex::build(&self.0.cfg.data_dir, &self.0.cfg.score)
            .map_err(|e| ApiError::internal("rebuilding the screening index", e))?;
        match self.0.screen.write() {
            Ok(mut g) => *g = Arc::new(idx),
            Err(p) => *p.into_inner() = Arc::new(idx),
        }
        Ok(())
    }

    /// Runs a case-store call on the blocking pool.
    pub(crate) async fn cases<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn CaseStore) -> Result<T, floodgate_cases::CasesError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.0.cases_arc()?;
        tokio::task::spawn_blocking(move || {
            let mut g = store.lock().map_err(|_| {
                ApiError::unavailable("the case store is unavailable after an earlier failure")
            })?;
            f(g.as_mut()).map_err(ApiError::from)
        })
        .await
        .map_err(|e| ApiError::internal("case store task", e))?
    }

    /// Decides on one transfer through the tenant's KYT worker; returns after the decision
    /// (and its alerts) are committed.
    pub(crate) async fn decide(
        &self,
        tenant: &TenantId,
        ev: MonitorEvent,
    ) -> Result<KytOutcome, ApiError> {
        let tx = self.kyt_worker(tenant)?;
        let (reply, rx) = oneshot::channel();
        let job = KytJob { event: Box::new(ev), reply };
        // A full queue waits on the blocking pool, not on the async executor.
        match tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                tokio::task::spawn_blocking(move || tx.send(job))
                    .await
                    .map_err(|e| ApiError::internal("kyt queue", e))?
                    .map_err(|_| ApiError::unavailable("the KYT worker stopped"))?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(ApiError::unavailable("the KYT worker stopped"))
            }
        }
        rx.await.map_err(|_| ApiError::unavailable("the KYT worker stopped"))?
    }

    fn kyt_worker(&self, tenant: &TenantId) -> Result<mpsc::SyncSender<KytJob>, ApiError> {
        let mut m =
            self.0.kyt.lock().map_err(|_| ApiError::unavailable("KYT workers unavailable"))?;
        if let Some(tx) = m.get(tenant) {
            return Ok(tx.clone());
        }
        let dir = tenant_dir(&self.0.cfg.data_dir, tenant);
        let mon = (self.0.cfg.monitor)(&dir)
            .map_err(|e| ApiError::internal("opening the tenant's monitor", e))?;
        let feed = Actor::new(
            tenant.clone(),
            UserId::new("monitor").map_err(|e| ApiError::internal("feed user", e))?,
            Role::Analyst,
        );
        let (tx, rx) = mpsc::sync_channel::<KytJob>(4096);
        let w = KytWorker {
            mon,
            rx,
            cases: self.0.cases_arc()?,
            feed,
            batch: self.0.cfg.kyt_batch.max(1),
            cursor: None,
        };
        std::thread::Builder::new()
            .name(format!("kyt-{tenant}"))
            .spawn(move || w.run())
            .map_err(|e| ApiError::internal("starting a KYT worker", e))?;
        m.insert(tenant.clone(), tx.clone());
        Ok(tx)
    }

    /// The tracer over the data directory's graph, opened once. No graph yet is a 409
    /// `no_graph` (the data directory's state, not a server fault: the client can fix it by
    /// running `floodgate trace build`).
    pub(crate) fn tracer(&self) -> Result<Arc<Mutex<floodgate_app::trace::Tracer>>, ApiError> {
        let mut g = self.0.tracer.lock().map_err(|_| ApiError::unavailable("tracer"))?;
        if let Some(t) = g.as_ref() {
            return Ok(t.clone());
        }
        let t =
            floodgate_app::trace::Tracer::open(&floodgate_app::DataDir::new(&self.0.cfg.data_dir))
                .map_err(|e| {
                    ApiError::new(
                        axum::http::StatusCode::CONFLICT,
                        "no_graph",
                        format!("no transfer graph to trace (run `floodgate trace build`): {e}"),
                    )
                })?;
        let t = Arc::new(Mutex::new(t));
        *g = Some(t.clone());
        Ok(t)
    }

    /// Forgets the opened tracer, so the next trace request opens the graph and loads the
    /// data directory's tags anew (after `POST /v1/admin/tags/load`); requests in flight keep
    /// the one they hold.
    pub(crate) fn reset_tracer(&self) {
        if let Ok(mut g) = self.0.tracer.lock() {
            *g = None;
        }
    }

    /// Stops the KYT workers (they finish the queued jobs first).
    pub fn close(&self) {
        if let Ok(mut m) = self.0.kyt.lock() {
            m.clear();
        }
        self.0.ready.store(false, Ordering::SeqCst);
    }

    /// The settings.
    pub fn config(&self) -> &ApiConfig {
        &self.0.cfg
    }
}

/// A tenant's own monitor state directory: `api/tenants/<sha256(tenant)[..32]>`, so each
/// tenant's windows, idempotency and alert cursor are its own and a tenant id never becomes a
/// path.
pub fn tenant_dir(data_dir: &Path, tenant: &TenantId) -> PathBuf {
    let h = hex::encode(Sha256::digest(tenant.as_str().as_bytes()));
    data_dir.join("api").join("tenants").join(&h[..32])
}

/// What a KYT request got.
#[derive(Debug)]
pub(crate) enum KytOutcome {
    /// A new decision, committed.
    Decided(Box<Decision>),
    /// The transfer id was decided before.
    Duplicate,
}

pub(crate) struct KytJob {
    event: Box<MonitorEvent>,
    reply: oneshot::Sender<Result<KytOutcome, ApiError>>,
}

struct KytWorker {
    mon: Monitor,
    rx: mpsc::Receiver<KytJob>,
    cases: Arc<Mutex<Box<dyn CaseStore>>>,
    feed: Actor,
    batch: usize,
    /// The case store's monitor-feed cursor as far as this worker knows it: the number of
    /// decisions in the tenant's monitor log whose alerts are stored or need none. Set by a full
    /// catch-up; `None` after any failure, so the next alerting group catches up in full.
    cursor: Option<i64>,
}

impl KytWorker {
    /// Group commit: take what is queued (up to `batch`), decide each, commit once, store the
    /// alerts and reports of the committed decisions exactly as `floodgate monitor` does
    /// (floodgate_cases::feed::catch_up_monitor), then answer every request of the group.
    fn run(mut self) {
        // Catch up alerts of decisions committed before a crash.
        if let Err(e) = self.store_alerts() {
            tracing::error!(target: "floodgate::api", "catching up monitor alerts: {e}");
        }
        while let Ok(first) = self.rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < self.batch {
                match self.rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut out = Vec::with_capacity(jobs.len());
            // What the group's decisions raised, and how many it decided.
            let (mut reports, mut alerts, mut decided) = (Vec::new(), Vec::new(), 0i64);
            for j in &jobs {
                let r = match self.mon.process(&j.event) {
                    Ok(Processed::Decided(d)) => {
                        decided += 1;
                        reports.extend(floodgate_cases::feed::monitor_reports(&d));
                        alerts.extend(floodgate_cases::feed::monitor_alerts(&d));
                        Ok(KytOutcome::Decided(d))
                    }
                    Ok(Processed::Duplicate) => Ok(KytOutcome::Duplicate),
                    Err(e) => Err(ApiError::internal("monitor", e)),
                };
                out.push(r);
            }
            let committed = self.mon.commit();
            let stored = match &committed {
                Err(_) => {
                    self.cursor = None;
                    Ok(())
                }
                Ok(()) if reports.is_empty() && alerts.is_empty() => {
                    // Nothing to store: the cursor moves past these decisions in memory, and
                    // in the case store with the next alerting group.
                    if let Some(c) = self.cursor.as_mut() {
                        *c += decided;
                    }
                    Ok(())
                }
                Ok(()) => self.store_group(&reports, &alerts, decided),
            };
            for (j, r) in jobs.into_iter().zip(out) {
                let r = match (&committed, &stored) {
                    (Err(e), _) => Err(ApiError::internal("committing monitor state", e)),
                    (_, Err(e)) => Err(e.clone()),
                    _ => r,
                };
                let _ = j.reply.send(r);
            }
        }
        // The last commit, and a snapshot so that the next start replays nothing (as
        // `floodgate monitor` does at a clean end).
        if let Err(e) = self.mon.snapshot() {
            tracing::error!(target: "floodgate::api", "final monitor commit and snapshot: {e}");
        }
    }

    /// Stores the reports and alerts the group just committed raised (its `decided`
    /// decisions): straight from what is in hand when the cursor is known, with no read of the
    /// monitor's decision log (which grows with every decision); else by a full catch-up.
    fn store_group(
        &mut self,
        reports: &[floodgate_cases::model::NewReport],
        alerts: &[floodgate_cases::model::NewAlert],
        decided: i64,
    ) -> Result<(), ApiError> {
        let Some(at) = self.cursor else { return self.store_alerts() };
        let mut g = self
            .cases
            .lock()
            .map_err(|_| ApiError::unavailable("the case store is unavailable"))?;
        let feed = &self.feed;
        match floodgate_cases::feed::ingest_decided(g.as_mut(), feed, reports, alerts, at + decided)
        {
            Ok(_) => {
                self.cursor = Some(at + decided);
                Ok(())
            }
            Err(e) => {
                self.cursor = None;
                Err(ApiError::internal("storing monitor alerts", e))
            }
        }
    }

    /// Catches the case store up with every decision committed after its cursor, then knows
    /// the cursor.
    fn store_alerts(&mut self) -> Result<(), ApiError> {
        let mut g = self
            .cases
            .lock()
            .map_err(|_| ApiError::unavailable("the case store is unavailable"))?;
        self.cursor = None;
        floodgate_cases::feed::catch_up_monitor(g.as_mut(), &self.feed, &self.mon)
            .map_err(|e| ApiError::internal("storing monitor alerts", e))?;
        let at = g
            .feed_position(&self.feed.tenant, floodgate_cases::feed::MONITOR_FEED)
            .map_err(|e| ApiError::internal("reading the monitor feed cursor", e))?;
        self.cursor = Some(at);
        Ok(())
    }
}

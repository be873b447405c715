//! API keys (stored only as SHA-256 hashes), browser sessions with CSRF protection, and the
//! per-key token bucket.
//!
//! A key is `fgk_<id>_<secret>`: a 64-bit public id (to find the row) and a 256-bit random
//! secret. Only SHA-256 of the whole key is stored: for a 256-bit random secret a fast hash is
//! as safe as a slow one (there is nothing to guess), so no argon2 is needed for keys.
//!
//! People sign in to the workbench with a password instead: a person chooses it, so it is
//! guessable, and only its argon2id hash (PHC string, random salt) is stored, beside the keys
//! in `api-keys.db`, per tenant and user. Who may act and with which role stays the case
//! store's user registry (`floodgate users`); the password only proves who is asking.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use floodgate_cases::model::{Actor, Role, TenantId, UserId};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// File name of the key store inside the data directory.
pub const KEYS_FILE: &str = "api-keys.db";

/// Key-store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The key database failed.
    #[error("key store {path}: {source}")]
    Db {
        /// The file.
        path: PathBuf,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A field is invalid.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// Field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// No random numbers from the OS.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// A key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Public id.
    pub id: String,
    /// The tenant it acts for.
    pub tenant: String,
    /// The user name its actions are recorded under.
    pub user: String,
    /// Its role.
    pub role: Role,
    /// Created (RFC 3339).
    pub created: String,
    /// Revoked (RFC 3339), if.
    pub revoked: Option<String>,
}

impl KeyInfo {
    /// The actor the key acts as.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] when the stored tenant or user is not a valid id.
    pub fn actor(&self) -> Result<Actor, AuthError> {
        let bad = |f: &'static str| {
            move |e: floodgate_cases::CasesError| AuthError::Invalid {
                field: f,
                message: e.to_string(),
            }
        };
        Ok(Actor::new(
            TenantId::new(self.tenant.clone())
                .map_err(floodgate_cases::CasesError::from)
                .map_err(bad("tenant"))?,
            UserId::new(self.user.clone()).map_err(bad("user"))?,
            self.role,
        ))
    }
}

/// Random bytes from the OS.
///
/// # Errors
/// [`AuthError::Random`].
pub fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex::encode(b))
}

/// SHA-256 of a secret, hex.
pub fn hash_secret(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Equality that takes the same time wherever the first difference is.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API keys of a data directory (`api-keys.db`, SQLite).
#[derive(Debug)]
pub struct KeyStore {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS passwords (
    tenant  TEXT NOT NULL,
    user    TEXT NOT NULL,
    argon2  TEXT NOT NULL,
    set_at  TEXT NOT NULL,
    PRIMARY KEY (tenant, user)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id      TEXT PRIMARY KEY,
    tenant  TEXT NOT NULL,
    user    TEXT NOT NULL,
    role    TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
);
";

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl KeyStore {
    /// Opens (creating) the key store in `data_dir`.
    ///
    /// # Errors
    /// [`AuthError::Db`] naming the file.
    pub fn open(data_dir: &Path) -> Result<KeyStore, AuthError> {
        let path = data_dir.join(KEYS_FILE);
        let db = |e| AuthError::Db { path: path.clone(), source: e };
        let conn = Connection::open(&path).map_err(db)?;
        conn.execute_batch("PRAGMA journal_mode=WAL;").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(KeyStore { conn, path })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> AuthError + '_ {
        move |e| AuthError::Db { path: self.path.clone(), source: e }
    }

    /// Creates a key; returns it with its secret, which is shown this once and never stored.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for a bad tenant or user, [`AuthError::Db`].
    pub fn create(
        &mut self,
        tenant: &str,
        user: &str,
        role: Role,
    ) -> Result<(KeyInfo, String), AuthError> {
        let info = KeyInfo {
            id: random_hex(8)?,
            tenant: tenant.to_owned(),
            user: user.to_owned(),
            role,
            created: now_text(),
            revoked: None,
        };
        info.actor()?;
        let secret = format!("fgk_{}_{}", info.id, random_hex(32)?);
        self.conn
            .execute(
                "INSERT INTO api_keys (id, tenant, user, role, sha256, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![info.id, info.tenant, info.user, role.as_str(), hash_secret(&secret), info.created],
            )
            .map_err(self.db())?;
        Ok((info, secret))
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// [`AuthError::Db`].
    pub fn list(&self) -> Result<Vec<KeyInfo>, AuthError> {
        let mut st = self
            .conn
            .prepare("SELECT id, tenant, user, role, created, revoked FROM api_keys ORDER BY created, id")
            .map_err(self.db())?;
        let rows = st.query_map([], row_info).map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    /// Revokes a key; `false` when there is no such key.
    ///
    /// # Errors
    /// [`AuthError::Db`].
    pub fn revoke(&mut self, id: &str) -> Result<bool, AuthError> {
        let n = self
            .conn
            .execute(
                "UPDATE api_keys SET revoked = COALESCE(revoked, ?2) WHERE id = ?1",
                params![id, now_text()],
            )
            .map_err(self.db())?;
        Ok(n > 0)
    }

    /// The key a presented secret belongs to, if it is valid and not revoked.
    ///
    /// # Errors
    /// [`AuthError::Db`].
    pub fn verify(&self, presented: &str) -> Result<Option<KeyInfo>, AuthError> {
        let Some(id) = key_id(presented) else { return Ok(None) };
        let row = self
            .conn
            .query_row(
                "SELECT id, tenant, user, role, created, revoked, sha256 FROM api_keys WHERE id = ?1",
                [id],
                |r| Ok((row_info(r)?, r.get::<_, String>(6)?)),
            )
            .optional()
            .map_err(self.db())?;
        Ok(row.and_then(|(info, h)| {
            (info.revoked.is_none()
                && constant_time_eq(h.as_bytes(), hash_secret(presented).as_bytes()))
            .then_some(info)
        }))
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (bounds the hashing work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The argon2id hash of `password` with a fresh random salt, as a PHC string.
///
/// # Errors
/// [`AuthError::Invalid`] for a password too short or too long, [`AuthError::Random`].
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(AuthError::Invalid {
            field: "password",
            message: format!(
                "must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, has {n}"
            ),
        });
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Random(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Invalid { field: "password", message: e.to_string() })
}

/// Whether `password` matches the PHC string `phc` (false for a malformed `phc`).
fn password_matches(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified against when the user has none, so that an unknown
/// user takes as long to refuse as a wrong password.
const DECOY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$Zmxvb2RnYXRlLWRlY295$3Hc6ppQ6ytZqCYx4gY5Zl6Qi9a2tmE1Jm0b9Xg7Zl4c";

impl KeyStore {
    /// Sets (or replaces) the password of `user` in `tenant`; only its argon2id hash is kept.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for a bad tenant, user or password, [`AuthError::Db`].
    pub fn set_password(
        &mut self,
        tenant: &str,
        user: &str,
        password: &str,
    ) -> Result<(), AuthError> {
        TenantId::new(tenant.to_owned())
            .map_err(|e| AuthError::Invalid { field: "tenant", message: e.to_string() })?;
        UserId::new(user.to_owned())
            .map_err(|e| AuthError::Invalid { field: "user", message: e.to_string() })?;
        let phc = hash_password(password)?;
        self.conn
            .execute(
                "INSERT INTO passwords (tenant, user, argon2, set_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, user) DO UPDATE SET argon2 = excluded.argon2, set_at = excluded.set_at",
                params![tenant, user, phc, now_text()],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Removes the password of `user` in `tenant` (password sign-in stops); `false` when there
    /// was none.
    ///
    /// # Errors
    /// [`AuthError::Db`].
    pub fn clear_password(&mut self, tenant: &str, user: &str) -> Result<bool, AuthError> {
        let n = self
            .conn
            .execute("DELETE FROM passwords WHERE tenant = ?1 AND user = ?2", params![tenant, user])
            .map_err(self.db())?;
        Ok(n > 0)
    }

    /// Whether `password` is the password of `user` in `tenant`. An unknown user costs the same
    /// hashing work as a wrong password.
    ///
    /// # Errors
    /// [`AuthError::Db`].
    pub fn verify_password(
        &self,
        tenant: &str,
        user: &str,
        password: &str,
    ) -> Result<bool, AuthError> {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Ok(false);
        }
        let phc: Option<String> = self
            .conn
            .query_row(
                "SELECT argon2 FROM passwords WHERE tenant = ?1 AND user = ?2",
                params![tenant, user],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        Ok(match phc {
            Some(h) => password_matches(password, &h),
            None => {
                let _ = password_matches(password, DECOY_PHC);
                false
            }
        })
    }
}

fn row_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyInfo> {
    let role: String = r.get(3)?;
    Ok(KeyInfo {
        id: r.get(0)?,
        tenant: r.get(1)?,
        user: r.get(2)?,
        role: Role::parse(&role).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created: r.get(4)?,
        revoked: r.get(5)?,
    })
}

/// The public id of a presented key (`fgk_<id>_<secret>`).
fn key_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix("fgk_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && secret.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(id)
}

/// Keys verified recently, so a request costs a hash and a map look-up; a revocation (by
/// `floodgate serve keys revoke` in another process) takes effect within [`KEY_CACHE_TTL`].
pub(crate) const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// The verifier the server uses: the key store behind a short-lived cache.
#[derive(Debug)]
pub(crate) struct Keys {
    store: Mutex<KeyStore>,
    cache: Mutex<HashMap<String, (Option<KeyInfo>, Instant)>>,
}

impl Keys {
    pub(crate) fn new(store: KeyStore) -> Keys {
        Keys { store: Mutex::new(store), cache: Mutex::new(HashMap::new()) }
    }

    /// The answer cached for a presented key, if fresh: a map look-up, no I/O, so callers on
    /// the async executor ask here first and go to the blocking pool only on a miss.
    pub(crate) fn cached(&self, presented: &str) -> Option<Option<KeyInfo>> {
        let h = hash_secret(presented);
        let c = self.cache.lock().ok()?;
        let (info, at) = c.get(&h)?;
        (at.elapsed() < KEY_CACHE_TTL).then(|| info.clone())
    }

    /// Checks a password against the store (blocking: argon2 work and SQLite).
    pub(crate) fn verify_password(
        &self,
        tenant: &str,
        user: &str,
        password: &str,
    ) -> Result<bool, AuthError> {
        match self.store.lock() {
            Ok(s) => s.verify_password(tenant, user, password),
            Err(_) => Ok(false),
        }
    }

    pub(crate) fn verify(&self, presented: &str) -> Result<Option<KeyInfo>, AuthError> {
        if let Some(info) = self.cached(presented) {
            return Ok(info);
        }
        let h = hash_secret(presented);
        let info = match self.store.lock() {
            Ok(s) => s.verify(presented)?,
            Err(_) => return Ok(None),
        };
        if let Ok(mut c) = self.cache.lock() {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(h, (info.clone(), Instant::now()));
        }
        Ok(info)
    }
}

/// A browser session: who, the CSRF token its unsafe requests must echo, and its end.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The rate-limit bucket of its requests: the key's id, or `user:<tenant>/<user>` for a
    /// password sign-in.
    pub(crate) bucket: String,
    pub(crate) actor: Actor,
    pub(crate) csrf: String,
    pub(crate) expires: Instant,
}

/// Sessions by the SHA-256 of their cookie (the cookie itself is not kept).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session; returns the cookie value.
    pub(crate) fn start(&self, s: Session) -> Result<String, AuthError> {
        let token = random_hex(32)?;
        if let Ok(mut m) = self.map.lock() {
            let now = Instant::now();
            m.retain(|_, v| v.expires > now);
            m.insert(hash_secret(&token), s);
        }
        Ok(token)
    }

    pub(crate) fn get(&self, token: &str) -> Option<Session> {
        let m = self.map.lock().ok()?;
        m.get(&hash_secret(token)).filter(|s| s.expires > Instant::now()).cloned()
    }

    pub(crate) fn end(&self, token: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&hash_secret(token));
        }
    }
}

/// Token buckets, one per key: `rate` tokens a second up to `burst`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter { rate, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `key`; `Err(seconds to wait)` when the bucket is empty.
    pub(crate) fn take(&self, key: &str) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut b) = self.buckets.lock() else { return Ok(()) };
        let now = Instant::now();
        let (tokens, at) = b.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds, rounded up: Retry-After takes an integer.
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_as_hashes_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = KeyStore::open(dir.path()).unwrap();
        let (info, secret) = s.create("vasp-a", "lan", Role::Analyst).unwrap();
        assert!(secret.starts_with(&format!("fgk_{}_", info.id)));
        let raw = std::fs::read(dir.path().join(KEYS_FILE)).unwrap();
        let secret_part = secret.rsplit('_').next().unwrap();
        assert!(!raw.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()));
        assert_eq!(s.verify(&secret).unwrap().unwrap().tenant, "vasp-a");
        let mut wrong = secret.clone();
        wrong.pop();
        wrong.push(if secret.ends_with('0') { '1' } else { '0' });
        assert_eq!(s.verify(&wrong).unwrap(), None);
        assert_eq!(s.verify("garbage").unwrap(), None);
        assert!(s.revoke(&info.id).unwrap());
        assert_eq!(s.verify(&secret).unwrap(), None);
        assert!(!s.revoke("0000000000000000").unwrap());
        assert!(s.create("bad\ntenant", "u", Role::Admin).is_err());
    }

    #[test]
    fn passwords_are_stored_as_argon2id_hashes_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = KeyStore::open(dir.path()).unwrap();
        s.set_password("vasp-a", "lan", "correct horse battery").unwrap();
        // The database and its write-ahead log: whatever is on disk.
        let mut raw = std::fs::read(dir.path().join(KEYS_FILE)).unwrap();
        raw.extend(std::fs::read(dir.path().join(format!("{KEYS_FILE}-wal"))).unwrap_or_default());
        assert!(!raw.windows(13).any(|w| w == b"correct horse"));
        assert!(raw.windows(9).any(|w| w == b"$argon2id"));
        assert!(s.verify_password("vasp-a", "lan", "correct horse battery").unwrap());
        assert!(!s.verify_password("vasp-a", "lan", "correct horse batterx").unwrap());
        assert!(!s.verify_password("vasp-b", "lan", "correct horse battery").unwrap());
        assert!(!s.verify_password("vasp-a", "minh", "correct horse battery").unwrap());
        assert!(matches!(
            s.set_password("vasp-a", "lan", "short"),
            Err(AuthError::Invalid { field: "password", .. })
        ));
        // Replacing works; the old one stops.
        s.set_password("vasp-a", "lan", "another long secret").unwrap();
        assert!(!s.verify_password("vasp-a", "lan", "correct horse battery").unwrap());
        assert!(s.verify_password("vasp-a", "lan", "another long secret").unwrap());
        assert!(s.clear_password("vasp-a", "lan").unwrap());
        assert!(!s.verify_password("vasp-a", "lan", "another long secret").unwrap());
        assert!(matches!(
            s.set_password("bad\ntenant", "u", "long enough pw"),
            Err(AuthError::Invalid { .. })
        ));
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let r = RateLimiter::new(1.0, 2.0);
        assert!(r.take("k").is_ok());
        assert!(r.take("k").is_ok());
        assert_eq!(r.take("k"), Err(1));
        assert!(r.take("other").is_ok(), "buckets are per key");
    }
}

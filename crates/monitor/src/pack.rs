//! Rules files and jurisdiction packs: one TOML format for both.
//!
//! A file holds the pack's identity (`[pack]`), report triggers (`[report.*]`), built-in
//! typology settings (`[typology.*]`), declared sliding windows (`[[window]]`) and CEL rules
//! (`[[rule]]`). `extends = "vn"` starts from the built-in Viet Nam pack: tables override key
//! by key, windows and rules with the same id replace the pack's. Every threshold lives in
//! the file, none in code. Errors carry the file, line and column. See `docs/rules.md`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cel_rules::{self, Predicate};
use crate::error::MonitorError;

/// The built-in Viet Nam pack.
pub const VN_PACK: &str = include_str!("../packs/vn.toml");
/// Longest window accepted; window state keeps this much history per account.
pub const MAX_WINDOW_SECS: i64 = 35 * 86_400;

/// What a hit asks the exchange to do; ordered by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through.
    Allow,
    /// Let it through and queue an alert for an analyst.
    Review,
    /// Hold the funds until an analyst (or a call to the customer) clears them.
    Hold,
    /// Refuse or freeze.
    Block,
}

impl Action {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Review => "review",
            Action::Hold => "hold",
            Action::Block => "block",
        }
    }
}

/// How serious a hit is; sets its score contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 10 points.
    Low,
    /// 30 points.
    Medium,
    /// 60 points.
    High,
    /// 100 points.
    Critical,
}

impl Severity {
    /// Score points (the decision's score is the capped sum over hits).
    pub fn points(self) -> u32 {
        match self {
            Severity::Low => 10,
            Severity::Medium => 30,
            Severity::High => 60,
            Severity::Critical => 100,
        }
    }
}

/// Which transfers a window or trigger counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DirFilter {
    /// Every direction.
    #[default]
    Any,
    /// Deposits.
    Deposit,
    /// Withdrawals.
    Withdrawal,
    /// Internal transfers.
    Internal,
    /// Deposits and withdrawals (value crossing the exchange's boundary).
    External,
}

impl DirFilter {
    /// Whether `d` passes.
    pub fn matches(self, d: floodgate_types::Direction) -> bool {
        use floodgate_types::Direction as D;
        match self {
            DirFilter::Any => true,
            DirFilter::Deposit => d == D::Deposit,
            DirFilter::Withdrawal => d == D::Withdrawal,
            DirFilter::Internal => d == D::Internal,
            DirFilter::External => d != D::Internal,
        }
    }
}

/// What a declared window computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Number of transfers.
    Count,
    /// Sum in whole VND.
    SumVnd,
    /// Sum in US cents.
    SumUsdCents,
    /// Number of distinct counterparties (addresses, or customers for internal transfers).
    DistinctCounterparties,
}

/// A declared per-account sliding window, usable in CEL as `window.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDef {
    /// Name (letters, digits, `_`).
    pub name: String,
    /// Length: `90m`, `24h`, `72h`, `30d`; at most 35 days.
    pub span: String,
    /// Which transfers count.
    #[serde(default)]
    pub direction: DirFilter,
    /// What is computed.
    pub aggregate: Aggregate,
}

/// A CEL rule as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique id, quoted in every decision it contributes to.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// Action when it fires.
    pub action: Action,
    /// The CEL predicate.
    pub when: toml::Spanned<String>,
    /// Reason template: `{transfer.amount_vnd}`-style placeholders are filled in.
    pub reason: String,
    /// Longer description for analysts.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the rule comes from (regulation, typology paper).
    #[serde(default)]
    pub source: Option<String>,
    /// `false` switches it off.
    #[serde(default = "yes")]
    pub enabled: bool,
}

pub(crate) fn yes() -> bool {
    true
}

/// How a transfer moved, for a report trigger's `rails`: on a chain, or, for fiat, through a
/// bank or in cash (internal transfers are on none of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RailFilter {
    /// On-chain deposits and withdrawals.
    Chain,
    /// Fiat bank transfers.
    Bank,
    /// Fiat cash.
    Cash,
}

impl RailFilter {
    /// Whether a transfer of `rail` (`None`: on chain, or internal) of direction `d` passes.
    pub fn matches(
        self,
        rail: Option<floodgate_types::Rail>,
        d: floodgate_types::Direction,
    ) -> bool {
        use floodgate_types::Rail;
        match (self, rail) {
            (RailFilter::Chain, None) => d != floodgate_types::Direction::Internal,
            (RailFilter::Bank, Some(Rail::Bank)) | (RailFilter::Cash, Some(Rail::Cash)) => true,
            _ => false,
        }
    }
}

fn large_value_rails() -> Vec<RailFilter> {
    vec![RailFilter::Cash, RailFilter::Chain]
}

/// Common settings of every built-in typology and report trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Common {
    /// `false` switches it off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Severity of a hit.
    pub severity: Severity,
    /// Action of a hit.
    pub action: Action,
    /// Where the typology or threshold comes from.
    pub source: String,
}

macro_rules! typology_struct {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// `false` switches it off.
            #[serde(default = "crate::pack::yes")]
            pub enabled: bool,
            /// Severity of a hit.
            pub severity: $crate::pack::Severity,
            /// Action of a hit.
            pub action: $crate::pack::Action,
            /// Where the typology or threshold comes from.
            pub source: String,
            $($(#[$fm])* pub $f: $t,)*
        }
        impl $name {
            /// The common settings.
            pub fn common(&self) -> $crate::pack::Common {
                $crate::pack::Common {
                    enabled: self.enabled,
                    severity: self.severity,
                    action: self.action,
                    source: self.source.clone(),
                }
            }
        }
        impl $crate::typologies::Settings for $name {
            fn common(&self) -> $crate::pack::Common {
                $name::common(self)
            }
            fn enabled(&self) -> bool {
                self.enabled
            }
        }
    };
}
/// Declares a settings struct with the common keys (`enabled`, `severity`, `action`,
/// `source`) and its own, refusing unknown keys: every typology's and report trigger's.
pub(crate) use typology_struct;

pub use crate::typologies::Typologies;

typology_struct!(
    /// Sum per customer per local calendar day at or above a VND threshold.
    DailyTrigger {
        /// Threshold, whole VND.
        threshold_vnd: u64,
        /// Which transfers count.
        direction: DirFilter,
        /// Which rails count (default `["cash", "chain"]`; internal transfers never do).
        #[serde(default = "large_value_rails")]
        rails: Vec<RailFilter>,
    }
);
typology_struct!(
    /// A single domestic transfer at or above a VND threshold.
    DomesticTrigger {
        /// Threshold, whole VND.
        threshold_vnd: u64,
    }
);
typology_struct!(
    /// A single international transfer at or above a USD threshold.
    InternationalTrigger {
        /// Threshold, whole USD.
        threshold_usd: u64,
    }
);

/// Report triggers of the jurisdiction.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// Large-value transactions (VN: ≥ VND 400 million per customer per day).
    pub large_value: Option<DailyTrigger>,
    /// Domestic electronic transfers (VN: ≥ VND 500 million).
    pub domestic_transfer: Option<DomesticTrigger>,
    /// International electronic transfers (VN: ≥ USD 1,000).
    pub international_transfer: Option<InternationalTrigger>,
}

/// The pack's identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// Short id (`vn`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Home country, ISO alpha-2 (decides domestic vs international).
    pub country: String,
    /// Offset of local time from UTC in hours (report days are local calendar days).
    pub utc_offset_hours: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct PackFile {
    #[serde(default)]
    pack: Option<PackMeta>,
    #[serde(default)]
    report: Reports,
}

#[derive(Debug, Default, Deserialize)]
struct RulesPart {
    #[serde(default)]
    window: Vec<toml::Spanned<WindowDef>>,
    #[serde(default)]
    rule: Vec<RuleDef>,
}

/// A compiled CEL rule.
#[derive(Debug)]
pub struct CompiledRule {
    /// The definition.
    pub def: RuleDef,
    /// The predicate.
    pub predicate: Predicate,
}

/// A compiled window.
#[derive(Debug, Clone)]
pub struct CompiledWindow {
    /// The definition.
    pub def: WindowDef,
    /// Span in seconds.
    pub span_secs: i64,
}

/// A validated, compiled pack: what the engine runs.
#[derive(Debug)]
pub struct Pack {
    /// Identity.
    pub meta: PackMeta,
    /// Report triggers.
    pub reports: Reports,
    /// Built-in typologies.
    pub typologies: Typologies,
    /// Declared windows.
    pub windows: Vec<CompiledWindow>,
    /// CEL rules.
    pub rules: Vec<CompiledRule>,
    /// Where it came from.
    pub origin: PathBuf,
}

/// Parses `24h`, `72h`, `30d`, `90m`, `3600s` into seconds.
pub fn parse_span(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mul).filter(|v| *v > 0)
}

/// 1-based line and column of byte `off` in `text`.
pub fn line_col(text: &str, off: usize) -> (usize, usize) {
    let off = off.min(text.len());
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn toml_err(path: &Path, text: &str, e: &toml::de::Error) -> MonitorError {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
    MonitorError::Rules { path: path.to_owned(), line, column, message: e.message().to_owned() }
}

/// Deep-merges `over` into `base` (tables key by key, everything else replaced).
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Pack {
    /// The built-in Viet Nam pack.
    pub fn builtin_vn() -> Pack {
        Pack::parse(Path::new("<built-in vn.toml>"), VN_PACK)
            .expect("the built-in pack is valid (tested)")
    }

    /// Reads and compiles a rules file.
    ///
    /// # Errors
    /// [`MonitorError::Io`], or [`MonitorError::Rules`] with line and column.
    pub fn load(path: &Path) -> Result<Pack, MonitorError> {
        let text = std::fs::read_to_string(path).map_err(|e| MonitorError::io(path, e))?;
        Pack::parse(path, &text)
    }

    /// Compiles rules-file text; `path` labels errors.
    ///
    /// # Errors
    /// [`MonitorError::Rules`] naming the line and column of the first problem.
    pub fn parse(path: &Path, text: &str) -> Result<Pack, MonitorError> {
        let err = |off: usize, message: String| {
            let (line, column) = line_col(text, off);
            MonitorError::Rules { path: path.to_owned(), line, column, message }
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_err(path, text, &e))?;
        let extends = match table.remove("extends") {
            None => None,
            Some(toml::Value::String(s)) => Some(s),
            Some(_) => {
                return Err(err(
                    text.find("extends").unwrap_or(0),
                    "'extends' must be a string".into(),
                ))
            }
        };
        let part: RulesPart = toml::from_str(text).map_err(|e| toml_err(path, text, &e))?;
        table.remove("window");
        table.remove("rule");
        let (mut windows, mut rules): (Vec<(usize, WindowDef)>, Vec<RuleDef>) =
            (Vec::new(), Vec::new());
        let mut base_meta = toml::Table::new();
        if let Some(ext) = &extends {
            if !ext.eq_ignore_ascii_case("vn") {
                return Err(err(
                    text.find(ext.as_str()).unwrap_or(0),
                    format!("unknown pack '{ext}' to extend (known: vn)"),
                ));
            }
            base_meta = toml::from_str(VN_PACK).expect("the built-in pack is valid TOML");
            let base_part: RulesPart = toml::from_str(VN_PACK).expect("the built-in pack is valid");
            base_meta.remove("window");
            base_meta.remove("rule");
            windows = base_part.window.into_iter().map(|w| (usize::MAX, w.into_inner())).collect();
            rules = base_part.rule;
        }
        merge(&mut base_meta, table);
        // Each typology reads its own section (`typologies::parse_sections`).
        let typologies =
            crate::typologies::parse_sections(path, text, base_meta.remove("typology"))?;
        let file: PackFile = base_meta.try_into().map_err(|e: toml::de::Error| {
            // Re-parse the user's own file for a position; the merged table has none.
            match toml::from_str::<PackFile>(text) {
                Err(e2) => toml_err(path, text, &e2),
                Ok(_) => err(0, e.message().to_owned()),
            }
        })?;
        let meta = file.pack.ok_or_else(|| err(0, "missing [pack] table (id, name, country, utc_offset_hours), or use extends = \"vn\"".into()))?;
        for w in part.window {
            let off = w.span().start;
            let w = w.into_inner();
            windows.retain(|(_, o)| o.name != w.name);
            windows.push((off, w));
        }
        for r in part.rule {
            rules.retain(|o| o.id != r.id);
            rules.push(r);
        }
        let mut compiled_windows = Vec::new();
        for (off, w) in windows {
            let off = if off == usize::MAX { 0 } else { off };
            if w.name.is_empty() || !w.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(
                    off,
                    format!("window name '{}' must be letters, digits and '_'", w.name),
                ));
            }
            if compiled_windows.iter().any(|c: &CompiledWindow| c.def.name == w.name) {
                return Err(err(off, format!("duplicate window '{}'", w.name)));
            }
            let span = parse_span(&w.span).filter(|s| *s <= MAX_WINDOW_SECS).ok_or_else(|| {
                err(
                    off,
                    format!(
                        "window '{}': span '{}' is not like 24h, 72h, 30d (at most 35d)",
                        w.name, w.span
                    ),
                )
            })?;
            compiled_windows.push(CompiledWindow { def: w, span_secs: span });
        }
        let mut compiled_rules: Vec<CompiledRule> = Vec::new();
        for r in rules {
            let when_span = r.when.span();
            let when_off = if extends.is_some() && !text[..].contains(r.when.get_ref().as_str()) {
                None
            } else {
                Some(when_span.start)
            };
            if compiled_rules.iter().any(|c| c.def.id == r.id) {
                return Err(err(when_off.unwrap_or(0), format!("duplicate rule id '{}'", r.id)));
            }
            let predicate = match cel_rules::compile(r.when.get_ref()) {
                Ok(p) => p,
                Err(e) => {
                    let Some(start) = when_off else {
                        return Err(err(
                            0,
                            format!("rule '{}' (from the base pack): {}", r.id, e.message),
                        ));
                    };
                    let abs = predicate_offset(text, start, r.when.get_ref(), e.line, e.column);
                    return Err(err(abs, format!("rule '{}': {}", r.id, e.message)));
                }
            };
            // Windows referenced must be declared.
            let src = r.when.get_ref();
            let mut rest: &str = src;
            let mut consumed = 0;
            while let Some(i) = rest.find("window.") {
                let name: String = rest[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !compiled_windows.iter().any(|w| w.def.name == name) {
                    let (l, c) = line_col(src, consumed + i + 7);
                    let abs = when_off.map_or(0, |s| predicate_offset(text, s, src, l, c));
                    return Err(err(abs, format!("rule '{}': window '{name}' is not declared ([[window]] name = \"{name}\")", r.id)));
                }
                consumed += i + 7;
                rest = &rest[i + 7..];
            }
            compiled_rules.push(CompiledRule { def: r, predicate });
        }
        let registry = crate::typologies::REGISTRY;
        for (i, typ) in registry.iter().enumerate() {
            let Some(s) = typ.window(typologies.slot(i)) else { continue };
            if parse_span(s).filter(|v| *v <= MAX_WINDOW_SECS).is_none() {
                return Err(err(
                    text.find(s).unwrap_or(0),
                    format!(
                        "typology.{}.window: span '{s}' is not like 24h, 72h, 30d (at most 35d)",
                        typ.name()
                    ),
                ));
            }
        }
        for (i, typ) in registry.iter().enumerate() {
            if let Some((needle, message)) = typ.validate(typologies.slot(i)) {
                return Err(err(text.find(needle).unwrap_or(0), message));
            }
        }
        Ok(Pack {
            meta,
            reports: file.report,
            typologies,
            windows: compiled_windows,
            rules: compiled_rules,
            origin: path.to_owned(),
        })
    }

    /// Number of active rules: enabled typologies, report triggers and CEL rules.
    pub fn rule_count(&self) -> usize {
        let typ = crate::typologies::REGISTRY
            .iter()
            .enumerate()
            .map(|(i, t)| t.enabled(self.typologies.slot(i)));
        let reports = [
            self.reports.large_value.as_ref().map(|x| x.enabled),
            self.reports.domestic_transfer.as_ref().map(|x| x.enabled),
            self.reports.international_transfer.as_ref().map(|x| x.enabled),
        ];
        typ.chain(reports).filter(|e| *e == Some(true)).count()
            + self.rules.iter().filter(|r| r.def.enabled).count()
    }
}

/// Byte offset in the file of line `l`, column `c` (1-based) of a predicate whose TOML value
/// starts at `start` (the opening quote).
fn predicate_offset(text: &str, start: usize, _src: &str, l: usize, c: usize) -> usize {
    let raw = &text[start.min(text.len())..];
    let mut skip = if raw.starts_with("\"\"\"") || raw.starts_with("'''") { 3 } else { 1 };
    if skip == 3 {
        if raw[3..].starts_with("\r\n") {
            skip += 2;
        } else if raw[3..].starts_with('\n') {
            skip += 1;
        }
    }
    let content = &raw[skip.min(raw.len())..];
    let mut off = 0;
    for (i, line) in content.split_inclusive('\n').enumerate() {
        if i + 1 == l {
            let col_bytes: usize = line.chars().take(c.saturating_sub(1)).map(char::len_utf8).sum();
            return start + skip + off + col_bytes;
        }
        off += line.len();
    }
    start + skip
}

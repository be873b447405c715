//! The CEL boundary: compiling rule predicates and evaluating them against one event.
//!
//! Everything that touches the `cel` crate lives here. The crate is young, so it is pinned
//! (`=0.15.0`), predicates are parsed on a thread with a large stack (deeply nested input
//! overflows the default stack in debug builds), and source length and nesting are capped
//! before the parser sees them. One root [`cel::Context`] holds the standard library; each
//! event is bound in a child scope (`new_inner_scope`), which costs far less than building a
//! context per event.

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, KeyRef, Map};
use cel::{Context, Program, Value};

/// Longest predicate accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 4096;
/// Deepest bracket nesting accepted.
pub const MAX_NESTING: usize = 24;

/// Top-level variables a predicate may use.
pub const VARIABLES: [&str; 6] =
    ["transfer", "customer", "window", "screening", "exposure", "hits"];

/// A compile error at a 1-based line and column of the predicate text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelError {
    /// 1-based line within the predicate.
    pub line: usize,
    /// 1-based column within that line.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A compiled predicate.
#[derive(Debug)]
pub struct Predicate {
    program: Program,
    /// Bit `i` set when `VARIABLES[i]` is referenced.
    pub uses: u8,
    /// Top-level `&&` conjuncts simple enough to check without CEL (see [`Guard`]).
    guards: Vec<Guard>,
}

/// A top-level conjunct of a predicate that can be decided from the bindings directly.
///
/// CEL's `&&` is false as soon as one operand is false, whatever the others give (errors
/// included), so when a guard is *definitely* false the whole predicate is false and CEL need
/// not run. A guard that cannot be decided (its field is missing or of another type) decides
/// nothing: CEL then runs as usual. Most rules open with such a test (the direction, or
/// whether the customer has a field), and the `cel` interpreter costs microseconds per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Guard {
    /// `var.field == 'text'` (or `"text"`).
    StrEq { var: usize, field: String, value: String },
    /// `has(var.field)`.
    Has { var: usize, field: String },
    /// `var.field OP k` or `var.field OP k * var2.field2`, integers only.
    IntCmp { var: usize, field: String, op: CmpOp, rhs: IntRhs },
}

/// An integer comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    fn holds(self, a: i64, b: i64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }
}

/// The right-hand side of an [`Guard::IntCmp`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum IntRhs {
    /// A decimal integer literal.
    Lit(i64),
    /// `k * var.field`.
    Scaled(i64, usize, String),
}

/// Splits `src` on `&&` at bracket depth 0 outside string literals; `None` when the top level
/// also has `||` or `?` (then `&&` does not bind the whole expression).
fn top_level_conjuncts(src: &str) -> Option<Vec<&str>> {
    let bytes = src.as_bytes();
    let (mut depth, mut quote, mut start) = (0usize, None::<u8>, 0usize);
    let mut parts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'|' | b'?' if depth == 0 => return None,
                b'&' if depth == 0 && bytes.get(i + 1) == Some(&b'&') => {
                    parts.push(src[start..i].trim());
                    start = i + 2;
                    i += 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    parts.push(src[start..].trim());
    Some(parts)
}

fn ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `var.field` with a known top-level variable.
fn var_field(s: &str) -> Option<(usize, String)> {
    let (v, f) = s.trim().split_once('.')?;
    let var = VARIABLES.iter().position(|k| *k == v)?;
    ident(f).then(|| (var, f.to_owned()))
}

/// A plain decimal integer literal (no sign, suffix or exponent: those are left to CEL).
fn int_lit(s: &str) -> Option<i64> {
    let t = s.trim();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
}

fn int_cmp_of(conjunct: &str) -> Option<Guard> {
    // Longest operators first, so `>=` is not read as `>`.
    let ops = [
        (">=", CmpOp::Ge),
        ("<=", CmpOp::Le),
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        (">", CmpOp::Gt),
        ("<", CmpOp::Lt),
    ];
    let (at, text, op) = ops.iter().find_map(|(t, op)| conjunct.find(t).map(|i| (i, *t, *op)))?;
    let (lhs, rhs) = (&conjunct[..at], &conjunct[at + text.len()..]);
    let (var, field) = var_field(lhs)?;
    let rhs = match rhs.split_once('*') {
        None => IntRhs::Lit(int_lit(rhs)?),
        Some((k, other)) => {
            let (v2, f2) = var_field(other)?;
            IntRhs::Scaled(int_lit(k)?, v2, f2)
        }
    };
    Some(Guard::IntCmp { var, field, op, rhs })
}

fn guard_of(conjunct: &str) -> Option<Guard> {
    if let Some(inner) = conjunct.strip_prefix("has(").and_then(|r| r.strip_suffix(')')) {
        let (var, field) = var_field(inner)?;
        return Some(Guard::Has { var, field });
    }
    if let Some(g) = int_cmp_of(conjunct) {
        return Some(g);
    }
    let (lhs, rhs) = conjunct.split_once("==")?;
    let (var, field) = var_field(lhs)?;
    let rhs = rhs.trim();
    let lit = rhs
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| rhs.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    // Only plain literals: escapes and embedded quotes are left to CEL.
    if lit.contains(['\\', '\'', '"']) {
        return None;
    }
    Some(Guard::StrEq { var, field, value: lit.to_owned() })
}

fn guards_of(src: &str) -> Vec<Guard> {
    top_level_conjuncts(src)
        .map_or_else(Vec::new, |parts| parts.into_iter().filter_map(guard_of).collect())
}

fn nesting_error(src: &str) -> Option<CelError> {
    let mut depth = 0usize;
    let (mut line, mut col) = (1, 0);
    for ch in src.chars() {
        col += 1;
        match ch {
            '\n' => {
                line += 1;
                col = 0;
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(CelError {
                        line,
                        column: col,
                        message: format!("nesting deeper than {MAX_NESTING} levels"),
                    });
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Compiles a predicate.
///
/// # Errors
/// [`CelError`] with the position of the first problem: too long, too deeply nested, a
/// syntax error, or an unknown top-level variable.
pub fn compile(src: &str) -> Result<Predicate, CelError> {
    if src.len() > MAX_SOURCE_LEN {
        return Err(CelError {
            line: 1,
            column: 1,
            message: format!("predicate longer than {MAX_SOURCE_LEN} bytes"),
        });
    }
    if src.trim().is_empty() {
        return Err(CelError { line: 1, column: 1, message: "empty predicate".into() });
    }
    if let Some(e) = nesting_error(src) {
        return Err(e);
    }
    let owned = src.to_owned();
    let parsed = std::thread::Builder::new()
        .name("cel-parse".into())
        .stack_size(64 << 20)
        .spawn(move || {
            Program::compile(&owned).map_err(|errs| {
                let first = errs.errors.first();
                CelError {
                    line: first.map_or(1, |e| e.pos.0.max(1) as usize),
                    column: first.map_or(1, |e| e.pos.1.max(1) as usize),
                    message: first.map_or_else(|| "syntax error".into(), |e| e.msg.clone()),
                }
            })
        })
        .map_err(|e| CelError { line: 1, column: 1, message: format!("cannot parse: {e}") })?
        .join()
        .map_err(|_| CelError { line: 1, column: 1, message: "the CEL parser panicked".into() })?;
    let program = parsed?;
    let mut uses = 0u8;
    let refs = program.references();
    for v in refs.variables() {
        match VARIABLES.iter().position(|k| *k == v) {
            Some(i) => uses |= 1 << i,
            None => {
                let (line, column) = position_of(src, v);
                return Err(CelError {
                    line,
                    column,
                    message: format!("unknown variable '{v}' (known: {})", VARIABLES.join(", ")),
                });
            }
        }
    }
    Ok(Predicate { program, uses, guards: guards_of(src) })
}

/// 1-based line and column of the first occurrence of `needle` in `src` (1:1 if absent).
pub fn position_of(src: &str, needle: &str) -> (usize, usize) {
    match src.find(needle) {
        Some(off) => {
            let before = &src[..off];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, col)
        }
        None => (1, 1),
    }
}

/// The root context, built once per engine.
#[derive(Default)]
pub struct Root {
    ctx: Context<'static, 'static>,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cel::Root")
    }
}

/// Field names (`transfer.amount_vnd`) that rules or reason templates name; only these are
/// bound. The `cel` crate copies a bound map on every member access, so small maps are
/// much faster (measured: 4 rules over 15-field maps cost ~18 µs per event).
pub fn named_fields(texts: &[&str]) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for t in texts {
        for v in VARIABLES {
            let pat = format!("{v}.");
            let mut rest: &str = t;
            while let Some(i) = rest.find(&pat) {
                let field: String = rest[i + pat.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.insert(format!("{v}.{field}"));
                rest = &rest[i + pat.len()..];
            }
        }
    }
    out
}

/// Field names per top-level variable (`transfer.amount_vnd` is `amount_vnd` of
/// `transfer`), each with its map key made once: binding a field then copies a pointer
/// instead of allocating its name on every event.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    per_var: [Vec<(String, Key)>; VARIABLES.len()],
}

impl Fields {
    /// From `var.field` names ([`named_fields`]).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Fields {
        let mut f = Fields::default();
        for n in names {
            if let Some((v, field)) = n.split_once('.') {
                if let Some(i) = VARIABLES.iter().position(|x| *x == v) {
                    if !f.per_var[i].iter().any(|(x, _)| x == field) {
                        f.per_var[i].push((field.to_owned(), Key::from(field)));
                    }
                }
            }
        }
        f
    }

    fn of_var(&self, var: &str) -> &[(String, Key)] {
        VARIABLES.iter().position(|x| *x == var).map_or(&[], |i| &self.per_var[i])
    }
}

/// A map value under construction; fields not in the filter are dropped.
#[derive(Debug, Default)]
pub struct Obj<'f> {
    map: HashMap<Key, Value>,
    filter: Option<&'f [(String, Key)]>,
}

impl<'f> Obj<'f> {
    /// With room for `n` fields, keeping every field.
    pub fn with_capacity(n: usize) -> Self {
        Obj { map: HashMap::with_capacity(n), filter: None }
    }
    /// Keeping only the fields of variable `var` named in `filter`.
    pub fn filtered(filter: &'f Fields, var: &'static str) -> Self {
        let f = filter.of_var(var);
        Obj { map: HashMap::with_capacity(f.len()), filter: Some(f) }
    }
    /// Whether field `k` is kept.
    pub fn wants(&self, k: &str) -> bool {
        match self.filter {
            None => true,
            Some(f) => f.iter().any(|(x, _)| x == k),
        }
    }
    fn put(&mut self, k: &str, v: Value) {
        match self.filter {
            None => {
                self.map.insert(Key::String(Arc::new(k.to_owned())), v);
            }
            Some(f) => {
                if let Some((_, key)) = f.iter().find(|(x, _)| x == k) {
                    self.map.insert(key.clone(), v);
                }
            }
        }
    }
    /// Sets a string field.
    pub fn str(&mut self, k: &'static str, v: &str) -> &mut Self {
        if self.wants(k) {
            self.put(k, Value::String(Arc::new(v.to_owned())));
        }
        self
    }
    /// Sets a string field when present.
    pub fn opt_str(&mut self, k: &'static str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }
    /// Sets an integer field (saturating at `i64::MAX`).
    pub fn int(&mut self, k: &str, v: i128) -> &mut Self {
        let v = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        self.put(k, Value::Int(v));
        self
    }
    /// Sets a float field (shares and scores only; never money).
    pub fn float(&mut self, k: &'static str, v: f64) -> &mut Self {
        self.put(k, Value::Float(v));
        self
    }
    /// Sets a boolean field.
    pub fn bool(&mut self, k: &'static str, v: bool) -> &mut Self {
        self.put(k, Value::Bool(v));
        self
    }
    /// Sets a field to a value built elsewhere (a nested map).
    pub fn value(&mut self, k: &str, v: Value) -> &mut Self {
        self.put(k, v);
        self
    }
    /// Sets a list-of-strings field.
    pub fn strs(&mut self, k: &'static str, v: impl Iterator<Item = String>) -> &mut Self {
        let list: Vec<Value> = v.map(|s| Value::String(Arc::new(s))).collect();
        self.put(k, Value::List(Arc::new(list)));
        self
    }
    /// The finished value.
    pub fn build(self) -> Value {
        Value::Map(Map { map: Arc::new(self.map) })
    }
}

/// One event's bindings, by top-level variable.
#[derive(Debug, Default)]
pub struct Bindings {
    values: Vec<(usize, Value)>,
}

impl Bindings {
    /// Binds `VARIABLES[i]`.
    pub fn set(&mut self, i: usize, v: Value) {
        self.values.push((i, v));
    }

    /// The text of a dotted path (`transfer.amount_vnd`) for a reason template.
    pub fn lookup(&self, path: &str) -> Option<String> {
        let mut parts = path.split('.');
        let head = parts.next()?;
        let i = VARIABLES.iter().position(|v| *v == head)?;
        let mut cur = &self.values.iter().find(|(j, _)| *j == i)?.1;
        for p in parts {
            match cur {
                Value::Map(m) => cur = m.get(&KeyRef::String(p))?,
                _ => return None,
            }
        }
        Some(match cur {
            Value::String(s) => s.to_string(),
            Value::Int(n) => n.to_string(),
            Value::UInt(n) => n.to_string(),
            Value::Float(f) => format!("{f:.3}"),
            Value::Bool(b) => b.to_string(),
            Value::List(l) => format!("{} items", l.len()),
            Value::Null => "null".into(),
            _ => return None,
        })
    }
}

/// Outcome of one predicate on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eval {
    /// The predicate held.
    True,
    /// It did not.
    False,
    /// It failed (missing field, type mismatch); the rule does not fire.
    Error(String),
}

impl Bindings {
    fn field(&self, var: usize, field: &str) -> Option<Option<&Value>> {
        match &self.values.iter().find(|(j, _)| *j == var)?.1 {
            Value::Map(m) => Some(m.get(&KeyRef::String(field))),
            _ => None,
        }
    }

    /// Whether a guard is definitely false for these bindings.
    fn refutes(&self, g: &Guard) -> bool {
        match g {
            Guard::Has { var, field } => matches!(self.field(*var, field), Some(None)),
            Guard::StrEq { var, field, value } => matches!(
                self.field(*var, field),
                Some(Some(Value::String(s))) if s.as_str() != value
            ),
            Guard::IntCmp { var, field, op, rhs } => {
                let Some(Some(Value::Int(a))) = self.field(*var, field) else { return false };
                let b = match rhs {
                    IntRhs::Lit(k) => Some(*k),
                    // CEL reports integer overflow as an error: then the guard decides nothing.
                    IntRhs::Scaled(k, v2, f2) => match self.field(*v2, f2) {
                        Some(Some(Value::Int(b))) => k.checked_mul(*b),
                        _ => None,
                    },
                };
                b.is_some_and(|b| !op.holds(*a, b))
            }
        }
    }
}

impl Predicate {
    /// Whether a guard of it is definitely false for `b`: then the predicate is false.
    pub fn refuted(&self, b: &Bindings) -> bool {
        self.guards.iter().any(|g| b.refutes(g))
    }

    /// The `var.field` names its guards read (bind these to decide [`Predicate::refuted`]).
    pub fn guard_fields(&self) -> Vec<String> {
        let name = |var: usize, field: &str| format!("{}.{field}", VARIABLES[var]);
        let mut out = Vec::new();
        for g in &self.guards {
            match g {
                Guard::StrEq { var, field, .. } | Guard::Has { var, field } => {
                    out.push(name(*var, field));
                }
                Guard::IntCmp { var, field, rhs, .. } => {
                    out.push(name(*var, field));
                    if let IntRhs::Scaled(_, v2, f2) = rhs {
                        out.push(name(*v2, f2));
                    }
                }
            }
        }
        out
    }
}

impl Root {
    /// Evaluates `preds` against the bindings; one scope for all of them. A predicate whose
    /// guard is definitely false is false without running CEL (see [`Guard`]).
    pub fn eval_all(&self, b: &Bindings, preds: &[&Predicate]) -> Vec<Eval> {
        let refuted: Vec<bool> = preds.iter().map(|p| p.refuted(b)).collect();
        if refuted.iter().all(|r| *r) {
            return vec![Eval::False; preds.len()];
        }
        // Bind only the variables the predicates still to run name: binding converts the
        // whole value into the interpreter's representation.
        let needed =
            preds.iter().zip(&refuted).filter(|(_, r)| !**r).fold(0u8, |m, (p, _)| m | p.uses);
        let mut scope = self.ctx.new_inner_scope();
        for (i, v) in b.values.iter().filter(|(i, _)| needed & (1 << i) != 0) {
            scope.add_variable_from_value(VARIABLES[*i], v.clone());
        }
        preds
            .iter()
            .zip(refuted)
            .map(|(p, refuted)| {
                if refuted {
                    return Eval::False;
                }
                match p.program.execute(&scope) {
                    Ok(Value::Bool(true)) => Eval::True,
                    Ok(Value::Bool(false)) => Eval::False,
                    Ok(other) => Eval::Error(format!("predicate gave {other:?}, not a bool")),
                    Err(e) => Eval::Error(e.to_string()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_positions() {
        let e = compile("transfer.amount_vnd > && true").unwrap_err();
        assert_eq!((e.line, e.column), (1, 23), "{e:?}");
        let e = compile("trnsfer.x > 1").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("trnsfer"));
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(compile(&deep).unwrap_err().message.contains("nesting"));
    }

    #[test]
    fn guards_are_top_level_conjuncts_only() {
        let g = guards_of("transfer.direction == 'withdrawal' && window.wd_count_24h >= 30");
        assert_eq!(
            g,
            vec![
                Guard::StrEq { var: 0, field: "direction".into(), value: "withdrawal".into() },
                Guard::IntCmp {
                    var: 2,
                    field: "wd_count_24h".into(),
                    op: CmpOp::Ge,
                    rhs: IntRhs::Lit(30)
                },
            ]
        );
        assert_eq!(
            guards_of("window.sum_vnd_30d > 5 * customer.expected_monthly_vnd"),
            vec![Guard::IntCmp {
                var: 2,
                field: "sum_vnd_30d".into(),
                op: CmpOp::Gt,
                rhs: IntRhs::Scaled(5, 1, "expected_monthly_vnd".into())
            }]
        );
        // Signs, suffixes, floats and other shapes are left to CEL.
        for src in
            ["transfer.n > -1", "transfer.n > 1u", "transfer.n > 1.5", "transfer.n > size(x)"]
        {
            assert!(guards_of(src).is_empty(), "{src}");
        }
        assert_eq!(
            guards_of("has(customer.risk_class) && customer.risk_class == \"high\""),
            vec![
                Guard::Has { var: 1, field: "risk_class".into() },
                Guard::StrEq { var: 1, field: "risk_class".into(), value: "high".into() },
            ]
        );
        // `||` at the top level: `&&` does not bind the whole predicate.
        assert!(guards_of("transfer.direction == 'deposit' && x || y").is_empty());
        // Inside brackets or strings, `&&` and `||` are not top level.
        assert_eq!(guards_of("(a || b) && transfer.direction == 'a&&b'").len(), 1);
        assert!(guards_of("transfer.direction == 'it\\'s'").is_empty());
    }

    #[test]
    fn guards_never_change_a_result() {
        // Every predicate gives the same result with its guards as CEL alone gives.
        let root = Root::default();
        let sources = [
            "transfer.direction == 'withdrawal' && transfer.n > 1",
            "transfer.direction == \"deposit\" && transfer.n > 1",
            "transfer.n == 'x' && true",
            "has(customer.risk_class) && customer.risk_class == 'high'",
            "has(customer.risk_class) && transfer.n > 100",
            "transfer.n >= 5 && transfer.direction == 'deposit'",
            "transfer.n < 5 && true",
            "transfer.n != 5 && true",
            "transfer.n == 5 && true",
            "transfer.n <= 4 && true",
            "transfer.n > 2 * customer.m && true",
            "transfer.n > 4611686018427387904 * customer.m && true",
            "customer.m >= 1 && true",
        ];
        let mut checked_a_refutation = false;
        for src in sources {
            let guarded = compile(src).unwrap();
            assert!(!guarded.guards.is_empty(), "{src} has a guard");
            let plain = Predicate { guards: Vec::new(), ..compile(src).unwrap() };
            for dir in ["deposit", "withdrawal"] {
                for risk in [None, Some("high"), Some("low")] {
                    for bind_customer in [true, false] {
                        let mut b = Bindings::default();
                        let mut t = Obj::with_capacity(2);
                        t.str("direction", dir).int("n", 5);
                        b.set(0, t.build());
                        if bind_customer {
                            let mut c = Obj::with_capacity(2);
                            c.opt_str("risk_class", risk);
                            if risk.is_some() {
                                c.int("m", if risk == Some("high") { 2 } else { 3 });
                            }
                            b.set(1, c.build());
                        }
                        checked_a_refutation |= guarded.guards.iter().any(|g| b.refutes(g));
                        let with = root.eval_all(&b, &[&guarded]);
                        let without = root.eval_all(&b, &[&plain]);
                        let same = match (&with[0], &without[0]) {
                            (Eval::Error(_), Eval::Error(_)) => true,
                            (x, y) => x == y,
                        };
                        assert!(same, "{src} dir={dir} risk={risk:?}: {with:?} vs {without:?}");
                    }
                }
            }
        }
        assert!(checked_a_refutation, "some cases skip CEL");
    }

    #[test]
    fn evaluates_in_child_scope() {
        let root = Root::default();
        let p = compile("transfer.amount_vnd >= 400000000 && transfer.direction == 'deposit'")
            .expect("compile");
        let mut o = Obj::default();
        o.int("amount_vnd", 500_000_000).str("direction", "deposit");
        let mut b = Bindings::default();
        b.set(0, o.build());
        assert_eq!(root.eval_all(&b, &[&p]), vec![Eval::True]);
        assert_eq!(b.lookup("transfer.amount_vnd").as_deref(), Some("500000000"));
        let q = compile("customer.age > 3").expect("compile");
        assert!(matches!(root.eval_all(&b, &[&q])[0], Eval::Error(_)));
    }
}

//! The fund-flow graph's one-hop expansion and tag loading over HTTP: both go through
//! `floodgate_app::trace` (the service `floodgate trace` calls), so the workbench's graph, the
//! CLI and the exposure endpoint see the same graph and the same tags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use floodgate_app::trace::{TagSources, TagsResult, Tracer};
use floodgate_app::DataDir;
use floodgate_types::Chain;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{require, ApiJson, ApiQuery, Auth, ADMIN, WORKER};
use crate::routes::{text, trace};
use crate::state::AppState;

/// Most neighbours one expansion returns (the busiest addresses have millions of edges).
pub const MAX_NEIGHBOURS: usize = 500;

/// Which edges to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Where the funds went (edges leaving the node).
    #[default]
    Out,
    /// Where the funds came from (edges entering the node).
    In,
    /// Both.
    Both,
}

/// One hop out of (or into) an address or transaction node.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeighboursRequest {
    /// An address (any accepted form) or a node key from an earlier answer (`tx:…`).
    pub address: String,
    /// Only edges of this chain (`bitcoin`, `ethereum`, `tron`, …).
    #[serde(default)]
    pub chain: Option<String>,
    /// `out` (default), `in` or `both`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Most neighbours to return, 1–500 (default 100), largest amounts first.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A neighbour and the edge to it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Neighbour {
    /// Its node key: a canonical address, or `tx:…` for a transaction node (UTXO chains).
    pub node: String,
    /// `address` or `transaction`.
    pub kind: String,
    /// `out` (funds went to it) or `in` (funds came from it).
    pub direction: Direction,
    /// Value moved, in the asset's base units (decimal string).
    pub amount: String,
    /// Asset id.
    pub asset: String,
    /// When (Unix seconds, as the paths' steps give it), if the graph knows.
    pub time: Option<i64>,
    /// The transaction, as the chain's explorers show it.
    pub txid: String,
    /// The chain.
    pub chain: String,
    /// Its highest-ranked risk category from the data directory's tags and lists, if any.
    pub category: Option<String>,
    /// Labels of its tags (at most five).
    pub labels: Vec<String>,
}

/// The neighbours of a node.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NeighboursResponse {
    /// The node expanded (its canonical key).
    pub node: String,
    /// Its own risk category, if tagged.
    pub category: Option<String>,
    /// Neighbours, largest amount first.
    pub neighbours: Vec<Neighbour>,
    /// Edges of the node in the direction(s) asked, before the limit.
    pub total_edges: usize,
    /// Whether the limit cut the list.
    pub truncated: bool,
}

/// The category and up to five labels of an address (none for transaction nodes).
fn tags_of(t: &Tracer, key: &str) -> (Option<String>, Vec<String>) {
    if key.starts_with("tx:") {
        return (None, Vec::new());
    }
    match t.tags(key, &TagSources::default()) {
        Ok(TagsResult::Address { category, tags, .. }) => (
            category.and_then(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_owned)),
            tags.iter().take(5).map(|t| t.label.clone()).collect(),
        ),
        _ => (None, Vec::new()),
    }
}

fn neighbours_of(
    t: &Tracer,
    req: &NeighboursRequest,
    chain: Option<Chain>,
    limit: usize,
) -> Result<NeighboursResponse, floodgate_app::AppError> {
    let node = t.node(&req.address)?;
    let g = t.graph();
    let dir = req.direction.unwrap_or_default();
    let mut edges = Vec::new();
    if matches!(dir, Direction::Out | Direction::Both) {
        edges.extend(g.out_edges(node).map(|e| (Direction::Out, e.dst, e)));
    }
    if matches!(dir, Direction::In | Direction::Both) {
        edges.extend(g.in_edges(node).map(|e| (Direction::In, e.src, e)));
    }
    edges.retain(|(_, _, e)| chain.is_none_or(|c| e.chain == c));
    let total_edges = edges.len();
    edges.sort_by(|a, b| b.2.amount.cmp(&a.2.amount).then(a.2.time.cmp(&b.2.time)));
    edges.truncate(limit);
    let neighbours = edges
        .into_iter()
        .map(|(d, nb, e)| {
            let key = g.key(nb).into_owned();
            let (category, labels) = tags_of(t, &key);
            Neighbour {
                kind: serde_json::to_value(g.kind(nb))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_lowercase))
                    .unwrap_or_else(|| {
                        if key.starts_with("tx:") { "transaction" } else { "address" }.into()
                    }),
                node: key,
                direction: d,
                amount: e.amount.to_string(),
                asset: e.asset.to_owned(),
                time: e.time,
                txid: e.txid_string(),
                chain: e.chain.to_string(),
                category,
                labels,
            }
        })
        .collect();
    let key = g.key(node).into_owned();
    let (category, _) = tags_of(t, &key);
    Ok(NeighboursResponse {
        node: key,
        category,
        neighbours,
        total_edges,
        truncated: total_edges > limit,
    })
}

/// One hop of the fund-flow graph around an address or transaction node: each neighbour
/// with the amount, asset, time and transaction of the edge, and its risk category from the
/// data directory's tags (the workbench's "click to expand a hop").
#[utoipa::path(post, path = "/v1/trace/neighbours", tag = "trace", request_body = NeighboursRequest,
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = NeighboursResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn trace_neighbours(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiJson(req): ApiJson<NeighboursRequest>,
) -> ApiResult<Json<NeighboursResponse>> {
    require(&a, WORKER, "trace")?;
    text("/address", &req.address, 200, false)?;
    let chain = match req.chain.as_deref() {
        None => None,
        Some(c) => Some(
            c.parse::<Chain>()
                .map_err(|e| ApiError::invalid("/chain", format!("unknown chain '{c}': {e}")))?,
        ),
    };
    let limit = req.limit.unwrap_or(100);
    if !(1..=MAX_NEIGHBOURS).contains(&limit) {
        return Err(ApiError::invalid("/limit", format!("must be 1-{MAX_NEIGHBOURS}")));
    }
    Ok(Json(trace(&st, move |t| neighbours_of(t, &req, chain, limit)).await?))
}

// ---------------------------------------------------------------------------------------
// Tag loading

/// Where the TagPack goes.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TagLoadQuery {
    /// The pack's name in the tag store (`<data dir>/tags/tagpacks/<name>.yaml`): letters,
    /// digits, `-`, `_`, `.`; 1–64 characters. Loading a name again replaces that pack.
    pub name: String,
}

/// What a TagPack load stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TagLoadResponse {
    /// The pack's name.
    pub name: String,
    /// Tags loaded from it.
    pub tags: usize,
    /// Tags per risk category.
    pub by_category: BTreeMap<String, usize>,
    /// Tags on chains floodgate does not ingest, left out.
    pub unsupported: usize,
    /// Tags with no category (a label only), left out.
    pub uncategorized: usize,
    /// Whether a pack of that name was replaced.
    pub replaced: bool,
}

fn pack_name(name: &str) -> Result<String, ApiError> {
    let n = name.strip_suffix(".yaml").unwrap_or(name);
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && n.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        return Err(ApiError::invalid(
            "name",
            "1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        ));
    }
    Ok(n.to_owned())
}

/// A loading error of the pack written to `file`, told about the request body: the file name
/// replaced by `body`, the line as the error's field (`body:<line>`).
fn body_error(e: &floodgate_app::AppError, file: &Path) -> ApiError {
    let msg = e.to_string().replace(&file.display().to_string(), "body");
    let line = msg
        .strip_prefix("body:")
        .and_then(|r| r.split(':').next())
        .and_then(|l| l.parse::<u64>().ok());
    let field = line.map_or_else(|| "body".to_owned(), |l| format!("body:{l}"));
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_tagpack", msg).with_field(field)
}

/// Validates `yaml` as a TagPack on its own (nothing else loaded), then moves it into the
/// data directory's tag store. Nothing is stored unless the whole pack loads.
fn store_pack(data_dir: &Path, name: &str, yaml: &[u8]) -> Result<TagLoadResponse, ApiError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        ApiError::internal("tag store", format!("{what} {}: {e}", p.display()))
    };
    let store = DataDir::new(data_dir).tags_dir().join("tagpacks");
    std::fs::create_dir_all(&store).map_err(|e| io("creating", &store, e))?;
    // A private staging directory beside the store (same file system: the move is a rename);
    // it holds nothing else, so validating it loads this pack alone.
    let staging = data_dir.join("tags").join(format!(
        ".incoming-{}",
        crate::auth::random_hex(8).map_err(|e| ApiError::internal("tag store", e))?
    ));
    std::fs::create_dir_all(&staging).map_err(|e| io("creating", &staging, e))?;
    let result = (|| {
        let file: PathBuf = staging.join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).map_err(|e| io("writing", &file, e))?;
        let loaded = floodgate_app::trace::load_tags(
            &DataDir::new(staging.join("empty")),
            &TagSources::tagpacks(vec![file.clone()]),
        )
        .map_err(|e| body_error(&e, &file))?;
        let summary = loaded.sources.into_iter().find(|s| s.source == "tagpacks");
        let (tags, by_category, unsupported, uncategorized) = summary.map_or_else(
            || (0, BTreeMap::new(), 0, 0),
            |s| {
                let by = s
                    .by_category
                    .iter()
                    .filter_map(|(c, n)| {
                        Some((serde_json::to_value(c).ok()?.as_str()?.to_owned(), *n))
                    })
                    .collect();
                (s.tags, by, s.unsupported, s.uncategorized)
            },
        );
        let dest = store.join(format!("{name}.yaml"));
        let replaced = dest.is_file();
        std::fs::rename(&file, &dest).map_err(|e| io("storing", &dest, e))?;
        Ok(TagLoadResponse {
            name: name.to_owned(),
            tags,
            by_category,
            unsupported,
            uncategorized,
            replaced,
        })
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Loads a GraphSense TagPack (YAML body, `Content-Type: application/yaml`) into the data
/// directory's tag store, where `floodgate trace` and the exposure, paths and neighbours
/// endpoints read it: validated whole first (a bad pack is a 422 naming its line, and
/// nothing is stored), visible to the next trace request without a restart (admin).
#[utoipa::path(post, path = "/v1/admin/tags/load", tag = "admin", params(TagLoadQuery),
    request_body(content = String, content_type = "application/yaml", description = "a GraphSense TagPack"),
    security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = TagLoadResponse), (status = "4XX", body = ErrorBody)))]
pub(crate) async fn admin_load_tags(
    State(st): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<TagLoadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<TagLoadResponse>> {
    require(&a, ADMIN, "load tags")?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the TagPack is larger than the server's body limit",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
        }
    })?;
    let yaml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            ["application/yaml", "application/x-yaml", "text/yaml"].contains(&m.as_str())
        });
    if !yaml {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be a TagPack with Content-Type: application/yaml",
        ));
    }
    let name = pack_name(&q.name)?;
    if std::str::from_utf8(&body).is_err() {
        return Err(ApiError::invalid("body", "the TagPack is not UTF-8 text"));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("body", "the TagPack is empty"));
    }
    let data_dir = st.0.cfg.data_dir.clone();
    let n2 = name.clone();
    let r = tokio::task::spawn_blocking(move || store_pack(&data_dir, &n2, &body))
        .await
        .map_err(|e| ApiError::internal("tag load task", e))??;
    st.reset_tracer();
    tracing::info!(target: "floodgate::api", user = %a.user, tenant = %a.tenant, pack = %name, tags = r.tags, "tag pack loaded");
    Ok(Json(r))
}

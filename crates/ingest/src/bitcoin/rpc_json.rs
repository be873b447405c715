//! Bitcoin Core `getblock <hash> 2` (and 3) JSON: a bare result object, a JSON-RPC envelope
//! `{"result": …, "error": …, "id": …}`, an array of either (a batch), or several of them as
//! JSON lines. A string result is taken as `getblock <hash> 0` hex.

use std::io::Read;
use std::path::Path;

use floodgate_types::{
    BlockHeader, BtcAddress, Chain, ChainBlock, Hash32, OutPoint, Timestamp, TxInput, UtxoTx,
};
use serde_json::{Map, Value};

use super::normalize::Normalizer;
use crate::{BlockSink, FileSummary, IngestError, Location};

/// Reads every block in a JSON stream.
pub(crate) fn read_json<R: Read>(
    path: &Path,
    r: R,
    norm: &mut Normalizer<'_>,
    sink: &mut dyn BlockSink,
    summary: &mut FileSummary,
) -> Result<(), IngestError> {
    super::blkfile::announce(path, norm.params(), 0, sink)?;
    let mut stream = serde_json::Deserializer::from_reader(r).into_iter::<Value>();
    let mut index = 0usize;
    let mut multi = false;
    loop {
        let value = match stream.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(json_error(path, &e)),
        };
        let done = stream.byte_offset() as u64;
        let mut blocks = Vec::new();
        collect(path, value, String::new(), &mut blocks)?;
        multi |= index > 0 || blocks.len() > 1;
        for (field, block) in blocks {
            let prefix = if multi || index > 0 { field } else { String::new() };
            let normalized = match block {
                Value::String(hex) => from_hex(path, &prefix, &hex, norm)?,
                Value::Object(obj) => from_object(path, &prefix, &obj, norm)?,
                _ => unreachable!("collect keeps only strings and objects"),
            };
            summary.blocks += 1;
            summary.transactions += normalized.utxo_txs.len() as u64;
            summary.bytes = done;
            sink.block(normalized, done).map_err(|source| IngestError::Sink {
                path: path.to_owned(),
                at: Location::Field(if prefix.is_empty() { "block".into() } else { prefix }),
                source,
            })?;
            index += 1;
        }
    }
    Ok(())
}

fn json_error(path: &Path, e: &serde_json::Error) -> IngestError {
    IngestError::invalid(
        path,
        Location::Line(e.line() as u64),
        format!("malformed json at column {}: {e}", e.column()),
    )
}

/// Unwraps envelopes and batches into block values (objects, or hex strings), each with the
/// JSON path it came from.
fn collect(
    path: &Path,
    value: Value,
    at: String,
    out: &mut Vec<(String, Value)>,
) -> Result<(), IngestError> {
    match value {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                collect(path, item, format!("{at}[{i}]"), out)?;
            }
            Ok(())
        }
        Value::Object(mut obj) if obj.contains_key("result") || obj.contains_key("error") => {
            if let Some(err) = obj.get("error").filter(|e| !e.is_null()) {
                return Err(IngestError::invalid(
                    path,
                    Location::Field(join(&at, "error")),
                    format!("the node returned an error: {err}"),
                ));
            }
            match obj.remove("result") {
                Some(Value::Null) | None => Err(IngestError::invalid(
                    path,
                    Location::Field(join(&at, "result")),
                    "the json-rpc result is null",
                )),
                Some(result) => collect(path, result, join(&at, "result"), out),
            }
        }
        v @ (Value::Object(_) | Value::String(_)) => {
            out.push((at, v));
            Ok(())
        }
        other => Err(IngestError::invalid(
            path,
            Location::Field(if at.is_empty() { "(top level)".into() } else { at }),
            format!("expected a getblock result object, found {}", kind(&other)),
        )),
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A `getblock <hash> 0` result: the block as hex.
fn from_hex(
    path: &Path,
    at: &str,
    hex_text: &str,
    norm: &mut Normalizer<'_>,
) -> Result<ChainBlock, IngestError> {
    let field = || Location::Field(if at.is_empty() { "(top level)".into() } else { at.into() });
    let bytes = hex::decode(hex_text.trim())
        .map_err(|e| IngestError::invalid(path, field(), format!("block hex: {e}")))?;
    let mut layout = super::view::Layout::default();
    let block = layout.view(&bytes).map_err(|f| {
        IngestError::invalid(
            path,
            field(),
            format!("at byte {} of the block: {}", f.offset, f.reason),
        )
    })?;
    super::verify::verify_block(&block, norm.params())
        .map_err(|reason| IngestError::invalid(path, field(), reason))?;
    norm.block(&block, None).map_err(|reason| IngestError::invalid(path, field(), reason))
}

/// Typed access to fields, with errors that carry the JSON path.
struct Fields<'a> {
    path: &'a Path,
    at: String,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(path: &'a Path, at: String, obj: &'a Map<String, Value>) -> Self {
        Fields { path, at, obj }
    }

    fn err(&self, field: &str, reason: impl Into<String>) -> IngestError {
        IngestError::invalid(self.path, Location::Field(join(&self.at, field)), reason)
    }

    fn opt(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn req(&self, field: &str) -> Result<&'a Value, IngestError> {
        self.opt(field).ok_or_else(|| self.err(field, "missing"))
    }

    fn str(&self, field: &str) -> Result<&'a str, IngestError> {
        self.req(field)?.as_str().ok_or_else(|| {
            self.err(field, format!("expected a string, found {}", kind(&self.obj[field])))
        })
    }

    fn hash(&self, field: &str) -> Result<Hash32, IngestError> {
        Hash32::from_hex(self.str(field)?).map_err(|e| self.err(field, e.to_string()))
    }

    fn opt_u64(&self, field: &str) -> Result<Option<u64>, IngestError> {
        self.opt(field)
            .map(|v| {
                v.as_u64().ok_or_else(|| {
                    self.err(field, format!("expected an unsigned integer, found {v}"))
                })
            })
            .transpose()
    }

    fn u32(&self, field: &str) -> Result<u32, IngestError> {
        let v = self.req(field)?;
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.err(field, format!("expected an integer 0..2^32, found {v}")))
    }

    fn hex(&self, field: &str) -> Result<Vec<u8>, IngestError> {
        hex::decode(self.str(field)?).map_err(|e| self.err(field, format!("not hex: {e}")))
    }

    fn array(&self, field: &str) -> Result<&'a Vec<Value>, IngestError> {
        let v = self.req(field)?;
        v.as_array().ok_or_else(|| self.err(field, format!("expected an array, found {}", kind(v))))
    }

    fn object(&self, field: &str, v: &'a Value) -> Result<Fields<'a>, IngestError> {
        let obj = v
            .as_object()
            .ok_or_else(|| self.err(field, format!("expected an object, found {}", kind(v))))?;
        Ok(Fields::new(self.path, join(&self.at, field), obj))
    }

    /// A BTC amount as Core prints it (a JSON number with up to 8 decimals), in satoshis.
    fn sats(&self, field: &str) -> Result<u64, IngestError> {
        let v = self.req(field)?;
        let text = match v {
            Value::Number(n) => n.to_string(),
            other => {
                return Err(self.err(field, format!("expected a BTC amount, found {}", kind(other))))
            }
        };
        btc_to_sats(&text).ok_or_else(|| {
            self.err(field, format!("'{text}' is not a BTC amount with at most 8 decimals"))
        })
    }
}

/// Converts a decimal BTC amount (`50.0`, `0.0001`, `1e-8`) to satoshis exactly, with integer
/// arithmetic on the digits rather than floating point.
pub(crate) fn btc_to_sats(text: &str) -> Option<u64> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits × 10^(exp − frac.len()); satoshis = value × 10^8.
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let mut sats: u128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let scale = exp.checked_add(8)?.checked_sub(i32::try_from(frac.len()).ok()?)?;
    if scale >= 0 {
        for _ in 0..scale {
            sats = sats.checked_mul(10)?;
        }
    } else {
        for _ in 0..scale.unsigned_abs() {
            if sats % 10 != 0 {
                return None; // finer than a satoshi
            }
            sats /= 10;
        }
    }
    u64::try_from(sats).ok()
}

/// A `getblock <hash> 2` (or 3) result object.
fn from_object(
    path: &Path,
    at: &str,
    obj: &Map<String, Value>,
    norm: &mut Normalizer<'_>,
) -> Result<ChainBlock, IngestError> {
    let f = Fields::new(path, at.to_owned(), obj);
    let hash = f.hash("hash")?;
    let parent = f.opt("previousblockhash").map(|_| f.hash("previousblockhash")).transpose()?;
    let stated = f.opt_u64("height")?;
    let time = f.opt_u64("time")?.map(|t| Timestamp(i64::try_from(t).unwrap_or(i64::MAX)));
    let height = norm.height(hash, parent, stated, || None).map_err(|r| f.err("height", r))?;
    let txs = f.array("tx")?;
    let mut utxo_txs = Vec::with_capacity(txs.len());
    for (position, tx) in txs.iter().enumerate() {
        let tx_field = format!("tx[{position}]");
        if tx.is_string() {
            return Err(f.err(
                &tx_field,
                "this is getblock verbosity 1 (txids only); fetch blocks with verbosity 2",
            ));
        }
        let t = f.object(&tx_field, tx)?;
        let txid = t.hash("txid")?;
        let vin = t.array("vin")?;
        let mut inputs = Vec::with_capacity(vin.len());
        for (i, input) in vin.iter().enumerate() {
            let inp = t.object(&format!("vin[{i}]"), input)?;
            if inp.opt("coinbase").is_some() {
                inputs.push(TxInput { prevout: None, address: None, value: None });
                continue;
            }
            let prevout = OutPoint { txid: inp.hash("txid")?, vout: inp.u32("vout")? };
            // Verbosity 3 carries the spent output itself; otherwise resolve it in-file.
            let (address, value) = match inp.opt("prevout") {
                Some(p) => {
                    let p = inp.object("prevout", p)?;
                    let spk = p.object("scriptPubKey", p.req("scriptPubKey")?)?;
                    let script = spk.hex("hex")?;
                    let sa = BtcAddress::from_script(&script, norm.network());
                    let _ = norm.resolve(&prevout); // spent: forget it in-file either way
                    (
                        Some(floodgate_types::Address::Bitcoin(sa.address)),
                        Some(floodgate_types::Amount::from(p.sats("value")?)),
                    )
                }
                None => norm.resolve(&prevout),
            };
            inputs.push(TxInput { prevout: Some(prevout), address, value });
        }
        let vout = t.array("vout")?;
        norm.start_outputs(txid);
        let mut outputs = Vec::with_capacity(vout.len());
        for (j, output) in vout.iter().enumerate() {
            let o = t.object(&format!("vout[{j}]"), output)?;
            let n = o.u32("n")?;
            let sats = o.sats("value")?;
            let spk = o.object("scriptPubKey", o.req("scriptPubKey")?)?;
            let script = spk.hex("hex")?;
            outputs.push(norm.output(n, &script, sats));
        }
        let position = u32::try_from(position).map_err(|_| f.err("tx", "too many transactions"))?;
        utxo_txs.push(UtxoTx { txid, position, inputs, outputs });
    }
    Ok(ChainBlock {
        header: Some(BlockHeader { chain: Chain::Bitcoin, height, hash, parent, time }),
        utxo_txs,
        transfers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::btc_to_sats;

    #[test]
    fn btc_amounts_convert_exactly() {
        assert_eq!(btc_to_sats("50.0"), Some(5_000_000_000));
        assert_eq!(btc_to_sats("50"), Some(5_000_000_000));
        assert_eq!(btc_to_sats("0.00000001"), Some(1));
        assert_eq!(btc_to_sats("1e-8"), Some(1));
        assert_eq!(btc_to_sats("1.5e-7"), Some(15));
        assert_eq!(btc_to_sats("20999999.9769"), Some(2_099_999_997_690_000));
        assert_eq!(btc_to_sats("0.000000001"), None);
        assert_eq!(btc_to_sats("-1"), None);
        assert_eq!(btc_to_sats("."), None);
    }
}

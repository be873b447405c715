//! Token transfer *calls* found in transaction calldata: `transfer(address,uint256)`
//! (selector `a9059cbb`) and `transferFrom(address,address,uint256)` (selector `23b872dd`)
//! sent directly to a token contract, decoded per the
//! [Solidity ABI](https://docs.soliditylang.org/en/latest/abi-spec.html).
//!
//! These are screening *evidence*, not transfers. A call is an intent: it may revert, the
//! token may charge a fee or refuse the recipient, and calls made by contracts (routers,
//! multisigs) do not appear in the calldata of the outer transaction at all. The authoritative
//! record of a token movement is the `Transfer` log, which is what [`super::read_path`] turns
//! into transfers. Calls are still useful when only blocks are at hand: they show who asked
//! to pay whom before receipts are fetched.

use std::path::Path;

use floodgate_types::{Address, Amount, Chain, Hash32};
use serde::Deserialize;

use super::fields::{Fields, Quantity};
use super::log::word_address;
use crate::IngestError;

/// Which token method a call invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMethod {
    /// `transfer(address to, uint256 value)`: the caller pays.
    Transfer,
    /// `transferFrom(address from, address to, uint256 value)`: the caller spends an allowance.
    TransferFrom,
}

/// A direct call to a token's transfer method, decoded from calldata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCall {
    /// Block number.
    pub height: u64,
    /// Transaction hash.
    pub txid: Hash32,
    /// Position of the transaction in the block.
    pub tx_position: u32,
    /// The token contract called (`to` of the transaction).
    pub contract: Address,
    /// The method.
    pub method: TokenMethod,
    /// Whose tokens would move: the sender for `transfer`, the first argument for `transferFrom`.
    pub from: Address,
    /// The recipient argument.
    pub to: Address,
    /// The value argument, in the token's base units.
    pub amount: Amount,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallBlock {
    number: Option<Quantity>,
    #[serde(default)]
    transactions: Vec<CallTx>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallTx {
    hash: Option<String>,
    from: Option<String>,
    to: Option<String>,
    input: Option<String>,
}

const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
const TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];

/// Decodes the token transfer calls of an `eth_getBlockByNumber(n, true)` file (bare result
/// or JSON-RPC envelope). Calldata too short for its method's arguments is skipped (USDT
/// itself rejects such short-address payloads).
///
/// # Errors
/// [`IngestError`] naming the file and field when the file is not a block with full
/// transactions, or a hash, address or calldata is malformed.
pub fn token_transfer_calls(path: &Path) -> Result<Vec<TokenCall>, IngestError> {
    let bytes = crate::read_file(path)?;
    let doc = super::parse_document(path, &bytes)?;
    let prefix = super::result_prefix(&doc);
    let f = Fields::in_document(path, Chain::Ethereum, prefix.to_owned());
    let block: CallBlock = super::typed(&f, super::unwrap_envelope(&doc))?;
    let height = f.u64("number", f.need("number", &block.number)?)?;
    let mut out = Vec::new();
    for (i, tx) in block.transactions.iter().enumerate() {
        let field = |n: &str| format!("transactions[{i}].{n}");
        let (Some(to), Some(input)) = (&tx.to, &tx.input) else { continue };
        let data = f.hex_bytes(&field("input"), input)?;
        let method = match data.get(..4) {
            Some(s) if s == TRANSFER => TokenMethod::Transfer,
            Some(s) if s == TRANSFER_FROM => TokenMethod::TransferFrom,
            _ => continue,
        };
        let words: Vec<[u8; 32]> = data[4..]
            .chunks_exact(32)
            .map(|c| <[u8; 32]>::try_from(c).expect("chunks_exact yields 32-byte chunks"))
            .collect();
        let contract = f.address(&field("to"), to)?;
        let sender = f.address(&field("from"), f.need(&field("from"), &tx.from)?)?;
        let (from, to, amount) = match (method, words.as_slice()) {
            (TokenMethod::Transfer, [to, value, ..]) => {
                (sender, word_address(Chain::Ethereum, to), Amount::from_be_bytes(*value))
            }
            (TokenMethod::TransferFrom, [from, to, value, ..]) => (
                word_address(Chain::Ethereum, from),
                word_address(Chain::Ethereum, to),
                Amount::from_be_bytes(*value),
            ),
            _ => continue,
        };
        out.push(TokenCall {
            height,
            txid: f.hash(&field("hash"), f.need(&field("hash"), &tx.hash)?)?,
            tx_position: u32::try_from(i)
                .map_err(|_| f.err("transactions", "too many transactions"))?,
            contract,
            method,
            from,
            to,
            amount,
        });
    }
    Ok(out)
}

//! ERC-20 / TRC-20 `Transfer(address indexed from, address indexed to, uint256 value)` events.
//!
//! The event is recognised by its first topic, keccak-256 of the signature
//! ([EIP-20](https://eips.ethereum.org/EIPS/eip-20)), with exactly three topics and a 32-byte
//! data word. ERC-721 uses the same signature with the token id as a *fourth*, indexed topic and
//! no data: such logs move an NFT, not an amount, and are skipped (ethereum-etl's
//! `token_transfers` keeps them, with the token id in `value`). Tron's TRC-20 logs are EVM logs
//! with the same layout.

use floodgate_types::address::{EthAddress, TronAddress};
use floodgate_types::{Address, Amount, AssetRegistry, Chain, Hash32, TransferIndex, TransferKind};

use super::assembly::Move;
use super::fields::Fields;
use crate::IngestError;

/// Topic 0 of `Transfer(address,address,uint256)`: keccak-256 of the signature.
pub const TRANSFER_TOPIC: &str =
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// The raw parts of one log, as every format spells them.
pub(crate) struct RawLog<'a> {
    pub(crate) address: Option<&'a str>,
    pub(crate) topics: &'a [String],
    pub(crate) data: Option<&'a str>,
    pub(crate) txid: Hash32,
    pub(crate) tx_position: Option<u32>,
    pub(crate) log_index: u32,
}

/// The address in the low 20 bytes of an ABI word (the high 12 bytes are ignored, as
/// ethereum-etl does).
pub(crate) fn word_address(chain: Chain, word: &[u8; 32]) -> Address {
    match chain {
        Chain::Tron => {
            let mut b = [0u8; 20];
            b.copy_from_slice(&word[12..]);
            Address::Tron(TronAddress(b))
        }
        _ => Address::Ethereum(EthAddress::from_word(word)),
    }
}

fn word(f: &Fields<'_>, field: &str, s: &str) -> Result<[u8; 32], IngestError> {
    let bytes = f.hex_bytes(field, s)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| f.err(field, format!("expected a 32-byte word, found {} bytes", bytes.len())))
}

/// The token transfer a log records, if it is an ERC-20/TRC-20 `Transfer`.
///
/// # Errors
/// When a `Transfer` log has a malformed contract address, topic or data.
pub(crate) fn transfer_move(
    f: &Fields<'_>,
    assets: &AssetRegistry,
    log: &RawLog<'_>,
) -> Result<Option<Move>, IngestError> {
    let Some(topic0) = log.topics.first() else { return Ok(None) };
    if !topic0.trim().eq_ignore_ascii_case(TRANSFER_TOPIC) || log.topics.len() != 3 {
        return Ok(None);
    }
    let data = f.hex_bytes("data", log.data.unwrap_or("0x"))?;
    let Ok(value) = <[u8; 32]>::try_from(data.as_slice()) else {
        tracing::debug!(target: "floodgate::ingest::eth", txid = %log.txid, log_index = log.log_index, "Transfer log without a 32-byte value: skipped");
        return Ok(None);
    };
    let contract = f.address("address", f.need("address", &log.address)?)?;
    let from = word_address(f.chain, &word(f, "topics[1]", &log.topics[1])?);
    let to = word_address(f.chain, &word(f, "topics[2]", &log.topics[2])?);
    Ok(Some(Move {
        txid: Some(log.txid),
        tx_position: log.tx_position,
        index: TransferIndex::Log(log.log_index),
        kind: TransferKind::Token,
        from,
        to: Some(to),
        asset: assets.token_id(&contract),
        amount: Amount::from_be_bytes(value),
        origin: (f.path.to_owned(), f.at("topics")),
    }))
}

//! Normalized records: what ingestion produces and the transfer store keeps.
//!
//! UTXO chains keep whole transactions with inputs and outputs ([`UtxoTx`]), because tracing
//! needs to know which inputs funded which outputs. Account chains yield one [`Transfer`] per
//! movement of value: the transaction's own value, each token `Transfer` log, and each
//! internal call that moved the native coin. Exchange ledgers yield [`LedgerEntry`] records.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::amount::Amount;
use crate::asset::{AssetId, Rail};
use crate::chain::Chain;
use crate::hash::Hash32;
use crate::time::Timestamp;

/// Where a block sits in its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The chain.
    pub chain: Chain,
    /// Height (block number).
    pub height: u64,
    /// Block hash, display order.
    pub hash: Hash32,
    /// Parent block hash; `None` when the source does not say (a log export, say).
    pub parent: Option<Hash32>,
    /// Block time, when the source gives it.
    pub time: Option<Timestamp>,
}

/// A reference to a transaction output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutPoint {
    /// Funding transaction.
    pub txid: Hash32,
    /// Output index in it.
    pub vout: u32,
}

/// One input of a UTXO transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxInput {
    /// The output spent; `None` for a coinbase input.
    pub prevout: Option<OutPoint>,
    /// The spent output's address, once resolved.
    pub address: Option<Address>,
    /// The spent output's value, once resolved.
    pub value: Option<Amount>,
}

/// One output of a UTXO transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutput {
    /// Output index.
    pub vout: u32,
    /// The address paid (a `nonstandard:` id for scripts without an address form).
    pub address: Address,
    /// Value in base units.
    pub value: Amount,
}

/// A UTXO transaction with its inputs and outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtxoTx {
    /// Transaction id, display order.
    pub txid: Hash32,
    /// Position in the block (0 is the coinbase).
    pub position: u32,
    /// Inputs in order.
    pub inputs: Vec<TxInput>,
    /// Outputs in order.
    pub outputs: Vec<TxOutput>,
}

impl UtxoTx {
    /// Whether this is a coinbase transaction.
    pub fn is_coinbase(&self) -> bool {
        self.inputs.len() == 1 && self.inputs[0].prevout.is_none()
    }

    /// Sum of the outputs, `None` on overflow.
    pub fn output_total(&self) -> Option<Amount> {
        self.outputs.iter().try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))
    }

    /// Sum of the inputs when every input is resolved.
    pub fn input_total(&self) -> Option<Amount> {
        self.inputs.iter().try_fold(Amount::ZERO, |acc, i| acc.checked_add(i.value?))
    }

    /// Fee (inputs minus outputs) when every input is resolved; `None` for a coinbase.
    pub fn fee(&self) -> Option<Amount> {
        if self.is_coinbase() {
            return None;
        }
        self.input_total()?.checked_sub(self.output_total()?)
    }
}

/// What moved value in an account-chain transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferKind {
    /// The transaction's own native-coin value.
    Native,
    /// A token `Transfer` event (ERC-20 / TRC-20).
    Token,
    /// A native-coin transfer made by an internal call (a contract paying out).
    Internal,
}

impl TransferKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Native => "native",
            TransferKind::Token => "token",
            TransferKind::Internal => "internal",
        }
    }
}

/// Which movement within a transaction a transfer is; with chain and txid, the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransferIndex {
    /// The transaction's own value: `tx`.
    Tx,
    /// The log at this block-level log index: `log:N`.
    Log(u32),
    /// The call at this trace address: `trace:0.1.2` (`trace:` for the root call).
    Trace(Vec<u32>),
}

impl fmt::Display for TransferIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferIndex::Tx => f.write_str("tx"),
            TransferIndex::Log(i) => write!(f, "log:{i}"),
            TransferIndex::Trace(path) => {
                f.write_str("trace:")?;
                for (i, p) in path.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

impl TransferIndex {
    /// Parses the form `Display` writes.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "tx" {
            return Some(TransferIndex::Tx);
        }
        if let Some(n) = s.strip_prefix("log:") {
            return n.parse().ok().map(TransferIndex::Log);
        }
        let path = s.strip_prefix("trace:")?;
        if path.is_empty() {
            return Some(TransferIndex::Trace(Vec::new()));
        }
        path.split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u32>>>()
            .map(TransferIndex::Trace)
    }
}

impl Serialize for TransferIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TransferIndex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TransferIndex::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("bad transfer index '{s}'")))
    }
}

/// A from → to movement of one asset on an account chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The chain.
    pub chain: Chain,
    /// Block height.
    pub height: u64,
    /// Block hash, when known.
    pub block_hash: Option<Hash32>,
    /// Block time, when known.
    pub time: Option<Timestamp>,
    /// Transaction hash.
    pub txid: Hash32,
    /// Position of the transaction in its block, when known.
    pub tx_position: Option<u32>,
    /// Which movement in the transaction.
    pub index: TransferIndex,
    /// Native, token or internal.
    pub kind: TransferKind,
    /// Sender.
    pub from: Address,
    /// Receiver.
    pub to: Address,
    /// The asset moved.
    pub asset: AssetId,
    /// Amount in the asset's base units.
    pub amount: Amount,
}

/// A block's normalized content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainBlock {
    /// The header; `None` only for inputs without block data (a bare log export).
    pub header: Option<BlockHeader>,
    /// UTXO transactions (Bitcoin).
    pub utxo_txs: Vec<UtxoTx>,
    /// Account-chain transfers (Ethereum, Tron).
    pub transfers: Vec<Transfer>,
}

/// Direction of an exchange ledger entry, from the exchange's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Value arriving into a customer account from outside.
    Deposit,
    /// Value leaving a customer account to outside.
    Withdrawal,
    /// A transfer between two customers of the same exchange.
    Internal,
}

impl Direction {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Deposit => "deposit",
            Direction::Withdrawal => "withdrawal",
            Direction::Internal => "internal",
        }
    }

    /// Parses `deposit`, `withdrawal` (or `withdraw`) and `internal` (or `transfer`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "deposit" | "in" => Some(Direction::Deposit),
            "withdrawal" | "withdraw" | "out" => Some(Direction::Withdrawal),
            "internal" | "transfer" => Some(Direction::Internal),
            _ => None,
        }
    }
}

/// One deposit, withdrawal or internal transfer in an exchange's ledger.
/// Columns and rules: `docs/formats/ledger.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The exchange's own id of the entry; with the ledger source, the idempotency key.
    pub id: String,
    /// When it happened.
    pub time: Timestamp,
    /// The customer whose account moved.
    pub customer_id: String,
    /// Deposit, withdrawal or internal.
    pub direction: Direction,
    /// The asset.
    pub asset: AssetId,
    /// Amount in base units.
    pub amount: Amount,
    /// Counterparty on-chain address (deposit source, withdrawal destination).
    pub counterparty_address: Option<Address>,
    /// Counterparty customer id, for internal transfers.
    pub counterparty_customer: Option<String>,
    /// Counterparty VASP, when known (travel rule).
    pub counterparty_vasp: Option<String>,
    /// On-chain transaction hash, when the entry settled on chain.
    pub txid: Option<String>,
    /// Customer IP address at the time.
    pub ip: Option<String>,
    /// Customer device id at the time.
    pub device: Option<String>,
    /// Counterparty's country (ISO 3166-1 alpha-2), when known (from the counterparty VASP
    /// or travel-rule data): decides domestic against international reporting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_country: Option<String>,
    /// Travel-rule data that came with the transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_rule: Option<TravelRule>,
    /// How a fiat deposit or withdrawal moved (bank or cash); `None` for on-chain assets and
    /// for internal transfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rail: Option<Rail>,
    /// The counterparty's bank on the bank rail: its name or SWIFT BIC (`BFTVVNVX`), whose
    /// letters 5–6 are the bank's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_bank: Option<String>,
    /// The counterparty's bank account number on the bank rail (the source of a deposit, the
    /// destination of a withdrawal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_account: Option<String>,
}

impl LedgerEntry {
    /// The counterparty bank account as one value, `BANK ACCOUNT` (bank upper-cased, spaces
    /// and dashes dropped from the account number), when both are given: the linking
    /// attribute of the shared-bank-account typology and the counterparty of a bank transfer.
    pub fn bank_account(&self) -> Option<String> {
        let bank = self.counterparty_bank.as_deref()?.trim().to_ascii_uppercase();
        let acct: String = self
            .counterparty_account
            .as_deref()?
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        (!bank.is_empty() && !acct.is_empty()).then(|| format!("{bank} {acct}"))
    }

    /// The country of the counterparty's bank when `counterparty_bank` is a SWIFT BIC (ISO
    /// 9362: 4 letters bank code, 2 letters ISO 3166 country, 2 letters or digits location,
    /// optionally 3 more for the branch).
    pub fn counterparty_bank_country(&self) -> Option<&str> {
        let b = self.counterparty_bank.as_deref()?.trim();
        let bytes = b.as_bytes();
        let bic = (bytes.len() == 8 || bytes.len() == 11)
            && bytes[..6].iter().all(u8::is_ascii_uppercase)
            && bytes[6..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        bic.then(|| &b[4..6])
    }
}

/// Travel-rule data (FATF Recommendation 16) that came with a transfer: the originator, the
/// beneficiary and their VASPs, as IVMS101 names them. Every field is optional here; which
/// ones a transfer must carry is the monitor's rule (`travel_rule_missing`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravelRule {
    /// Originator's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_name: Option<String>,
    /// Originator's account number or wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_account: Option<String>,
    /// Originator's VASP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_vasp: Option<String>,
    /// Beneficiary's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary_name: Option<String>,
    /// Beneficiary's account number or wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary_account: Option<String>,
    /// Beneficiary's VASP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary_vasp: Option<String>,
}

impl TravelRule {
    /// The field names, as ledger columns take them after `travel_rule.`.
    pub const FIELDS: [&'static str; 6] = [
        "originator_name",
        "originator_account",
        "originator_vasp",
        "beneficiary_name",
        "beneficiary_account",
        "beneficiary_vasp",
    ];

    /// Whether originator and beneficiary are both named (the minimum R.16 asks for).
    pub fn is_complete(&self) -> bool {
        let named = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        named(&self.originator_name) && named(&self.beneficiary_name)
    }

    /// The field called `name` (one of [`TravelRule::FIELDS`]).
    pub fn field_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "originator_name" => &mut self.originator_name,
            "originator_account" => &mut self.originator_account,
            "originator_vasp" => &mut self.originator_vasp,
            "beneficiary_name" => &mut self.beneficiary_name,
            "beneficiary_account" => &mut self.beneficiary_account,
            "beneficiary_vasp" => &mut self.beneficiary_vasp,
            _ => return None,
        })
    }
}

/// What one leg of a transaction is: the shape the graph is built from (the store's export
/// and the generator's legs both speak it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegKind {
    /// A Bitcoin input: `from` (the spent output's address) pays `amount` into the transaction.
    Input,
    /// A Bitcoin output: the transaction pays `amount` to `to`.
    Output,
    /// An account-chain transfer (native, token or internal) from `from` to `to`.
    Transfer,
}

//! goAML XML (the UNODC FIU reporting format) for suspicious-transaction reports.
//!
//! [`GoamlReport`] is the report in domain terms: the reporting VASP, the reason, and each
//! virtual-asset transfer with its two sides. [`render`] writes it as a goAML 5.0.1 `<report>`
//! and checks, while writing, every rule of the schema it touches: required elements, string
//! lengths, code lists, the date floor and decimal range. A report that would not validate is
//! refused with [`ReportError::InvalidField`] naming the element path
//! (`report/transaction[1]/t_to/to_account/account`), and nothing is returned. The tests
//! also validate the output with `xmllint --schema` against the schema itself.
//!
//! How a virtual-asset transfer maps onto goAML (which has no crypto amount field; its
//! currency codes are ISO 4217) is documented in `docs/reports.md`: the value goes to
//! `amount_local` in the local currency, the asset, amount, chain and transaction hash to the
//! description and `internal_ref_number`, the wallet address to the external side's
//! `account`, and the block number and customer IP to `transaction_additional_info`.

mod codes;

use std::net::IpAddr;

use chrono::NaiveDate;
use floodgate_types::{Amount, Timestamp};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::{Deserialize, Serialize};

use crate::calendar::vn_offset;
use crate::error::ReportError;

const FORMAT: &str = "goAML";

/// The goAML report codes this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum GoamlReportCode {
    /// Suspicious transaction report.
    Str,
    /// Suspicious activity report.
    Sar,
}

impl GoamlReportCode {
    fn code(self) -> &'static str {
        match self {
            GoamlReportCode::Str => "STR",
            GoamlReportCode::Sar => "SAR",
        }
    }
}

/// A postal address (`t_address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoamlAddress {
    /// `contact_type` code (`1`–`4`, `-`; FIU lookup).
    pub address_type: String,
    /// Street address, 1–100 characters.
    pub address: String,
    /// City, 1–255 characters.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
}

/// A phone number (`t_phone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoamlPhone {
    /// `contact_type` code.
    pub contact_type: String,
    /// `communication_type` code (`M` mobile, `L` landline … per FIU lookup).
    pub communication_type: String,
    /// Country calling code without `+`, 1–4 characters (`84`).
    pub country_prefix: String,
    /// Number, 1–50 characters.
    pub number: String,
}

/// The reporting VASP's own customer, as KYC holds them (`t_person_my_client`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPerson {
    /// `gender_type` code (`M`, `F`, `-`), if known.
    pub gender: Option<String>,
    /// Given name, 1–100 characters.
    pub first_name: String,
    /// Family name, 1–100 characters.
    pub last_name: String,
    /// Date of birth (not before 1753-01-01).
    pub birthdate: NaiveDate,
    /// National identity number (`ssn`, 1–25 characters; in Viet Nam the 12-digit CCCD).
    pub national_id: String,
    /// Nationality, ISO 3166-1 alpha-2.
    pub nationality: String,
    /// Country of residence, ISO 3166-1 alpha-2.
    pub residence: String,
    /// At least one phone.
    pub phones: Vec<GoamlPhone>,
    /// Addresses.
    pub addresses: Vec<GoamlAddress>,
    /// E-mail, up to 255 characters.
    pub email: Option<String>,
    /// Occupation, 1–255 characters.
    pub occupation: String,
}

/// An account of the reporting VASP's customer (`t_account_my_client`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccount {
    /// The VASP's name, 1–255 characters.
    pub institution_name: String,
    /// The VASP's code at the FIU, 1–50 characters.
    pub institution_code: String,
    /// Branch, 1–255 characters.
    pub branch: String,
    /// The customer's account id at the VASP, 1–255 characters.
    pub account: String,
    /// The account's currency (ISO 4217; a crypto account is kept in its local-currency value).
    pub currency_code: String,
    /// Account name, 1–255 characters.
    pub account_name: String,
    /// Customer number, 1–30 characters.
    pub client_number: String,
    /// `account_type` code (FIU lookup).
    pub account_type: String,
    /// When it was opened.
    pub opened: Timestamp,
    /// `account_status_type` code (FIU lookup).
    pub status_code: String,
    /// The account holder.
    pub holder: ClientPerson,
    /// `account_person_role_type` code of the holder (FIU lookup).
    pub holder_role: String,
}

/// A wallet or account outside the reporting VASP (`t_account`): another VASP's deposit
/// address, or an unhosted wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalAccount {
    /// The VASP holding it, or `Unhosted wallet`; 1–255 characters.
    pub institution_name: String,
    /// The institution's code, or the chain (`TRON`, `ETHEREUM`); 1–50 characters.
    pub institution_code: String,
    /// The blockchain address, 1–255 characters.
    pub account: String,
    /// Name on the account or attribution label, if known; up to 255 characters.
    pub account_name: Option<String>,
    /// What floodgate knows about it (tags, risk category, screening hits), up to 8,000 characters.
    pub comments: Option<String>,
}

/// Who is on one side of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum GoamlParty {
    /// The reporting VASP's customer (`t_from_my_client` / `t_to_my_client`).
    Client(Box<ClientAccount>),
    /// A wallet outside the VASP (`t_from` / `t_to`).
    External(ExternalAccount),
}

/// One side of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoamlSide {
    /// `funds_type` code (FIU lookup; `-` when the FIU has none for virtual assets).
    pub funds_code: String,
    /// Free text on the funds, up to 255 characters (`USDT on Tron`).
    pub funds_comment: Option<String>,
    /// Country, ISO 3166-1 alpha-2.
    pub country: String,
    /// Who.
    pub party: GoamlParty,
    /// IP address the customer acted from, if known (`transaction_additional_info`).
    pub ip_address: Option<IpAddr>,
}

/// The virtual asset moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualAssetTransfer {
    /// Asset id (`USDT-TRC20`, `BTC`).
    pub asset: String,
    /// Chain (`tron`, `bitcoin`).
    pub chain: String,
    /// Amount in base units.
    pub amount: Amount,
    /// The asset's decimals.
    pub decimals: u8,
    /// On-chain transaction hash, if on chain (up to 100 characters).
    pub tx_hash: Option<String>,
    /// Block height, if on chain.
    pub block_number: Option<u64>,
}

/// One transfer of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoamlTransaction {
    /// The VASP's transfer id (`transactionnumber`, 1–100 characters).
    pub number: String,
    /// Where it happened (`transaction_location`, up to 255 characters).
    pub location: String,
    /// What happened, up to 8,000 characters (the virtual-asset details are appended).
    pub description: String,
    /// When.
    pub time: Timestamp,
    /// `conduction_type` code (FIU lookup).
    pub transmode_code: String,
    /// The value in the report's local currency, in its smallest unit (whole đồng for VND).
    pub amount_local: Amount,
    /// The virtual asset moved.
    pub virtual_asset: Option<VirtualAssetTransfer>,
    /// The sending side.
    pub from: GoamlSide,
    /// The receiving side.
    pub to: GoamlSide,
    /// Comments (evidence, exposure), up to 8,000 characters.
    pub comments: Option<String>,
}

/// A goAML suspicious-transaction (or activity) report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoamlReport {
    /// The VASP's id at the FIU (`rentity_id`, ≥ 1).
    pub rentity_id: u32,
    /// The reporting branch, 1–255 characters.
    pub rentity_branch: String,
    /// STR or SAR.
    pub report_code: GoamlReportCode,
    /// The VASP's own reference for this report (floodgate's report id), up to 255 characters.
    pub entity_reference: Option<String>,
    /// When the report is made.
    pub report_date: Timestamp,
    /// Local currency (ISO 4217; `VND`).
    pub currency_code_local: String,
    /// Decimals of the local currency's smallest unit (0 for VND).
    pub currency_decimals: u8,
    /// The reporting officer's user code at the FIU, 4–50 characters.
    pub reporting_user_code: String,
    /// The VASP's address.
    pub location: GoamlAddress,
    /// Why the transactions are suspicious, up to 8,000 characters.
    pub reason: String,
    /// What the VASP did (held, froze, exited the relationship), up to 8,000 characters.
    pub action: String,
    /// The transfers, at least one.
    pub transactions: Vec<GoamlTransaction>,
    /// `report_indicator_type` codes, at least one (FIU lookup; the UNODC generic schema has
    /// only `-`).
    pub indicators: Vec<String>,
}

/// The instant in Viet Nam time as goAML writes dates (`2026-02-13T10:00:00`, no offset:
/// goAML dates are the FIU's local time).
fn sql_date(t: Timestamp) -> String {
    let utc = chrono::DateTime::from_timestamp(t.0, 0).unwrap_or_default();
    utc.with_timezone(&vn_offset()).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `sql_date`'s floor.
const SQL_DATE_MIN: &str = "1753-01-01T00:00:00";
/// `sql_decimal`'s bound (absolute value).
const SQL_DECIMAL_MAX: u64 = 7_900_000_000_000_000;

/// A writer that knows where it is, so every refusal names the element path.
struct X {
    w: Writer<Vec<u8>>,
    path: Vec<String>,
}

impl X {
    fn path_to(&self, name: &str) -> String {
        let mut p = self.path.join("/");
        if !name.is_empty() {
            p.push('/');
            p.push_str(name);
        }
        p
    }

    fn bad(&self, name: &str, message: String) -> ReportError {
        ReportError::InvalidField { format: FORMAT, field: self.path_to(name), message }
    }

    fn event(&mut self, e: Event<'_>) -> Result<(), ReportError> {
        self.w.write_event(e).map_err(|e| ReportError::Xml(e.to_string()))
    }

    fn open(&mut self, name: &str) -> Result<(), ReportError> {
        self.open_as(name, name.to_owned())
    }

    /// Opens `name`, shown in error paths as `label` (`transaction[2]`).
    fn open_as(&mut self, name: &str, label: String) -> Result<(), ReportError> {
        self.event(Event::Start(BytesStart::new(name)))?;
        self.path.push(label);
        Ok(())
    }

    fn close(&mut self, name: &str) -> Result<(), ReportError> {
        self.path.pop();
        self.event(Event::End(BytesEnd::new(name)))
    }

    fn text(&mut self, name: &str, value: &str) -> Result<(), ReportError> {
        self.event(Event::Start(BytesStart::new(name)))?;
        self.event(Event::Text(BytesText::new(value)))?;
        self.event(Event::End(BytesEnd::new(name)))
    }

    /// A string element with the schema's length bounds (characters, as XSD counts them).
    fn s(&mut self, name: &str, value: &str, min: usize, max: usize) -> Result<(), ReportError> {
        let n = value.chars().count();
        if n < min {
            return Err(self.bad(
                name,
                if value.is_empty() {
                    "is required and empty".into()
                } else {
                    format!("'{value}' is shorter than {min} characters")
                },
            ));
        }
        if n > max {
            let shown: String = value.chars().take(40).collect();
            return Err(
                self.bad(name, format!("'{shown}…' has {n} characters; at most {max} are allowed"))
            );
        }
        if let Some(c) = value.chars().find(|c| is_forbidden_xml_char(*c)) {
            return Err(self.bad(
                name,
                format!("contains U+{:04X}, which XML 1.0 cannot carry", u32::from(c)),
            ));
        }
        self.text(name, value)
    }

    fn opt_s(
        &mut self,
        name: &str,
        value: Option<&str>,
        min: usize,
        max: usize,
    ) -> Result<(), ReportError> {
        match value {
            Some(v) => self.s(name, v, min, max),
            None => Ok(()),
        }
    }

    /// A code from one of the schema's code lists.
    fn code(
        &mut self,
        name: &str,
        value: &str,
        list: &[&str],
        list_name: &str,
    ) -> Result<(), ReportError> {
        if !list.contains(&value) {
            let sample: Vec<&str> = list.iter().take(8).copied().collect();
            return Err(self.bad(
                name,
                format!(
                    "'{value}' is not a {list_name} code of the goAML 5.0.1 schema (e.g. {})",
                    sample.join(", ")
                ),
            ));
        }
        self.text(name, value)
    }

    fn date(&mut self, name: &str, t: Timestamp) -> Result<(), ReportError> {
        let v = sql_date(t);
        if v.as_str() < SQL_DATE_MIN || v.len() != SQL_DATE_MIN.len() {
            return Err(self.bad(
                name,
                format!("{v} is before {SQL_DATE_MIN}, the earliest date goAML accepts"),
            ));
        }
        self.text(name, &v)
    }

    fn naive_date(&mut self, name: &str, d: NaiveDate) -> Result<(), ReportError> {
        let v = format!("{}T00:00:00", d.format("%Y-%m-%d"));
        if v.as_str() < SQL_DATE_MIN || v.len() != SQL_DATE_MIN.len() {
            return Err(self.bad(
                name,
                format!("{v} is before {SQL_DATE_MIN}, the earliest date goAML accepts"),
            ));
        }
        self.text(name, &v)
    }

    /// An amount in smallest units written as a decimal within `sql_decimal`'s range.
    fn decimal(&mut self, name: &str, a: Amount, decimals: u8) -> Result<(), ReportError> {
        let whole = a.to_u128().map(|u| u / 10u128.pow(u32::from(decimals.min(38))));
        if decimals > 13 {
            return Err(
                self.bad(name, format!("{decimals} decimals; goAML amounts carry at most 13"))
            );
        }
        match whole {
            Some(w) if w <= u128::from(SQL_DECIMAL_MAX) => {
                let v = a.to_decimal_string(decimals);
                self.text(name, &v)
            }
            _ => Err(self.bad(
                name,
                format!(
                    "{} is above goAML's maximum of {SQL_DECIMAL_MAX}",
                    a.to_decimal_string(decimals)
                ),
            )),
        }
    }

    fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// XML 1.0 cannot carry most control characters, even escaped.
fn is_forbidden_xml_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

const COMMENTS_MAX: usize = 8000;

/// Renders a report as goAML 5.0.1 XML (UTF-8, with an XML declaration).
///
/// # Errors
/// [`ReportError::InvalidField`] naming the element path of the first value the schema would
/// reject; nothing is returned then.
pub fn render(report: &GoamlReport) -> Result<String, ReportError> {
    let mut x = X { w: Writer::new_with_indent(Vec::new(), b' ', 2), path: Vec::new() };
    x.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    x.open("report")?;
    if report.rentity_id == 0 {
        return Err(x.bad("rentity_id", "must be at least 1".into()));
    }
    x.text("rentity_id", &report.rentity_id.to_string())?;
    x.s("rentity_branch", &report.rentity_branch, 1, 255)?;
    x.text("submission_code", "E")?; // electronic
    x.text("report_code", report.report_code.code())?;
    x.opt_s("entity_reference", report.entity_reference.as_deref(), 0, 255)?;
    x.date("report_date", report.report_date)?;
    x.code(
        "currency_code_local",
        &report.currency_code_local,
        codes::CURRENCY_TYPE,
        "currency_type",
    )?;
    x.s("reporting_user_code", &report.reporting_user_code, 4, 50)?;
    address(&mut x, "location", &report.location)?;
    x.s("reason", &report.reason, 1, COMMENTS_MAX)?;
    x.s("action", &report.action, 1, COMMENTS_MAX)?;
    if report.transactions.is_empty() {
        return Err(x.bad(
            "transaction",
            "a suspicious-transaction report needs at least one transaction".into(),
        ));
    }
    for (i, t) in report.transactions.iter().enumerate() {
        transaction(&mut x, i + 1, t, report)?;
    }
    x.open("report_indicators")?;
    if report.indicators.is_empty() {
        return Err(x.bad("indicator", "at least one indicator is required".into()));
    }
    for ind in &report.indicators {
        x.code("indicator", ind, codes::REPORT_INDICATOR_TYPE, "report_indicator_type")?;
    }
    x.close("report_indicators")?;
    x.close("report")?;
    String::from_utf8(x.finish()).map_err(|e| ReportError::Xml(e.to_string()))
}

fn address(x: &mut X, name: &str, a: &GoamlAddress) -> Result<(), ReportError> {
    x.open(name)?;
    x.code("address_type", &a.address_type, codes::CONTACT_TYPE, "contact_type")?;
    x.s("address", &a.address, 1, 100)?;
    x.s("city", &a.city, 1, 255)?;
    x.code("country_code", &a.country_code, codes::COUNTRY_TYPE, "country_type")?;
    x.close(name)
}

fn transaction(
    x: &mut X,
    n: usize,
    t: &GoamlTransaction,
    r: &GoamlReport,
) -> Result<(), ReportError> {
    x.open_as("transaction", format!("transaction[{n}]"))?;
    x.s("transactionnumber", &t.number, 1, 100)?;
    if let Some(h) = t.virtual_asset.as_ref().and_then(|v| v.tx_hash.as_deref()) {
        x.s("internal_ref_number", h, 1, 100)?;
    }
    x.s("transaction_location", &t.location, 0, 255)?;
    let mut description = t.description.clone();
    if let Some(va) = &t.virtual_asset {
        description.push_str(&format!(
            " [virtual asset: {} {} on {}{}{}]",
            va.amount.to_decimal_string(va.decimals),
            va.asset,
            va.chain,
            va.tx_hash.as_deref().map(|h| format!(", tx {h}")).unwrap_or_default(),
            va.block_number.map(|b| format!(", block {b}")).unwrap_or_default(),
        ));
    }
    x.s("transaction_description", description.trim(), 1, COMMENTS_MAX)?;
    x.date("date_transaction", t.time)?;
    x.code("transmode_code", &t.transmode_code, codes::CONDUCTION_TYPE, "conduction_type")?;
    x.decimal("amount_local", t.amount_local, r.currency_decimals)?;
    let block = t.virtual_asset.as_ref().and_then(|v| v.block_number);
    side(x, "from", &t.from, block)?;
    side(x, "to", &t.to, block)?;
    x.opt_s("comments", t.comments.as_deref(), 0, COMMENTS_MAX)?;
    x.close("transaction")
}

fn side(x: &mut X, dir: &str, s: &GoamlSide, block: Option<u64>) -> Result<(), ReportError> {
    let elem = match &s.party {
        GoamlParty::Client(_) => format!("t_{dir}_my_client"),
        GoamlParty::External(_) => format!("t_{dir}"),
    };
    x.open(&elem)?;
    x.code(&format!("{dir}_funds_code"), &s.funds_code, codes::FUNDS_TYPE, "funds_type")?;
    x.opt_s(&format!("{dir}_funds_comment"), s.funds_comment.as_deref(), 0, 255)?;
    // goAML's transaction_additional_info requires a network device with an IP address: it is
    // written only when the IP is known, and then carries the block number too.
    if let Some(ip) = s.ip_address {
        let name = format!("{dir}_transaction_additional_info");
        x.open(&name)?;
        x.open("network_device")?;
        x.open("ip_address")?;
        match ip {
            IpAddr::V4(v4) => x.text("ipv4", &v4.to_string())?,
            IpAddr::V6(v6) => {
                let full: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                x.text("ipv6", &full.join(":"))?;
            }
        }
        x.close("ip_address")?;
        x.close("network_device")?;
        if let Some(b) = block {
            x.text("block_number", &b.to_string())?;
        }
        x.close(&name)?;
    }
    let acct = format!("{dir}_account");
    match &s.party {
        GoamlParty::Client(a) => client_account(x, &acct, a)?,
        GoamlParty::External(a) => external_account(x, &acct, a)?,
    }
    x.code(&format!("{dir}_country"), &s.country, codes::COUNTRY_TYPE, "country_type")?;
    x.close(&elem)
}

fn client_account(x: &mut X, name: &str, a: &ClientAccount) -> Result<(), ReportError> {
    x.open(name)?;
    x.s("institution_name", &a.institution_name, 1, 255)?;
    x.s("institution_code", &a.institution_code, 1, 50)?;
    x.text("non_bank_institution", "true")?;
    x.s("branch", &a.branch, 1, 255)?;
    x.s("account", &a.account, 1, 255)?;
    x.code("currency_code", &a.currency_code, codes::CURRENCY_TYPE, "currency_type")?;
    x.s("account_name", &a.account_name, 1, 255)?;
    x.s("client_number", &a.client_number, 1, 30)?;
    x.code("personal_account_type", &a.account_type, codes::ACCOUNT_TYPE, "account_type")?;
    x.open("signatory")?;
    x.text("is_primary", "1")?;
    client_person(x, "t_person", &a.holder)?;
    x.code("role", &a.holder_role, codes::ACCOUNT_PERSON_ROLE_TYPE, "account_person_role_type")?;
    x.close("signatory")?;
    x.date("opened", a.opened)?;
    x.code("status_code", &a.status_code, codes::ACCOUNT_STATUS_TYPE, "account_status_type")?;
    x.close(name)
}

fn client_person(x: &mut X, name: &str, p: &ClientPerson) -> Result<(), ReportError> {
    x.open(name)?;
    if let Some(g) = &p.gender {
        x.code("gender", g, codes::GENDER_TYPE, "gender_type")?;
    }
    x.s("first_name", &p.first_name, 1, 100)?;
    x.s("last_name", &p.last_name, 1, 100)?;
    x.naive_date("birthdate", p.birthdate)?;
    x.s("ssn", &p.national_id, 1, 25)?;
    x.code("nationality1", &p.nationality, codes::COUNTRY_TYPE, "country_type")?;
    x.code("residence", &p.residence, codes::COUNTRY_TYPE, "country_type")?;
    x.open("phones")?;
    if p.phones.is_empty() {
        return Err(x.bad(
            "phone",
            "at least one phone is required for the reporting entity's client".into(),
        ));
    }
    for ph in &p.phones {
        x.open("phone")?;
        x.code("tph_contact_type", &ph.contact_type, codes::CONTACT_TYPE, "contact_type")?;
        x.code(
            "tph_communication_type",
            &ph.communication_type,
            codes::COMMUNICATION_TYPE,
            "communication_type",
        )?;
        x.s("tph_country_prefix", &ph.country_prefix, 1, 4)?;
        x.s("tph_number", &ph.number, 1, 50)?;
        x.close("phone")?;
    }
    x.close("phones")?;
    if !p.addresses.is_empty() {
        x.open("addresses")?;
        for a in &p.addresses {
            address(x, "address", a)?;
        }
        x.close("addresses")?;
    }
    x.opt_s("email", p.email.as_deref(), 0, 255)?;
    x.s("occupation", &p.occupation, 1, 255)?;
    x.close(name)
}

fn external_account(x: &mut X, name: &str, a: &ExternalAccount) -> Result<(), ReportError> {
    x.open(name)?;
    x.s("institution_name", &a.institution_name, 1, 255)?;
    x.s("institution_code", &a.institution_code, 1, 50)?;
    x.text("non_bank_institution", "true")?;
    x.s("account", &a.account, 1, 255)?;
    x.opt_s("account_name", a.account_name.as_deref(), 1, 255)?;
    x.opt_s("comments", a.comments.as_deref(), 0, COMMENTS_MAX)?;
    x.close(name)
}

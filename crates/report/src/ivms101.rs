//! IVMS101 travel-rule payloads (FATF Recommendation 16): originator, beneficiary and both
//! VASPs, as serde structs in IVMS101's JSON names (`originatorPersons`, `nameIdentifier`, …).
//!
//! [`travel_rule_payload`] builds the payload a VASP sends with a transfer of USD/EUR 1,000 or
//! more and refuses one below the threshold ([`ReportError::BelowThreshold`]);
//! [`IdentityPayload::validate`] checks the constraints of the IVMS101 standard that a
//! receiving VASP checks (lengths, codes, a legal name, an address, ISO country codes, the
//! registration-authority and LEI forms, a date of birth in the past) and names the field at
//! fault. Reading accepts the key spellings of the published examples (`postcode`, the CODE
//! protocol's capitalised top-level keys, VASPs not nested under their role key); writing uses
//! the standard's.
//! Source: IVMS101.2023, interVASP data model standard.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::money::{Cents, Currency};

const FORMAT: &str = "IVMS101";

/// The travel-rule threshold: USD/EUR 1,000 (FATF R.16, INR.15 para. 7(b); the `vn` pack's
/// international-transfer threshold).
pub const TRAVEL_RULE_THRESHOLD: Cents = Cents(100_000);

/// The IVMS101 identity payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPayload {
    /// The originator.
    #[serde(alias = "Originator", skip_serializing_if = "Option::is_none")]
    pub originator: Option<Originator>,
    /// The beneficiary.
    #[serde(alias = "Beneficiary", skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<Beneficiary>,
    /// The originating VASP.
    #[serde(
        rename = "originatingVASP",
        alias = "OriginatingVASP",
        skip_serializing_if = "Option::is_none"
    )]
    pub originating_vasp: Option<OriginatingVasp>,
    /// The beneficiary VASP.
    #[serde(
        rename = "beneficiaryVASP",
        alias = "BeneficiaryVASP",
        skip_serializing_if = "Option::is_none"
    )]
    pub beneficiary_vasp: Option<BeneficiaryVasp>,
    /// Intermediary VASPs.
    #[serde(rename = "transferPath", skip_serializing_if = "Option::is_none")]
    pub transfer_path: Option<TransferPath>,
    /// Payload metadata (transliteration methods).
    #[serde(rename = "payloadMetadata", skip_serializing_if = "Option::is_none")]
    pub payload_metadata: Option<PayloadMetadata>,
}

/// The originator: persons and account numbers (wallet addresses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Originator {
    /// The originating persons.
    #[serde(default)]
    pub originator_persons: Vec<Person>,
    /// Account numbers or addresses.
    #[serde(default)]
    pub account_number: Vec<String>,
}

/// The beneficiary: persons and account numbers (wallet addresses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Beneficiary {
    /// The beneficiary persons.
    #[serde(default)]
    pub beneficiary_persons: Vec<Person>,
    /// Account numbers or addresses.
    #[serde(default)]
    pub account_number: Vec<String>,
}

/// The originating VASP. Written as the standard nests it (`{"originatingVASP": {"legalPerson":
/// …}}`); read also in the flat form of the Global Travel Rule examples
/// (`{"legalPerson": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "VaspRepr<OriginatingKey>")]
pub struct OriginatingVasp {
    /// The VASP as a person (a legal person).
    #[serde(rename = "originatingVASP")]
    pub originating_vasp: Person,
}

/// The beneficiary VASP; read and written as [`OriginatingVasp`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "VaspRepr<BeneficiaryKey>")]
pub struct BeneficiaryVasp {
    /// The VASP as a person (a legal person).
    #[serde(rename = "beneficiaryVASP")]
    pub beneficiary_vasp: Person,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginatingKey {
    #[serde(rename = "originatingVASP")]
    v: Person,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BeneficiaryKey {
    #[serde(rename = "beneficiaryVASP")]
    v: Person,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VaspRepr<K> {
    Nested(K),
    Flat(Box<Person>),
}

impl From<VaspRepr<OriginatingKey>> for OriginatingVasp {
    fn from(r: VaspRepr<OriginatingKey>) -> Self {
        OriginatingVasp {
            originating_vasp: match r {
                VaspRepr::Nested(k) => k.v,
                VaspRepr::Flat(p) => *p,
            },
        }
    }
}

impl From<VaspRepr<BeneficiaryKey>> for BeneficiaryVasp {
    fn from(r: VaspRepr<BeneficiaryKey>) -> Self {
        BeneficiaryVasp {
            beneficiary_vasp: match r {
                VaspRepr::Nested(k) => k.v,
                VaspRepr::Flat(p) => *p,
            },
        }
    }
}

/// Intermediary VASPs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransferPath {
    /// The intermediaries in order.
    #[serde(default)]
    pub transfer_path: Vec<IntermediaryVasp>,
}

/// One intermediary VASP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntermediaryVasp {
    /// The VASP.
    #[serde(rename = "intermediaryVASP")]
    pub intermediary_vasp: Person,
    /// Its position in the path.
    pub sequence: u64,
}

/// Payload metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayloadMetadata {
    /// Transliteration methods used (`HANI`, `OTHR`, …).
    #[serde(default)]
    pub transliteration_method: Vec<String>,
}

/// A natural or a legal person (exactly one of the two).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Person {
    /// A natural person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub natural_person: Option<NaturalPerson>,
    /// A legal person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_person: Option<LegalPerson>,
}

/// A natural person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NaturalPerson {
    /// Names.
    pub name: NaturalPersonName,
    /// Addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geographic_address: Vec<Address>,
    /// National identification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national_identification: Option<NationalIdentification>,
    /// The VASP's customer id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_identification: Option<String>,
    /// Date and place of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_and_place_of_birth: Option<DateAndPlaceOfBirth>,
    /// Country of residence (ISO 3166-1 alpha-2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_of_residence: Option<String>,
}

/// A natural person's names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NaturalPersonName {
    /// Names in Latin script.
    #[serde(default)]
    pub name_identifier: Vec<NaturalPersonNameId>,
    /// Names in local script (`Nguyễn Văn An`, `앨리스 스미스`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_name_identifier: Vec<NaturalPersonNameId>,
    /// Phonetic names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phonetic_name_identifier: Vec<NaturalPersonNameId>,
}

/// One name of a natural person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NaturalPersonNameId {
    /// Family name (or the whole name when it cannot be split).
    pub primary_identifier: String,
    /// Given names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_identifier: Option<String>,
    /// `LEGL`, `ALIA`, `BIRT`, `MAID`, `MISC`.
    pub name_identifier_type: String,
}

/// A legal person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalPerson {
    /// Names.
    pub name: LegalPersonName,
    /// Addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geographic_address: Vec<Address>,
    /// The VASP's customer number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<String>,
    /// National identification (LEI, registration number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national_identification: Option<NationalIdentification>,
    /// Country of registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_of_registration: Option<String>,
    /// Some examples also carry a customer identification on legal persons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_identification: Option<String>,
}

/// A legal person's names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalPersonName {
    /// Names in Latin script.
    #[serde(default)]
    pub name_identifier: Vec<LegalPersonNameId>,
    /// Names in local script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_name_identifier: Vec<LegalPersonNameId>,
    /// Phonetic names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phonetic_name_identifier: Vec<LegalPersonNameId>,
}

/// One name of a legal person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalPersonNameId {
    /// The name.
    pub legal_person_name: String,
    /// `LEGL`, `SHRT`, `TRAD`.
    pub legal_person_name_identifier_type: String,
}

/// A geographic address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    /// `HOME`, `BIZZ`, `GEOG`.
    pub address_type: String,
    /// Department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Sub-department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_department: Option<String>,
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_name: Option<String>,
    /// Building number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_number: Option<String>,
    /// Building name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_name: Option<String>,
    /// Floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
    /// Post box.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_box: Option<String>,
    /// Room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Post code (`postcode` in some published examples).
    #[serde(alias = "postcode", skip_serializing_if = "Option::is_none")]
    pub post_code: Option<String>,
    /// Town.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub town_name: Option<String>,
    /// Town location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub town_location_name: Option<String>,
    /// District.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district_name: Option<String>,
    /// Province, state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_sub_division: Option<String>,
    /// Unstructured lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_line: Vec<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// National identification.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NationalIdentification {
    /// The identifier.
    pub national_identifier: String,
    /// `ARNU`, `CCPT`, `RAID`, `DRLC`, `FIIN`, `TXID`, `SOCS`, `IDCD`, `LEIX`, `MISC`.
    pub national_identifier_type: String,
    /// Issuing country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_of_issue: Option<String>,
    /// GLEIF registration authority code (`RA000589`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_authority: Option<String>,
}

/// Date and place of birth.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DateAndPlaceOfBirth {
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Place of birth.
    pub place_of_birth: String,
}

const NATURAL_NAME_TYPES: [&str; 5] = ["ALIA", "BIRT", "MAID", "LEGL", "MISC"];
const LEGAL_NAME_TYPES: [&str; 3] = ["LEGL", "SHRT", "TRAD"];
const ADDRESS_TYPES: [&str; 3] = ["HOME", "BIZZ", "GEOG"];
const NATIONAL_ID_TYPES: [&str; 10] =
    ["ARNU", "CCPT", "RAID", "DRLC", "FIIN", "TXID", "SOCS", "IDCD", "LEIX", "MISC"];
/// IVMS101 constraint ValidNationalIdentifierLegalPerson: the identifier types a legal person may carry.
const LEGAL_NATIONAL_ID_TYPES: [&str; 4] = ["RAID", "MISC", "LEIX", "TXID"];

struct V {
    today: NaiveDate,
}

fn bad(field: &str, message: String) -> ReportError {
    ReportError::InvalidField { format: FORMAT, field: field.to_owned(), message }
}

fn len(field: &str, v: &str, max: usize) -> Result<(), ReportError> {
    let n = v.chars().count();
    if n == 0 {
        return Err(bad(field, "is empty".into()));
    }
    if n > max {
        return Err(bad(field, format!("'{v}' has {n} characters; IVMS101 allows {max}")));
    }
    Ok(())
}

fn code(field: &str, v: &str, allowed: &[&str]) -> Result<(), ReportError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(bad(field, format!("'{v}' is not one of {}", allowed.join(", "))))
    }
}

fn country(field: &str, v: &str) -> Result<(), ReportError> {
    if v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(bad(field, format!("'{v}' is not an ISO 3166-1 alpha-2 country code")))
    }
}

impl V {
    fn person(&self, at: &str, p: &Person, originator: bool) -> Result<(), ReportError> {
        match (&p.natural_person, &p.legal_person) {
            (Some(n), None) => self.natural(&format!("{at}.naturalPerson"), n, originator),
            (None, Some(l)) => self.legal(&format!("{at}.legalPerson"), l),
            (Some(_), Some(_)) => Err(bad(
                at,
                "has both a naturalPerson and a legalPerson; IVMS101 allows one".into(),
            )),
            (None, None) => Err(bad(at, "has neither a naturalPerson nor a legalPerson".into())),
        }
    }

    fn natural(&self, at: &str, n: &NaturalPerson, originator: bool) -> Result<(), ReportError> {
        let names = &n.name.name_identifier;
        // Constraint LegalNamePresent: a natural person has at least one legal name.
        if !names.iter().any(|x| x.name_identifier_type == "LEGL") {
            return Err(bad(
                &format!("{at}.name.nameIdentifier"),
                "needs a name of type LEGL (IVMS101 constraint LegalNamePresent)".into(),
            ));
        }
        for (i, x) in names
            .iter()
            .chain(&n.name.local_name_identifier)
            .chain(&n.name.phonetic_name_identifier)
            .enumerate()
        {
            let f = format!("{at}.name.nameIdentifier[{i}]");
            len(&format!("{f}.primaryIdentifier"), &x.primary_identifier, 100)?;
            if let Some(s) = x.secondary_identifier.as_deref().filter(|s| !s.is_empty()) {
                len(&format!("{f}.secondaryIdentifier"), s, 100)?;
            }
            code(&format!("{f}.nameIdentifierType"), &x.name_identifier_type, &NATURAL_NAME_TYPES)?;
        }
        for (i, a) in n.geographic_address.iter().enumerate() {
            address(&format!("{at}.geographicAddress[{i}]"), a)?;
        }
        if let Some(id) = &n.national_identification {
            national_id(&format!("{at}.nationalIdentification"), id, &NATIONAL_ID_TYPES)?;
        }
        if let Some(c) = &n.customer_identification {
            len(&format!("{at}.customerIdentification"), c, 50)?;
        }
        if let Some(c) = &n.country_of_residence {
            country(&format!("{at}.countryOfResidence"), c)?;
        }
        if let Some(b) = &n.date_and_place_of_birth {
            let f = format!("{at}.dateAndPlaceOfBirth.dateOfBirth");
            let d = NaiveDate::parse_from_str(&b.date_of_birth, "%Y-%m-%d")
                .map_err(|_| bad(&f, format!("'{}' is not a YYYY-MM-DD date", b.date_of_birth)))?;
            // Constraint DateInPast: a date of birth is in the past.
            if d >= self.today {
                return Err(bad(
                    &f,
                    format!("{d} is not in the past (IVMS101 constraint DateInPast)"),
                ));
            }
            len(&format!("{at}.dateAndPlaceOfBirth.placeOfBirth"), &b.place_of_birth, 70)?;
        }
        // Constraint OriginatorInformationNaturalPerson: an originator who is a natural person has an address, a customer id, a national
        // id, or a date and place of birth.
        if originator
            && n.geographic_address.is_empty()
            && n.customer_identification.is_none()
            && n.national_identification.is_none()
            && n.date_and_place_of_birth.is_none()
        {
            return Err(bad(
                at,
                "an originating natural person needs an address, customer identification, national identification or date and place of birth (IVMS101 constraint OriginatorInformationNaturalPerson)".into(),
            ));
        }
        Ok(())
    }

    fn legal(&self, at: &str, l: &LegalPerson) -> Result<(), ReportError> {
        if !l.name.name_identifier.iter().any(|x| x.legal_person_name_identifier_type == "LEGL") {
            return Err(bad(
                &format!("{at}.name.nameIdentifier"),
                "needs a name of type LEGL (IVMS101 constraint LegalNamePresentLegalPerson)".into(),
            ));
        }
        for (i, x) in l.name.name_identifier.iter().chain(&l.name.local_name_identifier).enumerate()
        {
            let f = format!("{at}.name.nameIdentifier[{i}]");
            len(&format!("{f}.legalPersonName"), &x.legal_person_name, 100)?;
            code(
                &format!("{f}.legalPersonNameIdentifierType"),
                &x.legal_person_name_identifier_type,
                &LEGAL_NAME_TYPES,
            )?;
        }
        for (i, a) in l.geographic_address.iter().enumerate() {
            address(&format!("{at}.geographicAddress[{i}]"), a)?;
        }
        if let Some(id) = &l.national_identification {
            national_id(&format!("{at}.nationalIdentification"), id, &LEGAL_NATIONAL_ID_TYPES)?;
        }
        if let Some(c) = &l.customer_number {
            len(&format!("{at}.customerNumber"), c, 50)?;
        }
        if let Some(c) = &l.country_of_registration {
            country(&format!("{at}.countryOfRegistration"), c)?;
        }
        Ok(())
    }
}

fn address(at: &str, a: &Address) -> Result<(), ReportError> {
    code(&format!("{at}.addressType"), &a.address_type, &ADDRESS_TYPES)?;
    country(&format!("{at}.country"), &a.country)?;
    for (name, v, max) in [
        ("streetName", &a.street_name, 70),
        ("buildingNumber", &a.building_number, 16),
        ("buildingName", &a.building_name, 35),
        ("postCode", &a.post_code, 16),
        ("townName", &a.town_name, 35),
        ("countrySubDivision", &a.country_sub_division, 35),
    ] {
        if let Some(v) = v {
            len(&format!("{at}.{name}"), v, max)?;
        }
    }
    for (i, l) in a.address_line.iter().enumerate() {
        len(&format!("{at}.addressLine[{i}]"), l, 70)?;
    }
    // Constraint ValidAddress: an address has address lines, or a street name with a building name or number.
    let structured =
        a.street_name.is_some() && (a.building_name.is_some() || a.building_number.is_some());
    if a.address_line.is_empty() && !structured {
        return Err(bad(at, "needs addressLine, or streetName with buildingName or buildingNumber (IVMS101 constraint ValidAddress)".into()));
    }
    Ok(())
}

fn national_id(at: &str, id: &NationalIdentification, types: &[&str]) -> Result<(), ReportError> {
    len(&format!("{at}.nationalIdentifier"), &id.national_identifier, 35)?;
    code(&format!("{at}.nationalIdentifierType"), &id.national_identifier_type, types)?;
    if let Some(c) = &id.country_of_issue {
        country(&format!("{at}.countryOfIssue"), c)?;
    }
    if let Some(ra) = &id.registration_authority {
        let ok =
            ra.len() == 8 && ra.starts_with("RA") && ra[2..].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(bad(
                &format!("{at}.registrationAuthority"),
                format!(
                    "'{ra}' is not a GLEIF registration authority code (RA followed by 6 digits)"
                ),
            ));
        }
    }
    // Constraint ValidLEI: an LEI is 20 characters, 18 alphanumerics and 2 check digits (ISO 17442).
    if id.national_identifier_type == "LEIX" {
        let lei = &id.national_identifier;
        let ok = lei.len() == 20
            && lei.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && lei_checksum_ok(lei);
        if !ok {
            return Err(bad(
                &format!("{at}.nationalIdentifier"),
                format!("'{lei}' is not a valid LEI (ISO 17442)"),
            ));
        }
    }
    Ok(())
}

/// ISO 17442 check digits: ISO 7064 MOD 97-10 over letters mapped to 10..35.
fn lei_checksum_ok(lei: &str) -> bool {
    let mut rem: u32 = 0;
    for c in lei.chars() {
        let Some(v) = c.to_digit(36) else { return false };
        for d in v.to_string().chars() {
            let Some(d) = d.to_digit(10) else { return false };
            rem = (rem * 10 + d) % 97;
        }
    }
    rem == 1
}

impl IdentityPayload {
    /// Checks the payload as a receiving VASP would for a transfer: originator, beneficiary
    /// and both VASPs present, each person valid. `today` is the date a date of birth must
    /// precede.
    ///
    /// # Errors
    /// [`ReportError::InvalidField`] naming the first field at fault
    /// (`originator.originatorPersons[0].naturalPerson.dateAndPlaceOfBirth.dateOfBirth`).
    pub fn validate(&self, today: NaiveDate) -> Result<(), ReportError> {
        let v = V { today };
        let o = self.originator.as_ref().ok_or_else(|| bad("originator", "is required".into()))?;
        let b =
            self.beneficiary.as_ref().ok_or_else(|| bad("beneficiary", "is required".into()))?;
        let ov = self
            .originating_vasp
            .as_ref()
            .ok_or_else(|| bad("originatingVASP", "is required".into()))?;
        let bv = self
            .beneficiary_vasp
            .as_ref()
            .ok_or_else(|| bad("beneficiaryVASP", "is required".into()))?;
        if o.originator_persons.is_empty() {
            return Err(bad("originator.originatorPersons", "needs at least one person".into()));
        }
        if b.beneficiary_persons.is_empty() {
            return Err(bad("beneficiary.beneficiaryPersons", "needs at least one person".into()));
        }
        for (i, p) in o.originator_persons.iter().enumerate() {
            v.person(&format!("originator.originatorPersons[{i}]"), p, true)?;
        }
        for (i, p) in b.beneficiary_persons.iter().enumerate() {
            v.person(&format!("beneficiary.beneficiaryPersons[{i}]"), p, false)?;
        }
        for (side, accts) in [("originator", &o.account_number), ("beneficiary", &b.account_number)]
        {
            if accts.is_empty() {
                return Err(bad(
                    &format!("{side}.accountNumber"),
                    "needs the account number or wallet address".into(),
                ));
            }
            for (i, a) in accts.iter().enumerate() {
                len(&format!("{side}.accountNumber[{i}]"), a, 100)?;
            }
        }
        v.vasp("originatingVASP.originatingVASP", &ov.originating_vasp)?;
        v.vasp("beneficiaryVASP.beneficiaryVASP", &bv.beneficiary_vasp)?;
        Ok(())
    }
}

impl V {
    fn vasp(&self, at: &str, p: &Person) -> Result<(), ReportError> {
        if p.legal_person.is_none() {
            return Err(bad(at, "a VASP is a legal person".into()));
        }
        self.person(at, p, false)
    }
}

/// The parties of a transfer that needs travel-rule data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravelRuleTransfer {
    /// The transfer's value in cents of `currency`.
    pub value: Cents,
    /// USD or EUR.
    pub currency: Currency,
    /// The originator.
    pub originator: Person,
    /// The originator's account or wallet address.
    pub originator_account: String,
    /// The beneficiary.
    pub beneficiary: Person,
    /// The beneficiary's account or wallet address.
    pub beneficiary_account: String,
    /// The originating VASP (a legal person).
    pub originating_vasp: Person,
    /// The beneficiary VASP (a legal person).
    pub beneficiary_vasp: Person,
}

/// Builds and validates the IVMS101 payload for a transfer at or above USD/EUR 1,000.
///
/// # Errors
/// [`ReportError::BelowThreshold`] under the threshold; [`ReportError::InvalidField`] as
/// [`IdentityPayload::validate`].
pub fn travel_rule_payload(
    t: &TravelRuleTransfer,
    today: NaiveDate,
) -> Result<IdentityPayload, ReportError> {
    if t.value < TRAVEL_RULE_THRESHOLD {
        return Err(ReportError::BelowThreshold {
            value: format!("{} {}", t.currency.code(), t.value.grouped()),
            threshold: format!("{} {}", t.currency.code(), TRAVEL_RULE_THRESHOLD.grouped()),
        });
    }
    let p = IdentityPayload {
        originator: Some(Originator {
            originator_persons: vec![t.originator.clone()],
            account_number: vec![t.originator_account.clone()],
        }),
        beneficiary: Some(Beneficiary {
            beneficiary_persons: vec![t.beneficiary.clone()],
            account_number: vec![t.beneficiary_account.clone()],
        }),
        originating_vasp: Some(OriginatingVasp { originating_vasp: t.originating_vasp.clone() }),
        beneficiary_vasp: Some(BeneficiaryVasp { beneficiary_vasp: t.beneficiary_vasp.clone() }),
        transfer_path: None,
        payload_metadata: None,
    };
    p.validate(today)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lei_check_digits() {
        // GLEIF's own LEI.
        assert!(lei_checksum_ok("506700GE1G29325QX363"));
        assert!(!lei_checksum_ok("506700GE1G29325QX364"));
    }
}

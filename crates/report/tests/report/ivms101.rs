//! IVMS101 payloads: every published example round-trips; what floodgate produces validates
//! against the Global Travel Rule IVMS101 JSON schema and the standard's constraints.

use std::path::Path;

use chrono::NaiveDate;
use floodgate_report::ivms101::{
    Address, DateAndPlaceOfBirth, LegalPerson, LegalPersonName, LegalPersonNameId,
    NationalIdentification, NaturalPerson, NaturalPersonName, NaturalPersonNameId, Person,
};
use floodgate_report::{
    travel_rule_payload, Cents, Currency, IdentityPayload, ReportError, TravelRuleTransfer,
};
use serde_json::Value;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 11).unwrap()
}

/// The example's JSON with the spellings this crate writes differently: the CODE protocol's
/// capitalised top-level keys, `postcode` (the standard says `postCode`), and a VASP not nested
/// under its role key (the Global Travel Rule examples).
fn normalized(v: &Value) -> Value {
    let mut v = normalized_keys(v);
    if let Value::Object(m) = &mut v {
        for key in ["originatingVASP", "beneficiaryVASP"] {
            if let Some(inner) = m.get_mut(key) {
                if inner.get(key).is_none() {
                    *inner = serde_json::json!({ key: inner.clone() });
                }
            }
        }
    }
    v
}

fn normalized_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let k = match k.as_str() {
                        "Originator" => "originator",
                        "Beneficiary" => "beneficiary",
                        "OriginatingVASP" => "originatingVASP",
                        "BeneficiaryVASP" => "beneficiaryVASP",
                        "postcode" => "postCode",
                        k => k,
                    };
                    (k.to_owned(), normalized_keys(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized_keys).collect()),
        v => v.clone(),
    }
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    let parsed: T =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(written, normalized(&original), "{} does not round-trip", path.display());
}

#[test]
fn every_published_example_round_trips() {
    let Some(dir) = floodgate_testdata::dir("reporting/ivms101") else { return };
    let mut n = 0;
    for sub in ["global-travel-rule/examples", "codevasp/examples"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            round_trip::<IdentityPayload>(&e.unwrap().path());
            n += 1;
        }
    }
    let trisa = dir.join("trisa/testdata");
    round_trip::<IdentityPayload>(&trisa.join("identity_payload.json"));
    round_trip::<Address>(&trisa.join("address.json"));
    round_trip::<NaturalPerson>(&trisa.join("natural_person.json"));
    round_trip::<LegalPerson>(&trisa.join("legal_person.json"));
    round_trip::<NationalIdentification>(&trisa.join("national_identification.json"));
    for p in ["person_natural_person.json", "person_legal_person.json", "person_both_persons.json"]
    {
        round_trip::<Person>(&trisa.join(p));
    }
    assert_eq!(n, 14);
    // TRISA's "alt" fixture uses non-IVMS101 keys (firstName, dob …): refused, naming one.
    let alt = std::fs::read_to_string(trisa.join("identity_payload_alt.json")).unwrap();
    let e = serde_json::from_str::<IdentityPayload>(&alt).unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
}

#[test]
fn the_deliberately_malformed_example_is_refused_naming_the_field() {
    let Some(f) = floodgate_testdata::file(
        "reporting/ivms101/global-travel-rule/examples/malformed-full-example.json",
    ) else {
        return;
    };
    let p: IdentityPayload = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
    let e = p.validate(today()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "IVMS101 report: field 'originator.originatorPersons[0].naturalPerson.nationalIdentification.registrationAuthority': 'TEST CODE' is not a GLEIF registration authority code (RA followed by 6 digits)"
    );
}

fn natural(primary: &str, secondary: &str) -> NaturalPersonName {
    NaturalPersonName {
        name_identifier: vec![NaturalPersonNameId {
            primary_identifier: primary.into(),
            secondary_identifier: Some(secondary.into()),
            name_identifier_type: "LEGL".into(),
        }],
        ..Default::default()
    }
}

fn vasp(name: &str, tax_id: &str, country: &str, street: &str, town: &str) -> Person {
    Person {
        legal_person: Some(LegalPerson {
            name: LegalPersonName {
                name_identifier: vec![LegalPersonNameId {
                    legal_person_name: name.into(),
                    legal_person_name_identifier_type: "LEGL".into(),
                }],
                ..Default::default()
            },
            geographic_address: vec![Address {
                address_type: "BIZZ".into(),
                street_name: Some(street.into()),
                building_number: Some("1".into()),
                town_name: Some(town.into()),
                country: country.into(),
                ..Default::default()
            }],
            national_identification: Some(NationalIdentification {
                national_identifier: tax_id.into(),
                national_identifier_type: "TXID".into(),
                country_of_issue: Some(country.into()),
                registration_authority: None,
            }),
            country_of_registration: Some(country.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Vietnamese customer withdrawing USDT to a customer of a Cambodian VASP.
fn transfer() -> TravelRuleTransfer {
    let mut name = natural("Nguyen", "Van An");
    name.local_name_identifier = vec![NaturalPersonNameId {
        primary_identifier: "Nguyễn".into(),
        secondary_identifier: Some("Văn An".into()),
        name_identifier_type: "LEGL".into(),
    }];
    TravelRuleTransfer {
        value: Cents(1_565_000), // USD 15,650.00
        currency: Currency::Usd,
        originator: Person {
            natural_person: Some(NaturalPerson {
                name,
                geographic_address: vec![Address {
                    address_type: "HOME".into(),
                    street_name: Some("Pho Hue".into()),
                    building_number: Some("12".into()),
                    town_name: Some("Ha Noi".into()),
                    country: "VN".into(),
                    ..Default::default()
                }],
                national_identification: Some(NationalIdentification {
                    national_identifier: "001068012345".into(),
                    national_identifier_type: "IDCD".into(),
                    country_of_issue: Some("VN".into()),
                    registration_authority: None,
                }),
                customer_identification: Some("C1001".into()),
                date_and_place_of_birth: Some(DateAndPlaceOfBirth {
                    date_of_birth: "1968-04-02".into(),
                    place_of_birth: "Nam Dinh".into(),
                }),
                country_of_residence: Some("VN".into()),
            }),
            legal_person: None,
        },
        originator_account: "TKgD8Qnx9Zw3DNvG6o83PkufnMbtEXis4T".into(),
        beneficiary: Person {
            natural_person: Some(NaturalPerson {
                name: natural("Sok", "Dara"),
                ..Default::default()
            }),
            legal_person: None,
        },
        beneficiary_account: "TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub".into(),
        originating_vasp: vasp(
            "Demo VASP Joint Stock Company",
            "0109999999",
            "VN",
            "Trang Tien",
            "Ha Noi",
        ),
        beneficiary_vasp: vasp(
            "Example Exchange Co Ltd",
            "K009999999",
            "KH",
            "Preah Norodom",
            "Phnom Penh",
        ),
    }
}

#[test]
fn a_produced_payload_validates_against_the_ivms101_json_schema() {
    let p = travel_rule_payload(&transfer(), today()).unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["originator"]["accountNumber"][0], "TKgD8Qnx9Zw3DNvG6o83PkufnMbtEXis4T");
    assert_eq!(
        json["originator"]["originatorPersons"][0]["naturalPerson"]["name"]["localNameIdentifier"]
            [0]["primaryIdentifier"],
        "Nguyễn"
    );
    assert_eq!(
        json["beneficiaryVASP"]["beneficiaryVASP"]["legalPerson"]["countryOfRegistration"],
        "KH"
    );
    let Some(schema) =
        floodgate_testdata::file("reporting/ivms101/global-travel-rule/json-schema.json")
    else {
        return;
    };
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&json).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is not a rubber stamp: the malformed example fails it.
    let bad: Value = serde_json::from_str(
        &std::fs::read_to_string(
            floodgate_testdata::file(
                "reporting/ivms101/global-travel-rule/examples/malformed-full-example.json",
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn the_travel_rule_threshold_and_field_errors() {
    let mut t = transfer();
    t.value = Cents(99_999);
    let e = travel_rule_payload(&t, today()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "transfer of USD 999.99 is below the travel-rule threshold of USD 1,000.00"
    );
    t.value = Cents(100_000);
    t.currency = Currency::Eur;
    assert!(travel_rule_payload(&t, today()).is_ok(), "EUR 1,000 exactly is in scope");

    let mut t = transfer();
    if let Some(n) = &mut t.originator.natural_person {
        n.date_and_place_of_birth.as_mut().unwrap().date_of_birth = "2026-03-01".into();
    }
    let e = travel_rule_payload(&t, today()).unwrap_err();
    assert!(
        matches!(&e, ReportError::InvalidField { field, .. }
        if field == "originator.originatorPersons[0].naturalPerson.dateAndPlaceOfBirth.dateOfBirth"),
        "{e}"
    );

    let mut t = transfer();
    t.beneficiary_vasp.legal_person.as_mut().unwrap().country_of_registration =
        Some("Cambodia".into());
    let e = travel_rule_payload(&t, today()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "IVMS101 report: field 'beneficiaryVASP.beneficiaryVASP.legalPerson.countryOfRegistration': 'Cambodia' is not an ISO 3166-1 alpha-2 country code"
    );

    let mut t = transfer();
    t.originating_vasp.legal_person.as_mut().unwrap().national_identification =
        Some(NationalIdentification {
            national_identifier: "506700GE1G29325QX364".into(),
            national_identifier_type: "LEIX".into(),
            country_of_issue: None,
            registration_authority: None,
        });
    let e = travel_rule_payload(&t, today()).unwrap_err();
    assert!(e.to_string().contains("is not a valid LEI"), "{e}");
}

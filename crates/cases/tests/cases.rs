#![allow(clippy::unwrap_used)] // tests
//! The case store's behaviour, run against SQLite and PostgreSQL alike.

mod common;

use common::{actor, alert, Fixture};
use floodgate_cases::audit::Tamper;
use floodgate_cases::db::Backend;
use floodgate_cases::model::*;
use floodgate_cases::{CaseStore, CasesError, DecidedGroup, ListFilter};

both_backends!(
    alerts_group_into_one_case_per_subject_exactly_once,
    four_eyes_decision_needs_a_second_person,
    four_eyes_is_configurable_per_decision_kind,
    errors_change_nothing,
    snooze_reopen_and_new_alerts,
    tenants_never_see_each_other,
    audit_verify_names_an_altered_entry,
    audit_verify_names_a_deleted_entry,
    audit_verify_names_a_deleted_last_entry,
    audit_verify_names_an_inserted_entry,
    audit_verify_names_an_appended_entry,
    issue14_audit_verify_names_an_altered_or_removed_alert,
    audit_retention_and_legal_hold,
    racing_approvals_leave_one_decision,
    racing_decisions_leave_one_decision,
    reports_due_overdue_filed,
    supervisor_sees_report_timeliness,
    a_newer_database_is_refused,
    a_snoozed_case_wakes_at_its_time,
    the_user_registry_decides_who_acts_and_with_which_role,
    groups_in_one_transaction_store_what_one_transaction_each_stores,
);

fn audit_len<S: CaseStore + ?Sized>(s: &mut S, a: &Actor) -> i64 {
    s.verify_audit(a).unwrap().head_seq
}

fn alerts_group_into_one_case_per_subject_exactly_once<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let a = actor("vasp-a", "system", Role::Admin);
    let batch = vec![
        alert("cust-1", "monitor:t1", Severity::Medium),
        alert("cust-2", "monitor:t2", Severity::Low),
        alert("cust-1", "monitor:t3", Severity::High),
    ];
    let r = s.ingest_alerts(&a, &batch, None).unwrap();
    assert_eq!(r.created.len(), 3);
    assert_eq!(r.cases_opened.len(), 2);
    assert_eq!(r.created[0].1, r.created[2].1, "cust-1's alerts share a case");
    // The same alerts again (a restart replaying): nothing new.
    let again = s.ingest_alerts(&a, &batch, None).unwrap();
    assert_eq!((again.created.len(), again.duplicates), (0, 3));
    let cases = s.cases(&a, &ListFilter::default()).unwrap();
    assert_eq!(cases.len(), 2);
    let c1 = cases.iter().find(|c| c.subject == "cust-1").unwrap();
    assert_eq!((c1.alert_count, c1.severity, c1.state), (2, Severity::High, CaseState::Open));
    let view = s.case(&a, c1.id).unwrap();
    assert_eq!(view.alerts.len(), 2);
    assert_eq!(
        view.alerts[1].alert.reasons[0],
        "three deposits just under the threshold (monitor:t3)"
    );
    assert_eq!(view.alerts[1].alert.evidence["transfer_ids"][0], "monitor:t3");
    // One entry per alert and per case opened, plus one add_alert for the second batch... none.
    let v = s.verify_audit(&a).unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.head_seq, 3 + 2);
}

fn four_eyes_decision_needs_a_second_person<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let minh = actor("vasp-a", "minh", Role::Approver);
    s.ingest_alerts(&lan, &[alert("cust-9", "k1", Severity::High)], None).unwrap();
    let id = s.cases(&lan, &ListFilter::default()).unwrap()[0].id;
    s.assign(&lan, id, &UserId::new("lan").unwrap()).unwrap();
    s.note(&lan, id, "customer says the funds are a house sale").unwrap();
    let hit = serde_json::json!({"list": "ofac-sdn", "entry": "OFAC-1234", "score": 0.97,
        "explanation": [{"feature": "name", "weight": 0.8}]});
    s.attach(&lan, id, "screening_hit", hit.clone()).unwrap();
    let c = s
        .decide(&lan, id, DecisionKind::Report, "structuring and a sanctioned counterparty")
        .unwrap();
    assert_eq!(c.state, CaseState::PendingApproval);
    // The decider may not approve, even with an approver role.
    let lan_as_approver = actor("vasp-a", "lan", Role::Approver);
    match s.approve(&lan_as_approver, id) {
        Err(CasesError::SameApprover { case, user }) => {
            assert_eq!((case, user.as_str()), (id.0, "lan"))
        }
        other => panic!("{other:?}"),
    }
    // An analyst may not approve.
    assert!(matches!(
        s.approve(&actor("vasp-a", "hoa", Role::Analyst), id),
        Err(CasesError::Forbidden { .. })
    ));
    let c = s.approve(&minh, id).unwrap();
    assert_eq!(c.state, CaseState::Closed);
    assert_eq!(c.decision, Some(DecisionKind::Report));
    assert_eq!(c.approved_by.as_ref().map(UserId::as_str), Some("minh"));
    let view = s.case(&minh, id).unwrap();
    assert_eq!(view.items.len(), 2);
    assert_eq!(view.items[1].body, hit);
    let actions: Vec<&str> = view.trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "case.open",
            "alert.create",
            "case.assign",
            "case.note",
            "case.attach",
            "case.decide_four_eyes",
            "case.approve"
        ]
    );
    assert_eq!(view.trail.last().unwrap().actor, "minh:approver");
    assert!(s.verify_audit(&minh).unwrap().is_intact());
}

fn four_eyes_is_configurable_per_decision_kind<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let admin = actor("vasp-a", "root", Role::Admin);
    let c = s.open_case(&lan, "cust-1", "tip").unwrap();
    assert_eq!(
        s.decide(&lan, c.id, DecisionKind::NoAction, "ok").unwrap().state,
        CaseState::Closed
    );
    assert!(matches!(
        s.set_four_eyes(&lan, DecisionKind::NoAction, true),
        Err(CasesError::Forbidden { .. })
    ));
    s.set_four_eyes(&admin, DecisionKind::NoAction, true).unwrap();
    s.set_four_eyes(&admin, DecisionKind::Freeze, false).unwrap();
    let c = s.open_case(&lan, "cust-2", "tip").unwrap();
    assert_eq!(
        s.decide(&lan, c.id, DecisionKind::NoAction, "ok").unwrap().state,
        CaseState::PendingApproval
    );
    let c = s.open_case(&lan, "cust-3", "tip").unwrap();
    assert_eq!(
        s.decide(&lan, c.id, DecisionKind::Freeze, "mule").unwrap().state,
        CaseState::Closed
    );
    // Other tenants keep the defaults.
    assert!(!s.four_eyes(&TenantId::new("vasp-b").unwrap(), DecisionKind::NoAction).unwrap());
    assert!(s.four_eyes(&TenantId::new("vasp-b").unwrap(), DecisionKind::Freeze).unwrap());
}

fn errors_change_nothing<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let c = s.open_case(&lan, "cust-1", "tip").unwrap();
    s.escalate(&lan, c.id, "needs a senior look").unwrap();
    let before = s.case(&lan, c.id).unwrap();
    let seq = audit_len(&mut s, &lan);
    match s.decide(&lan, CaseId(999), DecisionKind::NoAction, "x") {
        Err(e @ CasesError::UnknownCase { .. }) => {
            assert_eq!(e.to_string(), "unknown case 999 for tenant 'vasp-a'")
        }
        other => panic!("{other:?}"),
    }
    match s.decide(&lan, c.id, DecisionKind::NoAction, "fine") {
        Err(e @ CasesError::Forbidden { .. }) => {
            assert!(e.to_string().contains("'lan' with role analyst may not decide case"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match s.note(&lan, c.id, "   ") {
        Err(e @ CasesError::Invalid { .. }) => {
            assert!(e.to_string().starts_with("invalid note"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.snooze(&lan, c.id, UnixTime(1)), Err(CasesError::Invalid { .. })));
    match s.approve(&actor("vasp-a", "minh", Role::Approver), c.id) {
        Err(e @ CasesError::Transition { .. }) => {
            assert!(e.to_string().contains("cannot approve a case that is escalated"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.ingest_alerts(&lan, &[alert("", "k", Severity::Low)], None),
        Err(CasesError::Invalid { .. })
    ));
    assert_eq!(s.case(&lan, c.id).unwrap(), before);
    assert_eq!(audit_len(&mut s, &lan), seq);
    assert!(s.alerts(&lan, &ListFilter::default()).unwrap().is_empty());
}

fn snooze_reopen_and_new_alerts<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let minh = actor("vasp-a", "minh", Role::Approver);
    let c = s.open_case(&lan, "cust-1", "tip").unwrap();
    let until = UnixTime(UnixTime::now().0 + 86_400);
    let c2 = s.snooze(&lan, c.id, until).unwrap();
    assert_eq!((c2.state, c2.snoozed_until), (CaseState::Snoozed, Some(until)));
    // A new alert for the subject wakes the snoozed case.
    let r = s.ingest_alerts(&lan, &[alert("cust-1", "k1", Severity::High)], None).unwrap();
    assert_eq!(r.created[0].1, c.id);
    let c3 = s.case(&lan, c.id).unwrap().case;
    assert_eq!((c3.state, c3.snoozed_until, c3.alert_count), (CaseState::Open, None, 1));
    s.decide(&lan, c.id, DecisionKind::NoAction, "explained").unwrap();
    // A closed case stays closed: a new alert opens a new case.
    let r = s.ingest_alerts(&lan, &[alert("cust-1", "k2", Severity::Low)], None).unwrap();
    assert_ne!(r.created[0].1, c.id);
    assert_eq!(r.cases_opened, vec![r.created[0].1]);
    // Only approvers reopen closed cases.
    assert!(matches!(s.reopen(&lan, c.id, "new facts"), Err(CasesError::Forbidden { .. })));
    let c4 = s.reopen(&minh, c.id, "new facts").unwrap();
    assert_eq!((c4.state, c4.decision), (CaseState::Open, None));
}

fn tenants_never_see_each_other<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let a = actor("vasp-a", "lan", Role::Approver);
    let b = actor("vasp-b", "tuan", Role::Admin);
    s.ingest_alerts(&a, &[alert("cust-a", "k1", Severity::High)], None).unwrap();
    let ca = s.cases(&a, &ListFilter::default()).unwrap()[0].clone();
    s.add_reports(&a, &[report("r1", ReportKind::LargeValue, 0)]).unwrap();
    let before = s.case(&a, ca.id).unwrap();
    // Tenant B: same case number, nothing there.
    assert!(matches!(s.case(&b, ca.id), Err(CasesError::UnknownCase { .. })));
    assert!(matches!(
        s.decide(&b, ca.id, DecisionKind::Freeze, "x"),
        Err(CasesError::UnknownCase { .. })
    ));
    assert!(matches!(s.note(&b, ca.id, "x"), Err(CasesError::UnknownCase { .. })));
    assert!(matches!(
        s.assign(&b, ca.id, &UserId::new("tuan").unwrap()),
        Err(CasesError::UnknownCase { .. })
    ));
    assert!(s.cases(&b, &ListFilter::default()).unwrap().is_empty());
    assert!(s
        .alerts(&b, &ListFilter { subject: Some("cust-a".into()), ..Default::default() })
        .unwrap()
        .is_empty());
    assert!(s.reports(&b).unwrap().is_empty());
    assert!(matches!(
        s.file_report(&b, ReportId(1), &"a".repeat(64)),
        Err(CasesError::Invalid { .. })
    ));
    // The same dedup key in tenant B is B's own alert.
    let rb = s.ingest_alerts(&b, &[alert("cust-b", "k1", Severity::Low)], None).unwrap();
    assert_eq!(rb.created.len(), 1);
    assert_eq!(s.case(&a, ca.id).unwrap(), before);
    assert_eq!(s.reports(&a).unwrap().len(), 1);
    // Each tenant has its own chain.
    assert!(s.verify_audit(&a).unwrap().is_intact());
    assert!(s.verify_audit(&b).unwrap().is_intact());
    // The supervisor sees counts, never customers, and a tenant's cases only when granted.
    let sup = actor("sbv", "inspector", Role::Supervisor);
    assert!(matches!(s.case(&sup, ca.id), Err(CasesError::Forbidden { .. })));
    assert!(matches!(s.cases(&sup, &ListFilter::default()), Err(CasesError::Forbidden { .. })));
    let sum = s.supervisor_summary(&sup).unwrap();
    let sa = sum.iter().find(|t| t.tenant == "vasp-a").unwrap();
    assert_eq!((sa.alerts, sa.cases_by_state["open"]), (1, 1));
    assert!(!serde_json::to_string(&sum).unwrap().contains("cust-a"));
    assert!(matches!(s.supervisor_summary(&a), Err(CasesError::Forbidden { .. })));
    let ta = TenantId::new("vasp-a").unwrap();
    assert!(matches!(s.supervised_cases(&sup, &ta), Err(CasesError::Forbidden { .. })));
    assert!(matches!(s.grant_supervisor(&a, &sup.user), Err(CasesError::Forbidden { .. })));
    s.grant_supervisor(&actor("vasp-a", "boss", Role::Admin), &sup.user).unwrap();
    assert_eq!(s.supervised_cases(&sup, &ta).unwrap()[0].subject, "cust-a");
    assert!(matches!(
        s.supervised_cases(&sup, &TenantId::new("vasp-b").unwrap()),
        Err(CasesError::Forbidden { .. })
    ));
}

/// Ten audited actions on one case; returns the store.
fn ten_entries<F: Fixture>(fx: &F) -> (floodgate_cases::Cases<F::B>, Actor) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let c = s.open_case(&lan, "cust-1", "tip").unwrap();
    for i in 0..9 {
        s.note(&lan, c.id, &format!("note {i}")).unwrap();
    }
    assert_eq!(s.verify_audit(&lan).unwrap().head_seq, 10);
    s.backend_mut().raw(fx.drop_guards()).unwrap();
    (s, lan)
}

fn audit_verify_names_an_altered_entry<F: Fixture>(fx: &F) {
    let (mut s, lan) = ten_entries(fx);
    // An UPDATE through the store's own triggers is refused... (guards dropped here: an
    // attacker with database rights). Alter entry 4's after document.
    s.backend_mut()
        .raw("UPDATE audit SET after = '{\"case\":\"rewritten\"}' WHERE tenant = 'vasp-a' AND seq = 4")
        .unwrap();
    assert_eq!(s.verify_audit(&lan).unwrap().first_problem, Some(Tamper::Altered { seq: 4 }));
}

fn audit_verify_names_a_deleted_entry<F: Fixture>(fx: &F) {
    let (mut s, lan) = ten_entries(fx);
    s.backend_mut().raw("DELETE FROM audit WHERE tenant = 'vasp-a' AND seq = 6").unwrap();
    let v = s.verify_audit(&lan).unwrap();
    assert_eq!(v.first_problem, Some(Tamper::Deleted { seq: 6 }));
    assert_eq!(v.first_problem.unwrap().to_string(), "entry 6 was deleted: the chain skips it");
}

fn audit_verify_names_a_deleted_last_entry<F: Fixture>(fx: &F) {
    // The last entry deleted: the head still names it.
    let (mut s, lan) = ten_entries(fx);
    s.backend_mut().raw("DELETE FROM audit WHERE tenant = 'vasp-a' AND seq = 10").unwrap();
    assert_eq!(s.verify_audit(&lan).unwrap().first_problem, Some(Tamper::Deleted { seq: 10 }));
}

fn audit_verify_names_an_inserted_entry<F: Fixture>(fx: &F) {
    let (mut s, lan) = ten_entries(fx);
    // A forged entry in the middle: entries 5.. move up one and a row takes seq 5, its own
    // hash computed correctly, but it cannot link to entry 4's successor chain.
    s.backend_mut()
        .raw("UPDATE audit SET seq = seq + 100 WHERE tenant = 'vasp-a' AND seq >= 5; UPDATE audit SET seq = seq - 99 WHERE tenant = 'vasp-a' AND seq >= 105")
        .unwrap();
    let e4 = s.verify_audit(&lan).unwrap(); // now entries 1-4, 6-11: the walk finds the gap first
    assert_eq!(e4.first_problem, Some(Tamper::Deleted { seq: 5 }));
    let forged_prev = "f".repeat(64);
    let h = floodgate_cases::audit::entry_hash(
        &forged_prev,
        5,
        "vasp-a",
        "eve:admin",
        1,
        "case.note",
        "case:1",
        "null",
        "{}",
    );
    s.backend_mut()
        .raw(&format!("INSERT INTO audit (tenant, seq, prev_hash, time, actor, action, object, before, after, hash) VALUES ('vasp-a', 5, '{forged_prev}', 1, 'eve:admin', 'case.note', 'case:1', 'null', '{{}}', '{h}')"))
        .unwrap();
    assert_eq!(s.verify_audit(&lan).unwrap().first_problem, Some(Tamper::Inserted { seq: 5 }));
}

fn audit_verify_names_an_appended_entry<F: Fixture>(fx: &F) {
    // A row appended beyond the head.
    let (mut s, lan) = ten_entries(fx);
    let head = s.verify_audit(&lan).unwrap().head_hash;
    let h = floodgate_cases::audit::entry_hash(
        &head,
        11,
        "vasp-a",
        "eve:admin",
        1,
        "case.note",
        "case:1",
        "null",
        "{}",
    );
    s.backend_mut()
        .raw(&format!("INSERT INTO audit (tenant, seq, prev_hash, time, actor, action, object, before, after, hash) VALUES ('vasp-a', 11, '{head}', 1, 'eve:admin', 'case.note', 'case:1', 'null', '{{}}', '{h}')"))
        .unwrap();
    assert_eq!(s.verify_audit(&lan).unwrap().first_problem, Some(Tamper::Inserted { seq: 11 }));
}

/// Issue 14 item 6 (ADR 0005): an `alert.create` entry commits to its alert by SHA-256 instead
/// of copying it, and `verify_audit` recomputes that hash from the alert row: a change of any
/// column of the alert, or its removal, is named with the entry and the alert.
fn issue14_audit_verify_names_an_altered_or_removed_alert<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let a = actor("vasp-a", "system", Role::Admin);
    let batch = vec![
        alert("cust-1", "monitor:t1", Severity::Medium),
        alert("cust-2", "monitor:t2", Severity::Low),
    ];
    let r = s.ingest_alerts(&a, &batch, None).unwrap();
    let (second, _) = r.created[1];
    let trail = s.case(&a, r.created[1].1).unwrap().trail;
    let entry = trail.iter().find(|e| e.object == format!("alert:{}", second.0)).unwrap();
    // The entry holds the hash and the case, not a copy of the alert.
    assert!(entry.after.contains("\"alert_sha256\""), "{}", entry.after);
    assert!(!entry.after.contains("monitor:t2"), "{}", entry.after);
    assert!(entry.after.len() < 120, "{} bytes", entry.after.len());
    let seq = entry.seq;
    assert!(s.verify_audit(&a).unwrap().is_intact());
    s.backend_mut().raw(fx.drop_guards()).unwrap();
    // One evidence byte changed (another amount).
    let update = format!(
        "UPDATE alerts SET evidence = REPLACE(evidence, 'monitor:t2', 'monitor:t9') WHERE tenant = 'vasp-a' AND id = {}",
        second.0
    );
    s.backend_mut().raw(&update).unwrap();
    let v = s.verify_audit(&a).unwrap();
    assert_eq!(
        v.first_problem,
        Some(Tamper::RecordAltered { seq, object: format!("alert:{}", second.0) })
    );
    assert!(v
        .first_problem
        .unwrap()
        .to_string()
        .contains(&format!("alert:{} was altered", second.0)));
    // Put back, it verifies again; its severity lowered, it does not.
    let undo = update.replace("'monitor:t2', 'monitor:t9'", "'monitor:t9', 'monitor:t2'");
    s.backend_mut().raw(&undo).unwrap();
    assert!(s.verify_audit(&a).unwrap().is_intact());
    s.backend_mut()
        .raw(&format!(
            "UPDATE alerts SET severity = 'low' WHERE tenant = 'vasp-a' AND id = {}",
            r.created[0].0 .0
        ))
        .unwrap();
    let first_seq = s
        .case(&a, r.created[0].1)
        .unwrap()
        .trail
        .iter()
        .find(|e| e.object == format!("alert:{}", r.created[0].0 .0))
        .unwrap()
        .seq;
    assert_eq!(
        s.verify_audit(&a).unwrap().first_problem,
        Some(Tamper::RecordAltered {
            seq: first_seq,
            object: format!("alert:{}", r.created[0].0 .0)
        })
    );
    s.backend_mut()
        .raw(&format!(
            "UPDATE alerts SET severity = 'medium' WHERE tenant = 'vasp-a' AND id = {}",
            r.created[0].0 .0
        ))
        .unwrap();
    // Removed.
    s.backend_mut()
        .raw(&format!("DELETE FROM alerts WHERE tenant = 'vasp-a' AND id = {}", second.0))
        .unwrap();
    assert_eq!(
        s.verify_audit(&a).unwrap().first_problem,
        Some(Tamper::RecordAltered { seq, object: format!("alert:{}", second.0) })
    );
}

fn audit_retention_and_legal_hold<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let admin = actor("vasp-a", "root", Role::Admin);
    let eleven_years_ago = UnixTime::now().0 - 11 * 365 * 86_400;
    s.set_clock(move || UnixTime(eleven_years_ago));
    let c = s.open_case(&admin, "cust-old", "old").unwrap();
    s.note(&admin, c.id, "old note").unwrap();
    s.set_clock(UnixTime::now);
    s.note(&admin, c.id, "recent note").unwrap();
    // The database itself refuses to delete or rewrite an entry under retention.
    assert!(s.backend_mut().raw("DELETE FROM audit WHERE tenant = 'vasp-a' AND seq = 3").is_err());
    assert!(s
        .backend_mut()
        .raw("UPDATE audit SET actor = 'x' WHERE tenant = 'vasp-a' AND seq = 1")
        .is_err());
    // The store refuses too, naming why.
    match s.delete_audit_entry(&admin, 3) {
        Err(e @ CasesError::Retention { .. }) => {
            assert!(e.to_string().contains("entry 3 is kept until"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.purge_expired(&actor("vasp-a", "lan", Role::Analyst)),
        Err(CasesError::Forbidden { .. })
    ));
    // Legal hold: even expired entries stay.
    s.set_legal_hold(&admin, true).unwrap();
    assert!(matches!(s.purge_expired(&admin), Err(CasesError::Retention { .. })));
    assert!(s.backend_mut().raw("DELETE FROM audit WHERE tenant = 'vasp-a' AND seq = 1").is_err());
    s.set_legal_hold(&admin, false).unwrap();
    assert_eq!(s.purge_expired(&admin).unwrap(), 2);
    // What remains still verifies from the new base.
    let v = s.verify_audit(&admin).unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.entries, v.head_seq as u64 - 2);
}

fn race<F: Fixture, T: Send>(
    fx: &F,
    f: impl Fn(&mut floodgate_cases::Cases<F::B>, usize) -> T + Sync,
) -> Vec<T> {
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|sc| {
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let (b, f) = (&barrier, &f);
                sc.spawn(move || {
                    let mut s = fx.store();
                    b.wait();
                    f(&mut s, i)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn racing_approvals_leave_one_decision<F: Fixture>(fx: &F) {
    for round in 0..5 {
        let mut s = fx.store();
        let lan = actor("vasp-a", "lan", Role::Analyst);
        let c = s.open_case(&lan, &format!("cust-{round}"), "tip").unwrap();
        s.decide(&lan, c.id, DecisionKind::Freeze, "mule account").unwrap();
        let results = race(fx, |s, i| {
            s.approve(&actor("vasp-a", &format!("approver{i}"), Role::Approver), c.id)
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, CasesError::Conflict { .. } | CasesError::Transition { .. }),
                    "{e}"
                );
            }
        }
        let view = s.case(&lan, c.id).unwrap();
        assert_eq!(view.case.state, CaseState::Closed);
        assert_eq!(view.trail.iter().filter(|e| e.action == "case.approve").count(), 1);
        assert!(s.verify_audit(&lan).unwrap().is_intact());
    }
}

fn racing_decisions_leave_one_decision<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let c = s.open_case(&lan, "cust-1", "tip").unwrap();
    let kinds = [DecisionKind::NoAction, DecisionKind::ExitRelationship];
    let results = race(fx, |s, i| {
        s.decide(&actor("vasp-a", &format!("a{i}"), Role::Analyst), c.id, kinds[i], "race")
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    let view = s.case(&lan, c.id).unwrap();
    assert_eq!(view.trail.iter().filter(|e| e.action.starts_with("case.decide")).count(), 1);
}

fn report(key: &str, kind: ReportKind, due_in: i64) -> NewReport {
    let now = UnixTime::now().0;
    NewReport {
        kind,
        subject_ids: vec!["cust-1".into(), "t-77".into()],
        event_time: UnixTime(now - 86_400),
        detected_time: UnixTime(now - 86_000),
        due_time: UnixTime(now + due_in),
        reason: serde_json::json!({"rule": "report.large_value", "threshold": "VND 400000000"}),
        dedup_key: key.into(),
    }
}

fn reports_due_overdue_filed<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let ids = s
        .add_reports(
            &lan,
            &[
                report("a", ReportKind::LargeValue, -3600),
                report("b", ReportKind::InternationalTransfer, 3600),
                report("c", ReportKind::Suspicious, 7200),
            ],
        )
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(s.add_reports(&lan, &[report("a", ReportKind::LargeValue, -3600)]).unwrap().is_empty());
    assert!(matches!(s.file_report(&lan, ids[2], "not-a-hash"), Err(CasesError::Invalid { .. })));
    let sha = "ab".repeat(32);
    let filed = s.file_report(&lan, ids[2], &sha).unwrap();
    assert_eq!(filed.document_sha256.as_deref(), Some(sha.as_str()));
    assert!(matches!(s.file_report(&lan, ids[2], &sha), Err(CasesError::Invalid { .. })));
    let now = UnixTime::now();
    let st: Vec<ReportStatus> = s.reports(&lan).unwrap().iter().map(|r| r.status(now)).collect();
    assert_eq!(st, [ReportStatus::Overdue, ReportStatus::Due, ReportStatus::Filed]);
    // Filing changes the row's filing columns, not what `report.due` committed to (ADR 0005):
    // the chain still verifies; a changed deadline does not.
    assert!(s.verify_audit(&lan).unwrap().is_intact());
    // The three report.due entries are the tenant's first: seq 1, 2, 3 for reports 1, 2, 3.
    assert_eq!(ids.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
    let seq = 2;
    s.backend_mut()
        .raw(&format!(
            "UPDATE reports SET due_time = due_time + 86400 WHERE tenant = 'vasp-a' AND id = {}",
            ids[1].0
        ))
        .unwrap();
    assert_eq!(
        s.verify_audit(&lan).unwrap().first_problem,
        Some(Tamper::RecordAltered { seq, object: format!("report:{}", ids[1].0) })
    );
}

/// On time, late, missing and pending per tenant, for the supervisor: counts only.
fn supervisor_sees_report_timeliness<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let ids = s
        .add_reports(
            &lan,
            &[
                report("late", ReportKind::LargeValue, -3600),
                report("missing", ReportKind::Suspicious, -7200),
                report("on-time", ReportKind::InternationalTransfer, 86_400),
                report("pending", ReportKind::LargeValue, 86_400),
            ],
        )
        .unwrap();
    let sha = "cd".repeat(32);
    s.file_report(&lan, ids[0], &sha).unwrap();
    s.file_report(&lan, ids[2], &sha).unwrap();
    s.add_reports(
        &actor("vasp-b", "tuan", Role::Analyst),
        &[report("b", ReportKind::Suspicious, -60)],
    )
    .unwrap();
    let sum = s.supervisor_summary(&actor("sbv", "inspector", Role::Supervisor)).unwrap();
    let a = sum.iter().find(|t| t.tenant == "vasp-a").unwrap();
    assert_eq!(
        (a.reports_on_time, a.reports_late, a.reports_missing, a.reports_pending),
        (1, 1, 1, 1)
    );
    assert_eq!((a.reports_filed, a.reports_overdue), (2, 1));
    let b = sum.iter().find(|t| t.tenant == "vasp-b").unwrap();
    assert_eq!((b.reports_on_time, b.reports_late, b.reports_missing), (0, 0, 1));
    let json = serde_json::to_string(&sum).unwrap();
    assert!(!json.contains("cust-1") && !json.contains("t-77"), "{json}");
}

fn a_newer_database_is_refused<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    s.backend_mut().raw("INSERT INTO schema_version (version, applied) VALUES (99, 0)").unwrap();
    drop(s);
    match fx.try_store() {
        Err(e @ CasesError::TooNew { .. }) => {
            let want = format!(
                "has schema version 99, newer than this floodgate ({})",
                floodgate_cases::db::LATEST
            );
            assert!(e.to_string().contains(&want), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

fn a_snoozed_case_wakes_at_its_time<F: Fixture>(fx: &F) {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    let mut s = fx.store();
    let now = Arc::new(AtomicI64::new(1_800_000_000));
    let n2 = Arc::clone(&now);
    s.set_clock(move || UnixTime(n2.load(Ordering::SeqCst)));
    let lan = actor("vasp-a", "lan", Role::Analyst);
    let c = s.open_case(&lan, "cust-1", "tip").unwrap();
    let until = UnixTime(1_800_000_000 + 3_600);
    s.snooze(&lan, c.id, until).unwrap();
    // Before its time it stays snoozed, whatever is read.
    now.store(until.0 - 1, Ordering::SeqCst);
    assert_eq!(s.cases(&lan, &ListFilter::default()).unwrap()[0].state, CaseState::Snoozed);
    let seq = audit_len(&mut s, &lan);
    // At its time, the next read finds it open again, with one audit entry saying why.
    now.store(until.0, Ordering::SeqCst);
    let listed = s.cases(&lan, &ListFilter::default()).unwrap();
    assert_eq!((listed[0].state, listed[0].snoozed_until), (CaseState::Open, None));
    let view = s.case(&lan, c.id).unwrap();
    let last = view.trail.last().unwrap();
    assert_eq!((last.action.as_str(), last.actor.as_str()), ("case.wake", "system:snooze"));
    assert_eq!(audit_len(&mut s, &lan), seq + 1, "woken once, not on every read");
    assert!(s.verify_audit(&lan).unwrap().is_intact());
    // Another tenant's reads never wake this tenant's cases.
    let b = actor("vasp-b", "tuan", Role::Analyst);
    s.snooze(&lan, c.id, UnixTime(until.0 + 10)).unwrap();
    now.store(until.0 + 20, Ordering::SeqCst);
    s.cases(&b, &ListFilter::default()).unwrap();
    let raw = s.wake_snoozed(&TenantId::new("vasp-a").unwrap()).unwrap();
    assert_eq!(raw, vec![c.id], "still snoozed until vasp-a's own next command");
}

fn the_user_registry_decides_who_acts_and_with_which_role<F: Fixture>(fx: &F) {
    let mut s = fx.store();
    let t = TenantId::new("vasp-a").unwrap();
    let u = |n: &str| UserId::new(n).unwrap();
    // Single-user mode: nobody registered, the claimed role is trusted.
    let me = s.authenticate(&t, &u("lan"), Some(Role::Approver)).unwrap();
    assert_eq!(me.role, Role::Approver);
    assert_eq!(s.authenticate(&t, &u("lan"), None).unwrap().role, Role::Analyst);
    // The first user must be an admin.
    assert!(matches!(s.add_user(&me, &u("lan"), Role::Analyst), Err(CasesError::Invalid { .. })));
    let admin = actor("vasp-a", "hoa", Role::Admin);
    s.add_user(&admin, &u("hoa"), Role::Admin).unwrap();
    // From now on the registry decides.
    let hoa = s.authenticate(&t, &u("hoa"), None).unwrap();
    assert_eq!(hoa.role, Role::Admin);
    let err = s.authenticate(&t, &u("lan"), Some(Role::Approver)).unwrap_err();
    assert!(err.to_string().contains("user 'lan' is not registered"), "{err}");
    s.add_user(&hoa, &u("lan"), Role::Analyst).unwrap();
    let lan = s.authenticate(&t, &u("lan"), None).unwrap();
    assert_eq!(lan.role, Role::Analyst);
    let err = s.authenticate(&t, &u("lan"), Some(Role::Approver)).unwrap_err();
    assert!(err.to_string().contains("has role analyst in the registry, not approver"), "{err}");
    // Only admins add or disable users; the last admin stays.
    assert!(matches!(s.add_user(&lan, &u("x"), Role::Admin), Err(CasesError::Forbidden { .. })));
    assert!(matches!(s.disable_user(&hoa, &u("hoa")), Err(CasesError::Invalid { .. })));
    s.disable_user(&hoa, &u("lan")).unwrap();
    let err = s.authenticate(&t, &u("lan"), None).unwrap_err();
    assert!(err.to_string().contains("user 'lan' is disabled"), "{err}");
    let users = s.users(&hoa).unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().any(|x| x.user.as_str() == "lan" && x.disabled));
    // Another tenant is still in single-user mode, and every change is in the audit log.
    let tb = TenantId::new("vasp-b").unwrap();
    assert_eq!(s.authenticate(&tb, &u("lan"), Some(Role::Admin)).unwrap().role, Role::Admin);
    let v = s.verify_audit(&hoa).unwrap();
    assert!(v.is_intact());
    assert_eq!(v.head_seq, 3, "two user.add and one user.disable");
}

/// Issue 14 item 6 (ADR 0005): a `cases.db` written before the audit log committed to alerts by
/// their hash (the frozen data directory of `crates/cli/tests/fixtures/formats`, whose
/// `alert.create` entries hold a full copy of the alert) opens, verifies, takes new alerts
/// recorded by hash, and the mixed chain still verifies and still names a changed entry.
#[test]
fn issue14_a_case_store_with_full_alert_copies_verifies_beside_hashed_ones() {
    let frozen = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cli/tests/fixtures/formats/datadir/cases.db");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.db");
    std::fs::copy(&frozen, &path).unwrap();
    let mut s = floodgate_cases::Cases::new(floodgate_cases::db::Sqlite::open(&path).unwrap());
    let a = actor("default", "system", Role::Admin);
    let before = s.verify_audit(&a).unwrap();
    assert!(before.is_intact(), "{before:?}");
    assert!(before.head_seq > 0);
    let old = s.alerts(&a, &ListFilter::default()).unwrap();
    assert!(!old.is_empty(), "the frozen store holds alerts");
    let r = s.ingest_alerts(&a, &[alert("cust-9", "monitor:new-1", Severity::High)], None).unwrap();
    assert_eq!(r.created.len(), 1);
    let v = s.verify_audit(&a).unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert!(v.head_seq > before.head_seq);
    // A full copy of an old alert is still covered by its entry's hash.
    s.backend_mut().raw(common::SqliteFx::DROP_GUARDS).unwrap();
    s.backend_mut()
        .raw("UPDATE audit SET after = REPLACE(after, 'monitor:', 'MONITOR:') WHERE tenant = 'default' AND action = 'alert.create' AND after LIKE '%\"alert\":%'")
        .unwrap();
    assert!(matches!(s.verify_audit(&a).unwrap().first_problem, Some(Tamper::Altered { .. })));
}

/// The monitor feed stores the groups waiting for it in one transaction
/// (`ingest_decided_groups`): the alerts, cases (their versions and counts), report
/// obligations, audit trail and cursor are those one `ingest_decided` per group leaves; a
/// refused group stores none of them.
fn groups_in_one_transaction_store_what_one_transaction_each_stores<F: Fixture>(fx: &F) {
    let fx2 = fx.another();
    let (mut s, mut s2) = (fx.store(), fx2.store());
    s.set_clock(|| UnixTime(1_760_000_000));
    s2.set_clock(|| UnixTime(1_760_000_000));
    let feed = actor("vasp-a", "feed", Role::Admin);
    let groups: Vec<(Vec<NewReport>, Vec<NewAlert>, i64)> = vec![
        (
            vec![report("r1", ReportKind::LargeValue, 3600)],
            vec![
                alert("c1", "monitor:t1", Severity::Low),
                alert("c2", "monitor:t2", Severity::Low),
            ],
            2,
        ),
        // c1 again (its case takes the alert), a key of the first group again (a duplicate), a
        // report key again.
        (
            vec![
                report("r1", ReportKind::LargeValue, 3600),
                report("r2", ReportKind::Suspicious, 60),
            ],
            vec![
                alert("c1", "monitor:t3", Severity::High),
                alert("c2", "monitor:t2", Severity::Low),
            ],
            4,
        ),
        (vec![], vec![alert("c3", "monitor:t5", Severity::Medium)], 5),
    ];
    for (reports, alerts, at) in &groups {
        s.ingest_decided(&feed, reports, alerts, Some(("monitor", *at))).unwrap();
    }
    let batch: Vec<DecidedGroup> = groups
        .iter()
        .map(|(reports, alerts, at)| DecidedGroup {
            reports,
            alerts,
            cursor: Some(("monitor", *at)),
        })
        .collect();
    let r = s2.ingest_decided_groups(&feed, &batch).unwrap();
    assert_eq!(r.iter().map(|i| i.created.len()).collect::<Vec<_>>(), [2, 1, 1]);
    assert_eq!(r[1].duplicates, 1);
    // Everything the two stores hold, audit entries and their hashes included.
    fn held<S: CaseStore + ?Sized>(s: &mut S, a: &Actor) -> String {
        let cases = s.cases(a, &ListFilter::default()).unwrap();
        let views: Vec<_> = cases.iter().map(|c| s.case(a, c.id).unwrap()).collect();
        let all = serde_json::json!({
            "alerts": s.alerts(a, &ListFilter::default()).unwrap(),
            "cases": views,
            "reports": s.reports(a).unwrap(),
            "cursor": s.feed_position(&a.tenant, "monitor").unwrap(),
            "audit": s.verify_audit(a).unwrap(),
        });
        all.to_string()
    }
    let (a, b) = (held(&mut s, &feed), held(&mut s2, &feed));
    assert!(a.contains("case.add_alert") && a.contains("alert.create"), "{a}");
    assert_eq!(a, b);
    assert!(s2.verify_audit(&feed).unwrap().is_intact());
    // A group refused (an empty subject) after a good one: neither is stored.
    let bad = [alert(" ", "monitor:t7", Severity::Low)];
    let good = [alert("c4", "monitor:t6", Severity::Low)];
    let err = s2
        .ingest_decided_groups(
            &feed,
            &[
                DecidedGroup { reports: &[], alerts: &good, cursor: Some(("monitor", 6)) },
                DecidedGroup { reports: &[], alerts: &bad, cursor: Some(("monitor", 7)) },
            ],
        )
        .unwrap_err();
    assert!(matches!(err, CasesError::Invalid { .. }), "{err:?}");
    assert_eq!(s2.feed_position(&feed.tenant, "monitor").unwrap(), 5);
    assert_eq!(held(&mut s2, &feed), b);
}

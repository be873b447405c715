-- floodgate cases schema 1 (PostgreSQL). Statements are separated by lines holding only ';;'.
-- Every key carries the tenant id. docs/cases.md describes each table.
CREATE TABLE tenants (
    tenant          TEXT   PRIMARY KEY,
    retention_days  BIGINT NOT NULL DEFAULT 3653,
    legal_hold      BIGINT NOT NULL DEFAULT 0,
    created         BIGINT NOT NULL
)
;;
CREATE TABLE counters (tenant TEXT NOT NULL, kind TEXT NOT NULL, last BIGINT NOT NULL, PRIMARY KEY (tenant, kind))
;;
CREATE TABLE four_eyes (tenant TEXT NOT NULL, decision TEXT NOT NULL, required BIGINT NOT NULL, PRIMARY KEY (tenant, decision))
;;
CREATE TABLE grants (tenant TEXT NOT NULL, supervisor TEXT NOT NULL, PRIMARY KEY (tenant, supervisor))
;;
CREATE TABLE cases (
    tenant TEXT NOT NULL, id BIGINT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL,
    severity TEXT NOT NULL, assignee TEXT, decision TEXT, decision_reason TEXT, decided_by TEXT,
    approved_by TEXT, snoozed_until BIGINT, alert_count BIGINT NOT NULL, version BIGINT NOT NULL,
    created BIGINT NOT NULL, updated BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
)
;;
CREATE INDEX cases_subject ON cases (tenant, subject, state)
;;
CREATE TABLE alerts (
    tenant TEXT NOT NULL, id BIGINT NOT NULL, case_id BIGINT NOT NULL, dedup_key TEXT NOT NULL,
    source TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, subject TEXT NOT NULL,
    reasons TEXT NOT NULL, evidence TEXT NOT NULL, event_time BIGINT NOT NULL, created BIGINT NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, dedup_key)
)
;;
CREATE INDEX alerts_case ON alerts (tenant, case_id)
;;
CREATE TABLE case_items (
    tenant TEXT NOT NULL, case_id BIGINT NOT NULL, n BIGINT NOT NULL, kind TEXT NOT NULL,
    user_id TEXT NOT NULL, time BIGINT NOT NULL, label TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant, case_id, n)
)
;;
CREATE TABLE reports (
    tenant TEXT NOT NULL, id BIGINT NOT NULL, dedup_key TEXT NOT NULL, kind TEXT NOT NULL,
    subject_ids TEXT NOT NULL, event_time BIGINT NOT NULL, detected_time BIGINT NOT NULL,
    due_time BIGINT NOT NULL, filed_time BIGINT, document_sha256 TEXT, reason TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, dedup_key)
)
;;
CREATE TABLE feed_cursor (tenant TEXT NOT NULL, source TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (tenant, source))
;;
CREATE TABLE audit (
    tenant TEXT NOT NULL, seq BIGINT NOT NULL, prev_hash TEXT NOT NULL, time BIGINT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, before TEXT NOT NULL,
    after TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
)
;;
CREATE TABLE audit_head (
    tenant TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL,
    base_seq BIGINT NOT NULL, base_hash TEXT NOT NULL
)
;;
CREATE FUNCTION floodgate_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit entries are append-only';
    END IF;
    IF COALESCE((SELECT legal_hold FROM tenants WHERE tenant = OLD.tenant), 0) <> 0
       OR OLD.time + COALESCE((SELECT retention_days FROM tenants WHERE tenant = OLD.tenant), 3653) * 86400
          > extract(epoch FROM now())::bigint THEN
        RAISE EXCEPTION 'audit entry under retention or legal hold';
    END IF;
    RETURN OLD;
END
$$
;;
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION floodgate_audit_guard()

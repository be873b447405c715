CREATE TABLE users (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, created_by TEXT NOT NULL,
    PRIMARY KEY (tenant, user_id)
)
;;
CREATE INDEX cases_snoozed ON cases (tenant, state, snoozed_until)

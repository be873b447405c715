-- The case view reads a case's and its alerts' audit entries by object: an index, not a walk
-- of the tenant's whole audit log (seen at issue 14's 1M-decision runs).
CREATE INDEX audit_object ON audit (tenant, object, seq)

"""The audit table is append-only, enforced by PostgreSQL: UPDATE and DELETE raise unless
the transaction opened the retention gate (tenancy.audit.retention_gate).

TRUNCATE is not trapped: Django's test flush uses it, and it needs the table owner's
TRUNCATE privilege, which the application role should not hold in production (docs/operations.md)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION vigil_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('vigil.audit_retention', true) = 'on' THEN
        RETURN COALESCE(OLD, NEW);
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenancy_auditentry_append_only
    BEFORE UPDATE OR DELETE ON tenancy_auditentry
    FOR EACH ROW EXECUTE FUNCTION vigil_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tenancy_auditentry_append_only ON tenancy_auditentry;
DROP FUNCTION IF EXISTS vigil_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

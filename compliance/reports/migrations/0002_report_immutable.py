"""Generated reports are immutable, enforced by PostgreSQL: UPDATE and DELETE on the report
table raise unless the transaction opened the retention gate (tenancy.audit.retention_gate, the
same `vigil.audit_retention` setting the audit table's trigger honours)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION vigil_report_immutable() RETURNS trigger AS $$
BEGIN
    IF current_setting('vigil.audit_retention', true) = 'on' THEN
        RETURN COALESCE(OLD, NEW);
    END IF;
    RAISE EXCEPTION 'generated reports are immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER compliance_reports_report_immutable
    BEFORE UPDATE OR DELETE ON compliance_reports_report
    FOR EACH ROW EXECUTE FUNCTION vigil_report_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS compliance_reports_report_immutable ON compliance_reports_report;
DROP FUNCTION IF EXISTS vigil_report_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance_reports", "0001_reports")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

"""Triggers that mark roll-up days dirty: after any statement that changes what a day's
roll-up counts, the days concerned (in the organisation's time zone) get a
`reporting_rollupdirty` row. Statement-level with transition tables, so a bulk write costs one
INSERT … SELECT, and a plain INSERT (no unique key), so a writer never waits on another.
Changing an organisation's time zone unbuilds all its days."""

from django.db import migrations

# table: (columns whose change matters, how a row `r` reaches its days)
INCIDENT_DAYS = """
    SELECT i.organization_id, (ts AT TIME ZONE o.timezone)::date
    FROM {rows} r
    JOIN incidents_incident i ON i.id = {incident}
    JOIN tenancy_organization o ON o.id = i.organization_id,
    LATERAL (VALUES {stamps}) v(ts)
    WHERE ts IS NOT NULL"""
OWN_DAYS = """
    SELECT r.organization_id, (ts AT TIME ZONE o.timezone)::date
    FROM {rows} r JOIN tenancy_organization o ON o.id = r.organization_id,
    LATERAL (VALUES {stamps}) v(ts)
    WHERE ts IS NOT NULL"""


# Every day an incident counts on — its own stamps, its SLA timers' verdicts, its status
# updates, its action items' due dates — for a change of what it is counted as (severity,
# services, teams, exclusion, restriction …), which moves all of them between slices.
EVERY_DAY = """
    SELECT i.organization_id, (ts AT TIME ZONE o.timezone)::date
    FROM {incidents} i JOIN tenancy_organization o ON o.id = i.organization_id,
    LATERAL (VALUES (i.reported_at), (i.acknowledged_at), (i.resolved_at)) v(ts)
    WHERE ts IS NOT NULL
    UNION
    SELECT i.organization_id, (ts AT TIME ZONE o.timezone)::date
    FROM {incidents} i JOIN tenancy_organization o ON o.id = i.organization_id
    JOIN incidents_slatimer t ON t.incident_id = i.id,
    LATERAL (VALUES (t.met_at), (t.breached_at)) v(ts)
    WHERE ts IS NOT NULL
    UNION
    SELECT i.organization_id, (u.posted_at AT TIME ZONE o.timezone)::date
    FROM {incidents} i JOIN tenancy_organization o ON o.id = i.organization_id
    JOIN incidents_statusupdate u ON u.incident_id = i.id
    UNION
    SELECT i.organization_id, a.due_date
    FROM {incidents} i JOIN postmortems_postmortem p ON p.incident_id = i.id
    JOIN postmortems_actionitem a ON a.postmortem_id = p.id
    WHERE a.due_date IS NOT NULL"""
THROUGH = "(SELECT i.* FROM {rows} r JOIN incidents_incident i ON i.id = r.incident_id)"

TABLES = {
    "incidents_incident": (
        "organization_id, reported_at, acknowledged_at, resolved_at, detected_at, status, "
        "reopen_count, source, kind, is_restricted, duplicate_of_id, severity_id, category_id, "
        "primary_service_id, owning_team_id",
        EVERY_DAY.replace("{incidents}", "{rows}"),
    ),
    "incidents_incident_affected_services": (
        "incident_id, service_id",
        EVERY_DAY.replace("{incidents}", THROUGH),
    ),
    "incidents_incident_involved_teams": (
        "incident_id, team_id",
        EVERY_DAY.replace("{incidents}", THROUGH),
    ),
    "incidents_slatimer": (
        "incident_id, phase, met_at, breached_at",
        OWN_DAYS.replace("{stamps}", "(r.met_at), (r.breached_at)"),
    ),
    "incidents_statusupdate": (
        "incident_id, posted_at, late_seconds",
        OWN_DAYS.replace("{stamps}", "(r.posted_at)"),
    ),
    "incidents_impactperiod": (
        "incident_id, number, started_at, ended_at",
        INCIDENT_DAYS.replace("{incident}", "r.incident_id").replace("{stamps}", "(i.resolved_at)"),
    ),
    "postmortems_postmortemdecision": (
        "incident_id, required",
        INCIDENT_DAYS.replace("{incident}", "r.incident_id").replace("{stamps}", "(i.resolved_at)"),
    ),
    "postmortems_postmortem": (
        "incident_id, published_at, review_due_at",
        INCIDENT_DAYS.replace("{incident}", "r.incident_id").replace("{stamps}", "(i.resolved_at)"),
    ),
    "postmortems_actionitem": (
        "postmortem_id, due_date, status, completed_at",
        # The due date is a date already: no time zone.
        """
    SELECT r.organization_id, r.due_date FROM {rows} r WHERE r.due_date IS NOT NULL""",
    ),
}


def _function(table: str, columns: str, days: str) -> str:
    changed = (
        "(SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id "
        f"WHERE (n.{columns.replace(', ', ', n.')}) IS DISTINCT FROM "
        f"(o.{columns.replace(', ', ', o.')}))"
    )
    changed_old = (
        "(SELECT o.* FROM new_rows n JOIN old_rows o ON o.id = n.id "
        f"WHERE (n.{columns.replace(', ', ', n.')}) IS DISTINCT FROM "
        f"(o.{columns.replace(', ', ', o.')}))"
    )
    insert = "INSERT INTO reporting_rollupdirty (organization_id, day) SELECT DISTINCT * FROM ("
    return f"""
CREATE OR REPLACE FUNCTION reporting_dirty_{table}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {insert}{days.format(rows="new_rows")}) d;
  ELSIF TG_OP = 'DELETE' THEN
    {insert}{days.format(rows="old_rows")}) d;
  ELSE
    {insert}{days.format(rows=changed)}
      UNION {days.format(rows=changed_old)}) d;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER reporting_dirty_ins AFTER INSERT ON {table}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION reporting_dirty_{table}();
CREATE TRIGGER reporting_dirty_upd AFTER UPDATE ON {table}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reporting_dirty_{table}();
CREATE TRIGGER reporting_dirty_del AFTER DELETE ON {table}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION reporting_dirty_{table}();
"""


def _drop(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS reporting_dirty_ins ON {table};
DROP TRIGGER IF EXISTS reporting_dirty_upd ON {table};
DROP TRIGGER IF EXISTS reporting_dirty_del ON {table};
DROP FUNCTION IF EXISTS reporting_dirty_{table}();
"""


TIMEZONE = """
CREATE OR REPLACE FUNCTION reporting_unbuild_on_timezone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.timezone IS DISTINCT FROM OLD.timezone THEN
    DELETE FROM reporting_rollupday WHERE organization_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER reporting_unbuild_on_timezone AFTER UPDATE ON tenancy_organization
  FOR EACH ROW EXECUTE FUNCTION reporting_unbuild_on_timezone();
"""
TIMEZONE_DROP = """
DROP TRIGGER IF EXISTS reporting_unbuild_on_timezone ON tenancy_organization;
DROP FUNCTION IF EXISTS reporting_unbuild_on_timezone();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_daily_rollups"),
        ("incidents", "0007_reporting_indexes"),
        ("postmortems", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            "".join(_function(t, c, d) for t, (c, d) in TABLES.items()) + TIMEZONE,
            "".join(_drop(t) for t in TABLES) + TIMEZONE_DROP,
        ),
    ]

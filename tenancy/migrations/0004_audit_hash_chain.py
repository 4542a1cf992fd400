"""The per-organisation audit hash chain (compliance/audit_chain.py explains the contract).

A BEFORE INSERT trigger links every new audit entry to the head of its organisation's chain in
the inserting transaction, under a transaction-level advisory lock per organisation, and gives
it an id drawn under that lock, so ids follow chain order. It also corrects the retention
gate of 0002 so that an UPDATE through the open gate takes effect. The canonical form of an entry is
one SQL function (`vigil_audit_payload`); `vigil_audit_hash` is what the trigger writes and what
verification recomputes. Existing entries are linked here, oldest first."""

from django.db import migrations

# Any constant that no other advisory lock in Vigil uses: "VIGA" read as an int.
LOCK_CLASS = 1447642945

FORWARD = f"""
-- 0002's gate returned OLD for an UPDATE, so an UPDATE through the open gate silently kept the
-- old row (the back-fill below, or anonymisation by the purge, changed nothing). Same rule,
-- the right row: the new one for UPDATE, the old one for DELETE.
CREATE OR REPLACE FUNCTION vigil_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('vigil.audit_retention', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE INDEX tenancy_auditentry_chain_idx ON tenancy_auditentry (organization_id, id);

-- The canonical form of an entry: its own content, field by field in a fixed order, joined
-- by commas; every field that may be NULL or hold text is an SQL literal (quote_nullable:
-- quotes doubled, NULL spelt NULL), JSON as jsonb prints it (keys sorted), the timestamp in UTC
-- with microseconds. compliance.audit_chain.payload() spells it the same way in Python.
CREATE OR REPLACE FUNCTION vigil_audit_payload(e tenancy_auditentry) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT concat_ws(',',
        e.id, quote_nullable(e.organization_id), e.content_type_id,
        quote_nullable(e.object_pk), quote_nullable(e.object_id), quote_nullable(e.object_repr),
        e.action, quote_nullable(e.changes::text), quote_nullable(e.changes_text),
        quote_nullable(e.serialized_data::text), quote_nullable(e.actor_id),
        quote_nullable(e.actor_email), quote_nullable(host(e.remote_addr)),
        quote_nullable(e.remote_port), quote_nullable(e.cid),
        quote_literal(to_char(e."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
        quote_nullable(e.origin), quote_nullable(e.additional_data::text)
    )
$$;

CREATE OR REPLACE FUNCTION vigil_audit_hash(prev text, e tenancy_auditentry) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(prev || vigil_audit_payload(e), 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION vigil_audit_chain_link() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous text;
BEGIN
    -- One writer per organisation at a time, until its transaction ends: two concurrent
    -- transactions can never both link to the same head.
    PERFORM pg_advisory_xact_lock(
        {LOCK_CLASS}, (coalesce(NEW.organization_id, 0) % 2147483647)::int
    );
    -- Drawn under the lock, so within an organisation ids follow chain order.
    NEW.id := nextval(pg_get_serial_sequence('tenancy_auditentry', 'id'));
    IF NEW.organization_id IS NULL THEN
        SELECT a.entry_hash INTO previous FROM tenancy_auditentry a
         WHERE a.organization_id IS NULL ORDER BY a.id DESC LIMIT 1;
    ELSE
        SELECT a.entry_hash INTO previous FROM tenancy_auditentry a
         WHERE a.organization_id = NEW.organization_id ORDER BY a.id DESC LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        SELECT c.anchor_hash INTO previous FROM compliance_auditchain c
         WHERE c.organization_id = NEW.organization_id;
    END IF;
    NEW.prev_hash := coalesce(previous, '');
    NEW.entry_hash := vigil_audit_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END;
$$;

CREATE TRIGGER tenancy_auditentry_chain
    BEFORE INSERT ON tenancy_auditentry
    FOR EACH ROW EXECUTE FUNCTION vigil_audit_chain_link();

-- Back-fill: link the entries written before the chain existed, oldest first.
DO $$
DECLARE
    r tenancy_auditentry;
    previous text := '';
    current_org bigint;
    started boolean := false;
    linked text;
BEGIN
    PERFORM set_config('vigil.audit_retention', 'on', true);
    FOR r IN SELECT * FROM tenancy_auditentry ORDER BY organization_id NULLS FIRST, id LOOP
        IF NOT started OR r.organization_id IS DISTINCT FROM current_org THEN
            previous := coalesce(
                (SELECT c.anchor_hash FROM compliance_auditchain c
                  WHERE c.organization_id = r.organization_id), '');
            current_org := r.organization_id;
            started := true;
        END IF;
        linked := vigil_audit_hash(previous, r);
        UPDATE tenancy_auditentry SET prev_hash = previous, entry_hash = linked WHERE id = r.id;
        previous := linked;
    END LOOP;
    PERFORM set_config('vigil.audit_retention', 'off', true);
END;
$$;
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION vigil_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('vigil.audit_retention', true) = 'on' THEN
        RETURN COALESCE(OLD, NEW);
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tenancy_auditentry_chain ON tenancy_auditentry;
DROP FUNCTION IF EXISTS vigil_audit_chain_link();
DROP FUNCTION IF EXISTS vigil_audit_hash(text, tenancy_auditentry);
DROP FUNCTION IF EXISTS vigil_audit_payload(tenancy_auditentry);
DROP INDEX IF EXISTS tenancy_auditentry_chain_idx;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0003_auditentry_entry_hash_auditentry_prev_hash"),
        ("compliance", "0001_frameworks_obligations"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

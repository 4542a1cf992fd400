"""Tamper evidence for the audit trail: a hash chain per organisation.

How entries are linked (tenancy migration 0004, a PostgreSQL BEFORE INSERT trigger):
  - Every new `tenancy.AuditEntry` gets `prev_hash` = the `entry_hash` of the newest entry of
    the same organisation (or, when the organisation has none, its `AuditChain.anchor_hash`;
    empty for the genesis) and `entry_hash` = sha256(prev_hash + canonical form of the entry).
  - The trigger runs inside the inserting transaction and first takes a transaction-level
    advisory lock on the organisation (`pg_advisory_xact_lock(LOCK_CLASS, org id)`), held until
    commit: concurrent writers of one organisation queue, and two transactions never link to
    the same head. The entry's id is drawn under that lock, so within an organisation the
    chain order is the id order. Two consequences: a long transaction that writes audit
    entries makes the organisation's other writers wait until it commits; and a transaction
    that writes entries for several organisations should take their locks up front in one
    order (`lock_chains`), or two of them may deadlock (PostgreSQL then aborts one).
  - The canonical form is one SQL function, `vigil_audit_payload(entry)`: the entry's own
    content (id, organisation, content type, object pk/id/repr, action, changes, change text,
    serialised data, actor id and e-mail, remote address and port, correlation id, UTC
    timestamp with microseconds, origin, additional data) in that order, joined by commas,
    each nullable or text field an SQL literal (`quote_nullable`), JSON as jsonb prints it.
    `payload()` below is the same form in Python (tests keep the two equal) for anyone checking
    an entry outside the database.
  - Entries without an organisation (changes to users, who belong to no one organisation)
    form one global chain of their own, under lock key 0; `verify_audit --global` checks it
    (its outcome is printed, not stored: `AuditChain` rows belong to organisations).

The retention contract (the purge is the only code that deletes audit rows):
  - The purge deletes an organisation's OLDEST entries only, inside `tenancy.audit.retention_gate`,
    after `lock_chain(org_id)` in the same transaction, and sets that organisation's
    `AuditChain.anchor_hash` / `anchor_entry_id` to the `entry_hash` / id of the LAST (newest)
    entry it deleted.
  - Verification then starts after `anchor_entry_id`: the first remaining entry must link to
    `anchor_hash`. If every entry was purged, the next new entry links to the anchor.
  - The purge must not anonymise audit entries in place: an UPDATE through the gate changes an
    entry's content, and verification reports it as `altered` (the chain cannot tell a lawful
    change from tampering). Delete the oldest entries and move the anchor instead.

TRUNCATE is not trapped (tenancy migration 0002): Django's test flush truncates every table,
and a TRUNCATE trigger would have to be switched off for it; in production the application's
database role should not own the table, so it holds no TRUNCATE privilege (docs/operations.md).
An emptied table still shows: the organisation's count and head hash are on record from the
last verification.

What verification reports (`verify()`, `manage.py verify_audit --org <slug>`, the audit page's
"Verify now" and the nightly task): the number of entries checked, the head hash, and the
first broken link, one of
  - `altered`: the entry's stored hash does not match its content (its content, or the hash
    itself, was changed after it was written);
  - `missing`: the entry links to a hash no remaining entry has — an entry before it was deleted
    (or the one before it was rewritten together with its hash);
  - `link broken`: the entry links to another existing entry than the one before it (entries
    reordered or hashes swapped).
Deleting the newest entries leaves a shorter chain that is still valid: compare the count and
head hash with an earlier verification (both are recorded on the page and in the audit trail)."""

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from compliance.models import AuditChain
from tenancy.audit import LOCK_CLASS, lock_chain, lock_chains  # noqa: F401 (re-exported)
from tenancy.models import AuditEntry, Organization, User


class Kind:
    ALTERED = "altered"
    MISSING = "missing"
    LINK_BROKEN = "link broken"


@dataclass(frozen=True)
class Broken:
    """The first entry whose link or content does not check out."""

    entry_id: int
    timestamp: dt.datetime
    kind: str
    detail: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    head_hash: str
    broken: Broken | None
    seconds: float


# --- the canonical form, in Python ---------------------------------------------------------


def _jsonb_key(key: str) -> tuple[int, bytes]:
    encoded = key.encode()
    return (len(encoded), encoded)


def jsonb_text(value) -> str:
    """`value` spelt as PostgreSQL prints a jsonb: object keys sorted by length then bytes,
    ", " and ": " separators, numbers in numeric's plain notation, non-ASCII kept."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | decimal.Decimal):
        return format(decimal.Decimal(repr(value) if isinstance(value, float) else value), "f")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = sorted(((str(k), v) for k, v in value.items()), key=lambda kv: _jsonb_key(kv[0]))
        return "{" + ", ".join(f"{jsonb_text(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {value!r}")


def sql_literal(value) -> str:
    """`value` as PostgreSQL's quote_nullable() spells it: NULL, or its text in single quotes
    with quotes doubled (and, when it holds a backslash, backslashes doubled and an E prefix)."""
    if value is None:
        return "NULL"
    text = str(value)
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return "E" + quoted if "\\" in text else quoted


def _json_literal(value) -> str:
    return "NULL" if value is None else sql_literal(jsonb_text(value))


def payload(entry: AuditEntry) -> str:
    """The canonical form of `entry`, exactly as `vigil_audit_payload` spells it in SQL."""
    timestamp = entry.timestamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return ",".join(
        [
            str(entry.pk),
            sql_literal(entry.organization_id),
            str(entry.content_type_id),
            sql_literal(entry.object_pk),
            sql_literal(entry.object_id),
            sql_literal(entry.object_repr),
            str(int(entry.action)),
            _json_literal(entry.changes),
            sql_literal(entry.changes_text),
            _json_literal(entry.serialized_data),
            sql_literal(entry.actor_id),
            sql_literal(entry.actor_email),
            sql_literal(str(entry.remote_addr) if entry.remote_addr else None),
            sql_literal(entry.remote_port),
            sql_literal(entry.cid),
            sql_literal(timestamp),
            sql_literal(entry.origin),
            _json_literal(entry.additional_data),
        ]
    )


def link_hash(prev_hash: str, canonical: str) -> str:
    """An entry's hash: sha256 over the previous entry's hash and its own canonical form."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


# --- writing and verifying -------------------------------------------------------------------


# Two passes over one snapshot, because they cost differently: recomputing each entry's hash
# is the expensive part and needs no order, so PostgreSQL may spread it over parallel workers;
# checking each link needs id order (a window lag over an index scan) but only two columns.
_HASH_SQL = """
SELECT count(*), max(e.id),
       min(e.id) FILTER (WHERE vigil_audit_hash(e.prev_hash, e) <> e.entry_hash)
  FROM tenancy_auditentry e
 WHERE {org} AND e.id > %(after)s
"""

_LINK_SQL = """
SELECT min(id) FILTER (WHERE prev_hash <> expected_prev)
  FROM (SELECT e.id, e.prev_hash,
               coalesce(lag(e.entry_hash) OVER (ORDER BY e.id), %(anchor)s) AS expected_prev
          FROM tenancy_auditentry e
         WHERE {org} AND e.id > %(after)s AND e.id <= %(head)s) chain
"""

_BROKEN_SQL = """
SELECT e.id, e."timestamp", e.prev_hash, e.entry_hash, vigil_audit_hash(e.prev_hash, e),
       (SELECT p.id FROM tenancy_auditentry p
         WHERE {same_org} AND p.id < e.id
           AND p.id > %(after)s
         ORDER BY p.id DESC LIMIT 1),
       (SELECT p.entry_hash FROM tenancy_auditentry p
         WHERE {same_org} AND p.id < e.id
           AND p.id > %(after)s
         ORDER BY p.id DESC LIMIT 1),
       (SELECT p.id FROM tenancy_auditentry p
         WHERE {same_org}
           AND p.entry_hash = e.prev_hash
           AND p.id <> e.id
         LIMIT 1)
  FROM tenancy_auditentry e WHERE e.id = %(id)s
"""


def _describe(cursor, *, entry_id: int, anchor: str, after: int, is_global: bool) -> Broken:
    same_org = "p.organization_id IS NULL" if is_global else "p.organization_id = e.organization_id"
    cursor.execute(_BROKEN_SQL.format(same_org=same_org), {"id": entry_id, "after": after})
    (_, timestamp, prev_hash, stored, recomputed, previous_id, previous_hash, linked_id) = (
        cursor.fetchone()
    )
    if recomputed != stored:
        detail = (
            f"its content no longer matches its hash (stored {stored[:12] or 'nothing'}…, "
            f"content hashes to {recomputed[:12]}…): the entry was altered after it was written"
        )
        return Broken(entry_id, timestamp, Kind.ALTERED, detail)
    expected = previous_hash if previous_id is not None else anchor
    before = f"entry #{previous_id}" if previous_id is not None else "the chain's anchor"
    if linked_id is not None:
        detail = (
            f"it links to entry #{linked_id}, not to {before} (hash {expected[:12] or 'empty'}…): "
            "entries were reordered or their hashes swapped"
        )
        return Broken(entry_id, timestamp, Kind.LINK_BROKEN, detail)
    detail = (
        f"it links to hash {prev_hash[:12] or 'empty'}…, which no remaining entry has "
        f"({before} has {expected[:12] or 'empty'}…): an entry before it is missing "
        "(deleted), or the one before it was rewritten"
    )
    return Broken(entry_id, timestamp, Kind.MISSING, detail)


def verify(organization: Organization | None) -> Verification:
    """Recompute `organization`'s chain in PostgreSQL (sha256 per entry, a window lag per
    link) and name the first broken link. Writes nothing; `verify_and_record` records the
    outcome. `None` verifies the global chain of entries without an organisation."""
    started = timezone.now()
    chain = None
    if organization is not None:
        with scope(organization=organization):
            chain = AuditChain.objects.filter(organization=organization).first()
    anchor = chain.anchor_hash if chain else ""
    after = (chain.anchor_entry_id or 0) if chain else 0
    own_transaction = not connection.in_atomic_block
    # The organisation's rows (row-level security too); the global chain's have none.
    rows = scope(organization=organization) if organization is not None else scopes_disabled()
    with rows, transaction.atomic(), connection.cursor() as cursor:
        if own_transaction:
            # One snapshot: the count, the head and the broken entry describe one state.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # The hash is costed like a cheap expression; it is not: let the planner go parallel.
        cursor.execute("SET LOCAL parallel_setup_cost = 0")
        cursor.execute("SET LOCAL parallel_tuple_cost = 0")
        params = {"org": organization.pk if organization else None, "anchor": anchor}
        params["after"] = after
        which = "e.organization_id = %(org)s" if organization else "e.organization_id IS NULL"
        cursor.execute(_HASH_SQL.format(org=which), params)
        count, head_id, altered_id = cursor.fetchone()
        broken_id = None
        if head_id is not None:
            cursor.execute(_LINK_SQL.format(org=which), {**params, "head": head_id})
            unlinked_id = cursor.fetchone()[0]
            broken_id = min((i for i in (altered_id, unlinked_id) if i is not None), default=None)
        head_hash = ""
        if head_id is not None:
            cursor.execute("SELECT entry_hash FROM tenancy_auditentry WHERE id = %s", [head_id])
            head_hash = cursor.fetchone()[0]
        elif anchor:
            head_hash = anchor
        broken = None
        if broken_id is not None:
            broken = _describe(
                cursor,
                entry_id=broken_id,
                anchor=anchor,
                after=after,
                is_global=organization is None,
            )
    seconds = (timezone.now() - started).total_seconds()
    return Verification(broken is None, count, head_hash, broken, seconds)


def verify_and_record(
    organization: Organization, *, actor: User | None = None, origin: str
) -> Verification:
    """Verify `organization`'s chain, store the outcome on its `AuditChain`, and write the
    verification itself into the audit trail (who or what ran it, the count, the head)."""
    result = verify(organization)
    with transaction.atomic(), scope(organization=organization):
        chain, _ = AuditChain.objects.get_or_create(organization=organization)
        chain.last_verified_at = timezone.now()
        chain.last_verified_ok = result.ok
        chain.last_verified_count = result.count
        chain.first_broken_entry_id = result.broken.entry_id if result.broken else None
        chain.save(
            update_fields=[
                "last_verified_at",
                "last_verified_ok",
                "last_verified_count",
                "first_broken_entry_id",
            ]
        )
        AuditEntry.objects.create(
            organization=organization,
            content_type=ContentType.objects.get_for_model(AuditChain),
            object_pk=str(chain.pk),
            object_id=chain.pk,
            object_repr="Audit chain",
            action=AuditEntry.Action.ACCESS,
            changes_text="verified the audit chain",
            actor=actor,
            actor_email=actor.email if actor else None,
            origin=origin[:120],
            additional_data={
                "verification": {
                    "ok": result.ok,
                    "count": result.count,
                    "head_hash": result.head_hash,
                    "first_broken_entry_id": chain.first_broken_entry_id,
                    "kind": result.broken.kind if result.broken else "",
                }
            },
        )
    return result


@dataclass(frozen=True)
class ChainStatus:
    chain: AuditChain | None
    last_run: AuditEntry | None


def chain_status(organization: Organization) -> ChainStatus:
    """What the audit page shows: the last verification's outcome and who or what ran it."""
    with scope(organization=organization):
        chain = AuditChain.objects.filter(organization=organization).first()
        last_run = (
            AuditEntry.objects.filter(
                organization=organization,
                content_type=ContentType.objects.get_for_model(AuditChain),
                action=AuditEntry.Action.ACCESS,
            )
            .select_related("actor")
            .order_by("-pk")
            .first()
        )
    return ChainStatus(chain, last_run)

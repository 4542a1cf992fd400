"""The audit hash chain: written with each entry, per organisation, safe under concurrent
writers; `verify_audit` names the first broken link; the purge's anchor; the audit page's
status and "Verify now"; the nightly beat entry."""

import datetime as dt
import threading
import time

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse
from django_scopes import scopes_disabled

from compliance import audit_chain
from compliance.models import AuditChain
from compliance.tasks import verify_audit_chain_task, verify_audit_chains_task
from tenancy.audit import audit_context, retention_gate
from tenancy.models import AuditEntry, Organization
from tenancy.roles import Role
from tests.dbroles import as_table_owner
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

URL = reverse("compliance:audit_list", kwargs={"org_slug": "acme"})
VERIFY_URL = reverse("compliance:audit_verify", kwargs={"org_slug": "acme"})


def entries(org) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(organization=org).order_by("pk"))


def make_trail(org, n: int, *, actor=None) -> list[AuditEntry]:
    with audit_context(actor=actor, origin="command:test"):
        for i in range(n):
            TeamFactory(organization=org, name=f"{org.slug} team {i}")
    return entries(org)


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def tamper(statement: str, params=()) -> None:
    """Change audit rows behind the application's back, as an attacker with table access
    would: the append-only trigger disabled for this (test) transaction. (Deferred foreign-key
    checks must run first: a table with pending trigger events cannot be altered.)"""
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    with as_table_owner():
        sql("ALTER TABLE tenancy_auditentry DISABLE TRIGGER tenancy_auditentry_append_only")
        sql(statement, params)
        sql("ALTER TABLE tenancy_auditentry ENABLE TRIGGER tenancy_auditentry_append_only")


def verify_command(slug: str = "acme") -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", org=slug, stdout=out)
    return out.getvalue()


# — writing ——————————————————————————————————————————————————————————————————————————


def test_each_organisation_has_its_own_chain_from_the_genesis(acme, globex):
    acme_trail = make_trail(acme, 3)
    globex_trail = make_trail(globex, 2)
    for trail in (acme_trail, globex_trail):
        assert trail[0].prev_hash == ""
        for previous, entry in zip(trail, trail[1:], strict=False):
            assert entry.prev_hash == previous.entry_hash
        assert len({e.entry_hash for e in trail}) == len(trail)
    assert acme_trail[-1].entry_hash != globex_trail[-1].entry_hash


def test_python_and_sql_spell_and_hash_an_entry_identically(acme, acme_admin):
    with scopes_disabled():
        AuditEntry.objects.create(
            organization=acme,
            content_type=ContentType.objects.get_for_model(Organization),
            object_pk="7",
            object_id=7,
            object_repr='Zoë "quoted" \\ back\tslash\n日本',
            action=AuditEntry.Action.UPDATE,
            changes={
                "name": ["old", "new €"],
                "a": [None, True],
                "longer key": {"nested": [1, 2.5, -3, 1e-7, 12345678901234567890]},
                "bb": ["\u0001control", ""],
            },
            changes_text="edited",
            actor=acme_admin.user,
            actor_email=acme_admin.user.email,
            remote_addr="2001:db8::1",
            remote_port=443,
            cid="req-1",
            additional_data={"z": 1, "y": False},
            origin="web",
        )
    make_trail(acme, 2, actor=acme_admin.user)
    for entry in entries(acme):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT vigil_audit_payload(e) FROM tenancy_auditentry e WHERE id = %s",
                [entry.pk],
            )
            in_sql = cursor.fetchone()[0]
        assert audit_chain.payload(entry) == in_sql
        assert audit_chain.link_hash(entry.prev_hash, in_sql) == entry.entry_hash


def test_the_hash_is_written_in_the_same_transaction_as_the_entry(acme):
    make_trail(acme, 1)

    def write_then_fail():
        with transaction.atomic():
            TeamFactory(organization=acme, name="rolled back")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()
    TeamFactory(organization=acme, name="after")
    trail = entries(acme)
    assert [e.object_repr for e in trail][-1] == "after"
    assert trail[-1].prev_hash == trail[-2].entry_hash
    assert audit_chain.verify(acme).ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_link_to_the_same_entry():
    """Eight threads, each its own connection and transaction, write entries of one
    organisation at once; each transaction holds its work open for a moment so they overlap."""
    from django.db import connections

    from tests.factories import OrganizationFactory

    org = OrganizationFactory(slug="race", key_prefix="RACE")
    before = len(entries(org))  # the organisation's creation and its seeded rows
    barrier = threading.Barrier(8)
    errors = []

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for round_ in range(3):
                with transaction.atomic():
                    TeamFactory(organization=org, name=f"t{n}-{round_}-a")
                    time.sleep(0.01)
                    TeamFactory(organization=org, name=f"t{n}-{round_}-b")
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    trail = entries(org)
    assert len(trail) == before + 8 * 3 * 2
    prev_hashes = [e.prev_hash for e in trail]
    assert len(set(prev_hashes)) == len(prev_hashes)  # no fork: nobody shares a predecessor
    result = audit_chain.verify(org)
    assert result.ok
    assert result.count == len(trail)


def _two_organisation_writers(first, second, *, lock_first: bool) -> list[Exception]:
    """Two transactions, each writing an entry for one organisation, then (once both have
    written) one for the other: opposite orders."""
    from django.db import connections

    barrier = threading.Barrier(2)
    errors = []

    def writer(a, b):
        try:
            with transaction.atomic():
                if lock_first:
                    audit_chain.lock_chains([a.pk, b.pk])
                TeamFactory(organization=a, name=f"{a.slug} first")
                if not lock_first:
                    barrier.wait(timeout=10)
                TeamFactory(organization=b, name=f"{b.slug} second")
        except Exception as exc:  # noqa: BLE001 — reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=writer, args=(first, second)),
        threading.Thread(target=writer, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_cross_organisation_writers_in_opposite_orders_deadlock_without_lock_chains():
    """The hazard lock_chains exists for: PostgreSQL aborts one of the two transactions."""
    from django.db import OperationalError

    from tests.factories import OrganizationFactory

    a = OrganizationFactory(slug="org-a", key_prefix="ORGA")
    b = OrganizationFactory(slug="org-b", key_prefix="ORGB")
    errors = _two_organisation_writers(a, b, lock_first=False)
    assert len(errors) == 1
    assert isinstance(errors[0], OperationalError)
    assert "deadlock" in str(errors[0])
    assert audit_chain.verify(a).ok
    assert audit_chain.verify(b).ok


@pytest.mark.django_db(transaction=True)
def test_lock_chains_takes_the_locks_in_one_order_so_nobody_deadlocks():
    from tests.factories import OrganizationFactory

    a = OrganizationFactory(slug="org-a", key_prefix="ORGA")
    b = OrganizationFactory(slug="org-b", key_prefix="ORGB")
    assert _two_organisation_writers(a, b, lock_first=True) == []
    for org in (a, b):
        assert audit_chain.verify(org).ok
        names = [e.object_repr for e in entries(org)]
        assert f"{org.slug} first" in names
        assert f"{org.slug} second" in names


def test_changes_to_users_form_the_global_chain(acme, make_member):
    from io import StringIO

    make_member(acme, Role.VIEWER, email="one@acme.test")
    make_member(acme, Role.VIEWER, email="two@acme.test")
    with scopes_disabled():
        users = list(AuditEntry.objects.filter(organization=None).order_by("pk"))
    assert len(users) >= 2
    assert users[1].prev_hash == users[0].entry_hash
    out = StringIO()
    call_command("verify_audit", "--global", stdout=out)
    assert f"global: audit chain intact — {len(users)} entries verified" in out.getvalue()
    tamper("UPDATE tenancy_auditentry SET object_repr = 'x' WHERE id = %s", [users[1].pk])
    with pytest.raises(CommandError, match=f"global: audit chain BROKEN at entry #{users[1].pk}"):
        call_command("verify_audit", "--global", stdout=StringIO())
    assert "intact" in verify_command()  # acme's own chain is another chain


# — verifying ——————————————————————————————————————————————————————————————————————————


def test_verify_reports_count_and_head_and_records_the_outcome(acme):
    trail = make_trail(acme, 4)
    out = verify_command()
    assert f"{len(trail)} entries verified" in out
    assert trail[-1].entry_hash in out
    with scopes_disabled():
        chain = AuditChain.objects.get(organization=acme)
        record = AuditEntry.objects.filter(organization=acme).latest("pk")
    assert chain.last_verified_ok is True
    assert chain.last_verified_count == len(trail)
    assert chain.first_broken_entry_id is None
    assert record.origin == "command:verify_audit"
    assert record.additional_data["verification"]["count"] == len(trail)
    # The verification's own entry continues the chain.
    assert record.prev_hash == trail[-1].entry_hash
    assert audit_chain.verify(acme).count == len(trail) + 1


def test_an_unknown_organisation_is_an_error():
    with pytest.raises(CommandError, match="No organisation"):
        verify_command("nope")


def broken(slug="acme") -> CommandError:
    with pytest.raises(CommandError) as caught:
        verify_command(slug)
    assert caught.value.returncode == 1
    return caught.value


def test_altered_content_is_named(acme, globex):
    trail = make_trail(acme, 5)
    make_trail(globex, 2)
    tamper("UPDATE tenancy_auditentry SET object_repr = 'innocent' WHERE id = %s", [trail[2].pk])
    message = str(broken())
    assert f"BROKEN at entry #{trail[2].pk}" in message
    assert "altered" in message
    with scopes_disabled():
        chain = AuditChain.objects.get(organization=acme)
    assert chain.last_verified_ok is False
    assert chain.first_broken_entry_id == trail[2].pk
    assert "intact" in verify_command("globex")  # another organisation's chain is untouched


def test_a_changed_timestamp_is_named(acme):
    trail = make_trail(acme, 3)
    tamper(
        "UPDATE tenancy_auditentry SET timestamp = timestamp - interval '1 day' WHERE id = %s",
        [trail[1].pk],
    )
    assert f"entry #{trail[1].pk}" in str(broken())


def test_a_deleted_entry_in_the_middle_is_named_at_its_successor(acme):
    trail = make_trail(acme, 5)
    tamper("DELETE FROM tenancy_auditentry WHERE id = %s", [trail[2].pk])
    message = str(broken())
    assert f"BROKEN at entry #{trail[3].pk}" in message
    assert "missing" in message
    assert f"entry #{trail[1].pk}" in message


def test_the_deleted_genesis_entry_is_named(acme):
    trail = make_trail(acme, 3)
    tamper("DELETE FROM tenancy_auditentry WHERE id = %s", [trail[0].pk])
    message = str(broken())
    assert f"BROKEN at entry #{trail[1].pk}" in message
    assert "missing" in message


def test_swapped_hashes_are_named_at_the_first(acme):
    trail = make_trail(acme, 5)
    tamper(
        "UPDATE tenancy_auditentry SET entry_hash = CASE id WHEN %s THEN %s ELSE %s END "
        "WHERE id IN (%s, %s)",
        [trail[1].pk, trail[2].entry_hash, trail[1].entry_hash, trail[1].pk, trail[2].pk],
    )
    message = str(broken())
    assert f"BROKEN at entry #{trail[1].pk}" in message
    assert "altered" in message


def test_a_forged_entry_that_skips_its_predecessor_is_a_broken_link(acme):
    """The attacker re-hashes entry 3 to link to entry 1 (hiding entry 2 from a reader who
    follows links): its own hash is consistent, but it does not follow entry 2."""
    trail = make_trail(acme, 5)
    tamper(
        "UPDATE tenancy_auditentry e SET prev_hash = %s WHERE id = %s",
        [trail[1].entry_hash, trail[3].pk],
    )
    tamper(
        "UPDATE tenancy_auditentry e SET entry_hash = vigil_audit_hash(e.prev_hash, e) "
        "WHERE id = %s",
        [trail[3].pk],
    )
    message = str(broken())
    assert f"BROKEN at entry #{trail[3].pk}" in message
    assert "link broken" in message
    assert f"links to entry #{trail[1].pk}, not to entry #{trail[2].pk}" in message


def test_only_the_first_broken_link_is_named(acme):
    trail = make_trail(acme, 6)
    tamper("UPDATE tenancy_auditentry SET object_repr = 'x' WHERE id = %s", [trail[4].pk])
    tamper("DELETE FROM tenancy_auditentry WHERE id = %s", [trail[1].pk])
    assert f"BROKEN at entry #{trail[2].pk}" in str(broken())


def test_rows_written_while_the_trigger_was_off_are_named(acme):
    make_trail(acme, 2)
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    with as_table_owner():
        sql("ALTER TABLE tenancy_auditentry DISABLE TRIGGER tenancy_auditentry_chain")
    TeamFactory(organization=acme, name="smuggled in")
    with as_table_owner():
        sql("ALTER TABLE tenancy_auditentry ENABLE TRIGGER tenancy_auditentry_chain")
    smuggled = entries(acme)[-1]
    assert smuggled.entry_hash == ""
    assert f"BROKEN at entry #{smuggled.pk}" in str(broken())


# — the retention purge's anchor ————————————————————————————————————————————————————


def purge_oldest(org, n: int) -> list[AuditEntry]:
    """What the retention purge does (its contract in compliance/audit_chain.py)."""
    trail = entries(org)
    with retention_gate():
        audit_chain.lock_chain(org.pk)
        with scopes_disabled():
            AuditEntry.objects.filter(pk__in=[e.pk for e in trail[:n]]).delete()
            AuditChain.objects.update_or_create(
                organization=org,
                defaults={
                    "anchor_hash": trail[n - 1].entry_hash,
                    "anchor_entry_id": trail[n - 1].pk,
                },
            )
    return trail


def test_after_a_purge_verification_starts_at_the_anchor(acme):
    make_trail(acme, 5)
    trail = purge_oldest(acme, 3)
    result = audit_chain.verify(acme)
    assert result.ok
    assert result.count == len(trail) - 3
    assert result.head_hash == trail[-1].entry_hash


def test_a_purge_without_moving_the_anchor_is_a_missing_entry(acme):
    trail = make_trail(acme, 4)
    with retention_gate(), scopes_disabled():
        AuditEntry.objects.filter(pk=trail[0].pk).delete()
    result = audit_chain.verify(acme)
    assert result.broken.entry_id == trail[1].pk
    assert result.broken.kind == audit_chain.Kind.MISSING


def test_after_purging_everything_the_next_entry_links_to_the_anchor(acme):
    make_trail(acme, 3)
    trail = purge_oldest(acme, len(entries(acme)))
    assert entries(acme) == []
    TeamFactory(organization=acme, name="fresh")
    fresh = entries(acme)[0]
    assert fresh.prev_hash == trail[-1].entry_hash
    assert audit_chain.verify(acme).ok


def test_the_gate_lets_an_update_through_and_the_chain_notices(acme):
    trail = make_trail(acme, 2)
    with retention_gate():
        sql("UPDATE tenancy_auditentry SET object_repr = 'anonymised' WHERE id = %s", [trail[0].pk])
    assert entries(acme)[0].object_repr == "anonymised"
    assert audit_chain.verify(acme).broken.entry_id == trail[0].pk


def test_without_the_gate_audit_rows_stay_append_only(acme):
    trail = make_trail(acme, 1)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        sql("UPDATE tenancy_auditentry SET entry_hash = '' WHERE id = %s", [trail[0].pk])


# — nightly and on the audit page ————————————————————————————————————————————————————


def test_the_nightly_beat_entry_verifies_every_organisation(acme, globex):
    entry = settings.CELERY_BEAT_SCHEDULE["verify-audit-chains"]
    assert entry["task"] == "compliance.tasks.verify_audit_chains_task"
    assert entry["schedule"].hour == {2}  # once a night
    make_trail(acme, 2)
    trail = make_trail(globex, 2)
    tamper("UPDATE tenancy_auditentry SET object_repr = 'x' WHERE id = %s", [trail[1].pk])
    assert verify_audit_chains_task() == {"acme": True, "globex": False}
    with scopes_disabled():
        chains = {c.organization.slug: c for c in AuditChain.objects.select_related("organization")}
        record = AuditEntry.objects.filter(organization=globex).latest("pk")
    assert chains["acme"].last_verified_ok is True
    assert chains["globex"].first_broken_entry_id == trail[1].pk
    assert record.origin == "task:verify_audit_chains"


def test_the_audit_page_says_when_the_chain_was_never_verified(acme, acme_admin, login):
    response = login(acme_admin.user).get(URL)
    assert b"Never verified" in response.content
    assert b"Verify now" in response.content


def test_verify_now_runs_it_and_the_page_shows_who_and_the_result(acme, acme_admin, login):
    make_trail(acme, 3)
    client = login(acme_admin.user)
    response = client.post(VERIFY_URL, follow=True)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Chain intact" in content
    assert acme_admin.user.email in content
    with scopes_disabled():
        chain = AuditChain.objects.get(organization=acme)
        record = AuditEntry.objects.filter(organization=acme).latest("pk")
    assert chain.last_verified_ok is True
    assert record.actor == acme_admin.user
    assert record.origin == "web"


def test_the_page_names_the_first_broken_link(acme, acme_admin, login):
    trail = make_trail(acme, 3)
    tamper("DELETE FROM tenancy_auditentry WHERE id = %s", [trail[1].pk])
    client = login(acme_admin.user)
    content = client.post(VERIFY_URL, follow=True).content.decode()
    assert "Chain broken" in content
    assert f"#{trail[2].pk}" in content
    assert "missing" in content


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_verify_now_is_refused_without_manage_compliance_and_nothing_is_recorded(
    acme, make_member, login, role
):
    make_trail(acme, 1)
    response = login(make_member(acme, role).user).post(VERIFY_URL)
    assert response.status_code == 404
    with scopes_disabled():
        assert not AuditChain.objects.filter(organization=acme).exists()


def test_verify_now_needs_a_post(acme, acme_admin, login):
    assert login(acme_admin.user).get(VERIFY_URL).status_code == 405


def test_another_organisations_admin_gets_404(acme, globex_admin, login):
    assert login(globex_admin.user).post(VERIFY_URL).status_code == 404


def test_a_long_chain_is_verified_in_the_background(
    acme, acme_admin, login, settings, django_capture_on_commit_callbacks
):
    settings.AUDIT_VERIFY_INLINE_MAX = 2
    make_trail(acme, 3)
    client = login(acme_admin.user)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(VERIFY_URL, follow=True)
    assert b"Verification started" in response.content
    assert len(queued) == 1
    with scopes_disabled():
        assert not AuditChain.objects.filter(organization=acme).exists()
    # What the worker then runs:
    assert verify_audit_chain_task(acme.pk, acme_admin.user.pk) is True
    with scopes_disabled():
        chain = AuditChain.objects.get(organization=acme)
        record = AuditEntry.objects.filter(organization=acme).latest("pk")
    assert chain.last_verified_ok is True
    assert chain.last_verified_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    assert record.actor == acme_admin.user
    assert record.origin == "task:verify_audit_chain"

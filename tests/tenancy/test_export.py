"""The per-organisation export (tenancy/export.py): every tenant model exported or excluded
with a reason, counts equal to the database, no other organisation's rows, no secrets, valid
JSON; `manage.py export_org` and /o/<org>/settings/export/ (admins only, audited)."""

import json
import re

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import ApiToken
from incidents.models import ChatWebhook, Incident
from integrations.models import AlertSource
from tenancy import export
from tenancy.models import AuditEntry, Organization, User
from tests.test_meta import NOT_TENANT_OWNED, vigil_models

pytestmark = pytest.mark.django_db

CANARY = {
    "bearer": "canary-bearer-8c1e2f",
    "hmac": "canary-hmac-77aa01",
    "outbound": "canary-outbound-31bd9e",
    "chat": "https://hooks.slack.example/services/T000/B000/canary-chat-5f5f5f",
    "token": "canary-api-token-0d0d0d",
}
# Field names that look like secrets but are not, each with the reason.
NOT_SECRET = {
    "tenancy.AuditEntry.prev_hash": "the audit hash chain (public by design)",
    "tenancy.AuditEntry.entry_hash": "the audit hash chain",
    "compliance.AuditChain.anchor_hash": "the audit chain's anchor",
    "compliance_retention.PurgeReceipt.anchor_hash": "the audit chain's anchor after a purge",
    "compliance_reports.Report.content_hash": "checksum of a generated report",
    "compliance_reviews.Campaign.signed_hash": "checksum of a signed-off review",
    "integrations.AlertSource.previous_secret_expires_at": "a date",
    "integrations.AlertSource.secret_in_url": "a flag",
    "ticketing.TicketIntegration.credential_env": "the NAME of an environment variable",
    "ticketing.TicketIntegration.project_key": "the tracker's project key (e.g. OPS)",
    "api.ApiToken.lookup": "the public half of a token (its prefix), not the secret",
}
SECRET_LOOKING = re.compile(r"secret|token|hash|password|credential|encrypt|routing_key|lookup")


@pytest.fixture
def demo(settings, monkeypatch):
    """Both demo organisations with their whole sample history (few incidents), plus
    secrets of every kind the export must redact, planted in both."""
    from incidents import demo as incident_demo

    monkeypatch.setattr(incident_demo, "DEMO_INCIDENTS", {"acme": 6, "globex": 4})
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with scopes_disabled():
        orgs = {o.slug: o for o in Organization.objects.all()}
        admin = User.objects.get(email="admin@acme.test")
        for slug, org in orgs.items():
            source = AlertSource(organization=org, name=f"prom-{slug}", kind="alertmanager")
            source.set_secret(f"{CANARY['bearer']}-{slug}")
            source.hmac_secret = f"{CANARY['hmac']}-{slug}"
            source.outbound_secret = f"{CANARY['outbound']}-{slug}"
            source.save()
            ChatWebhook.objects.create(organization=org, name="ops", url=f"{CANARY['chat']}{slug}")
            ApiToken.objects.create(
                organization=org,
                user=admin,
                name="bot",
                lookup=f"lk{slug}"[:16],
                secret_hash=f"{CANARY['token']}-{slug}",
                expires_at=timezone.now() + timezone.timedelta(days=30),
            )
    return orgs


def _export(slug, tmp_path) -> tuple[str, dict]:
    out = tmp_path / f"{slug}.json"
    call_command("export_org", slug, "--output", str(out), stderr=open("/dev/null", "w"))  # noqa: SIM115
    text = out.read_text(encoding="utf-8")
    return text, json.loads(text)


def test_every_tenant_model_is_exported_or_excluded_with_a_reason():
    tenant = {m._meta.label for m in vigil_models() if m not in NOT_TENANT_OWNED}
    tenant |= {m._meta.label for m in export.tenant_models()}
    exported = {m._meta.label for m in export.exported_models()}
    missing = sorted(tenant - exported - set(export.EXCLUDED_MODELS))
    assert not missing, f"tenant models neither exported nor in EXCLUDED_MODELS: {missing}"
    unknown = sorted(set(export.EXCLUDED_MODELS) - tenant)
    assert not unknown, f"EXCLUDED_MODELS names no tenant model: {unknown}"
    assert all(reason.strip() for reason in export.EXCLUDED_MODELS.values())
    assert {"incidents.Incident", "incidents.TimelineEvent", "tenancy.AuditEntry"} <= exported


def test_every_secret_looking_field_is_redacted_or_explained():
    for label, fields in export.REDACTED_FIELDS.items():
        model = apps.get_model(label)
        for name in fields:
            model._meta.get_field(name)  # raises when the list names a field that went away
    unexplained = []
    for model in export.exported_models():
        label = model._meta.label
        for field in model._meta.concrete_fields:
            if not SECRET_LOOKING.search(field.name):
                continue
            if field.name in export.REDACTED_FIELDS.get(label, ()):
                continue
            if f"{label}.{field.name}" in NOT_SECRET or field.name.endswith("idempotency_key"):
                continue
            unexplained.append(f"{label}.{field.name}")
    assert not unexplained, (
        f"fields that look secret: add them to tenancy.export.REDACTED_FIELDS, or to NOT_SECRET "
        f"here with the reason: {unexplained}"
    )


def test_the_export_holds_exactly_the_organisations_rows_and_no_secret(demo, tmp_path):
    acme, globex = demo["acme"], demo["globex"]
    text, data = _export("acme", tmp_path)

    assert data["format"] == "vigil-org-export"
    assert data["organization"]["slug"] == "acme"
    with scopes_disabled():
        for model in export.exported_models():
            label = model._meta.label
            expected = model._default_manager.filter(organization=acme).count()
            rows = data["models"][label]
            assert len(rows) == expected == data["counts"][label], label
            assert all(row["organization_id"] == acme.pk for row in rows), label
        # The demo fills both organisations: the comparison means something.
        assert data["counts"]["incidents.Incident"] >= 6
        assert data["counts"]["incidents.TimelineEvent"] > data["counts"]["incidents.Incident"]
        assert data["counts"]["tenancy.AuditEntry"] > 0
        globex_keys = set(
            Incident.objects.filter(organization=globex).values_list("key", flat=True)
        )
        assert globex_keys
        emails = {m["email"] for m in data["members"]}
    assert "admin@acme.test" in emails
    assert "admin@globex.test" not in emails
    assert not any(key in text for key in globex_keys), "a globex incident key in acme's export"
    assert "Globex" not in text
    for value in CANARY.values():
        assert value not in text
    assert "pbkdf2" not in text
    assert "md5$" not in text
    source = next(r for r in data["models"]["integrations.AlertSource"] if r["name"] == "prom-acme")
    assert source["secret_hash"] == source["hmac_secret"] == "[redacted]"
    assert all(r["url"] == "[redacted]" for r in data["models"]["incidents.ChatWebhook"])

    with scopes_disabled():
        entry = AuditEntry.objects.filter(organization=acme).order_by("-pk").first()
    assert "exported all of the organisation's data" in entry.changes_text


def test_export_org_refuses_an_unknown_organisation(db):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("export_org", "no-such-org")


def test_admins_download_the_export_others_are_refused(demo, client):
    acme = demo["acme"]
    url = "/o/acme/settings/export/"
    with scopes_disabled():
        admin = User.objects.get(email="admin@acme.test")
        responder = User.objects.get(email="responder@acme.test")
        foreign = User.objects.get(email="admin@globex.test")
        before = AuditEntry.objects.filter(organization=acme).count()

    client.force_login(responder)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    client.force_login(foreign)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    with scopes_disabled():
        assert AuditEntry.objects.filter(organization=acme).count() == before

    client.force_login(admin)
    page = client.get(url)
    assert page.status_code == 200
    assert b"[redacted]" in page.content
    response = client.post(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="acme-export-')
    data = json.loads(b"".join(response.streaming_content))
    assert data["organization"]["slug"] == "acme"
    assert data["counts"]["incidents.Incident"] >= 6
    with scopes_disabled():
        entry = AuditEntry.objects.filter(organization=acme).order_by("-pk").first()
        assert entry.actor_id == admin.pk
        assert "(web)" in entry.changes_text


def test_the_page_sends_large_organisations_to_the_command(demo, client, monkeypatch):
    monkeypatch.setattr(export, "WEB_MAX_INCIDENTS", 1)
    acme = demo["acme"]
    with scopes_disabled():
        admin = User.objects.get(email="admin@acme.test")
        before = AuditEntry.objects.filter(organization=acme).count()
    client.force_login(admin)
    response = client.post("/o/acme/settings/export/")
    assert response.status_code == 409
    assert b"manage.py export_org acme --output FILE" in response.content
    with scopes_disabled():
        assert AuditEntry.objects.filter(organization=acme).count() == before

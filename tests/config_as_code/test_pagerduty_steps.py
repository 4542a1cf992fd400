"""Escalation steps that page a PagerDuty service in configuration as code (review finding 2):
exported as `{delay_minutes, pagerduty: <service name>}`, imported by resolving the name to the
organisation's own service, never silently dropped when a path's steps change."""

import io

import pytest
import yaml
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from integrations.pagerduty import services as pd_services
from integrations.pagerduty.models import PagerDutyService
from taxonomy.models import EscalationPath, EscalationStep
from tenancy.roles import Role
from tests.factories import MembershipFactory, OrganizationFactory
from tests.incidents.factories import severity

pytestmark = pytest.mark.django_db
ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6"
WEBHOOK_SECRET = "pd-whsec-ChxnZ1fz0VbZpI4c2yq"
ACTOR = ("--actor", "admin@acme.test")


def export(org) -> str:
    out = io.StringIO()
    call_command("export_config", "--org", org.slug, stdout=out)
    return out.getvalue()


def run_import(org, text, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import_config", "--org", org.slug, *args, stdin=io.StringIO(text), stdout=out,
            stderr=err,
        )  # fmt: skip
    except CommandError as error:
        error.stderr = err.getvalue()
        raise
    return out.getvalue(), err.getvalue()


def pd_service(org, admin, name):
    return pd_services.pagerduty_service_save(
        organization=org,
        actor=admin,
        name=name,
        routing_key=ROUTING_KEY,
        webhook_secret=WEBHOOK_SECRET,
    )


def steps_of(org, name="SEV-1 path"):
    with scopes_disabled():
        return [
            (s.delay_minutes, s.target_kind, s.role, s.integration_target)
            for s in EscalationStep.objects.filter(organization=org, path__name=name).order_by(
                "position"
            )
        ]


@pytest.fixture
def paged(acme, acme_admin):
    """Acme with a path that notifies managers at once and pages "Payments" after 10 min."""
    service = pd_service(acme, acme_admin, "Payments")
    with scopes_disabled():
        path = EscalationPath.objects.create(
            organization=acme, name="SEV-1 path", severity=severity(acme, "SEV-1")
        )
        EscalationStep.objects.create(
            organization=acme, path=path, position=1, delay_minutes=0, target_kind="role",
            role="manager",
        )  # fmt: skip
        EscalationStep.objects.create(
            organization=acme, path=path, position=2, delay_minutes=10, target_kind="pagerduty",
            integration_target=service.public_id,
        )  # fmt: skip
    return service


@pytest.fixture
def initech(acme_admin):
    org = OrganizationFactory(slug="initech", name="Initech", key_prefix="INI")
    admin = MembershipFactory(organization=org, user=acme_admin.user, role=Role.ADMIN)
    return org, admin


def test_a_pagerduty_step_is_exported_by_the_services_name(acme, paged):
    text = export(acme)

    [path] = [p for p in yaml.safe_load(text)["escalation_paths"] if p["name"] == "SEV-1 path"]
    assert path["steps"] == [
        {"delay_minutes": 0, "role": "manager"},
        {"delay_minutes": 10, "pagerduty": "Payments"},
    ]
    assert paged.public_id not in text
    assert ROUTING_KEY not in text


def test_reimport_into_the_source_org_is_a_no_op(acme, paged):
    out, _ = run_import(acme, export(acme), "--delete")
    assert out.strip() == "No changes."


def test_round_trip_into_another_org_pages_that_orgs_own_service(acme, paged, initech):
    org, admin = initech
    own = pd_service(org, admin, "Payments")  # each environment has its own key and id
    text = export(acme)

    run_import(org, text, "--apply", *ACTOR)

    assert steps_of(org) == [(0, "role", "manager", ""), (10, "pagerduty", "", own.public_id)]
    assert export(org) == text
    out, _ = run_import(org, text, "--apply", *ACTOR)
    assert out.strip() == "No changes."


def test_changing_a_path_keeps_its_pagerduty_step(acme, paged):
    document = yaml.safe_load(export(acme))
    [path] = [p for p in document["escalation_paths"] if p["name"] == "SEV-1 path"]
    path["steps"][0]["delay_minutes"] = 5

    run_import(acme, yaml.safe_dump(document, sort_keys=False), "--apply", *ACTOR)

    assert steps_of(acme) == [(5, "role", "manager", ""), (10, "pagerduty", "", paged.public_id)]


def test_a_pagerduty_step_can_be_added_and_names_are_matched_case_blind(acme, acme_admin, paged):
    other = pd_service(acme, acme_admin, "Search")
    document = yaml.safe_load(export(acme))
    [path] = [p for p in document["escalation_paths"] if p["name"] == "SEV-1 path"]
    path["steps"].append({"delay_minutes": 20, "pagerduty": "search"})

    run_import(acme, yaml.safe_dump(document, sort_keys=False), "--apply", *ACTOR)

    assert steps_of(acme)[-1] == (20, "pagerduty", "", other.public_id)


def test_a_missing_service_is_refused_with_its_path_and_nothing_changes(acme, paged, initech):
    org, _ = initech  # has no PagerDuty service of that name
    with scopes_disabled():
        before = EscalationStep.objects.filter(organization=org).count()

    with pytest.raises(CommandError) as refused:
        run_import(org, export(acme), "--apply", *ACTOR)

    assert "steps[1].pagerduty: no pagerduty service “Payments” in the organisation" in (
        refused.value.stderr
    )
    with scopes_disabled():
        assert EscalationStep.objects.filter(organization=org).count() == before


def test_another_orgs_service_cannot_be_named(acme, paged, globex, globex_admin):
    """Acme's "Payments" is not globex's: the name resolves only within the importing org."""
    text = (
        "version: 1\nescalation_paths:\n  - name: P\n    severity: 1\n    steps:\n"
        "      - {delay_minutes: 0, pagerduty: Payments}\n"
    )
    with pytest.raises(CommandError) as refused:
        run_import(globex, text, "--apply", "--actor", "admin@globex.test")

    assert "no pagerduty service “Payments”" in refused.value.stderr
    with scopes_disabled():
        assert not EscalationPath.objects.filter(organization=globex, name="P").exists()
        assert PagerDutyService.objects.filter(organization=globex).count() == 0


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "{pagerduty: Payments, role: manager}",
            "give exactly one of team, role, user or pagerduty",
        ),
        ("{pagerduty: ''}", "[0]: must not be empty"),
        ("{pagerduty: [Payments]}", "[0]: must be"),
        ("{pagerdutyy: Payments}", "pagerdutyy: unknown key"),
    ],
)
def test_bad_pagerduty_steps_are_refused(acme, acme_admin, paged, step, message):
    text = (
        f"version: 1\nescalation_paths:\n  - name: P\n    severity: 1\n    steps:\n      - {step}\n"
    )
    with pytest.raises(CommandError) as refused:
        run_import(acme, text, "--apply", *ACTOR)
    assert "escalation_paths[0].steps" in refused.value.stderr
    assert message in refused.value.stderr
    with scopes_disabled():
        assert not EscalationPath.objects.filter(organization=acme, name="P").exists()

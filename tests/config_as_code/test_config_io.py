"""export_config / import_config: configuration as code (docs/config-as-code.md)."""

import datetime
import io
from decimal import Decimal

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import Framework, Obligation
from incidents.models import (
    BusinessCalendar,
    Holiday,
    SlaPolicy,
    StatusCadence,
    StatusUpdateTemplate,
)
from integrations.models import AlertSource, CorrelationRule, MaintenanceWindow
from postmortems.models import PostMortemPolicy
from taxonomy.models import (
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    EscalationPath,
    EscalationStep,
    OrgSettings,
    Service,
    SeverityLevel,
)
from tenancy.models import AuditEntry, Team
from tenancy.roles import Role
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory

MODELS = [
    OrgSettings,
    StatusCadence,
    StatusUpdateTemplate,
    Team,
    Category,
    Service,
    SeverityLevel,
    CustomFieldDefinition,
    EscalationPath,
    EscalationStep,
    ClassificationRule,
    BusinessCalendar,
    Holiday,
    SlaPolicy,
    CorrelationRule,
    MaintenanceWindow,
    Framework,
    Obligation,
    PostMortemPolicy,
    AuditEntry,
]

FAMILIES = [
    "settings",
    "teams",
    "categories",
    "services",
    "severity_levels",
    "status_cadences",
    "status_update_templates",
    "custom_fields",
    "escalation_paths",
    "classification_rules",
    "business_calendar",
    "sla_policies",
    "correlation_rules",
    "maintenance_windows",
    "compliance_frameworks",
    "compliance_obligations",
    "postmortem_policy",
]


def rows(org=None) -> dict[str, int]:
    """Row counts of every model the import may write (of one organisation, or all)."""
    with scopes_disabled():
        counts = {}
        for model in MODELS:
            queryset = model.objects.all()
            if org is not None:
                queryset = queryset.filter(organization=org)
            counts[model.__name__] = queryset.count()
        return counts


def export(org) -> str:
    out = io.StringIO()
    call_command("export_config", "--org", org.slug, stdout=out)
    return out.getvalue()


def run_import(org, text, *args):
    """(stdout, stderr) of import_config; raises CommandError like the command line exits."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import_config",
            "--org",
            org.slug,
            *args,
            stdin=io.StringIO(text),
            stdout=out,
            stderr=err,
        )
    except CommandError as error:
        error.stdout, error.stderr = out.getvalue(), err.getvalue()
        raise
    return out.getvalue(), err.getvalue()


@pytest.fixture
def configured(acme, acme_admin, make_member):
    """Acme with at least one row of every family, including references between them."""
    admin = acme_admin.user
    with scopes_disabled():
        database = TeamFactory(organization=acme, name="Database", description="DBAs")
        payments = TeamFactory(organization=acme, name="Payments", members=[admin])
        storage = Category.objects.create(organization=acme, name="Storage")
        Category.objects.create(
            organization=acme, name="Replication", parent=storage, description="Replicas"
        )
        api = Service.objects.create(
            organization=acme,
            name="Payments API",
            tier=1,
            owning_team=payments,
            health_check_url="https://payments.example.test/health",
        )
        api.contributing_teams.set([database])
        sev1 = SeverityLevel.objects.get(organization=acme, level=1)
        sev1.min_users_affected_pct = Decimal("12.5")
        sev1.save()
        SeverityLevel.objects.create(organization=acme, level=5, name="SEV-5")
        OrgSettings.objects.filter(organization=acme).update(
            classification_mode="assisted", alerts_resolve_mitigates=True
        )
        StatusCadence.objects.create(organization=acme, severity=sev1, minutes=10)
        StatusCadence.objects.create(
            organization=acme, severity=SeverityLevel.objects.get(organization=acme, level=4)
        )
        StatusUpdateTemplate.objects.create(
            organization=acme,
            name="Resolved",
            current_status="{title} is resolved.",
            body="Thanks for your patience.\nA post-mortem follows.",
        )
        CustomFieldDefinition.objects.create(
            organization=acme,
            key="customer_impact",
            label="Customer impact",
            field_type="choice",
            choices=["none", "some", "all"],
            required_from="resolved",
            is_regulatory=True,
        )
        path = EscalationPath.objects.create(organization=acme, name="Sev-1 page", severity=sev1)
        EscalationStep.objects.create(
            organization=acme, path=path, position=1, target_kind="team", team=database
        )
        EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=2,
            delay_minutes=15,
            target_kind="role",
            role=Role.MANAGER,
        )
        EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=3,
            delay_minutes=30,
            target_kind="user",
            user=admin,
        )
        ClassificationRule.objects.create(
            organization=acme,
            name="Replication lag",
            match_text="replication lag",
            match_labels={"team": "db"},
            set_category=Category.objects.get(organization=acme, name="Replication"),
            set_team=database,
            set_severity=sev1,
        )
        calendar = BusinessCalendar.objects.get(organization=acme)
        calendar.working_days = [1, 2, 3, 4]
        calendar.day_end = datetime.time(18, 30)
        calendar.save()
        Holiday.objects.create(
            organization=acme,
            calendar=calendar,
            date=datetime.date(2026, 12, 25),
            name="Christmas",
        )
        SlaPolicy.objects.create(
            organization=acme,
            severity=sev1,
            category=storage,
            acknowledge_minutes=3,
            mitigate_minutes=20,
            resolve_minutes=120,
            clock="business",
            warn_at_percent=70,
        )
        source = AlertSource(organization=acme, name="prod-alertmanager", kind="alertmanager")
        source.set_secret("s3cret-token-never-exported")
        source.hmac_secret = "hmac-never-exported"
        source.save()
        CorrelationRule.objects.create(
            organization=acme,
            name="Storm",
            source=source,
            match_labels={"env": "prod"},
            action="attach",
            set_service=api,
            group_by=["service", "region"],
            threshold_count=3,
        )
        MaintenanceWindow.objects.create(
            organization=acme,
            name="Sunday patching",
            starts_at=datetime.datetime(2026, 3, 1, 2, tzinfo=datetime.UTC),
            ends_at=datetime.datetime(2026, 3, 1, 4, tzinfo=datetime.UTC),
            recurrence="weekly",
            service=api,
        )
    ensure_frameworks(acme.pk)
    with scopes_disabled():
        PostMortemPolicy.objects.create(
            organization=acme, max_severity_level=3, on_regulatory=False
        )
        gdpr = Framework.objects.get(organization=acme, key="gdpr")
        gdpr.retention_minimums = {"audit_entries": 7}
        gdpr.save()
        Framework.objects.filter(organization=acme, key="sox").update(enabled=False)
        obligation = Obligation.objects.filter(organization=acme, framework=gdpr).first()
        obligation.recipients = "Supervisory authority\nDPO"
        obligation.trigger = "custom:customer_impact"
        obligation.save()
    return acme


@pytest.fixture
def initech(make_member, acme_admin):
    """An empty organisation to promote into; acme's admin is its admin too (the escalation
    step that pages a person needs that person to be a member)."""
    org = OrganizationFactory(slug="initech", name="Initech", key_prefix="INI")
    MembershipFactory(organization=org, user=acme_admin.user, role=Role.ADMIN)
    # Alert sources hold secrets: each environment creates its own, under the same name.
    source = AlertSource(organization=org, name="prod-alertmanager", kind="alertmanager")
    source.set_secret("initech-own-secret")
    source.save()
    return org


ACTOR = ("--actor", "admin@acme.test")


def test_export_has_a_version_header_every_family_and_natural_keys(configured):
    text = export(configured)
    document = yaml.safe_load(text)

    assert text.startswith("version: 1\n")
    assert [k for k in document if k != "version"] == FAMILIES
    assert all(document[family] for family in FAMILIES)
    service = next(s for s in document["services"] if s["name"] == "Payments API")
    assert service == {
        "name": "Payments API",
        "description": "",
        "tier": 1,
        "owning_team": "Payments",
        "contributing_teams": ["Database"],
        "health_check_url": "https://payments.example.test/health",
        "is_active": True,
    }
    path = document["escalation_paths"][0]
    assert path["steps"] == [
        {"delay_minutes": 0, "team": "Database"},
        {"delay_minutes": 15, "role": "manager"},
        {"delay_minutes": 30, "user": "admin@acme.test"},
    ]
    assert document["business_calendar"]["holidays"] == [
        {"date": "2026-12-25", "name": "Christmas"}
    ]
    assert "id:" not in text
    assert "pk" not in text
    assert "members" not in text


def test_export_never_contains_secrets(configured):
    text = export(configured)

    assert "s3cret" not in text
    assert "hmac-never-exported" not in text
    with scopes_disabled():
        source = AlertSource.objects.get(organization=configured)
    assert source.secret_hash not in text
    assert source.public_id not in text
    assert "source: prod-alertmanager" in text

    def keys(value):
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    exported_keys = set(keys(yaml.safe_load(text)))
    assert not {k for k in exported_keys if any(w in k for w in ("secret", "token", "hash"))}


def test_a_file_too_large_is_refused(configured, monkeypatch):
    from config_as_code.management.commands import import_config

    monkeypatch.setattr(import_config, "MAX_FILE_CHARACTERS", 100)
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(configured, "version: 1\n" + "# padding\n" * 20, "--apply", *ACTOR)

    assert refused.value.returncode == 1
    assert "too large" in str(refused.value)
    assert rows() == before


def test_export_is_stable(configured):
    assert export(configured) == export(configured)


def test_export_then_import_into_an_empty_org_reproduces_it_byte_for_byte(configured, initech):
    text = export(configured)

    out, _ = run_import(initech, text, "--apply", "--delete", *ACTOR)

    assert "Applied" in out
    assert export(initech) == text


def test_every_family_round_trips_row_for_row(configured, initech):
    run_import(initech, export(configured), "--apply", "--delete", *ACTOR)

    source, target = rows(configured), rows(initech)
    del source["AuditEntry"], target["AuditEntry"]
    assert target == source
    assert all(target.values()), target


def test_reimport_is_a_no_op(configured, initech):
    text = export(configured)
    run_import(initech, text, "--apply", "--delete", *ACTOR)
    before = rows()

    out, _ = run_import(initech, text, "--apply", "--delete", *ACTOR)

    assert out.strip() == "No changes."
    assert rows() == before


def test_reimport_into_the_source_org_is_a_no_op(configured):
    out, _ = run_import(configured, export(configured), "--delete")

    assert out.strip() == "No changes."


def test_dry_run_prints_the_diff_and_writes_nothing(configured, initech):
    text = export(configured)
    before = rows()

    out, _ = run_import(initech, text, "--delete")

    assert rows() == before
    assert "teams:\n  + create “Database”" in out
    assert "  ~ update “level 1 (SEV-1)”\n      min_users_affected_pct: 25 → 12.5" in out
    assert "Dry run: nothing written" in out


def test_update_shows_old_and_new_values_and_applies_them(configured):
    text = export(configured).replace("tier: 1", "tier: 3")

    out, _ = run_import(configured, text, "--apply", *ACTOR)

    assert "  ~ update “Payments API”\n      tier: 1 → 3" in out
    with scopes_disabled():
        assert Service.objects.get(organization=configured, name="Payments API").tier == 3


def test_absent_objects_are_kept_without_delete_and_removed_with_it(configured):
    document = yaml.safe_load(export(configured))
    document["maintenance_windows"] = []
    document["custom_fields"] = []
    text = yaml.safe_dump(document, sort_keys=False)

    out, _ = run_import(configured, text, "--apply", *ACTOR)
    assert "  = kept “Sunday patching” (absent from the file; --delete removes it)" in out
    with scopes_disabled():
        assert MaintenanceWindow.objects.filter(organization=configured).count() == 1

    out, _ = run_import(configured, text, "--apply", "--delete", *ACTOR)
    assert "  - delete “Sunday patching”" in out
    assert "custom fields are never deleted" in out
    with scopes_disabled():
        assert MaintenanceWindow.objects.filter(organization=configured).count() == 0
        assert CustomFieldDefinition.objects.filter(organization=configured).count() == 1


def test_a_family_left_out_of_the_file_is_left_alone(configured):
    before = export(configured)
    teams = yaml.safe_load(before)["teams"]
    text = yaml.safe_dump({"version": 1, "teams": teams}, sort_keys=False)

    out, _ = run_import(configured, text, "--apply", "--delete", *ACTOR)

    assert out.strip() == "No changes."
    assert export(configured) == before


def test_settings_cadences_and_templates_are_updated_and_deleted(configured):
    document = yaml.safe_load(export(configured))
    document["settings"]["ownership_escalation_minutes"] = 45
    document["status_cadences"] = [{"severity": 1, "minutes": 20}]
    resolved = next(t for t in document["status_update_templates"] if t["name"] == "Resolved")
    resolved["impact"] = "None any more."

    out, _ = run_import(
        configured, yaml.safe_dump(document, sort_keys=False), "--apply", "--delete", *ACTOR
    )

    assert "      ownership_escalation_minutes: 30 → 45" in out
    assert "  - delete “severity 4”" in out
    with scopes_disabled():
        assert OrgSettings.objects.get(organization=configured).ownership_escalation_minutes == 45
        cadences = StatusCadence.objects.filter(organization=configured)
        assert list(cadences.values_list("severity__level", "minutes")) == [(1, 20)]
        template = StatusUpdateTemplate.objects.get(organization=configured, name="Resolved")
        assert template.impact == "None any more."
    assert run_import(configured, export(configured), "--delete")[0].strip() == "No changes."


def test_delete_removes_sub_categories_before_their_parent(configured):
    document = yaml.safe_load(export(configured))
    document["categories"] = [
        c for c in document["categories"] if c["name"] not in ("Storage", "Replication")
    ]
    document["classification_rules"] = []
    document["sla_policies"] = [p for p in document["sla_policies"] if not p["category"]]

    out, _ = run_import(
        configured, yaml.safe_dump(document, sort_keys=False), "--apply", "--delete", *ACTOR
    )

    assert "  - delete “Replication”" in out
    with scopes_disabled():
        names = set(Category.objects.filter(organization=configured).values_list("name", flat=True))
    assert "Storage" not in names
    assert "Replication" not in names


def test_delete_of_a_row_still_in_use_is_refused_and_nothing_changes(configured):
    document = yaml.safe_load(export(configured))
    document["teams"] = [t for t in document["teams"] if t["name"] != "Database"]
    document["maintenance_windows"] = []
    before = rows(configured)

    dry, _ = run_import(configured, yaml.safe_dump(document, sort_keys=False), "--delete")
    assert "  - delete “Database” (used now by " in dry
    assert "1 escalation step" in dry
    with pytest.raises(CommandError) as refused:
        run_import(
            configured, yaml.safe_dump(document, sort_keys=False), "--apply", "--delete", *ACTOR
        )

    assert refused.value.returncode == 1
    assert "teams “Database” (delete): “Database” is still used by" in str(refused.value)
    assert rows(configured) == before


def test_invalid_value_is_refused_with_its_path_and_nothing_changes(configured, initech):
    document = yaml.safe_load(export(configured))
    document["services"][0]["tier"] = 5
    document["teams"][1]["colour"] = "red"
    del document["sla_policies"][0]["resolve_minutes"]
    document["categories"][0]["is_active"] = "yes"
    text = yaml.safe_dump(document, sort_keys=False)
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(initech, text, "--apply", *ACTOR)

    assert refused.value.returncode == 1
    errors = refused.value.stderr
    assert "services[0].tier: must be 1, 2 or 3" in errors
    assert "teams[1].colour: unknown key" in errors
    assert "sla_policies[0].resolve_minutes: is required" in errors
    assert "categories[0].is_active: must be true or false, not a string" in errors
    assert rows() == before


def test_reference_to_a_missing_object_is_refused_with_its_path(configured, initech):
    document = yaml.safe_load(export(configured))
    index = next(i for i, s in enumerate(document["services"]) if s["owning_team"])
    document["services"][index]["owning_team"] = "Nobody"
    document["correlation_rules"][0]["source"] = "no-such-source"
    document["escalation_paths"][0]["steps"][2]["user"] = "stranger@example.test"
    text = yaml.safe_dump(document, sort_keys=False)
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(initech, text, "--apply", *ACTOR)

    errors = refused.value.stderr
    assert f"services[{index}].owning_team: no team “Nobody” in the file nor the organisation" in (
        errors
    )
    assert "correlation_rules[0].source: no alert source “no-such-source”" in errors
    assert "escalation_paths[0].steps[2].user: no user “stranger@example.test”" in errors
    assert rows() == before


def test_a_write_refused_midway_rolls_everything_back(configured, initech):
    # Valid for the file's schema, refused by the service (not a URL) after teams and
    # categories were already written in the same transaction.
    text = export(configured).replace("https://payments.example.test/health", "not a url at all")
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(initech, text, "--apply", "--delete", *ACTOR)

    assert refused.value.returncode == 1
    assert "services[0] “Payments API” (create): health_check_url:" in str(refused.value)
    assert "Nothing changed" in str(refused.value)
    assert rows() == before


def test_tab_indentation_is_refused_with_the_line(configured):
    text = "version: 1\nteams:\n\t- name: Ops\n"
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(configured, text, "--apply", *ACTOR)

    assert refused.value.returncode == 1
    assert "line 3, column 1: a tab is used for indentation" in str(refused.value)
    assert rows() == before


def test_unclosed_bracket_is_refused_with_the_line_and_reason(configured):
    text = "version: 1\nteams:\n  - name: Ops\nservices: [\n  {name: API, tier: 1}\n"
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(configured, text, "--apply", *ACTOR)

    message = str(refused.value)
    assert refused.value.returncode == 1
    assert message.startswith("Malformed YAML: line 6, column 1:")
    assert "expected ',' or ']'" in message
    assert rows() == before


def test_a_key_given_twice_is_refused_with_the_line(configured):
    text = "version: 1\nteams:\n  - name: Ops\n    description: a\n    description: b\n"
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(configured, text, "--apply", *ACTOR)

    assert refused.value.returncode == 1
    assert "line 5, column 5: found the key “description” twice (first on line 4)" in str(
        refused.value
    )
    assert rows() == before


def test_wrong_document_shapes_are_refused(configured):
    for text, expected in [
        ("- just\n- a list\n", "the file must be a mapping"),
        ("teams: []\n", "version: is required"),
        ("version: 2\n", "version: must be 1"),
        ("version: true\n", "version: must be 1"),
        ("version: 1\nwidgets: []\n", "widgets: unknown key"),
        ("version: 1\nteams: {name: Ops}\n", "teams: must be a list, not a mapping"),
        ("version: 1\nteams: [Ops]\n", "teams[0]: must be a mapping, not a string"),
        (
            "version: 1\nteams: [{name: Ops}, {name: ops}]\n",
            "teams[1]: “ops” is already defined at teams[0]",
        ),
        (
            "version: 1\nbusiness_calendar: {day_end: 17:00}\n",
            "business_calendar.day_end: must be a time in quotes",
        ),
        (
            "version: 1\nmaintenance_windows: [{name: W, starts_at: '2026-01-01T02:00:00',"
            " ends_at: '2026-01-01T03:00:00+00:00'}]\n",
            "maintenance_windows[0].starts_at: must include a UTC offset",
        ),
        (
            "version: 1\nescalation_paths: [{name: P, severity: 1, steps: [{team: A, role: "
            "admin}]}]\n",
            "escalation_paths[0].steps: [0]: give exactly one of team, role, user or pagerduty",
        ),
        (
            "version: 1\ncustom_fields: [{key: Bad-Key, label: X, field_type: text}]\n",
            "custom_fields[0].key: must be lower-case letters",
        ),
        (
            "version: 1\ncompliance_obligations: [{key: x, framework: gdpr, name: X, trigger: "
            "material, clock_start: aware, deadline_unit: hours, recipients: DPO, "
            "field_map: {Facts: [incident.title, custom:nope]}}]\n",
            "compliance_obligations[0].field_map.Facts: “custom:nope” is not",
        ),
        (
            "version: 1\ncompliance_obligations: [{key: x, framework: gdpr, name: X, trigger: "
            "material, clock_start: aware, deadline_unit: hours, recipients: DPO}]\n",
            "compliance_obligations[0].deadline_amount: give the number of hours",
        ),
    ]:
        with pytest.raises(CommandError) as refused:
            run_import(configured, text)
        assert refused.value.returncode == 1
        assert expected in refused.value.stderr, (text, refused.value.stderr)


def test_the_example_in_the_docs_is_a_valid_file(configured):
    docs = (settings.BASE_DIR / "docs" / "config-as-code.md").read_text()
    example = docs.split("## Example")[1].split("```yaml\n")[1].split("```")[0]

    out, _ = run_import(configured, example)

    assert "Dry run: nothing written" in out or out.strip() == "No changes."


def test_usage_errors_exit_2(configured):
    text = export(configured)
    for args, expected in [
        (("--apply",), "--apply needs --actor"),
        (("--apply", "--actor", "nobody@example.test"), "is not a member of acme"),
    ]:
        with pytest.raises(CommandError) as refused:
            run_import(configured, text, *args)
        assert refused.value.returncode == 2
        assert expected in str(refused.value)
    with pytest.raises(CommandError) as refused:
        call_command("export_config", "--org", "nope", stdout=io.StringIO())
    assert refused.value.returncode == 2


def test_a_role_without_the_capabilities_is_refused_and_nothing_changes(
    configured, initech, make_member
):
    manager = make_member(initech, Role.MANAGER, email="manager@initech.test")
    before = rows()

    with pytest.raises(CommandError) as refused:
        run_import(initech, export(configured), "--apply", "--actor", manager.user.email)

    assert refused.value.returncode == 1
    assert "may not import" in str(refused.value)
    assert rows() == before


def test_export_of_acme_never_includes_globex_rows(configured, globex):
    with scopes_disabled():
        TeamFactory(organization=globex, name="Globex Grid Team")
        Service.objects.create(organization=globex, name="Globex Turbine Control")
        CorrelationRule.objects.create(organization=globex, name="Globex rule")

    text = export(configured)

    assert "Globex" not in text


def test_importing_never_touches_another_org(configured, globex, globex_admin):
    acme_before = export(configured)
    acme_rows = rows(configured)
    document = yaml.safe_load(acme_before)
    # Globex has no such person nor alert source: drop what names them.
    document["escalation_paths"][0]["steps"].pop()
    document["correlation_rules"][0]["source"] = None

    run_import(
        globex,
        yaml.safe_dump(document, sort_keys=False),
        "--apply",
        "--delete",
        "--actor",
        "admin@globex.test",
    )

    assert export(configured) == acme_before
    assert rows(configured) == acme_rows
    with scopes_disabled():
        assert Service.objects.filter(organization=globex, name="Payments API").exists()


def test_references_cannot_reach_another_orgs_rows(configured, globex, globex_admin):
    # An alert source that exists only in acme is "missing" for globex.
    text = (
        "version: 1\ncorrelation_rules:\n  - name: R\n    source: prod-alertmanager\n"
        "    match_text: x\n"
    )
    with pytest.raises(CommandError) as refused:
        run_import(globex, text, "--apply", "--actor", "admin@globex.test")

    assert "correlation_rules[0].source: no alert source “prod-alertmanager”" in (
        refused.value.stderr
    )


def test_apply_is_audited_as_the_actor(configured, initech):
    run_import(initech, export(configured), "--apply", *ACTOR)

    with scopes_disabled():
        entries = AuditEntry.objects.filter(organization=initech, actor__email="admin@acme.test")
        assert entries.filter(content_type__model="service").exists()
        assert entries.filter(content_type__model="team").exists()

"""taxonomy.services: every write checks the actor's capability and organisation, guards
references to other organisations' rows, and is audited."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django_scopes import scopes_disabled

from taxonomy import services
from taxonomy.models import Category, EscalationPath, Service, SeverityLevel
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def category(org, name):
    with scopes_disabled():
        return Category.objects.get(organization=org, name=name)


def level(org, number):
    with scopes_disabled():
        return SeverityLevel.objects.get(organization=org, level=number)


def category_names(org):
    with scopes_disabled():
        return sorted(Category.objects.filter(organization=org).values_list("name", flat=True))


WRITES = {
    "category_save": lambda org: {"name": "Storage"},
    "category_delete": lambda org: {"category": category(org, "Security")},
    "service_save": lambda org: {"name": "Storage"},
    "severity_update": lambda org: {"severity": level(org, 1), "name": "Critical"},
    "escalation_path_save": lambda org: {"name": "P", "severity": level(org, 1)},
    "classification_rule_save": lambda org: {
        "name": "R",
        "match_text": "x",
        "set_category": category(org, "Security"),
    },
    "custom_field_save": lambda org: {"key": "k", "label": "K", "field_type": "text"},
    "org_settings_update": lambda org: {
        "classification_mode": "assisted",
        "ownership_escalation_minutes": 5,
    },
}


def state(org):
    with scopes_disabled():
        return AuditEntry.objects.filter(organization=org).count()


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
@pytest.mark.parametrize("write", sorted(WRITES))
def test_writes_refuse_roles_without_manage_taxonomy(acme, make_member, role, write):
    actor = make_member(acme, role)
    before = state(acme)
    with pytest.raises(PermissionDenied):
        getattr(services, write)(organization=acme, actor=actor, **WRITES[write](acme))
    assert state(acme) == before


@pytest.mark.parametrize("write", sorted(WRITES))
def test_writes_refuse_an_admin_of_another_organisation(acme, globex_admin, write):
    before = state(acme)
    with pytest.raises(PermissionDenied):
        getattr(services, write)(organization=acme, actor=globex_admin, **WRITES[write](acme))
    assert state(acme) == before


def test_a_row_of_another_organisation_is_refused(acme_admin, globex):
    with pytest.raises(PermissionDenied):
        services.category_delete(
            organization=acme_admin.organization,
            actor=acme_admin,
            category=category(globex, "Security"),
        )
    assert "Security" in category_names(globex)


def test_writes_need_no_scope_from_the_caller(acme_admin):
    """Services enter the organisation's scope themselves (tasks and commands call them)."""
    saved = services.category_save(
        organization=acme_admin.organization, actor=acme_admin, name="Storage"
    )
    assert saved.organization == acme_admin.organization
    assert "Storage" in category_names(acme_admin.organization)


def test_another_organisations_team_is_refused_as_owner_or_contributor(acme_admin, globex):
    theirs = TeamFactory(organization=globex)
    common = {"organization": acme_admin.organization, "actor": acme_admin, "name": "Checkout"}
    with pytest.raises(ValidationError) as owner:
        services.service_save(**common, owning_team=theirs)
    with pytest.raises(ValidationError) as contributor:
        services.service_save(**common, contributing_teams=[theirs])
    # Row-level security also hides the team from the foreign key's own check (Django's
    # "not a valid choice"); Vigil's message is there either way.
    assert set(owner.value.message_dict) == {"owning_team"}
    assert "Choose one of this organisation's own." in owner.value.message_dict["owning_team"]
    assert contributor.value.message_dict == {
        "contributing_teams": ["Choose this organisation's own teams."]
    }
    with scopes_disabled():
        assert not Service.objects.filter(organization=acme_admin.organization).exists()


def test_another_organisations_severity_category_or_parent_is_refused(acme_admin, globex):
    acme = acme_admin.organization
    with pytest.raises(ValidationError) as severity:
        services.escalation_path_save(
            organization=acme, actor=acme_admin, name="P", severity=level(globex, 1)
        )
    with pytest.raises(ValidationError) as path_category:
        services.escalation_path_save(
            organization=acme,
            actor=acme_admin,
            name="P",
            severity=level(acme, 1),
            category=category(globex, "Network"),
        )
    with pytest.raises(ValidationError) as parent:
        services.category_save(
            organization=acme, actor=acme_admin, name="DNS", parent=category(globex, "Network")
        )
    assert "severity" in severity.value.message_dict
    assert "category" in path_category.value.message_dict
    assert "parent" in parent.value.message_dict
    with scopes_disabled():
        assert not EscalationPath.objects.filter(organization=acme).exists()
    assert "DNS" not in category_names(acme)


def test_a_rule_setting_another_organisations_team_is_refused(acme_admin, globex):
    with pytest.raises(ValidationError) as refused:
        services.classification_rule_save(
            organization=acme_admin.organization,
            actor=acme_admin,
            name="R",
            match_text="x",
            set_team=TeamFactory(organization=globex),
        )
    assert "set_team" in refused.value.message_dict


def test_a_step_cannot_notify_someone_outside_the_organisation(acme_admin, globex_admin):
    acme = acme_admin.organization
    path = EscalationPath.objects.create(organization=acme, name="P", severity=level(acme, 1))
    with pytest.raises(ValidationError) as refused:
        services.escalation_step_add(
            organization=acme,
            actor=acme_admin,
            path=path,
            delay_minutes=0,
            target_kind="user",
            user=globex_admin.user,
        )
    assert refused.value.message_dict == {
        "user": [f"{globex_admin.user} is not a member of {acme}."]
    }


def test_changes_made_on_the_pages_are_audited_with_the_admin_as_actor(acme_admin, login):
    network = category(acme_admin.organization, "Network")
    login(acme_admin.user).post(
        reverse("taxonomy:category_update", kwargs={"org_slug": "acme", "pk": network.pk}),
        {"name": "Networking", "is_active": "on"},
    )
    with scopes_disabled():
        entry = AuditEntry.objects.filter(
            content_type__model="category", object_pk=str(network.pk)
        ).latest("timestamp")
    assert entry.changes["name"] == ["Network", "Networking"]
    assert entry.actor == acme_admin.user
    assert entry.organization_id == acme_admin.organization.pk

"""Who may use the taxonomy pages: org admins only. Other roles get 403 and change nothing;
members of another organisation get 404 on every page and every row, and so do this
organisation's admins for another organisation's rows."""

import pytest
from django.urls import URLPattern, get_resolver, reverse
from django_scopes import scopes_disabled

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
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]
TAXONOMY_MODELS = [
    OrgSettings,
    Category,
    Service,
    SeverityLevel,
    EscalationPath,
    EscalationStep,
    ClassificationRule,
    CustomFieldDefinition,
]


def taxonomy_rows(org) -> dict:
    """One row of each kind (beyond the seeded defaults) in `org`, by URL keyword."""
    team = TeamFactory(organization=org, name=f"{org.slug} ops")
    with scopes_disabled():
        severity = SeverityLevel.objects.get(organization=org, level=1)
        category = Category.objects.get(organization=org, name="Network")
    service = Service.objects.create(organization=org, name="Checkout", owning_team=team)
    path = EscalationPath.objects.create(organization=org, name="Sev-1 default", severity=severity)
    step = EscalationStep.objects.create(
        organization=org, path=path, position=1, target_kind="team", team=team
    )
    rule = ClassificationRule.objects.create(
        organization=org, name="DB", match_text="database", set_category=category
    )
    field = CustomFieldDefinition.objects.create(
        organization=org, key="impact", label="Impact", field_type="text"
    )
    return {
        "team": team,
        "severity": severity,
        "category": category,
        "service": service,
        "path": path,
        "step": step,
        "rule": rule,
        "field": field,
    }


# Which row each URL's <pk> (and <step_pk>) stands for.
PK_ROW = {
    "category": "category",
    "service": "service",
    "severity": "severity",
    "escalation_path": "path",
    "escalation_step": "path",
    "rule": "rule",
    "custom_field": "field",
}


def taxonomy_urls(org_slug: str, rows: dict) -> list[tuple[str, str, str]]:
    """(url name, route, url) for every taxonomy page, pks filled from `rows`."""
    resolver = get_resolver().namespace_dict["taxonomy"][1]
    urls = []
    for pattern in resolver.url_patterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {"org_slug": org_slug}
        route = str(pattern.pattern)
        if "<int:pk>" in route:
            prefix = next(p for p in PK_ROW if pattern.name.startswith(p))
            kwargs["pk"] = rows[PK_ROW[prefix]].pk
        if "<int:step_pk>" in route:
            kwargs["step_pk"] = rows["step"].pk
        urls.append((pattern.name, route, reverse(f"taxonomy:{pattern.name}", kwargs=kwargs)))
    return urls


def valid_posts(rows: dict) -> dict[str, dict]:
    """A payload per URL that would change something if the view let it through."""
    return {
        "index": {"classification_mode": "assisted", "ownership_escalation_minutes": "45"},
        "category_create": {"name": "Storage", "is_active": "on"},
        "category_update": {"name": "Renamed", "is_active": "on"},
        "service_create": {"name": "Ledger", "tier": "1", "is_active": "on"},
        "service_update": {"name": "Renamed", "tier": "3", "is_active": "on"},
        "severity_update": {"name": "Critical", "min_downtime_minutes": "1"},
        "escalation_path_create": {
            "name": "Network sev-1",
            "severity": rows["severity"].pk,
            "category": rows["category"].pk,
        },
        "escalation_path_update": {"name": "Renamed", "severity": rows["severity"].pk},
        "escalation_step_add": {
            "delay_minutes": "5",
            "target_kind": "role",
            "role": "manager",
        },
        "rule_create": {
            "name": "Network",
            "position": "5",
            "is_active": "on",
            "match_text": "dns",
            "set_category": rows["category"].pk,
        },
        "rule_update": {
            "name": "Renamed",
            "position": "1",
            "match_text": "db",
            "set_category": rows["category"].pk,
        },
        "custom_field_create": {
            "label": "Region",
            "key": "region",
            "field_type": "text",
            "position": "1",
            "is_active": "on",
        },
        "custom_field_update": {
            "label": "Renamed",
            "field_type": "text",
            "position": "1",
        },
    }


def snapshot(org) -> dict:
    """Every taxonomy row of `org`, and how many audit entries it has."""
    with scopes_disabled():
        state = {
            model.__name__: list(model.objects.filter(organization=org).order_by("pk").values())
            for model in TAXONOMY_MODELS
        }
        state["contributing_teams"] = list(
            Service.objects.filter(organization=org).values_list("pk", "contributing_teams")
        )
        state["audit"] = AuditEntry.objects.filter(organization=org).count()
    return state


# Pages that take no form data (lists; deletes and removals by a bare POST).
NO_PAYLOAD = {
    "category_list",
    "category_delete",
    "service_list",
    "service_delete",
    "severity_list",
    "escalation_path_list",
    "escalation_path_delete",
    "escalation_step_remove",
    "rule_list",
    "rule_delete",
    "custom_field_list",
}


def test_the_crawl_covers_every_taxonomy_page_with_a_payload_where_it_takes_one(acme):
    rows = taxonomy_rows(acme)
    names = {name for name, _, _ in taxonomy_urls("acme", rows)}
    assert len(names) == 24
    assert names - set(valid_posts(rows)) == NO_PAYLOAD


def test_admins_can_open_every_taxonomy_page(acme_admin, login):
    client = login(acme_admin.user)
    for name, _, url in taxonomy_urls("acme", taxonomy_rows(acme_admin.organization)):
        if name.endswith(("_delete", "_remove", "_add")):
            continue
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_everywhere_and_nothing_changes(acme, make_member, login, role):
    rows = taxonomy_rows(acme)
    client = login(make_member(acme, role).user)
    before = snapshot(acme)
    posts = valid_posts(rows)
    for name, _, url in taxonomy_urls("acme", rows):
        assert client.get(url).status_code in (403, 405), f"GET {url}"
        assert client.post(url, posts.get(name, {})).status_code == 403, f"POST {url}"
    assert snapshot(acme) == before


def test_another_organisations_admin_gets_404_everywhere_and_nothing_changes(
    acme, globex_admin, login
):
    rows = taxonomy_rows(acme)
    before = snapshot(acme)
    client = login(globex_admin.user)
    posts = valid_posts(rows)
    for name, _, url in taxonomy_urls("acme", rows):
        get, post = client.get(url), client.post(url, posts.get(name, {}))
        assert get.status_code == 404, f"GET {url}"
        assert post.status_code == 404, f"POST {url}"
        assert b"Acme" not in get.content + post.content
    assert snapshot(acme) == before


def test_another_organisations_rows_are_404_for_this_organisations_admin(acme_admin, globex, login):
    """acme's admin, on acme's pages, with pks of globex's rows."""
    globex_rows = taxonomy_rows(globex)
    taxonomy_rows(acme_admin.organization)
    before = snapshot(globex)
    client = login(acme_admin.user)
    posts = valid_posts(globex_rows)
    row_urls = [(n, u) for n, route, u in taxonomy_urls("acme", globex_rows) if "<int:pk>" in route]
    assert len(row_urls) == 12
    for name, url in row_urls:
        assert client.get(url).status_code in (404, 405), f"GET {url}"
        assert client.post(url, posts.get(name, {})).status_code == 404, f"POST {url}"
    assert snapshot(globex) == before

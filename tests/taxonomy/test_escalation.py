"""Escalation paths: one per (severity, category), each serving exactly one severity, with
ordered steps "after N minutes notify a team / everyone with a role / a person"."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from taxonomy.models import Category, EscalationPath, EscalationStep, SeverityLevel
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name, **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme", **kwargs})


def level(org, number):
    with scopes_disabled():
        return SeverityLevel.objects.get(organization=org, level=number)


def category(org, name):
    with scopes_disabled():
        return Category.objects.get(organization=org, name=name)


def paths(org):
    with scopes_disabled():
        return list(
            EscalationPath.objects.filter(organization=org)
            .order_by("pk")
            .values_list("name", "severity__name", "category__name")
        )


def steps(path):
    with scopes_disabled():
        return [
            (s.position, s.delay_minutes, s.target_label)
            for s in EscalationStep.objects.filter(path=path).order_by("position")
        ]


def make_path(org, name="Sev-1 default", number=1, category=None):
    return EscalationPath.objects.create(
        organization=org, name=name, severity=level(org, number), category=category
    )


def test_admin_creates_a_path_and_lands_on_its_page_to_add_steps(acme_admin, login):
    acme = acme_admin.organization
    response = login(acme_admin.user).post(
        url("escalation_path_create"),
        {
            "name": "Network outage",
            "severity": level(acme, 1).pk,
            "category": category(acme, "Network").pk,
        },
        follow=True,
    )
    with scopes_disabled():
        path = EscalationPath.objects.get(organization=acme)
    assert response.redirect_chain == [(url("escalation_path_update", pk=path.pk), 302)]
    content = response.content.decode()
    assert "Escalation path “Network outage” created: now add its steps." in content
    assert "No steps yet: this path notifies nobody." in content
    assert paths(acme) == [("Network outage", "SEV-1", "Network")]


def test_the_path_page_says_it_serves_exactly_one_severity(acme_admin, login):
    path = make_path(acme_admin.organization, number=3)
    content = login(acme_admin.user).get(url("escalation_path_update", pk=path.pk)).content
    assert (
        "Serves <strong>SEV-3</strong> incidents of any category that has no path of its own "
        "— and no other severity." in content.decode()
    )


def test_the_list_groups_paths_by_severity_and_flags_severities_without_a_default(
    acme_admin, login
):
    acme = acme_admin.organization
    team = TeamFactory(organization=acme, name="Payments")
    path = make_path(acme, number=1)
    EscalationStep.objects.create(
        organization=acme, path=path, position=1, target_kind="team", team=team
    )
    content = login(acme_admin.user).get(url("escalation_path_list")).content.decode()
    assert "after 0 min: team Payments" in content
    assert content.count("No default path:") == 3
    assert "No default path: SEV-2 incidents page nobody automatically." in content
    assert f'href="{url("escalation_path_create")}?severity={level(acme, 4).pk}"' in content


def test_the_create_form_starts_with_the_severity_from_the_link(acme_admin, login):
    sev4 = level(acme_admin.organization, 4)
    response = login(acme_admin.user).get(url("escalation_path_create") + f"?severity={sev4.pk}")
    assert response.context["form"]["severity"].value() == sev4.pk


def test_a_second_default_path_for_a_severity_is_refused_with_a_clear_error(acme_admin, login):
    acme = acme_admin.organization
    make_path(acme, name="Sev-1 default", number=1)
    response = login(acme_admin.user).post(
        url("escalation_path_create"), {"name": "Another", "severity": level(acme, 1).pk}
    )
    assert response.status_code == 200
    assert (
        "SEV-1 already has a path for incidents of any category: “Sev-1 default”. "
        "Edit that path, or choose another category." in response.content.decode()
    )
    assert paths(acme) == [("Sev-1 default", "SEV-1", None)]


def test_a_second_path_for_the_same_severity_and_category_is_refused(acme_admin, login):
    acme = acme_admin.organization
    network = category(acme, "Network")
    make_path(acme, name="Net 1", number=1, category=network)
    client = login(acme_admin.user)
    refused = client.post(
        url("escalation_path_create"),
        {"name": "Net 2", "severity": level(acme, 1).pk, "category": network.pk},
    )
    assert "SEV-1 already has a path for category “Network”: “Net 1”." in refused.content.decode()
    allowed = client.post(
        url("escalation_path_create"),
        {"name": "Net 2", "severity": level(acme, 2).pk, "category": network.pk},
    )
    assert allowed.status_code == 302
    assert paths(acme) == [("Net 1", "SEV-1", "Network"), ("Net 2", "SEV-2", "Network")]


def test_moving_a_path_onto_a_taken_severity_is_refused(acme_admin, login):
    acme = acme_admin.organization
    make_path(acme, name="Sev-1 default", number=1)
    sev2 = make_path(acme, name="Sev-2 default", number=2)
    response = login(acme_admin.user).post(
        url("escalation_path_update", pk=sev2.pk),
        {"name": "Sev-2 default", "severity": level(acme, 1).pk},
    )
    assert response.status_code == 200
    assert "SEV-1 already has a path" in response.content.decode()
    assert paths(acme) == [("Sev-1 default", "SEV-1", None), ("Sev-2 default", "SEV-2", None)]


def test_admin_renames_a_path_and_changes_its_severity(acme_admin, login):
    acme = acme_admin.organization
    path = make_path(acme, name="Old", number=1)
    response = login(acme_admin.user).post(
        url("escalation_path_update", pk=path.pk), {"name": "New", "severity": level(acme, 2).pk}
    )
    assert response.status_code == 302
    assert paths(acme) == [("New", "SEV-2", None)]


def test_an_empty_or_duplicate_path_name_is_refused(acme_admin, login):
    acme = acme_admin.organization
    make_path(acme, name="Sev-1 default", number=1)
    client = login(acme_admin.user)
    empty = client.post(url("escalation_path_create"), {"name": "", "severity": level(acme, 2).pk})
    same = client.post(
        url("escalation_path_create"), {"name": "SEV-1 DEFAULT", "severity": level(acme, 2).pk}
    )
    assert b"This field is required." in empty.content
    assert "There is already an escalation path called “SEV-1 DEFAULT”." in same.content.decode()
    assert paths(acme) == [("Sev-1 default", "SEV-1", None)]


def test_another_organisations_severity_or_category_is_not_a_valid_choice(
    acme_admin, globex, login
):
    acme = acme_admin.organization
    client = login(acme_admin.user)
    severity = client.post(
        url("escalation_path_create"), {"name": "X", "severity": level(globex, 1).pk}
    )
    cat = client.post(
        url("escalation_path_create"),
        {"name": "X", "severity": level(acme, 1).pk, "category": category(globex, "Network").pk},
    )
    assert b"Select a valid choice" in severity.content
    assert b"Select a valid choice" in cat.content
    assert paths(acme) == []


def test_admin_adds_steps_which_are_kept_in_order_of_their_delay(acme_admin, make_member, login):
    acme = acme_admin.organization
    team = TeamFactory(organization=acme, name="Payments")
    person = make_member(acme, Role.RESPONDER, full_name="Rita Responder")
    path = make_path(acme)
    client = login(acme_admin.user)
    step_url = url("escalation_step_add", pk=path.pk)
    client.post(step_url, {"delay_minutes": "15", "target_kind": "user", "user": person.user.pk})
    client.post(step_url, {"delay_minutes": "0", "target_kind": "team", "team": team.pk})
    response = client.post(
        step_url,
        {"delay_minutes": "5", "target_kind": "role", "role": "manager", "team": team.pk},
        follow=True,
    )
    assert response.redirect_chain == [(url("escalation_path_update", pk=path.pk), 302)]
    assert "Step added: after 5 min: every manager." in response.content.decode()
    assert steps(path) == [
        (1, 0, "team Payments"),
        (2, 5, "every manager"),
        (3, 15, "Rita Responder"),
    ]


def test_admin_removes_a_step_and_the_rest_close_up(acme_admin, login):
    acme = acme_admin.organization
    path = make_path(acme)
    first, second, third = (
        EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=n,
            delay_minutes=n * 5,
            target_kind="role",
            role=r,
        )
        for n, r in ((1, "responder"), (2, "manager"), (3, "admin"))
    )
    response = login(acme_admin.user).post(
        url("escalation_step_remove", pk=path.pk, step_pk=second.pk), follow=True
    )
    assert "Step removed: after 10 min: every manager." in response.content.decode()
    assert steps(path) == [(1, 5, "every responder"), (2, 15, "every admin")]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"delay_minutes": "0", "target_kind": "team"}, "Choose the team to notify."),
        ({"delay_minutes": "0", "target_kind": "role"}, "Choose the role to notify."),
        ({"delay_minutes": "0", "target_kind": "user"}, "Choose the person to notify."),
        (
            {"delay_minutes": "-5", "target_kind": "role", "role": "admin"},
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"delay_minutes": "0", "target_kind": "pager"}, "Select a valid choice."),
    ],
)
def test_a_step_without_its_target_or_with_negative_minutes_is_refused(
    acme_admin, login, data, error
):
    path = make_path(acme_admin.organization)
    response = login(acme_admin.user).post(url("escalation_step_add", pk=path.pk), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert f'value="{data["delay_minutes"]}"' in response.content.decode()
    assert steps(path) == []


def test_another_organisations_team_or_person_cannot_be_notified(
    acme_admin, globex_admin, globex, login
):
    path = make_path(acme_admin.organization)
    client = login(acme_admin.user)
    team = client.post(
        url("escalation_step_add", pk=path.pk),
        {"delay_minutes": "0", "target_kind": "team", "team": TeamFactory(organization=globex).pk},
    )
    person = client.post(
        url("escalation_step_add", pk=path.pk),
        {"delay_minutes": "0", "target_kind": "user", "user": globex_admin.user.pk},
    )
    assert b"Select a valid choice" in team.content
    assert b"Select a valid choice" in person.content
    assert steps(path) == []


def test_a_step_of_another_path_cannot_be_removed_through_this_one(acme_admin, login):
    acme = acme_admin.organization
    mine, other = make_path(acme, number=1), make_path(acme, name="Sev-2", number=2)
    step = EscalationStep.objects.create(
        organization=acme, path=other, position=1, target_kind="role", role="admin"
    )
    response = login(acme_admin.user).post(
        url("escalation_step_remove", pk=mine.pk, step_pk=step.pk)
    )
    assert response.status_code == 404
    assert steps(other) == [(1, 0, "every admin")]


def test_admin_deletes_a_path_with_its_steps(acme_admin, login):
    acme = acme_admin.organization
    path = make_path(acme)
    EscalationStep.objects.create(
        organization=acme, path=path, position=1, target_kind="role", role="admin"
    )
    response = login(acme_admin.user).post(url("escalation_path_delete", pk=path.pk), follow=True)
    assert response.redirect_chain == [(url("escalation_path_list"), 302)]
    assert "Escalation path “Sev-1 default” deleted." in response.content.decode()
    assert paths(acme) == []
    assert steps(path) == []


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_nothing_changes(acme, make_member, login, role):
    path = make_path(acme)
    step = EscalationStep.objects.create(
        organization=acme, path=path, position=1, target_kind="role", role="admin"
    )
    client = login(make_member(acme, role).user)
    assert client.get(url("escalation_path_list")).status_code == 403
    assert client.get(url("escalation_path_update", pk=path.pk)).status_code == 403
    assert (
        client.post(
            url("escalation_path_create"), {"name": "X", "severity": level(acme, 2).pk}
        ).status_code
        == 403
    )
    assert (
        client.post(
            url("escalation_step_add", pk=path.pk),
            {"delay_minutes": "1", "target_kind": "role", "role": "viewer"},
        ).status_code
        == 403
    )
    assert (
        client.post(url("escalation_step_remove", pk=path.pk, step_pk=step.pk)).status_code == 403
    )
    assert client.post(url("escalation_path_delete", pk=path.pk)).status_code == 403
    assert paths(acme) == [("Sev-1 default", "SEV-1", None)]
    assert steps(path) == [(1, 0, "every admin")]


def test_another_organisations_admin_gets_404_for_pages_and_rows(acme, globex_admin, login):
    path = make_path(acme)
    client = login(globex_admin.user)
    assert client.get(url("escalation_path_list")).status_code == 404
    assert client.get(url("escalation_path_update", pk=path.pk)).status_code == 404
    assert client.post(url("escalation_path_delete", pk=path.pk)).status_code == 404
    assert paths(acme) == [("Sev-1 default", "SEV-1", None)]


def test_another_organisations_path_pk_is_404_for_this_admin(acme_admin, globex, login):
    theirs = make_path(globex)
    client = login(acme_admin.user)
    assert client.get(url("escalation_path_update", pk=theirs.pk)).status_code == 404
    assert (
        client.post(
            url("escalation_step_add", pk=theirs.pk),
            {"delay_minutes": "1", "target_kind": "role", "role": "viewer"},
        ).status_code
        == 404
    )
    assert client.post(url("escalation_path_delete", pk=theirs.pk)).status_code == 404
    assert paths(globex) == [("Sev-1 default", "SEV-1", None)]
    assert steps(theirs) == []

"""Custom field definitions: admins define, edit and deactivate them; the key never changes
once created, because incidents store their values under it."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse
from django_scopes import scopes_disabled

from taxonomy import services
from taxonomy.models import CustomFieldDefinition
from tenancy.roles import Role

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name, **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme", **kwargs})


def definitions(org):
    with scopes_disabled():
        return list(
            CustomFieldDefinition.objects.filter(organization=org)
            .order_by("pk")
            .values_list("key", "label", "field_type", "choices", "required_from", "is_active")
        )


def make_field(org, key="customer_impact", **fields):
    fields = {"label": "Customer impact", "field_type": "choice", "choices": ["none", "outage"]} | (
        fields
    )
    return CustomFieldDefinition.objects.create(organization=org, key=key, **fields)


def field_post(**overrides):
    data = {
        "label": "Customer impact",
        "key": "customer_impact",
        "field_type": "choice",
        "choices": "none\n degraded \n\noutage\n",
        "required_from": "resolved",
        "help_text": "As customers saw it",
        "is_regulatory": "on",
        "position": "10",
        "is_active": "on",
    }
    return {**data, **overrides}


def test_admin_creates_a_choice_field_with_options_one_per_line(acme_admin, login):
    response = login(acme_admin.user).post(url("custom_field_create"), field_post(), follow=True)
    assert response.redirect_chain == [(url("custom_field_list"), 302)]
    assert "Custom field “Customer impact” saved." in response.content.decode()
    assert definitions(acme_admin.organization) == [
        (
            "customer_impact",
            "Customer impact",
            "choice",
            ["none", "degraded", "outage"],
            "resolved",
            True,
        )
    ]
    with scopes_disabled():
        field = CustomFieldDefinition.objects.get(organization=acme_admin.organization)
    assert (field.help_text, field.is_regulatory, field.is_sensitive, field.position) == (
        "As customers saw it",
        True,
        False,
        10,
    )


def test_the_edit_form_shows_the_options_one_per_line(acme_admin, login):
    field = make_field(acme_admin.organization)
    content = login(acme_admin.user).get(url("custom_field_update", pk=field.pk)).content
    assert b">\nnone\noutage</textarea>" in content


def test_admin_edits_and_deactivates_a_field(acme_admin, login):
    field = make_field(acme_admin.organization)
    response = login(acme_admin.user).post(
        url("custom_field_update", pk=field.pk),
        field_post(label="Impact on customers", required_from="", is_active=""),
    )
    assert response.status_code == 302
    assert definitions(acme_admin.organization) == [
        (
            "customer_impact",
            "Impact on customers",
            "choice",
            ["none", "degraded", "outage"],
            "",
            False,
        )
    ]


def test_the_key_cannot_change_once_created(acme_admin, login):
    field = make_field(acme_admin.organization)
    client = login(acme_admin.user)
    form = client.get(url("custom_field_update", pk=field.pk)).context["form"]
    assert form.fields["key"].disabled
    response = client.post(url("custom_field_update", pk=field.pk), field_post(key="renamed"))
    assert response.status_code == 302
    assert definitions(acme_admin.organization)[0][0] == "customer_impact"


def test_the_service_refuses_a_key_change(acme_admin):
    field = make_field(acme_admin.organization)
    with pytest.raises(ValidationError) as refused:
        services.custom_field_save(
            organization=acme_admin.organization,
            actor=acme_admin,
            field=field,
            key="renamed",
            label="Customer impact",
            field_type="text",
        )
    assert refused.value.message_dict == {
        "key": ["The key cannot change: incidents store their values under it."]
    }


def test_fields_are_deactivated_never_deleted():
    with pytest.raises(NoReverseMatch):
        reverse("taxonomy:custom_field_delete", kwargs={"org_slug": "acme", "pk": 1})


def test_the_list_shows_fields_with_key_type_and_marks(acme_admin, login):
    make_field(acme_admin.organization, is_sensitive=True, required_from="closed")
    content = login(acme_admin.user).get(url("custom_field_list")).content.decode()
    assert "<code>customer_impact</code>" in content
    assert "none, outage" in content
    assert '<span class="pill">Sensitive</span>' in content
    assert ">Closed<" in content


def test_the_list_has_an_empty_state_that_leads_to_the_form(acme_admin, login):
    content = login(acme_admin.user).get(url("custom_field_list")).content.decode()
    assert "No custom fields yet" in content
    assert f'href="{url("custom_field_create")}"' in content


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"choices": " \n "}, "A choice field needs a list of options."),
        ({"choices": "yes\nyes"}, "Options must differ from each other."),
        ({"field_type": "text"}, "Only choice fields have options."),
        ({"key": "Customer Impact"}, "Lower-case letters, digits and _, starting with a letter."),
        ({"key": ""}, "This field is required."),
        ({"label": " "}, "This field is required."),
        ({"required_from": "reported"}, "Select a valid choice."),
        ({"position": "-1"}, "Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_saved(acme_admin, login, data, error):
    response = login(acme_admin.user).post(url("custom_field_create"), field_post(**data))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert definitions(acme_admin.organization) == []


def test_keys_and_labels_are_unique_per_organisation(acme_admin, globex, login):
    make_field(acme_admin.organization)
    make_field(globex, key="region", label="Region", field_type="text", choices=[])
    client = login(acme_admin.user)
    same_key = client.post(url("custom_field_create"), field_post(label="Other"))
    same_label = client.post(
        url("custom_field_create"), field_post(key="other", label="CUSTOMER IMPACT")
    )
    theirs = client.post(
        url("custom_field_create"),
        field_post(key="region", label="Region", field_type="text", choices=""),
    )
    assert "There is already a field with the key “customer_impact”." in same_key.content.decode()
    assert "There is already a field labelled “CUSTOMER IMPACT”." in same_label.content.decode()
    assert theirs.status_code == 302
    assert [d[0] for d in definitions(acme_admin.organization)] == ["customer_impact", "region"]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_nothing_changes(acme, make_member, login, role):
    field = make_field(acme)
    before = definitions(acme)
    client = login(make_member(acme, role).user)
    assert client.get(url("custom_field_list")).status_code == 403
    assert client.post(url("custom_field_create"), field_post(key="x")).status_code == 403
    assert (
        client.post(url("custom_field_update", pk=field.pk), field_post(label="X")).status_code
        == 403
    )
    assert definitions(acme) == before


def test_another_organisations_admin_gets_404_for_pages_and_rows(acme, globex_admin, login):
    field = make_field(acme)
    before = definitions(acme)
    client = login(globex_admin.user)
    assert client.get(url("custom_field_list")).status_code == 404
    assert client.post(url("custom_field_create"), field_post(key="x")).status_code == 404
    assert client.get(url("custom_field_update", pk=field.pk)).status_code == 404
    assert definitions(acme) == before


def test_another_organisations_field_pk_is_404_for_this_admin(acme_admin, globex, login):
    theirs = make_field(globex)
    before = definitions(globex)
    client = login(acme_admin.user)
    assert client.get(url("custom_field_update", pk=theirs.pk)).status_code == 404
    assert (
        client.post(url("custom_field_update", pk=theirs.pk), field_post(label="X")).status_code
        == 404
    )
    assert definitions(globex) == before

"""Oversized input gets a clear 4xx: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413 with a
message, free text longer than its form limit is a form error, and no text field is unlimited."""

import datetime
import importlib
import inspect
from pathlib import Path

import pytest
from django import forms
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from config import limits
from incidents.models import Incident
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import declare

ROOT = Path(__file__).resolve().parents[2]
# Text fields that need no limit of their own: choices, e-mail and URL fields have one already.
LIMITED_BY_TYPE = (forms.EmailField, forms.URLField, forms.SlugField, forms.TypedChoiceField)


def vigil_forms():
    """Every form class defined in Vigil's own apps."""
    found = set()
    for app in apps.get_app_configs():
        app_path = Path(app.path)
        if ROOT not in app_path.parents or "site-packages" in app_path.parts:
            continue  # not Vigil's (a fresh clone keeps its .venv inside the checkout)
        for file in app_path.rglob("*.py"):
            if "migrations" in file.parts or file.name.startswith("test"):
                continue
            module_name = ".".join(file.relative_to(ROOT).with_suffix("").parts)
            module = importlib.import_module(module_name)
            for obj in vars(module).values():
                if (
                    inspect.isclass(obj)
                    and issubclass(obj, forms.BaseForm)
                    and obj.__module__ == module_name
                ):
                    found.add(obj)
    return found


def test_every_free_text_form_field_has_a_maximum_length():
    unlimited = []
    all_forms = vigil_forms()
    for form_class in all_forms:
        capped = getattr(form_class, "text_limits", {})
        for name, field in form_class.base_fields.items():
            if (
                isinstance(field, forms.CharField)
                and not isinstance(field, LIMITED_BY_TYPE)
                and field.max_length is None
                and name not in capped
            ):
                unlimited.append(f"{form_class.__module__}.{form_class.__name__}.{name}")
    assert len(all_forms) > 50
    assert unlimited == []


def test_model_text_fields_get_their_limit_through_the_mixin():
    from compliance.forms import FactsForm

    form = FactsForm(data={"notes": "x" * (limits.LONG_TEXT + 1)})
    assert form.fields["notes"].widget.attrs["maxlength"] == str(limits.LONG_TEXT)
    assert not form.is_valid()
    assert "at most 20000 characters" in form.errors["notes"][0]


@pytest.mark.django_db
def test_an_over_long_description_is_a_form_error_and_nothing_is_created(acme, responder, login):
    response = login(responder).post(
        "/o/acme/incidents/new/",
        {"title": "Too much", "description": "x" * (limits.LONG_TEXT + 1)},
    )
    assert response.status_code == 200
    assert "at most 20000 characters" in response.content.decode()
    with org_scope(acme):
        assert not Incident.objects.filter(title="Too much").exists()


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413_with_a_page_that_says_why(acme, responder, login):
    incident = declare(acme, responder)
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = login(responder).post(f"/o/acme/incidents/{incident.key}/comment/", {"text": body})
    assert response.status_code == 413
    page = response.content.decode()
    assert "The request is larger than Vigil accepts (1024 KiB)." in page
    assert "Nothing was saved." in page
    assert "Content-Security-Policy" in response


@pytest.mark.django_db
def test_too_many_fields_is_413_too(acme, responder, login):
    fields = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = login(responder).post("/o/acme/incidents/new/", fields)
    assert response.status_code == 413
    assert "more fields than Vigil accepts (1000)" in response.content.decode()


@pytest.mark.django_db
def test_an_api_body_over_the_limit_is_413_json(acme, make_member, client):
    from api.services import token_create

    membership = make_member(acme, Role.RESPONDER, email="api@acme.test")
    with org_scope(acme):
        _, token = token_create(
            organization=acme,
            user=membership.user,
            name="big",
            scope="write",
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )
    body = '{"title": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = client.post(
        "/api/v1/incidents/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    with org_scope(acme):
        assert not Incident.objects.exists()


def test_the_webhook_cap_is_not_above_the_form_limit():
    """Webhooks read their own bodies (413 tested in tests/integrations): one limit, 1 MiB."""
    from integrations import ingest

    assert ingest.MAX_BODY_BYTES <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE

"""The incident page's channels panel, the "open channels" button, and the tenancy and audit
rules for this app's models (tests/test_meta.py does not list the nested app's label)."""

import pytest
from auditlog.registry import auditlog
from django.apps import apps
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django_scopes.manager import DisabledQuerySet

from incidents.channels.models import IncidentChannel
from incidents.channels.services import channels_open
from tenancy.models import Membership, OrgOwned
from tenancy.scoping import org_scope
from tests.channels.conftest import configure
from tests.channels.helpers import channels, declared

pytestmark = pytest.mark.django_db


def render_panel(incident, user, role):
    membership = Membership(organization=incident.organization, user=user, role=role)
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load incident_channels %}{% incident_channels_panel incident %}")
    context = Context(
        {
            "incident": incident,
            "org": incident.organization,
            "membership": membership,
            "request": request,
        }
    )
    with org_scope(incident.organization):
        return template.render(context)


def test_the_panel_shows_each_channel_with_its_state_in_three_queries(
    acme,
    responder,
    slack_on,
    fake_slack,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    configure(acme, bridge_level=2, bridge_url_pattern="https://meet.example.com/{key}")
    fake_slack.fail_next("conversations.create", error="internal_error")
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")

    with django_assert_max_num_queries(3):
        html = render_panel(incident, responder, "responder")

    assert f"/o/acme/incidents/{incident.key}/channels/war-room/" in html
    assert "1 message" in html
    assert 'data-provider="slack" data-status="failed"' in html
    assert "Last error: Creating the channel failed: Slack said internal_error" in html
    assert "Next attempt" in html
    assert "Retry now" in html
    assert f"https://meet.example.com/{incident.key}" in html


def test_a_ready_slack_channel_links_to_slack_and_viewers_get_no_buttons(
    acme, responder, viewer, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    html = render_panel(incident, viewer, "viewer")
    assert 'href="https://app.slack.com/client/T0ACME/C100"' in html
    assert f"#inc-{incident.key.lower()}" in html
    assert "Retry now" not in html
    assert "<form" not in html


def test_channels_the_settings_add_later_can_be_opened_from_the_panel(
    acme, responder, viewer, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-2")
    configure(acme, bridge_level=2, bridge_url_pattern="https://meet.example.com/{key}")
    assert "Open Bridge line" in render_panel(incident, responder, "responder")
    url = reverse(
        "incident_channels:channels_open", kwargs={"org_slug": "acme", "key": incident.key}
    )

    assert login(viewer).post(url).status_code == 403
    assert "bridge" not in channels(incident)
    login(responder).post(url)

    assert channels(incident)["bridge"].url == f"https://meet.example.com/{incident.key}"
    assert "Open Bridge line" not in render_panel(incident, responder, "responder")
    assert channels_open(incident=incident) == []  # idempotent


def test_this_apps_models_are_tenant_scoped_and_audited():
    models = list(apps.get_app_config("incident_channels").get_models())
    assert len(models) == 4
    for model in models:
        assert issubclass(model, OrgOwned), model.__name__
        assert isinstance(model._default_manager.get_queryset(), DisabledQuerySet), model.__name__
        assert auditlog.contains(model), model.__name__
    assert (
        "slack_token"
        in auditlog.get_model_fields(apps.get_model("incident_channels", "ChannelSettings"))[
            "exclude_fields"
        ]
    )


def test_a_channel_of_another_organisation_is_not_found_through_this_one(
    acme, globex, responder, login, make_member, django_capture_on_commit_callbacks
):
    globex_member = make_member(globex, "admin")
    theirs = declared(django_capture_on_commit_callbacks, globex, globex_member.user)
    ours = declared(django_capture_on_commit_callbacks, acme, responder)
    their_channel = channels(theirs)["war_room"]
    url = reverse(
        "incident_channels:channel_retry",
        kwargs={"org_slug": "acme", "key": ours.key, "pk": their_channel.pk},
    )
    assert login(responder).post(url).status_code == 404
    assert IncidentChannel.objects.with_scopes_disabled().get(pk=their_channel.pk).attempts == 1


def test_the_demo_seeder_sets_up_acme_once(acme, responder, django_capture_on_commit_callbacks):
    from incidents.channels.demo import seed_channels
    from incidents.channels.models import ChannelSettings, WarRoomMessage

    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-2")
    with org_scope(acme):
        seed_channels(acme)
        seed_channels(acme)
        settings = ChannelSettings.objects.get(organization=acme)
        written = WarRoomMessage.objects.filter(incident=incident, author__isnull=False).count()
    assert settings.slack_level == 0
    assert settings.providers_for(1) == ["war_room", "bridge"]
    assert 3 <= written <= 5
    assert channels(incident)["bridge"].url == f"https://meet.example.com/{incident.key}"

"""The organisation's channel settings page, the Slack connection test, and the bridge line."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.channels import providers, services
from incidents.channels.models import ChannelSettings
from tests.channels.conftest import TOKEN, configure
from tests.channels.helpers import channels, declared

pytestmark = pytest.mark.django_db

SETTINGS = reverse("channel_settings:settings", kwargs={"org_slug": "acme"})
SLACK_TEST = reverse("channel_settings:slack_test", kwargs={"org_slug": "acme"})


def valid(**changes) -> dict:
    data = {
        "war_room_level": 9,
        "slack_level": 0,
        "slack_token": "",
        "slack_base_url": "https://slack.com/api/",
        "slack_channel_prefix": "inc-",
        "slack_invitees": "",
        "bridge_level": 2,
        "bridge_url_pattern": "https://meet.example.com/{key}",
        "bridge_phone_pattern": "+49 30 1234 5678,,{number}#",
    }
    data.update(changes)
    return data


def stored(org) -> ChannelSettings | None:
    with scopes_disabled():
        return ChannelSettings.objects.filter(organization=org).first()


def test_an_admin_saves_the_settings(acme, admin, login):
    client = login(admin)
    assert client.get(SETTINGS).status_code == 200

    response = client.post(
        SETTINGS,
        valid(
            slack_level=2,
            slack_token=TOKEN,
            slack_invitees="U0AAA1, U0BBB2 U0AAA1",
            slack_base_url="http://127.0.0.1:9/api",
        ),
    )

    assert response.status_code == 302, response.context["form"].errors
    settings = stored(acme)
    assert (settings.war_room_level, settings.slack_level, settings.bridge_level) == (9, 2, 2)
    assert settings.slack_token == TOKEN
    assert settings.slack_invitees == "U0AAA1,U0BBB2"
    assert settings.slack_base_url == "http://127.0.0.1:9/api/"
    assert settings.providers_for(1) == ["war_room", "slack", "bridge"]
    assert settings.providers_for(3) == ["war_room"]


def test_an_empty_token_field_keeps_the_saved_token_and_the_page_never_shows_it(acme, admin, login):
    configure(acme, slack_token=TOKEN, slack_level=2)
    client = login(admin)

    page = client.get(SETTINGS).content.decode()
    client.post(SETTINGS, valid(slack_level=2))

    assert TOKEN not in page
    assert "A bot token is saved" in page
    assert stored(acme).slack_token == TOKEN
    client.post(SETTINGS, valid(remove_slack_token="on"))
    assert stored(acme).slack_token == ""


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"slack_level": 1}, "slack_token", "Save a Slack bot token"),
        ({"slack_token": "not-a-token"}, "slack_token", "starts with xoxb-"),
        ({"slack_invitees": "U0AAA1, bob"}, "slack_invitees", "Not a Slack member id: bob"),
        (
            {"slack_invitees": ",".join(f"U0A{n:03}" for n in range(51))},
            "slack_invitees",
            "At most 50",
        ),
        ({"slack_base_url": "ftp://x"}, "slack_base_url", "http:// or https://"),
        ({"slack_channel_prefix": "Inc #"}, "slack_channel_prefix", "lower-case"),
        (
            {"bridge_url_pattern": "https://meet.example.com/{title}"},
            "bridge_url_pattern",
            "Unknown placeholder {title}",
        ),
        (
            {"bridge_url_pattern": "https://meet.example.com/{key"},
            "bridge_url_pattern",
            "not closed",
        ),
        (
            {"bridge_url_pattern": "javascript:alert({key})"},
            "bridge_url_pattern",
            "http:// or https://",
        ),
        (
            {"bridge_phone_pattern": "call {key.__class__}"},
            "bridge_phone_pattern",
            "Unknown placeholder",
        ),
        ({"bridge_phone_pattern": "+1 555 <b>"}, "bridge_phone_pattern", "Use digits"),
        (
            {"bridge_url_pattern": "", "bridge_phone_pattern": ""},
            "bridge_url_pattern",
            "conference URL or dial-in",
        ),
        ({"war_room_level": 7}, "war_room_level", "Select a valid choice"),
        ({"slack_invitees": "U" * 1001}, "slack_invitees", "at most 1000"),
    ],
)
def test_wrong_settings_are_refused_with_a_clear_message_and_nothing_is_saved(
    acme, admin, login, changes, field, message
):
    response = login(admin).post(SETTINGS, valid(**changes))

    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert stored(acme) is None


def test_the_service_checks_again_without_the_form(acme, admin):
    with pytest.raises(services.ValidationError) as error:
        services.settings_save(
            organization=acme, actor=admin, bridge_level=2, bridge_url_pattern="{nope}"
        )
    assert "bridge_url_pattern" in error.value.message_dict


@pytest.mark.parametrize("role", ["responder", "manager", "viewer", "compliance"])
def test_only_admins_reach_the_settings(acme, make_member, login, role):
    member = make_member(acme, role)
    client = login(member.user)
    assert client.get(SETTINGS).status_code == 403
    assert client.post(SETTINGS, valid()).status_code == 403
    assert client.post(SLACK_TEST).status_code == 403
    assert stored(acme) is None
    with pytest.raises(services.PermissionDenied):
        services.settings_save(organization=acme, actor=member.user, war_room_level=1)


def test_testing_the_slack_connection_remembers_the_workspace(acme, admin, login, fake_slack):
    configure(acme, slack_token=TOKEN, slack_base_url=fake_slack.base_url)
    client = login(admin)

    response = client.post(SLACK_TEST, follow=True)

    assert "connected to the workspace “Acme HQ” (T0ACME)" in response.content.decode()
    assert fake_slack.methods() == ["auth.test"]
    assert fake_slack.calls[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert stored(acme).slack_team_id == "T0ACME"


def test_a_failed_slack_connection_test_says_why(acme, admin, login, fake_slack):
    configure(acme, slack_token=TOKEN, slack_base_url=fake_slack.base_url)
    fake_slack.fail_next("auth.test", error="invalid_auth")

    response = login(admin).post(SLACK_TEST, follow=True)

    content = response.content.decode()
    assert "Slack connection failed (invalid_auth)" in content
    assert "copy the Bot User OAuth Token again" in content
    assert TOKEN not in content
    assert stored(acme).slack_team_id == ""


def test_an_unreachable_slack_is_reported(acme, admin, login):
    configure(acme, slack_token=TOKEN, slack_base_url="http://127.0.0.1:9/api/")
    response = login(admin).post(SLACK_TEST, follow=True)
    assert "Slack connection failed (unreachable)" in response.content.decode()


def test_the_bridge_is_filled_with_the_incident_key(
    acme, responder, django_capture_on_commit_callbacks
):
    configure(
        acme,
        bridge_level=2,
        bridge_url_pattern="https://meet.example.com/{org}/{key}?pin={number}",
        bridge_phone_pattern="+49 30 1234 5678,,{number}#",
    )
    major = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-2")
    minor = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-4")

    bridge = channels(major)["bridge"]
    assert bridge.status == "ready"
    assert bridge.url == f"https://meet.example.com/acme/{major.key}?pin={major.number}"
    assert bridge.phone == f"+49 30 1234 5678,,{major.number}#"
    assert "bridge" not in channels(minor)


def test_pattern_placeholders_are_checked():
    assert providers.pattern_problems("https://x/{key}/{number}/{org}") == []
    assert providers.pattern_problems("https://x/{0}") != []
    assert providers.pattern_problems("https://x/{key!r}") != []
    assert providers.pattern_problems("https://x/}") != []

"""The tracker's webhook back into Vigil: `POST /hooks/ticketing/<public_id>/`.

Authenticated by the integration's secret, as `Authorization: Bearer <secret>` or — for Jira,
whose webhooks cannot set headers — `?secret=<secret>` in the URL. Finds the incident by the
ticket (its link, else the incident key at the start of the summary / ServiceNow's
correlation_id), adds the link if it is missing and each new comment to the timeline, once per
tracker comment id. Comments Vigil wrote itself are ignored (no echo loop).

Answers: 200 with what was done; 202 `{"ignored": …}` for events about tickets Vigil does not
know, or events it does not use; 400 malformed; 401 wrong secret; 404 unknown hook; 413 too
large; 415 not JSON."""

import hmac
import re

from django.db import IntegrityError, transaction

from incidents.models import Incident, TimelineEvent
from integrations.models import hash_secret
from integrations.ticketing.models import TicketCall, TicketComment, TicketIntegration, TicketLink
from integrations.ticketing.sync import MARK, _ticket_url, _timeline_link

MAX_BODY_BYTES = 256 * 1024
MAX_COMMENT_CHARS = 10000
KEY_AT_START = re.compile(r"^\s*([A-Z][A-Z0-9]{0,15}-\d{1,9})\b")
JIRA_EVENTS = ("comment_created", "jira:issue_updated")


class HookError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def authenticate(integration: TicketIntegration, *, bearer: str, query_secret: str) -> None:
    for candidate in (bearer, query_secret):
        if candidate and hmac.compare_digest(
            hash_secret(candidate), integration.webhook_secret_hash
        ):
            return
    raise HookError(401, "Missing or wrong secret.")


def _text(value, field: str, limit: int = 200, required: bool = True, number: bool = False) -> str:
    if value is None and not required:
        return ""
    if number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # ids: some senders give them as numbers
    if not isinstance(value, str) or (required and not value.strip()):
        raise HookError(400, f"`{field}` must be a non-empty string.")
    if len(value) > limit:
        raise HookError(400, f"`{field}` is longer than {limit} characters.")
    return value.strip()


def _object(value, field: str, required: bool = True) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise HookError(400, f"`{field}` must be an object.")
    return value


def parse(integration: TicketIntegration, payload) -> dict | None:
    """The event in one shape — {ticket_key, ticket_id, summary_key, comment} — or None for
    an event Vigil does not use. Raises HookError(400) for a malformed one."""
    if not isinstance(payload, dict):
        raise HookError(400, "Send a JSON object.")
    if integration.kind == TicketIntegration.Kind.JIRA:
        event = _text(payload.get("webhookEvent"), "webhookEvent", 100)
        if event not in JIRA_EVENTS:
            return None
        issue = _object(payload.get("issue"), "issue")
        fields = _object(issue.get("fields"), "issue.fields", required=False)
        summary = _text(fields.get("summary"), "issue.fields.summary", 1000, required=False)
        comment = _object(payload.get("comment"), "comment", required=event == "comment_created")
        parsed = {
            "ticket_key": _text(issue.get("key"), "issue.key", 100),
            "ticket_id": _text(issue.get("id"), "issue.id", 100, required=False, number=True),
            "summary_key": _key_at_start(summary),
            "comment": None,
        }
        if comment:
            author = _object(comment.get("author"), "comment.author", required=False)
            parsed["comment"] = {
                "id": _text(comment.get("id"), "comment.id", 100, number=True),
                "body": _text(comment.get("body"), "comment.body", MAX_COMMENT_CHARS),
                "author": _text(
                    author.get("displayName") or author.get("name") or "someone",
                    "comment.author.displayName",
                ),
                "author_id": str(author.get("accountId") or author.get("name") or ""),
            }
        return parsed
    # ServiceNow: the business rule's shape (docs/ticketing.md).
    comment = _object(payload.get("comment"), "comment", required=False)
    parsed = {
        "ticket_key": _text(payload.get("number"), "number", 100),
        "ticket_id": _text(payload.get("sys_id"), "sys_id", 100),
        "summary_key": _key_at_start(
            _text(payload.get("correlation_id"), "correlation_id", 100, required=False)
            or _text(payload.get("short_description"), "short_description", 1000, required=False)
        ),
        "comment": None,
    }
    if comment:
        parsed["comment"] = {
            "id": _text(comment.get("sys_id"), "comment.sys_id", 100),
            "body": _text(comment.get("value"), "comment.value", MAX_COMMENT_CHARS),
            "author": _text(comment.get("created_by") or "someone", "comment.created_by"),
            "author_id": str(comment.get("created_by") or ""),
        }
    return parsed


def _key_at_start(text: str) -> str:
    match = KEY_AT_START.match(text or "")
    return match.group(1) if match else ""


def _is_echo(integration, comment: dict) -> bool:
    if comment["body"].startswith(MARK):
        return True
    if TicketCall.objects.filter(
        integration=integration, kind=TicketCall.Kind.COMMENT, remote_id=comment["id"]
    ).exists():
        return True
    # ServiceNow work notes carry the writing account, which is Vigil's own user.
    return (
        integration.kind == TicketIntegration.Kind.SERVICENOW
        and bool(integration.username)
        and comment["author_id"] == integration.username
    )


@transaction.atomic
def receive(integration: TicketIntegration, payload) -> tuple[int, dict]:
    """Apply one webhook delivery; returns (status, answer)."""
    event = parse(integration, payload)
    if event is None:
        return 202, {"ignored": "This event is not used by Vigil."}
    link = (
        TicketLink.objects.filter(integration=integration, ticket_key=event["ticket_key"])
        .select_related("incident")
        .first()
    )
    linked = False
    if link is None:
        incident = None
        if event["summary_key"]:
            incident = Incident.objects.filter(
                organization_id=integration.organization_id, key=event["summary_key"]
            ).first()
        if incident is None:
            return 202, {"ignored": f"No Vigil incident has ticket {event['ticket_key']}."}
        if TicketLink.objects.filter(integration=integration, incident=incident).exists():
            return 202, {"ignored": f"{incident.key} is linked to another ticket already."}
        link = TicketLink.objects.create(
            organization_id=integration.organization_id,
            integration=integration,
            incident=incident,
            ticket_key=event["ticket_key"],
            ticket_id=event["ticket_id"],
            url=_ticket_url(integration, event["ticket_key"], event["ticket_id"]),
        )
        _timeline_link(incident, integration, link)
        linked = True
    answer = {"incident": link.incident.key, "linked": linked, "comment": "none"}
    comment = event["comment"]
    if comment is None:
        return 200, answer
    if _is_echo(integration, comment):
        answer["comment"] = "ignored: written by Vigil"
        return 200, answer
    try:
        with transaction.atomic():
            TicketComment.objects.create(
                organization_id=integration.organization_id,
                integration=integration,
                incident=link.incident,
                remote_id=comment["id"],
            )
    except IntegrityError:
        answer["comment"] = "already on the timeline"
        return 200, answer
    TimelineEvent.objects.create(
        organization_id=integration.organization_id,
        incident=link.incident,
        kind=TimelineEvent.Kind.COMMENT,
        actor=None,
        message=(
            f"{integration.get_kind_display()} comment on {link.ticket_key} by "
            f"{comment['author']}: {comment['body']}"
        ),
        data={
            "tracker": integration.kind,
            "ticket": link.ticket_key,
            "remote_id": comment["id"],
            "author": comment["author"],
        },
    )
    answer["comment"] = "added"
    return 200, answer

"""Writes of exposure figures: by hand on the exposure page, and posted by a machine to the
exposure feed with the organisation's bearer token (stored hashed, like alert sources'
secrets: `integrations.models.hash_secret`, compared in constant time)."""

import datetime
import hmac
import math
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from integrations.models import hash_secret
from reporting.models import ExposureFeedToken, ExposureFigure
from reporting.services import _require
from taxonomy.models import Service
from tenancy.audit import audit_context
from tenancy.models import Organization, User
from tenancy.roles import Capability

TOKEN_PREFIX = "vx_"  # noqa: S105 — the marker every token starts with, not a secret
PREFIX_LENGTH = 12  # "vx_" and nine random characters: enough to find the row, not to guess
MAX_ITEMS = 500
MAX_BODY_BYTES = 256 * 1024
MAX_VALUE = Decimal("1e17")  # what DecimalField(max_digits=20, decimal_places=2) holds
UNIT_LENGTH = 40


def week_of(day: datetime.date) -> datetime.date:
    """The Monday of `day`'s week: figures are stored per week starting on a Monday."""
    return day - datetime.timedelta(days=day.weekday())


# — by hand ——————————————————————————————————————————————————————————————————————————————


@transaction.atomic
def exposure_save(
    *, organization: Organization, actor: User, figure: ExposureFigure
) -> ExposureFigure:
    """Create or update a figure (validated by its form); the week is moved to its Monday."""
    _require(organization, actor, Capability.MANAGE_REPORTS)
    if figure.pk is not None and figure.organization_id != organization.pk:
        raise PermissionDenied("That figure belongs to another organisation.")
    if figure.service_id is not None and figure.service.organization_id != organization.pk:
        raise PermissionDenied("That service belongs to another organisation.")
    figure.organization = organization
    figure.week = week_of(figure.week)
    figure.updated_at = timezone.now()
    figure.save()
    return figure


@transaction.atomic
def exposure_delete(*, organization: Organization, actor: User, figure: ExposureFigure) -> None:
    _require(organization, actor, Capability.MANAGE_REPORTS)
    if figure.organization_id != organization.pk:
        raise PermissionDenied("That figure belongs to another organisation.")
    figure.delete()


# — the feed token ———————————————————————————————————————————————————————————————————————


@transaction.atomic
def exposure_token_generate(*, organization: Organization, actor: User) -> str:
    """A new feed token, returned once (only its hash is kept). Revokes the previous one."""
    _require(organization, actor, Capability.MANAGE_REPORTS)
    now = timezone.now()
    for old in ExposureFeedToken.objects.select_for_update().filter(
        organization=organization, revoked_at__isnull=True
    ):
        old.revoked_at = now
        old.save(update_fields=["revoked_at"])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ExposureFeedToken.objects.create(
        organization=organization,
        prefix=token[:PREFIX_LENGTH],
        token_hash=hash_secret(token),
        created_by=actor,
        created_at=now,
    )
    return token


@transaction.atomic
def exposure_token_revoke(*, organization: Organization, actor: User) -> int:
    """Revoke the live token, if any; the feed answers 401 to it from now on."""
    _require(organization, actor, Capability.MANAGE_REPORTS)
    revoked = 0
    for token in ExposureFeedToken.objects.select_for_update().filter(
        organization=organization, revoked_at__isnull=True
    ):
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        revoked += 1
    return revoked


def token_organization(token: str, org_slug: str) -> Organization | None:
    """The organisation `token` is the live feed token of, if it is `org_slug`'s; else None.
    Another organisation's token, a revoked one and a made-up one are answered alike."""
    if not token.startswith(TOKEN_PREFIX) or len(token) <= PREFIX_LENGTH:
        return None
    with scopes_disabled():  # finding the tenant is what the token is for
        row = (
            ExposureFeedToken.objects.select_related("organization")
            .filter(prefix=token[:PREFIX_LENGTH], revoked_at__isnull=True)
            .first()
        )
    if row is None or not hmac.compare_digest(hash_secret(token), row.token_hash):
        return None
    if row.organization.slug != org_slug:
        return None
    with scopes_disabled():
        ExposureFeedToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row.organization


# — the feed —————————————————————————————————————————————————————————————————————————————


class FeedError(Exception):
    """A refused feed request: HTTP status, a stable code, the item index and field at fault."""

    def __init__(self, status: int, code: str, message: str, *, item=None, field=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.item, self.field = item, field

    def as_json(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.item is not None:
            error["item"] = self.item
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


@dataclass(frozen=True)
class FeedItem:
    week: datetime.date
    value: Decimal
    unit: str
    service: Service | None


def _item(index: int, raw, services: dict[str, Service]) -> FeedItem:
    def fail(code, message, field=None):
        return FeedError(400, code, message, item=index, field=field)

    if not isinstance(raw, dict):
        raise fail("invalid_item", "Each item must be a JSON object.")
    unknown = set(raw) - {"week", "value", "unit", "service"}
    if unknown:
        name = sorted(unknown)[0]
        raise fail("unknown_field", f"Unknown field “{name}”.", name)
    week = raw.get("week")
    if not isinstance(week, str):
        raise fail("invalid_week", "week: a date, YYYY-MM-DD.", "week")
    try:
        day = datetime.date.fromisoformat(week)
    except ValueError:
        raise fail("invalid_week", "week: a date, YYYY-MM-DD.", "week") from None
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("invalid_value", "value: a number.", "value")
    if isinstance(value, float) and not math.isfinite(value):
        raise fail("invalid_value", "value: a number.", "value")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise fail("invalid_value", "value: a number.", "value") from None
    if amount < 0:
        raise fail("negative_value", "value: must not be negative.", "value")
    if amount >= MAX_VALUE:
        raise fail("invalid_value", "value: too large.", "value")
    unit = raw.get("unit")
    if not isinstance(unit, str) or not unit.strip() or len(unit.strip()) > UNIT_LENGTH:
        raise fail(
            "invalid_unit", f"unit: a non-empty text of at most {UNIT_LENGTH} characters.", "unit"
        )
    service = None
    name = raw.get("service")
    if name is not None:
        if not isinstance(name, str):
            raise fail(
                "invalid_service", "service: the service's name, or leave it out.", "service"
            )
        service = services.get(name.strip().lower())
        if service is None:
            raise fail(
                "unknown_service",
                "service: no service of this organisation has that name.",
                "service",
            )
    return FeedItem(week_of(day), amount, " ".join(unit.split()), service)


def parse_feed(organization: Organization, payload) -> list[FeedItem]:
    """Every item of a posted body, validated; the first fault raises `FeedError`."""
    items = payload if isinstance(payload, list) else [payload]
    if not isinstance(payload, list | dict):
        raise FeedError(400, "invalid_body", "Send one JSON object or a list of them.")
    if not items:
        raise FeedError(400, "empty", "The list is empty.")
    if len(items) > MAX_ITEMS:
        raise FeedError(400, "too_many_items", f"At most {MAX_ITEMS} items per request.")
    services = {
        service.name.lower(): service
        for service in Service.objects.filter(organization=organization)
    }
    parsed, seen = [], {}
    for index, raw in enumerate(items):
        item = _item(index, raw, services)
        key = (item.service.pk if item.service else None, item.week)
        if key in seen:
            raise FeedError(
                400,
                "duplicate_item",
                f"Same service and week as item {seen[key]}.",
                item=index,
                field="week",
            )
        seen[key] = index
        parsed.append(item)
    return parsed


@transaction.atomic
def exposure_feed_ingest(*, organization: Organization, items: list[FeedItem]) -> dict[str, int]:
    """Upsert every item by organisation + service + week, all or nothing. Audited with the
    origin "exposure feed" (there is no signed-in person)."""
    weeks = {item.week for item in items}
    existing = {
        (figure.service_id, figure.week): figure
        for figure in ExposureFigure.objects.filter(organization=organization, week__in=weeks)
        .order_by()
        .select_for_update()
    }
    created = updated = 0
    now = timezone.now()
    with audit_context(origin="exposure feed"):
        for item in items:
            figure = existing.get((item.service.pk if item.service else None, item.week))
            if figure is None:
                ExposureFigure.objects.create(
                    organization=organization,
                    service=item.service,
                    week=item.week,
                    value=item.value,
                    unit=item.unit,
                    updated_at=now,
                )
                created += 1
            elif figure.value != item.value or figure.unit != item.unit:
                figure.value, figure.unit, figure.updated_at = item.value, item.unit, now
                figure.save(update_fields=["value", "unit", "updated_at"])
                updated += 1
    return {"received": len(items), "created": created, "updated": updated}

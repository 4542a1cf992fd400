"""Configuration writes for PagerDuty paging (manage_integrations; audited, secrets masked in
the audit trail). Secrets are validated, sealed, and never returned."""

import re

from django.core.exceptions import ValidationError

from integrations.pagerduty.models import PagerDutyService
from integrations.pagerduty.secrets import ANY_ENV_REFERENCE, ENV_PREFIX, ENV_REFERENCE, seal
from taxonomy.models import EscalationStep
from tenancy.models import Membership, Organization
from tenancy.roles import Capability
from tenancy.writes import org_write, own

_write = org_write(Capability.MANAGE_INTEGRATIONS, "Your role may not manage integrations.")
ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")
SECRET_MAX = 200


def _env_reference(field: str, value: str) -> None:
    if ANY_ENV_REFERENCE.fullmatch(value) and not ENV_REFERENCE.fullmatch(value):
        raise ValidationError(
            {
                field: f"Only environment variables named {ENV_PREFIX}… (A-Z, 0-9 and _) "
                f"may be read: env:{ENV_PREFIX}NAME."
            }
        )


def _routing_key(value: str) -> str:
    value = (value or "").strip()
    _env_reference("routing_key", value)
    if ENV_REFERENCE.fullmatch(value) or ROUTING_KEY.fullmatch(value):
        return seal(value)
    raise ValidationError(
        {
            "routing_key": "An Events API v2 integration key is 32 letters and digits; or give "
            f"env:{ENV_PREFIX}NAME to read it from that environment variable."
        }
    )


def _webhook_secret(value: str) -> str:
    value = (value or "").strip()
    _env_reference("webhook_secret", value)
    if ENV_REFERENCE.fullmatch(value) or (8 <= len(value) <= SECRET_MAX and value.isprintable()):
        return seal(value)
    raise ValidationError(
        {
            "webhook_secret": f"The webhook subscription's signing secret (8–{SECRET_MAX} "
            f"printable characters), or env:{ENV_PREFIX}NAME."
        }
    )


@_write
def pagerduty_service_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    service: PagerDutyService | None = None,
    routing_key: str = "",
    webhook_secret: str = "",
    is_enabled: bool = True,
) -> PagerDutyService:
    """Create a PagerDuty service integration, or update `service`. A new one needs its
    routing key and signing secret; on update, an empty secret keeps the stored one."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the service a name."})
    if service is None:
        service = PagerDutyService(organization=organization)
        if not routing_key:
            raise ValidationError({"routing_key": "Give the integration key (routing key)."})
        if not webhook_secret:
            raise ValidationError({"webhook_secret": "Give the webhook signing secret."})
    else:
        service = own(service, organization)
    service.name = name[:100]
    service.is_enabled = is_enabled
    if routing_key:
        service.routing_key = _routing_key(routing_key)
    if webhook_secret:
        service.webhook_secret = _webhook_secret(webhook_secret)
    if PagerDutyService.objects.filter(name__iexact=service.name).exclude(pk=service.pk).exists():
        raise ValidationError({"name": "Another PagerDuty service has this name."})
    service.save()
    return service


@_write
def pagerduty_service_delete(
    *, organization: Organization, actor: Membership, service: PagerDutyService
) -> None:
    """Remove a service no escalation step pages (disable it otherwise)."""
    service = own(service, organization)
    steps = EscalationStep.objects.filter(
        target_kind=EscalationStep.TargetKind.PAGERDUTY, integration_target=service.public_id
    ).count()
    if steps:
        raise ValidationError(
            f"{steps} escalation step(s) page {service.name}: remove them first, or disable it."
        )
    service.delete()

"""Every write the ticketing pages make: create, edit, enable/disable, delete an integration
and rotate its webhook secret. Keyword-only, the organisation and acting membership explicit
(refused without manage_integrations), one transaction in the organisation's scope; audited
through auditlog (credential and secret hash excluded; that they changed is recorded)."""

import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from integrations.models import hash_secret
from integrations.ticketing import crypto
from integrations.ticketing.models import TicketIntegration
from tenancy.models import AuditEntry, Membership, Organization
from tenancy.roles import Capability
from tenancy.writes import org_write, own

_write = org_write(Capability.MANAGE_INTEGRATIONS, "Your role may not manage integrations.")

FIELDS = [
    "name",
    "kind",
    "base_url",
    "auth_scheme",
    "username",
    "project_key",
    "issue_type",
    "resolve_transition",
    "close_transition",
    "table",
    "resolved_state",
    "closed_state",
    "close_code",
    "mirror",
    "min_severity",
]
MAX_CREDENTIAL = 2000


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def _apply(integration, *, fields: dict, credential_env: str, credential: str) -> None:
    for name in FIELDS:
        if name in fields:
            value = fields[name]
            setattr(integration, name, value.strip() if isinstance(value, str) else value)
    credential_env = (credential_env or "").strip()
    if credential_env.startswith("env:"):
        credential_env = credential_env[4:]
    if len(credential or "") > MAX_CREDENTIAL:
        raise ValidationError({"credential": f"At most {MAX_CREDENTIAL} characters."})
    if credential_env and credential:
        raise ValidationError(
            {"credential": "Give either an environment reference or a secret to store, not both."}
        )
    if credential_env:
        integration.credential_env = credential_env
        integration.credential_encrypted = ""
    elif credential:
        integration.credential_env = ""
        integration.credential_encrypted = crypto.encrypt(credential)
    if not integration.credential_env and not integration.credential_encrypted:
        raise ValidationError(
            {"credential": "Give an environment reference (env:VAR_NAME) or the secret to store."}
        )


def _save(integration: TicketIntegration) -> TicketIntegration:
    integration.full_clean()
    try:
        with transaction.atomic():
            integration.save()
    except IntegrityError:
        raise ValidationError({"name": "Another integration has this name."}) from None
    return integration


def _audit_secret(integration, what: str) -> None:
    AuditEntry.objects.log_create(
        integration,
        action=AuditEntry.Action.UPDATE,
        changes={"secret": ["(not recorded)", what]},
    )


@_write
def integration_create(
    *,
    organization: Organization,
    actor: Membership,
    credential_env: str = "",
    credential: str = "",
    **fields,
) -> tuple[TicketIntegration, str]:
    """A new, enabled integration and its webhook secret (returned once, stored hashed)."""
    secret = new_webhook_secret()
    integration = TicketIntegration(
        organization=organization, webhook_secret_hash=hash_secret(secret)
    )
    _apply(integration, fields=fields, credential_env=credential_env, credential=credential)
    if TicketIntegration.objects.filter(organization=organization, name=integration.name).exists():
        raise ValidationError({"name": "Another integration has this name."})
    return _save(integration), secret


@_write
def integration_update(
    *,
    organization: Organization,
    actor: Membership,
    integration: TicketIntegration,
    credential_env: str = "",
    credential: str = "",
    **fields,
) -> TicketIntegration:
    """Change the settings; an empty credential keeps the current one."""
    integration = own(integration, organization)
    before = (integration.credential_env, integration.credential_encrypted)
    fields.pop("kind", None)  # the tracker kind is fixed: its tickets live there
    _apply(integration, fields=fields, credential_env=credential_env, credential=credential)
    if (
        TicketIntegration.objects.filter(organization=organization, name=integration.name)
        .exclude(pk=integration.pk)
        .exists()
    ):
        raise ValidationError({"name": "Another integration has this name."})
    _save(integration)
    if integration.credential_encrypted != before[1] and integration.credential_encrypted:
        _audit_secret(integration, "stored credential replaced")
    return integration


@_write
def integration_set_enabled(
    *, organization: Organization, actor: Membership, integration: TicketIntegration, enabled: bool
) -> TicketIntegration:
    integration = own(integration, organization)
    integration.is_enabled = enabled
    integration.save(update_fields=["is_enabled"])
    return integration


@_write
def integration_rotate_secret(
    *, organization: Organization, actor: Membership, integration: TicketIntegration
) -> tuple[TicketIntegration, str]:
    """A new webhook secret; the old one stops working at once."""
    integration = own(integration, organization)
    secret = new_webhook_secret()
    integration.webhook_secret_hash = hash_secret(secret)
    integration.save(update_fields=["webhook_secret_hash"])
    _audit_secret(integration, "webhook secret rotated")
    return integration, secret


@_write
def integration_delete(
    *, organization: Organization, actor: Membership, integration: TicketIntegration
) -> None:
    """Delete the integration with its ticket links and call log (the tickets stay in the
    tracker; the timeline entries stay in Vigil)."""
    integration = own(integration, organization)
    integration.delete()

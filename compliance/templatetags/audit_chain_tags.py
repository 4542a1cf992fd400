"""The audit page's tamper-evidence panel and export form (compliance/audit_list.html)."""

import datetime as dt

from django import template
from django.utils import timezone

from compliance.audit_chain import chain_status
from compliance.audit_export import MAX_RANGE_DAYS, AuditExportForm
from tenancy.roles import Capability, can

register = template.Library()


@register.inclusion_tag("compliance/_audit_chain_panel.html", takes_context=True)
def audit_chain_panel(context):
    """When the chain was last verified, by whom or what, the result; "Verify now" for
    MANAGE_COMPLIANCE; the export form for EXPORT_COMPLIANCE."""
    request = context["request"]
    role = request.membership.role
    may_export = can(role, Capability.EXPORT_COMPLIANCE)
    form = None
    if may_export:
        form = AuditExportForm(
            organization=request.org, user=request.user, membership=request.membership
        )
    status = chain_status(request.org)
    verified_at = status.chain.last_verified_at if status.chain else None
    return {
        "request": request,
        "verified_just_now": bool(verified_at)
        and timezone.now() - verified_at < dt.timedelta(minutes=1),
        "org": request.org,
        "csrf_token": context.get("csrf_token"),
        "status": status,
        "may_verify": can(role, Capability.MANAGE_COMPLIANCE),
        "export_form": form,
        "max_range_days": MAX_RANGE_DAYS,
    }

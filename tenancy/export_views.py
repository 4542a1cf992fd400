"""The organisation's data export for its admins: GET explains, POST streams the JSON."""

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from incidents.models import Incident
from tenancy import export
from tenancy.access import org_view
from tenancy.roles import Capability


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_ORGANIZATION)
def org_export(request, org_slug):
    org = request.org
    context = {"excluded": export.EXCLUDED_MODELS, "redacted": export.REDACTED_FIELDS}
    if request.method == "GET":
        return render(request, "tenancy/org_export.html", context)
    incidents = Incident.objects.filter(organization=org).count()
    if incidents > export.WEB_MAX_INCIDENTS:
        # A sync web worker is stopped after gunicorn's --timeout: a long download would end
        # cut off, as invalid JSON. Large organisations are exported by an operator.
        context["too_large"] = incidents
        context["limit"] = export.WEB_MAX_INCIDENTS
        return render(request, "tenancy/org_export.html", context, status=409)
    export.record(org, actor=request.user, origin="web")
    response = StreamingHttpResponse(
        export.stream(org), content_type="application/json; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-export-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response

from django.shortcuts import render

from tenancy.access import org_view
from tenancy.roles import Capability


@org_view(Capability.VIEW_ALERTS)
def source_list(request, org_slug):
    return render(request, "integrations/source_list.html", {})

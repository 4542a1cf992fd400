from django.shortcuts import render

from tenancy.access import org_view


@org_view()
def inbox(request, org_slug):
    return render(request, "incidents/notifications/inbox.html", {})

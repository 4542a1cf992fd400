"""Vigil's URLs plus one probe view that reads incidents deliberately unscoped, for
test_rls.py: what would a forgotten filter, the base manager or raw SQL show inside acme?"""

from django.db import connection
from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as vigil_urlpatterns
from incidents.models import Incident


def unscoped_probe(request, org_slug):
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM incidents_incident ORDER BY key")
        raw_sql = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT current_setting('vigil.org_id', true)")
        (setting,) = cursor.fetchone()
    return JsonResponse(
        {
            "with_scopes_disabled": sorted(
                Incident.objects.with_scopes_disabled().all().values_list("key", flat=True)
            ),
            "base_manager": sorted(Incident._base_manager.all().values_list("key", flat=True)),
            "raw_sql": raw_sql,
            "setting": setting,
        }
    )


urlpatterns = [
    path("o/<slug:org_slug>/__unscoped_probe/", unscoped_probe),
    *vigil_urlpatterns,
]

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import views
from api.exceptions import not_found

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("me/", views.MeView.as_view(), name="me"),
]


def finish(patterns):
    """The API authenticates by token, not by session: exempt every view from the login
    redirect, and answer unknown paths with JSON (keep the fallback last)."""
    patterns = [*patterns, re_path(r"^.*$", not_found)]
    for pattern in patterns:
        login_not_required(pattern.callback)
    return patterns


# — incidents (api/incidents.py) ——————————————————————————————————————————————————————
from api import incidents  # noqa: E402

urlpatterns += [
    path("incidents/", incidents.IncidentListView.as_view(), name="incident_list"),
    path("incidents/<str:key>/", incidents.IncidentDetailView.as_view(), name="incident_detail"),
    path(
        "incidents/<str:key>/transitions/<str:name>/",
        incidents.IncidentTransitionView.as_view(),
        name="incident_transition",
    ),
]

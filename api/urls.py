from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views
from api.exceptions import not_found

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves Swagger UI's start-up code as a script of its own (?script), which
    # the Content-Security-Policy allows; api/swagger_ui.html puts the nonce on its <style>.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("me/", views.MeView.as_view(), name="me"),
]

# — resources: timeline, comments, status updates, alerts, post-mortems, KPIs (helper api-res) —
from api import alerts, kpis, postmortems, timeline  # noqa: E402

urlpatterns += [
    path(
        "incidents/<str:key>/timeline/", timeline.TimelineView.as_view(), name="incident_timeline"
    ),
    path(
        "incidents/<str:key>/comments/", timeline.CommentsView.as_view(), name="incident_comments"
    ),
    path(
        "incidents/<str:key>/status-updates/",
        timeline.StatusUpdatesView.as_view(),
        name="incident_status_updates",
    ),
    path("alerts/", alerts.AlertList.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", alerts.AlertDetail.as_view(), name="alert_detail"),
    path("alert-groups/", alerts.AlertGroupList.as_view(), name="alert_group_list"),
    path("alert-groups/<int:pk>/", alerts.AlertGroupDetail.as_view(), name="alert_group_detail"),
    path("postmortems/", postmortems.PostMortemList.as_view(), name="postmortem_list"),
    path(
        "postmortems/<str:ref>/", postmortems.PostMortemDetail.as_view(), name="postmortem_detail"
    ),
    path("action-items/", postmortems.ActionItemList.as_view(), name="action_item_list"),
    path(
        "action-items/<int:pk>/", postmortems.ActionItemDetail.as_view(), name="action_item_detail"
    ),
    path("kpis/", kpis.KpiView.as_view(), name="kpis"),
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

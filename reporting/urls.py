from django.urls import path

from reporting import normalise_views, root_cause_views, team_views, trends_views, views

app_name = "reporting"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("executive/", views.executive_list, name="executive_list"),
    path("executive/generate/", views.executive_generate, name="executive_generate"),
    path("executive/<int:report_id>/pdf/", views.executive_pdf, name="executive_pdf"),
    path("executive/schedules/new/", views.schedule_create, name="schedule_create"),
    path("executive/schedules/<int:schedule_id>/", views.schedule_edit, name="schedule_edit"),
    path(
        "executive/schedules/<int:schedule_id>/delete/",
        views.schedule_delete,
        name="schedule_delete",
    ),
    path("comparison/", normalise_views.comparison, name="comparison"),
    path("exposure/", normalise_views.exposure_list, name="exposure_list"),
    path("exposure/token/", normalise_views.exposure_token, name="exposure_token"),
    path("exposure/feed/", normalise_views.exposure_feed, name="exposure_feed"),
    path("exposure/<int:figure_id>/", normalise_views.exposure_edit, name="exposure_edit"),
    path(
        "exposure/<int:figure_id>/delete/",
        normalise_views.exposure_delete,
        name="exposure_delete",
    ),
    path("trends/", trends_views.trends_page, name="trends"),
    path("team/", team_views.team_view, name="team"),
    path("root-causes/", root_cause_views.root_cause_breakdown, name="root_causes"),
]

from django.urls import path

from reporting import views

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
]

from reporting import team_views  # noqa: E402

urlpatterns += [path("team/", team_views.team_view, name="team")]

from reporting import root_cause_views  # noqa: E402

urlpatterns += [
    path("root-causes/", root_cause_views.root_cause_breakdown, name="root_causes"),
]

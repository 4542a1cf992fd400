from django.urls import path

from tenancy import export_views, views

app_name = "tenancy"

urlpatterns = [
    path("", views.org_home, name="org_home"),
    path("settings/members/", views.member_list, name="member_list"),
    path("settings/members/invite/", views.invitation_create, name="invitation_create"),
    path("settings/members/<int:pk>/role/", views.member_role, name="member_role"),
    path("settings/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path(
        "settings/invitations/<int:pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/teams/", views.team_list, name="team_list"),
    path("settings/teams/new/", views.team_create, name="team_create"),
    path("settings/teams/<int:pk>/", views.team_update, name="team_update"),
    path("settings/teams/<int:pk>/delete/", views.team_delete, name="team_delete"),
    path("settings/export/", export_views.org_export, name="org_export"),
]

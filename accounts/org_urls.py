"""Organisation pages of accounts, under /o/<org_slug>/settings/members/."""

from django.urls import path

from accounts import org_views

app_name = "accounts_org"

urlpatterns = [
    path("sign-in-log/", org_views.security_event_list, name="security_event_list"),
    path("<int:pk>/sessions/end/", org_views.member_sessions_end, name="member_sessions_end"),
]

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/code/", views.login_code, name="login_code"),
    path("security/", views.security, name="security"),
    path("security/two-factor/", views.two_factor_setup, name="two_factor_setup"),
    path("security/two-factor/remove/", views.two_factor_remove, name="two_factor_remove"),
    path(
        "security/recovery-codes/",
        views.recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
    path("security/sessions/end/", views.sessions_end, name="sessions_end"),
]

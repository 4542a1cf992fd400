from django.contrib import admin
from django.urls import include, path

from accounts import views as accounts_views
from api import urls as api_urls
from config import health
from tenancy import views as tenancy_views

org_patterns = [
    path("", include("tenancy.urls")),
    path("incidents/", include("incidents.urls")),
    path("incidents/<str:key>/channels/", include("incidents.channels.urls")),
    path("settings/channels/", include("incidents.channels.settings_urls")),
    path("status-page/", include("incidents.statuspage.urls")),
    path("notifications/", include("incidents.notification_urls")),
    path("integrations/", include("integrations.admin_urls")),
    path("settings/taxonomy/", include("taxonomy.urls")),
    path("compliance/reports/", include("compliance.reports.urls")),
    path("compliance/reviews/", include("compliance.reviews.urls")),
    path("compliance/retention/", include("compliance.retention.urls")),
    path("compliance/", include("compliance.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("reports/", include("reporting.urls")),
    path("settings/api-tokens/", include("api.token_urls")),
    path("integrations/ticketing/", include("integrations.ticketing.urls")),
    path("settings/members/", include("accounts.org_urls")),
]

urlpatterns = [
    path("", tenancy_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/login/", accounts_views.SignInView.as_view(), name="login"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path(
        "accounts/invitation/<str:token>/",
        tenancy_views.invitation_accept,
        name="invitation_accept",
    ),
    # The staff admin signs in through Vigil's own page (lockout, two-factor).
    path("admin/login/", accounts_views.admin_login),
    path("admin/", admin.site.urls),
    # Before hooks/<public_id>/<secret>/, which would otherwise swallow it.
    path("hooks/ticketing/", include("integrations.ticketing.hook_urls")),
    path("hooks/", include("integrations.urls")),
    path("api/v1/", include((api_urls.finish(api_urls.urlpatterns), "api"))),
    path("status/<slug:org_slug>/", include("incidents.statuspage.public_urls")),
    path("o/<slug:org_slug>/", include(org_patterns)),
]

# A database or broker outage answers 503 + Retry-After, anything else the 500 page.
handler500 = "config.errors.server_error"

# A request body over the upload limit: 413 with a clear message (docs/browser-security.md).
handler400 = "config.browser_security.bad_request"

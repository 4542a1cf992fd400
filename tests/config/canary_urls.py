"""A view that fails with secrets in its locals and its request (tests/config/test_logcanary)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from tests import logcanary


@csrf_exempt
@login_not_required
def explode(request):
    password = request.POST.get("password", logcanary.PASSWORD)
    token = f"vgl_abcd1234_{logcanary.API_TOKEN_SECRET}"
    contact = logcanary.PII_EMAIL
    raise RuntimeError(
        f"upstream refused: Authorization: Bearer {token}; password={password}; "
        f"contact {contact} at {logcanary.PII_PHONE}"
    )


urlpatterns = [
    path("explode/", explode),
    path("", include("config.urls")),
]

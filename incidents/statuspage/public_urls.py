"""The public status page, mounted at /status/<org>/ (no login)."""

app_name = "status_public"

urlpatterns: list = []

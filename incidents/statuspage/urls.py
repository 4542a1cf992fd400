"""Internal pages (spokespersons, templates, messages), mounted at /o/<org>/status-page/."""

app_name = "statuspage"

urlpatterns: list = []

"""Per-incident channel pages, mounted at /o/<org>/incidents/<key>/channels/."""

app_name = "incident_channels"

urlpatterns: list = []

"""The organisation's channel settings, mounted at /o/<org>/settings/channels/."""

app_name = "channel_settings"

urlpatterns: list = []

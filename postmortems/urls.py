"""Post-mortem pages, mounted at /o/<org>/postmortems/. Each part has its own module:
document (the review itself), actions (action items), kb (knowledge base and exports)."""

from django.urls import include, path

app_name = "postmortems"

urlpatterns = [
    path("", include("postmortems.urls_kb")),
    path("actions/", include("postmortems.urls_actions")),
    path("", include("postmortems.urls_document")),
]

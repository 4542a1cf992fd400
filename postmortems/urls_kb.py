"""Post-mortem URLs: knowledge base and exports (included by postmortems/urls.py, before the
document's `<str:key>/…` paths)."""

from django.urls import path

from postmortems import views_kb

urlpatterns = [
    path("search/", views_kb.kb_search, name="kb_search"),
    path("tags/", views_kb.kb_tags, name="kb_tags"),
    path("<str:key>/export.md", views_kb.export_markdown, name="postmortem_export_md"),
    path("<str:key>/export.pdf", views_kb.export_pdf, name="postmortem_export_pdf"),
]

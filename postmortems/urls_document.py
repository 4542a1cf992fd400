"""Post-mortem URLs: document (included by postmortems/urls.py)."""

from django.urls import path

from postmortems import views_document as views
from postmortems import views_index

urlpatterns = [
    path("", views_index.postmortem_list, name="postmortem_list"),
    path("policy/", views.policy_edit, name="policy_edit"),
    path("<str:key>/", views.postmortem_detail, name="postmortem_detail"),
    path("<str:key>/edit/", views.postmortem_edit, name="postmortem_edit"),
    path("<str:key>/request/", views.postmortem_request, name="postmortem_request"),
    path("<str:key>/timeline/", views.timeline_add, name="timeline_add"),
    path("<str:key>/timeline/reimport/", views.timeline_reimport, name="timeline_reimport"),
    path("<str:key>/timeline/<int:index>/", views.timeline_row, name="timeline_row"),
    path("<str:key>/whys/", views.why_add, name="why_add"),
    path("<str:key>/whys/<int:pk>/", views.why_step, name="why_step"),
    path("<str:key>/causes/", views.cause_add, name="cause_add"),
    path("<str:key>/causes/<int:pk>/delete/", views.cause_remove, name="cause_remove"),
    path("<str:key>/tags/", views.tags_set, name="tags_set"),
    path("<str:key>/approvers/", views.approvers_set, name="approvers_set"),
    path("<str:key>/verdict/", views.postmortem_verdict, name="postmortem_verdict"),
    path("<str:key>/review-held/", views.review_held, name="review_held"),
    path(
        "<str:key>/transition/<str:name>/",
        views.postmortem_transition,
        name="postmortem_transition",
    ),
]

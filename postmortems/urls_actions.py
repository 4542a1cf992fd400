"""Post-mortem URLs: actions (included by postmortems/urls.py)."""

from django.urls import path

from postmortems import views_actions as views

urlpatterns = [
    path("", views.action_item_list, name="action_item_list"),
    path("export.csv", views.action_item_export, name="action_item_export"),
    path("mine/", views.action_item_mine, name="action_item_mine"),
    path("completion/", views.completion_rate, name="action_item_completion"),
    path("add/<int:postmortem_pk>/", views.action_item_create, name="action_item_create"),
    path("<int:pk>/", views.action_item_detail, name="action_item_detail"),
    path("<int:pk>/status/", views.action_item_status, name="action_item_status"),
]

from django.urls import path

from compliance.reports import views

app_name = "compliance_reports"

urlpatterns = [
    path("", views.report_list, name="report_list"),
    # The lists come before "<key>/<obligation_key>/", which would swallow "lists/<pk>/".
    path("lists/", views.distribution_lists, name="distribution_lists"),
    path("lists/<int:pk>/", views.distribution_list_detail, name="distribution_list_detail"),
    path("lists/<int:pk>/delete/", views.distribution_list_delete, name="distribution_list_delete"),
    path("lists/<int:pk>/recipients/", views.recipient_add, name="recipient_add"),
    path(
        "lists/<int:pk>/recipients/<int:recipient_id>/remove/",
        views.recipient_remove,
        name="recipient_remove",
    ),
    path("<str:key>/<slug:obligation_key>/", views.obligation_reports, name="obligation_reports"),
    path(
        "<str:key>/<slug:obligation_key>/generate/",
        views.report_generate,
        name="report_generate",
    ),
    path("<str:key>/<slug:obligation_key>/send/", views.report_send, name="report_send"),
    path(
        "<str:key>/<slug:obligation_key>/<int:report_id>/download/",
        views.report_download,
        name="report_download",
    ),
]

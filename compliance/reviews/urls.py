from django.urls import path

from compliance.reviews import views

app_name = "compliance_reviews"

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("start/", views.campaign_start, name="campaign_start"),
    path("mine/", views.my_reviews, name="my_reviews"),
    path("schedule/", views.policy_edit, name="policy_edit"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/certify/", views.lines_certify, name="lines_certify"),
    path("<int:pk>/sign-off/", views.campaign_sign_off, name="campaign_sign_off"),
    path("<int:pk>/pdf/", views.campaign_pdf, name="campaign_pdf"),
    path("<int:pk>/lines/<int:line_pk>/revoke/", views.line_revoke, name="line_revoke"),
    path("<int:pk>/lines/<int:line_pk>/reassign/", views.line_reassign, name="line_reassign"),
]

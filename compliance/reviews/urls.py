app_name = "compliance_reviews"

urlpatterns: list = []

app_name = "compliance_retention"

urlpatterns: list = []

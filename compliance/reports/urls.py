app_name = "compliance_reports"

urlpatterns: list = []

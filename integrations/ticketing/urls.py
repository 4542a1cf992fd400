app_name = "ticketing"
urlpatterns = []

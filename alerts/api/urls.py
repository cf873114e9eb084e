from django.urls import path

from alerts.api.views import AlertEventsView, StormListView

urlpatterns = [
    path("storms/", StormListView.as_view(), name="storms"),
    path("alert-events/", AlertEventsView.as_view(), name="alert-events"),
]

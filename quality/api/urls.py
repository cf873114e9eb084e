from django.urls import path

from quality.api.views import IngestView

urlpatterns = [path("ingest/", IngestView.as_view(), name="ingest")]

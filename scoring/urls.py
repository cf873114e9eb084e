from django.urls import path

from scoring import views

urlpatterns = [path("runs/", views.runs, name="scoring-runs-page")]

from django.urls import URLPattern, path

from governance.dashboard import views

urlpatterns: list[URLPattern] = [
    path("", views.dashboard_view, name="governance-dashboard"),
    path("export.csv", views.export_view, name="governance-dashboard-export"),
    path("handoffs/", views.drilldown_view, name="governance-drilldown"),
]

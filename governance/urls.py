from django.urls import include, path

from governance import views

urlpatterns = [
    path(
        "approvals/<int:approval_id>/<slug:action>/",
        views.approval_decide_view,
        name="approval-decide",
    ),
    path("", include("governance.versions.urls")),  # audit/, drafts/
    path("replay/", include("governance.replay.urls")),
    path("", include("governance.dashboard.urls")),
]

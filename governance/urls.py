from django.urls import path

from governance import views

urlpatterns = [
    path(
        "approvals/<int:approval_id>/<slug:action>/",
        views.approval_decide_view,
        name="approval-decide",
    ),
]

from django.urls import URLPattern, path

from governance.replay import views

urlpatterns: list[URLPattern] = [
    path("", views.replay_list_view, name="replay-list"),
    path("new/", views.replay_start_view, name="replay-start"),
    path("<int:run_id>/", views.replay_run_view, name="replay-run"),
]

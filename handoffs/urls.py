from django.urls import path

from handoffs import views
from handoffs.triage import views as triage_views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("handoffs/<int:handoff_id>/", views.handoff_detail, name="handoff-detail"),
    path("handoffs/<int:handoff_id>/claim/", views.claim, name="handoff-claim"),
    path("handoffs/<int:handoff_id>/release/", views.release, name="handoff-release"),
    path("handoffs/<int:handoff_id>/reply/", views.reply, name="handoff-reply"),
    path("handoffs/<int:handoff_id>/resolve/", views.resolve, name="handoff-resolve"),
    path(
        "handoffs/<int:handoff_id>/faq-candidate/",
        triage_views.faq_candidate,
        name="handoff-faq-candidate",
    ),
]

from django.urls import path

from handoffs.api import views as handoff_api
from journeys.api import views as journey_api

urlpatterns = [
    path("signals/", journey_api.SignalIngestView.as_view(), name="api-signals"),
    path("signals/batch/", journey_api.SignalBatchView.as_view(), name="api-signals-batch"),
    path("messages/inbound/", handoff_api.MessageInboundView.as_view(), name="api-messages-in"),
    path("handoffs/", handoff_api.HandoffListView.as_view(), name="api-handoffs"),
    path("handoffs/<int:handoff_id>/", handoff_api.HandoffDetailView.as_view(), name="api-handoff"),
    path(
        "handoffs/<int:handoff_id>/claim/",
        handoff_api.HandoffClaimView.as_view(),
        name="api-handoff-claim",
    ),
    path(
        "handoffs/<int:handoff_id>/release/",
        handoff_api.HandoffReleaseView.as_view(),
        name="api-handoff-release",
    ),
    path(
        "handoffs/<int:handoff_id>/reassign/",
        handoff_api.HandoffReassignView.as_view(),
        name="api-handoff-reassign",
    ),
    path(
        "handoffs/<int:handoff_id>/reply/",
        handoff_api.HandoffReplyView.as_view(),
        name="api-handoff-reply",
    ),
    path(
        "handoffs/<int:handoff_id>/resolve/",
        handoff_api.HandoffResolveView.as_view(),
        name="api-handoff-resolve",
    ),
    path("contacts/", journey_api.ContactListView.as_view(), name="api-contacts"),
    path("contacts/<int:contact_id>/", journey_api.ContactDetailView.as_view(), name="api-contact"),
    path(
        "contacts/<int:contact_id>/export/",
        journey_api.ContactExportView.as_view(),
        name="api-contact-export",
    ),
    path(
        "contacts/<int:contact_id>/erase/",
        journey_api.ContactEraseView.as_view(),
        name="api-contact-erase",
    ),
    path(
        "contacts/<int:contact_id>/timeline/",
        journey_api.ContactTimelineView.as_view(),
        name="api-contact-timeline",
    ),
]

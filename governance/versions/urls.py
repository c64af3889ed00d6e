from django.urls import path

from governance.versions import views

urlpatterns = [
    path("audit/", views.audit_view, name="governance-audit"),
    path("audit/<int:entry_id>/", views.audit_entry_view, name="governance-audit-entry"),
    path("audit/<int:entry_id>/rollback/", views.rollback_view, name="governance-rollback"),
    path("drafts/", views.draft_list_view, name="governance-drafts"),
    path("drafts/<int:draft_id>/", views.draft_view, name="governance-draft"),
    path(
        "drafts/<int:draft_id>/publish/", views.draft_publish_view, name="governance-draft-publish"
    ),
    path(
        "drafts/<int:draft_id>/discard/", views.draft_discard_view, name="governance-draft-discard"
    ),
    path(
        "drafts/<int:draft_id>/changes/<int:change_id>/remove/",
        views.draft_change_remove_view,
        name="governance-draft-change-remove",
    ),
]

"""Versioning for the governed admins (handoff rules, SLA policies and rules' SLAs, calendars,
team hours, caps, quiet hours, tone rules): every save and delete becomes an audit entry, and
"Save as draft" / "Delete in a draft" put the change into a draft instead of making it live.

The mixin goes first in the bases so it wraps the admin's own views; each admin's own scoping
(which rows and teams a person may read and change) still decides what is allowed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from governance.versions.choices import EntryAction
from governance.versions.registry import spec_for, team_id_of
from governance.versions.selectors import open_drafts_for_new, open_drafts_to_add_to
from governance.versions.services import draft_change_save, recording
from governance.versions.snapshot import values_of
from portal.errors import DomainError

DRAFT_BUTTONS = ("_save_draft", "_draft_delete")


def audit_url(model: type, pk: Any = None) -> str:
    query = {"kind": model._meta.label_lower}
    if pk is not None:
        query["object"] = str(pk)
    return f"{reverse('governance-audit')}?{urlencode(query)}"


class VersionedAdminMixin:
    """Records admin saves and deletes; adds "Save as draft" next to Save."""

    change_form_template = "governance/versions/admin/change_form.html"
    change_list_template = "governance/versions/admin/change_list.html"

    # --- recording the live changes -------------------------------------------------------

    def _comment(self, request: HttpRequest, default: str) -> str:
        note = (request.POST.get("_version_comment") or "").strip()[:400]
        return f"{default}: {note}" if note else default

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self._versions_context(request, object_id)}
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, context)
        if any(button in request.POST for button in DRAFT_BUTTONS):
            drafted = self._save_as_draft(request, object_id)
            if drafted is not None:
                return drafted
        verb = "Changed" if object_id else "Added"
        with recording(
            user=request.user,
            action=EntryAction.SAVED,
            comment=self._comment(request, f"{verb} in admin"),
        ) as recorder:
            request._versions_recorder = recorder  # type: ignore[attr-defined]
            if object_id:
                recorder.track(self.model, unquote(object_id))
            response = super().changeform_view(request, object_id, form_url, context)
        return response

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        recorder = getattr(request, "_versions_recorder", None)
        if recorder is not None:
            recorder.track_created(self.model, obj.pk)
        return super().response_add(request, obj, post_url_continue)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method != "POST":
            return super().delete_view(request, object_id, extra_context)
        with recording(
            user=request.user,
            action=EntryAction.DELETED,
            comment=self._comment(request, "Deleted in admin"),
        ) as recorder:
            recorder.track(self.model, unquote(object_id))
            return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        """The changelist's bulk delete: one entry for everything it removed."""
        with recording(
            user=request.user, action=EntryAction.DELETED, comment="Deleted in admin (bulk)"
        ) as recorder:
            for pk in queryset.values_list("pk", flat=True):
                recorder.track(self.model, pk)
            super().delete_queryset(request, queryset)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        """The admin's History button opens the audit, filtered to this row."""
        return HttpResponseRedirect(audit_url(self.model, unquote(object_id)))

    # --- drafts -------------------------------------------------------------------------------

    def _versions_context(self, request: HttpRequest, object_id: str | None) -> dict[str, Any]:
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if obj is not None:
            team_id = team_id_of(self.model, values_of(obj))
            drafts = open_drafts_to_add_to(user=request.user, team_id=team_id)
            may_draft = self.has_change_permission(request, obj)
        else:
            drafts = open_drafts_for_new(user=request.user)
            may_draft = self.has_add_permission(request)
        return {
            "versions_may_draft": may_draft and not getattr(self, "versions_no_drafts", False),
            "versions_open_drafts": drafts,
            "versions_audit_url": audit_url(self.model, obj.pk if obj else None),
            "versions_drafts_url": reverse("governance-drafts"),
        }

    def _save_as_draft(self, request: HttpRequest, object_id: str | None) -> HttpResponse | None:
        """Validate the posted form and inlines exactly as Save would, then store the result in
        a draft. None: the form has errors, and the admin's own view shows them (saving
        nothing, since it is invalid)."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and obj is None:
            return None  # the admin's view answers "does not exist"
        deleting = "_draft_delete" in request.POST
        if obj is None and not self.has_add_permission(request):
            raise PermissionDenied
        if obj is not None and not (
            self.has_delete_permission(request, obj)
            if deleting
            else self.has_change_permission(request, obj)
        ):
            raise PermissionDenied
        raw_draft = request.POST.get("_draft", "")
        draft_id = int(raw_draft) if raw_draft.isdigit() and len(raw_draft) < 12 else None
        title = (request.POST.get("_draft_title") or "").strip()[:200]
        values: dict[str, Any] | None = None
        related: dict[str, list[dict[str, Any]]] = {}
        if not deleting:
            fieldsets = self.get_fieldsets(request, obj)
            form_class = self.get_form(
                request, obj, change=obj is not None, fields=flatten_fieldsets(fieldsets)
            )
            form = form_class(request.POST, request.FILES, instance=obj)
            valid = form.is_valid()
            formsets, _inlines = self._create_formsets(
                request, form.instance, change=obj is not None
            )
            if not valid or not all(fs.is_valid() for fs in formsets):
                return None
            children = spec_for(self.model).children
            values = values_of(form.instance)
            for formset in formsets:
                name = formset.fk.remote_field.get_accessor_name()
                if name not in children:
                    continue
                kept = []
                for child_form in formset.forms:
                    if not hasattr(child_form, "cleaned_data") or formset._should_delete_form(
                        child_form
                    ):
                        continue
                    if child_form.instance.pk is None and not child_form.has_changed():
                        continue
                    kept.append(values_of(child_form.instance, self.model))
                related[name] = kept
        try:
            change = draft_change_save(
                user=request.user,
                model=self.model,
                pk=obj.pk if obj is not None else None,
                values=values,
                related=related,
                delete=deleting,
                draft_id=draft_id,
                title=title,
                new_draft=raw_draft == "new",
                note=(request.POST.get("_version_comment") or "")[:400],
            )
        except DomainError as refused:
            self.message_user(request, refused.detail, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        draft = change.draft
        what = "deletion of" if deleting else "change to" if obj is not None else "new"
        self.message_user(
            request,
            f"Saved the {what} “{change.object_repr}” to draft #{draft.pk} “{draft.title}”. "
            "It is not live: publish the draft to apply it.",
            level=messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("governance-draft", args=[draft.pk]))

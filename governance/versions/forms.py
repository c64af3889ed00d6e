"""The audit's filters, parsed and checked: a bad value is named, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from governance.versions.selectors import AuditFilters, audit_people, filter_teams, kind_choices

PERIODS = [
    ("", "Any time"),
    ("1", "Today"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
]


class AuditFilterForm(forms.Form):
    team = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, label="What")
    object = forms.IntegerField(
        required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput
    )
    person = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Who")
    period = forms.ChoiceField(required=False, choices=PERIODS, label="When")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [
            ("", "Every team"),
            ("org", "Organisation-wide"),
            *((str(t.pk), t.name) for t in filter_teams(user=user)),
        ]
        self.fields["kind"].choices = [("", "Every kind of rule"), *kind_choices()]
        self.fields["person"].choices = [
            ("", "Anyone"),
            *((str(u.pk), u.get_full_name() or u.get_username()) for u in audit_people(user=user)),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "“To” is before “From”.")
        if data.get("object") and not data.get("kind"):
            self.add_error("object", "Pick what kind of rule the row is.")
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if data.get("period") and not since and not until:
            since = timezone.localdate() - timedelta(days=int(data["period"]) - 1)
        return AuditFilters(
            team=data.get("team") or "",
            kind=data.get("kind") or "",
            object_id=data.get("object"),
            person=data.get("person"),
            since=since,
            until=until,
        )

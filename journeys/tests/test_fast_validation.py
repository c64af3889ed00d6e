"""The plain-Python signal check never disagrees with SignalInSerializer: for any input it
either declines (None) or returns exactly what the serializer returns."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeys.api.fast_validation import signal_fast
from journeys.api.serializers import SignalInSerializer

ODD_TEXT = st.sampled_from(
    ["", " ", " padded ", "x" * 201, "a\x00b", "\ud800", "é", "12", 5, None, True, 1.5, ["x"]]
)


def _mostly(valid: list[Any], odd: st.SearchStrategy[Any] = ODD_TEXT) -> st.SearchStrategy[Any]:
    """Nine times in ten a good value, else an odd one: many signals are valid but one field."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else st.sampled_from(valid))


PROPERTIES = _mostly(
    [{}, {"budget": 60000, "currency": "GBP"}, {"note": " spaced "}],
    st.sampled_from(
        [
            {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}},
            {"nan": float("nan")},
            {"nul": "a\x00"},
            {"big": "x" * 40_000},
            [],
            "text",
            None,
        ]
    ),
)


@st.composite
def objects(draw: Any, fields: dict[str, st.SearchStrategy[Any]], required: set[str]) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(ODD_TEXT)
    out: dict[str, Any] = {}
    for name, strategy in fields.items():
        if name in required or draw(st.integers(0, 2)) > 0:
            out[name] = draw(strategy)
            if out[name] is ...:  # left out after all
                del out[name]
    if draw(st.integers(0, 30)) == 0:
        out.pop(draw(st.sampled_from(sorted(required))), None)
    if draw(st.integers(0, 30)) == 0:
        out["unknown"] = 1
    return out


CONTACT = objects(
    {
        "external_id": _mostly(["c-1", "crm:42", "é-ü"]),
        "email": _mostly(["a@example.com", "", "ANA@Example.COM"], st.sampled_from(["no", "a@b"])),
        "phone": _mostly(["+447700900123", "07700 900123", ""], st.sampled_from(["phone", "+"])),
        "name": _mostly(["Ana", "", "Ana de la Cruz"]),
        "timezone": _mostly(["Europe/London", "", "UTC"], st.sampled_from(["Mars/Base", "utc"])),
    },
    {"external_id"},
)
ACCOUNT = st.one_of(
    st.none(),
    objects(
        {"external_id": _mostly(["a-1", "acme"]), "name": _mostly(["Acme", ""])}, {"external_id"}
    ),
)
SIGNAL = objects(
    {
        "type": _mostly(["form_submitted", "a.b:c-d", "x"], st.sampled_from(["-x", "x y", "é"])),
        "idempotency_key": _mostly(["k-1", None, "é"]),
        "contact": CONTACT,
        "account": ACCOUNT,
        "properties": PROPERTIES,
        "occurred_at": _mostly(
            ["2026-11-21T10:00:00Z", "2026-11-21T10:00:00+05:30", "2026-11-21 10:00"],
            st.sampled_from(["yesterday", "2026-13-01T00:00:00Z", 1700000000]),
        ),
    },
    {"type", "contact"},
)


def _serializer(raw: Any) -> Any:
    serializer = SignalInSerializer(data=raw)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(SIGNAL)
def test_the_fast_check_agrees_with_the_serializer_or_declines(raw: Any):
    fast = signal_fast(raw)
    if fast is not None:
        assert fast == _serializer(raw)
    elif isinstance(raw, dict):
        # Declining is only right when the serializer refuses or rewrites something.
        assert _serializer(raw) != raw


def test_the_common_signal_takes_the_fast_path_with_the_serializers_answer():
    raw = {
        "type": "form_submitted",
        "idempotency_key": "k-1",
        "contact": {"external_id": "c-1", "email": "ana@example.com", "name": "Ana"},
        "account": {"external_id": "a-1", "name": "Acme"},
        "properties": {"budget": 60000, "currency": "GBP"},
    }
    assert signal_fast(raw) is not None
    assert signal_fast(raw) == _serializer(raw)


def test_a_time_is_read_as_the_serializer_reads_it():
    base = {"type": "t", "contact": {"external_id": "c"}}
    for at in ("2026-11-21T10:00:00Z", "2026-11-21T10:00:00+05:30", "2026-11-21 10:00"):
        fast = signal_fast({**base, "occurred_at": at})
        assert fast is not None
        assert fast == _serializer({**base, "occurred_at": at})


def test_anything_the_serializer_refuses_or_rewrites_is_left_to_it():
    base = {"type": "t", "contact": {"external_id": "c"}}
    assert signal_fast(base) == _serializer(base)
    for bad in (
        {**base, "contact": {"external_id": " c "}},  # the serializer trims it
        {**base, "contact": {"external_id": "c", "email": "nope"}},
        {**base, "contact": {"external_id": "a\x00b"}},  # PostgreSQL cannot store NUL
        {**base, "contact": {"external_id": "\ud800"}},  # nor a lone surrogate
        {**base, "occurred_at": "yesterday"},
        {**base, "occurred_at": 1700000000},  # not text: the serializer decides
        {**base, "extra": 1},
        {**base, "type": 5},
        {**base, "properties": []},
    ):
        assert signal_fast(bad) is None

"""Signals in: store once, evaluate rules once, in the same transaction.

A 202 means the signal and everything its rules decided (handoffs raised, journeys paused) are
committed together, so a crash can neither lose an accepted signal nor evaluate it twice. The
batch path is set-based: a handful of queries per batch, not per signal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import (
    IntegrityError,
    connection,
    models,
    transaction,
)
from django.utils import timezone

from handoffs.services import RaiseRequest, handoff_raise
from journeys import rules
from journeys.choices import WAITING_FIRST_STEP, EnrollmentStatus
from journeys.engine import (
    enrollment_advance,
    enrollments_begin_after_commit,
    enrollments_waiting,
    latest_versions,
)
from journeys.models import Account, Contact, Enrollment, HandoffRule, Journey, Signal
from journeys.playbook.choices import persona_from
from journeys.selectors import exchange_rates
from journeys.services import CONTACT_FIELDS, enrollments_start_many
from portal.api_auth import api_key_lookup
from portal.errors import Conflict
from portal.groupcommit import GroupCommit
from portal.memo import memo_scope
from portal.models import ApiKey
from portal.outage import is_outage
from portal.ratelimit import api_bucket
from portal.ratelimit import hit as rate_hit
from portal.realtime import pokes_held
from portal.timefmt import iso


@dataclass(frozen=True)
class Accepted:
    id: int
    duplicate: bool


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Item:
    index: int
    data: dict[str, Any]
    body_hash: str
    key: str | None
    contact: Contact | None = None
    account: Account | None = None
    signal: Signal | None = None


def body_hash(raw: Mapping[str, Any]) -> str:
    """What "the same body" means for idempotency: the canonical JSON minus the key itself."""
    body = {k: v for k, v in raw.items() if k != "idempotency_key"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class _Single:
    api_key: ApiKey | None
    data: dict[str, Any]
    raw_hash: str
    # The fast path (journeys/api/fast_intake.py) sends the bearer key as presented; the
    # committer authenticates and counts it, for the whole batch at once.
    raw_key: str = ""


class Refer:
    """The fast path's answer "let Django answer this one": the key is not valid, it is over
    its rate limit, or the idempotency key was reused with another body. Django's own path
    then words the 401, 429 or 409 exactly as for any request."""


REFER = Refer()


def signal_ingest(*, api_key: ApiKey | None, data: dict[str, Any], raw_hash: str) -> Accepted:
    """One signal. Repeats answer like the first; a reused key with another body is a 409.

    Signals sent at the same moment share one transaction (portal/groupcommit.py) where
    settings allow it: each request still answers only once its own signal and everything its
    rules decided are committed."""
    single = _Single(api_key, data, raw_hash)
    if settings.BATON_INGEST_GROUP_COMMIT and not connection.in_atomic_block:
        # The request's own connection (it read the API key) goes back to the pool while the
        # request waits: dozens of waiting requests must not hold the connections the
        # committer needs.
        connection.close()
        outcome = _group_commit.submit(single)
    else:
        outcome = _ingest_singles([single])[0]
    if isinstance(outcome, str):
        raise Conflict(outcome)
    assert isinstance(outcome, Accepted)  # only the fast path's signals are referred
    return outcome


def signal_ingest_fast(*, raw_key: str, data: dict[str, Any], raw_hash: str) -> Future[Any]:
    """The fast path's single signal: authenticated, rate-limited and stored by the committer
    with whatever else arrived at the same moment. The future settles on `Accepted` or `REFER`
    (or the batch's exception)."""
    return _group_commit.enqueue(_Single(None, data, raw_hash, raw_key))


def _authenticate(singles: Sequence[_Single]) -> tuple[list[_Single], dict[int, Refer]]:
    """The fast path's signals with their API keys looked up and counted against their rate
    limits, as DRF's authentication and throttle do for a request; refused ones are referred."""
    keys = {s.raw_key: api_key_lookup(s.raw_key) for s in singles if s.raw_key}
    out: list[_Single] = []
    referred: dict[int, Refer] = {}
    for position, single in enumerate(singles):
        if single.raw_key:
            key = keys[single.raw_key]
            bucket = api_bucket(key) if key is not None else None
            decision = rate_hit(bucket) if bucket is not None else None
            if key is None or (decision is not None and not decision.allowed):
                referred[position] = REFER
            single = _Single(key, single.data, single.raw_hash)
        out.append(single)
    return out, referred


def _ingest_singles(singles: Sequence[_Single]) -> list[Accepted | str | Refer]:
    """Each signal's answer, or the reason it was refused, in order: one transaction per API
    key among them (nearly always one)."""
    singles, referred = _authenticate(singles)
    outcomes: list[Accepted | str | Refer] = [""] * len(singles)
    by_key: dict[int | None, list[int]] = {}
    for position, single in enumerate(singles):
        if position in referred:
            outcomes[position] = referred[position]
            continue
        by_key.setdefault(single.api_key.pk if single.api_key else None, []).append(position)
    for positions in by_key.values():
        api_key = singles[positions[0]].api_key
        items = [
            _Item(p, singles[p].data, singles[p].raw_hash, singles[p].data.get("idempotency_key"))
            for p in positions
        ]
        result, answers = _ingest(items, api_key)
        for error in result.errors:
            outcomes[error["index"]] = error["errors"]["idempotency_key"][0]
        for position, accepted in answers.items():
            outcomes[position] = accepted
    return outcomes


_group_commit: GroupCommit[_Single, Accepted | str | Refer] = GroupCommit(
    _ingest_singles,
    name="signal-intake",
    # A broken batch is re-run signal by signal, so one bad signal fails alone; an outage
    # (the database is gone) fails them all at once.
    isolate=lambda exc: not is_outage(exc),
    shares_fate=is_outage,
)


def signal_ingest_batch(
    *, api_key: ApiKey | None, items: Iterable[tuple[int, dict[str, Any], str]]
) -> BatchResult:
    """Validated items (index, data, hash). Good ones are kept even when others are refused."""
    batch = [_Item(i, data, h, data.get("idempotency_key")) for i, data, h in items]
    result, _ = _ingest(batch, api_key)
    return result


def _ingest(items: list[_Item], api_key: ApiKey | None) -> tuple[BatchResult, dict[int, Accepted]]:
    for _attempt in range(3):
        try:
            with pokes_held(), memo_scope(), transaction.atomic():
                return _ingest_once(items, api_key)
        except IntegrityError:
            # A concurrent request stored one of these keys between our check and our insert;
            # go again, and the check now sees it as a duplicate.
            for item in items:
                item.signal = None
    raise Conflict("Signals are being delivered concurrently with the same keys; retry.")


def _ingest_once(
    items: list[_Item], api_key: ApiKey | None
) -> tuple[BatchResult, dict[int, Accepted]]:
    result = BatchResult()
    answers: dict[int, Accepted] = {}
    fresh, repeats = _split_duplicates(items, api_key, result, answers)
    if fresh:
        _upsert_people(fresh)
        now = timezone.now()
        signals = [
            Signal(
                api_key=api_key,
                idempotency_key=item.key,
                body_hash=item.body_hash,
                type=item.data["type"],
                contact=item.contact,
                account=item.account,
                occurred_at=item.data.get("occurred_at") or now,
                properties=item.data.get("properties") or {},
                evaluated_at=now,
            )
            for item in fresh
        ]
        Signal.objects.bulk_create(signals)
        for item, signal in zip(fresh, signals, strict=True):
            item.signal = signal
            answers[item.index] = Accepted(id=signal.pk, duplicate=False)
        for item, first in repeats:  # the same key twice in one batch: the first one's answer
            assert first.signal is not None
            answers[item.index] = Accepted(id=first.signal.pk, duplicate=True)
        _evaluate(fresh)
        result.accepted += len(fresh)
    return result, answers


def _split_duplicates(
    items: list[_Item], api_key: ApiKey | None, result: BatchResult, answers: dict[int, Accepted]
) -> tuple[list[_Item], list[tuple[_Item, _Item]]]:
    """The items to store, and the repeats of an item of this same batch (with that item)."""
    keys = {item.key for item in items if item.key}
    stored = (
        {
            key: (pk, digest)
            for key, pk, digest in Signal.objects.filter(
                api_key=api_key, idempotency_key__in=keys
            ).values_list("idempotency_key", "id", "body_hash")
        }
        if keys
        else {}
    )
    fresh: list[_Item] = []
    repeats: list[tuple[_Item, _Item]] = []
    seen_in_batch: dict[str, _Item] = {}
    for item in items:
        if item.key and item.key in stored:
            pk, digest = stored[item.key]
            if digest == item.body_hash:
                result.duplicates += 1
                answers[item.index] = Accepted(id=pk, duplicate=True)
            else:
                result.errors.append(_key_conflict(item.index))
            continue
        if item.key and item.key in seen_in_batch:
            first = seen_in_batch[item.key]
            if first.body_hash == item.body_hash:
                result.duplicates += 1
                repeats.append((item, first))
            else:
                result.errors.append(_key_conflict(item.index))
            continue
        if item.key:
            seen_in_batch[item.key] = item
        fresh.append(item)
    return fresh, repeats


def _key_conflict(index: int) -> dict[str, Any]:
    return {
        "index": index,
        "errors": {
            "idempotency_key": ["This idempotency key was already used with a different body."]
        },
    }


def _upsert_people(items: list[_Item]) -> None:
    """Accounts then contacts, each in one upsert per distinct set of changed fields, sorted by
    external id so two concurrent batches lock rows in the same order (no deadlock)."""
    accounts: dict[str, dict[str, Any]] = {}
    for item in items:
        account = item.data.get("account")
        if account:
            values = accounts.setdefault(account["external_id"], {})
            if account.get("name"):
                values["name"] = account["name"]
    account_rows = _bulk_upsert(Account, accounts)
    contacts: dict[str, dict[str, Any]] = {}
    for item in items:
        contact = item.data["contact"]
        values = contacts.setdefault(contact["external_id"], {})
        values.update({k: contact[k] for k in CONTACT_FIELDS if contact.get(k)})
        if persona := persona_from(item.data.get("properties")):
            values["persona"] = persona  # the playbook's content picks by it
        account = item.data.get("account")
        if account:
            values["account"] = account_rows[account["external_id"]]
    contact_rows = _bulk_upsert(Contact, contacts)
    for item in items:
        item.contact = contact_rows[item.data["contact"]["external_id"]]
        account = item.data.get("account")
        item.account = account_rows[account["external_id"]] if account else None


def _bulk_upsert(model: type[Any], rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each row by external id, created or brought up to date. Rows that already hold these
    values are read, not written: a contact who signals all day is one index read per batch,
    not a new row version (and WAL) per signal."""
    stored = {obj.external_id: obj for obj in model.objects.filter(external_id__in=list(rows))}
    by_fields: dict[tuple[str, ...], list[Any]] = {}
    out: dict[str, Any] = {}
    for external_id in sorted(rows):
        values = rows[external_id]
        current = stored.get(external_id)
        if current is not None and all(_holds(current, k, v) for k, v in values.items()):
            out[external_id] = current
            continue
        by_fields.setdefault(tuple(sorted(values)), []).append(
            model(external_id=external_id, **values)
        )
    for fields, objs in by_fields.items():
        model.objects.bulk_create(
            objs,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=[*fields, "updated_at"],
        )
        out.update({obj.external_id: obj for obj in objs})
    missing = [eid for eid, obj in out.items() if obj.pk is None]
    if missing:  # backends that cannot return ids from an upsert
        ids = dict(model.objects.filter(external_id__in=missing).values_list("external_id", "id"))
        for eid in missing:
            out[eid].pk = ids[eid]
    return out


def _holds(obj: Any, field: str, value: Any) -> bool:
    if isinstance(value, models.Model):  # a foreign key: compare ids, load nothing
        return getattr(obj, f"{field}_id") == value.pk
    return getattr(obj, field) == value


def signal_document(
    item_data: Mapping[str, Any], occurred_at: Any, rates: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """What rule conditions and reason templates see (docs/rules.md); `rates` are the exchange
    rates currency-aware conditions convert with (not a path rules can name)."""
    return {
        "type": item_data["type"],
        "occurred_at": iso(occurred_at),
        "properties": item_data.get("properties") or {},
        "contact": dict(item_data["contact"]),
        "account": dict(item_data.get("account") or {}),
        rules.RATES_KEY: rates or {},
    }


def _evaluate(items: list[_Item]) -> None:
    types = {item.data["type"] for item in items}
    journeys = list(
        Journey.objects.filter(is_active=True, enroll_on_signal_type__in=types).prefetch_related(
            "stages"
        )
    )
    active_rules = list(
        HandoffRule.objects.filter(enabled=True, signal_type__in=types)
        .select_related("team")
        .order_by("id")
    )
    _wake_waiting(items)
    if not journeys and not active_rules:
        return
    # One document per signal, with exchange rates loaded once and only if a condition converts
    # money: enrollment conditions and rules read the same document.
    money = [rule.condition for rule in active_rules] + [j.enroll_condition for j in journeys]
    rates = exchange_rates() if any(map(rules.condition_uses_currency, money)) else None
    docs = {}
    for item in items:
        assert item.signal is not None and item.contact is not None
        docs[item.index] = signal_document(item.data, item.signal.occurred_at, rates)
    started = enrollments_start_many(
        pairs=[
            (item.contact, journey)
            for item in items
            for journey in journeys
            if journey.enroll_on_signal_type == item.data["type"]
            and (
                not journey.enroll_condition
                or rules.condition_matches(journey.enroll_condition, docs[item.index])
            )
        ],
        versions=latest_versions(journeys, definitions=False) if journeys else {},
        properties={i.contact.pk: i.data.get("properties") or {} for i in items if i.contact},
    )
    enrollments_begin_after_commit(enrollments=started)
    for item in items:
        signal, doc = item.signal, docs[item.index]
        for rule in active_rules:
            if rule.signal_type != signal.type or not rules.condition_matches(rule.condition, doc):
                continue
            handoff_raise(request=_raise_request(rule, doc, item.contact, signal))


def _wake_waiting(items: list[_Item]) -> None:
    """Journeys waiting for a signal type hear it in the same transaction that stores it, so a
    stored signal is never missed by a journey (one query when nobody waits). It runs before
    new enrollments start, so the signal that enrolls a contact does not also end its wait."""
    by_contact: dict[int, list[_Item]] = {}
    for item in items:
        if item.contact is not None:
            by_contact.setdefault(item.contact.pk, []).append(item)
    types = {item.data["type"] for item in items}
    rows = list(
        Enrollment.objects.filter(
            contact_id__in=by_contact,
            status=EnrollmentStatus.ACTIVE,
            waiting_for__in=types | {WAITING_FIRST_STEP},
        ).values_list("id", "contact_id", "waiting_for", "version_id")
    )
    contact_of = {enrollment_id: contact_id for enrollment_id, contact_id, _, _ in rows}
    waiting = enrollments_waiting([(e, w, v) for e, _, w, v in rows], types)
    for enrollment_id, waiting_for in waiting.items():
        for item in by_contact[contact_of[enrollment_id]]:
            if item.data["type"] == waiting_for and item.signal is not None:
                event = {"kind": "signal", "type": waiting_for, "signal_id": item.signal.pk}
                enrollment_advance(enrollment_id=enrollment_id, event=event)
                break


def _raise_request(
    rule: HandoffRule, doc: dict[str, Any], contact: Contact, signal: Signal
) -> RaiseRequest:
    reason = f"{rules.template_render(rule.reason_template, doc)} (rule: {rule})"
    evidence = {
        "signal_id": signal.pk,
        "type": signal.type,
        "at": iso(signal.occurred_at),
        "detail": "; ".join(rules.condition_explain(rule.condition, doc)),
        "rule": str(rule),
    }
    return RaiseRequest(
        contact=contact,
        team=rule.team,
        trigger=rule.trigger,
        priority=rule.priority,
        reason=reason,
        evidence=evidence,
        rule=rule,
        signal=signal,
        offered_to_role=rule.offer_to_role,
    )

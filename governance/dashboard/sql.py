"""SQL building blocks for the rollups: the local day of an instant, the seconds between two
instants, a duration's histogram bucket (histogram.py's rule, in SQL), and INSERT … SELECT of an
aggregate queryset. They run on PostgreSQL and on the demo's SQLite alike."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    FloatField,
    Func,
    IntegerField,
    Model,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Floor, Ln, TruncDate
from django.db.models.lookups import LessThan
from django.utils import timezone

from governance.dashboard.histogram import LN_GAMMA


def local_day(field: str) -> TruncDate:
    """The date of an instant in the site's time zone (the dashboard's days)."""
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


class SecondsBetween(Func):
    """`end − start` in seconds, as a float."""

    output_field = FloatField()

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(start, end)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        start, start_params = compiler.compile(self.source_expressions[0])
        end, end_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            sql = f"EXTRACT(EPOCH FROM ({end} - {start}))::double precision"
        else:  # SQLite: Django's own function gives microseconds
            sql = f"(django_timestamp_diff({end}, {start}) / 1000000.0)"
        return sql, [*end_params, *start_params]


def bucket_expression(seconds: Combinable) -> Case:
    """histogram.bucket_of in SQL: 0 under one second, else floor(ln(s) / ln(GAMMA)) + 1."""
    return Case(
        When(LessThan(seconds, Value(1.0)), then=Value(0)),
        default=Cast(Floor(Ln(seconds) / Value(LN_GAMMA)), IntegerField()) + Value(1),
        output_field=IntegerField(),
    )


def insert_select(model: type[Model], columns: dict[str, str], queryset: QuerySet[Any]) -> int:
    """INSERT INTO model's table SELECT … of an aggregate `queryset`: `columns` maps each of
    the queryset's annotations, in the order it selects them, to the model field it fills. The
    rows never leave the database."""
    query = queryset.query
    selected = [*query.values_select, *query.annotation_select]
    if selected != list(columns):
        raise ValueError(f"{model.__name__}: selects {selected}, expected {list(columns)}")
    sql, params = query.get_compiler(using=queryset.db).as_sql()
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(
        connection.ops.quote_name(model._meta.get_field(c).column) for c in columns.values()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)
        return max(cursor.rowcount, 0)

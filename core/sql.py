"""SQL helpers for hot paths: read some columns of a model from hand-written SQL without compiling a queryset,
and a cursor whose parameters are bound on the server (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from django.db import connection

_plans: dict[tuple[str, type, tuple[str, ...], str], RowPlan] = {}


class RowPlan:
    """How to read some columns of `model` from hand-written SQL: the select list (in the model's field order,
    which Model.from_db expects), and each column's converters (the backend's and the field's, applied as a
    queryset applies them)."""

    def __init__(self, model, attnames: tuple[str, ...], alias: str) -> None:
        table = model._meta.db_table
        fields = [f for f in model._meta.concrete_fields if f.attname in attnames]
        if len(fields) != len(attnames):
            raise ValueError(f"unknown fields among {attnames}")
        prefix = f"{alias}." if alias else ""
        self.model = model
        self.columns = ", ".join(prefix + connection.ops.quote_name(f.column) for f in fields)
        self.names = [f.attname for f in fields]
        self.converters = []
        for f in fields:
            col = f.get_col(table)
            self.converters.append((connection.ops.get_db_converters(col) + col.get_db_converters(connection), col))
        self.width = len(fields)

    @classmethod
    def of(cls, model, attnames: tuple[str, ...], alias: str = "") -> RowPlan:
        key = (connection.vendor, model, attnames, alias)
        plan = _plans.get(key)
        if plan is None:
            plan = _plans[key] = cls(model, attnames, alias)
        return plan

    def instance(self, row, start: int = 0):
        values = []
        for value, (convs, col) in zip(row[start : start + self.width], self.converters, strict=True):
            for convert in convs:
                value = convert(value, col, connection)
            values.append(value)
        return self.model.from_db(connection.alias, self.names, values)


def select_rows(model, attnames: tuple[str, ...], where: str, params: list[Any]) -> list[Any]:
    """Instances of `model` with only `attnames` loaded (the rest deferred, like `only()`), from
    `SELECT <those columns> FROM <table> <where>`, without compiling a queryset (on the ingestion hot path that
    costs more than the database answering)."""
    plan = RowPlan.of(model, attnames)
    with connection.cursor() as cursor:
        sql = f"SELECT {plan.columns} FROM {model._meta.db_table} {where}"  # noqa: S608 (where: callers' SQL)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [plan.instance(row) for row in rows]


def server_cursor():
    """A cursor like ``connection.cursor()`` (Django's wrapper: execute wrappers, query logging, Django's
    exceptions) whose parameters are bound on the server, where Django's bind on the client."""
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)

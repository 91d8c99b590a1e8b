"""Set-based writes of what marketplaces push: sellers, shipments and shipment events.

Each function takes a batch of already-parsed items and answers one
`ItemResult` per item, in order. It reads what exists in one query per
table, inserts the new rows with one statement, and never lets a bad
item spoil the good ones. Replaying an item with the same content changes
nothing; the same external id with other content is an error naming the
differing fields. The single-item services are this with a batch of one.
Every batch write by external id, here and in `claims`, is written on
`bulk_write`.
"""

import datetime as dt
import functools
import gc
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

import psycopg
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field, Model, Prefetch, QuerySet, lookups
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.calculation import ZERO, premium_for_item
from policies.choices import PolicyStatus, ShipmentEventKind
from policies.errors import ConflictError, DomainError, ErrorCode
from policies.models import CoverTerms, Marketplace, Policy, Seller, Shipment, ShipmentEvent
from policies.partitions import KEYS, partitioned
from policies.validators import field_rules

CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"

REVERSE_LEG_KINDS = (
    ShipmentEventKind.NON_BUYOUT,
    ShipmentEventKind.REFUSED,
    ShipmentEventKind.RETURNED,
)


@dataclass
class ItemResult:
    external_id: str
    status: str
    obj: Any = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The rule that refused the item, answered exactly as if it had been raised alone.
    refusal: DomainError | None = None
    # A new row that a concurrent writer may have stored first under its external id:
    # `bulk_write` answers the item as a replay of the row stored, if there is one.
    raced: bool = False

    @classmethod
    def error(cls, external_id: str, errors: dict[str, list[str]]) -> "ItemResult":
        return cls(external_id=external_id, status=ERROR, errors=errors)

    @classmethod
    def refused(cls, external_id: str, exc: DomainError) -> "ItemResult":
        """Answer an item a domain rule refused, keeping the rule's code and reason."""
        fields = exc.fields or ({"reason": [exc.extra["reason"]]} if "reason" in exc.extra else {})
        return cls(external_id=external_id, status=ERROR, errors=fields, refusal=exc)


def displaced(external_ids: Iterable[str]) -> dict[str, ItemResult]:
    """Answer new rows that concurrent writers stored first under their external ids, for
    `bulk_write` to answer as replays of those rows."""
    return {
        external_id: ItemResult(external_id, UNCHANGED, raced=True) for external_id in external_ids
    }


def _comparable(value: Any) -> Any:
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        raise TypeError("money and amounts are Decimal, never float")
    return value


def differing_fields(instance: Model, values: dict[str, Any]) -> dict[str, list[str]]:
    """Return, per field, a message where the stored value differs from `values`."""
    # A relation compares by its key: reading the related row would cost a query per item.
    fields = {name: instance._meta.get_field(name) for name in values}
    stored = {
        name: getattr(instance, field.attname if field.is_relation else name)
        for name, field in fields.items()
    }
    return differing_values(stored, values)


def differing_values(stored: dict[str, Any], values: dict[str, Any]) -> dict[str, list[str]]:
    """Return, per field, a message where a stored row's value (a relation's by its key)
    differs from `values`."""
    differing = {}
    for name, value in values.items():
        stored_value = stored[name]
        if isinstance(stored_value, Decimal) and value is not None:
            value = Decimal(value)
        if _comparable(stored_value) != _comparable(value):
            differing[name] = [
                _("Differs from the stored record with this external id (stored: %(value)s).")
                % {"value": _comparable(stored_value)}
            ]
    return differing


class InArray(lookups.In):
    """`IN (…)`; on PostgreSQL `IN (SELECT unnest(%s))`, the values as one array: a batch's
    thousands of ids then cost one parameter to send and parse instead of one each. Not
    `= ANY(%s)`: the planner weighs each value of that array against the column's
    statistics, 30 ms for 10,000 ids, and on a table its statistics call small it then
    reads every row of the index's leading column instead of looking the ids up."""

    def as_postgresql(self, compiler, connection):
        if not self.rhs:
            # As `IN` answers no values: no query at all.
            raise EmptyResultSet
        lhs, params = self.process_lhs(compiler, connection)
        element = self.lhs.output_field.db_type(connection).split("(")[0]
        return f"{lhs} IN (SELECT unnest(%s::{element}[]))", (*params, list(self.rhs))


def by_external_id(queryset, *, marketplace: Marketplace, ids) -> dict[str, Model]:
    """Return the marketplace's rows of `queryset` whose external id is in `ids`, keyed by it."""
    rows = queryset.filter(InArray(F("external_id"), set(ids)), marketplace=marketplace)
    return {row.external_id: row for row in rows}


def values_by_external_id(
    queryset, *, marketplace: Marketplace, ids, fields: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Return `by_external_id`'s rows as dicts of `fields` (a relation by its key): for
    batches of thousands, where a model object per row costs more than reading it."""
    rows = queryset.filter(InArray(F("external_id"), set(ids)), marketplace=marketplace)
    return {row["external_id"]: row for row in rows.values("external_id", *fields)}


def sellers_by_ref(*, marketplace: Marketplace, items: list[dict]) -> dict[str, Seller]:
    """Return the sellers the items name by the marketplace's seller id, in one query."""
    refs = {i["seller"] for i in items if not isinstance(i["seller"], Seller)}
    return by_external_id(Seller.objects, marketplace=marketplace, ids=refs)


def item_seller(item: dict, *, sellers: dict[str, Seller], marketplace: Marketplace):
    """Return the seller an item names (by the marketplace's id, or as a Seller) if it is
    one of the marketplace's sellers, else None."""
    seller = item["seller"]
    if not isinstance(seller, Seller):
        seller = sellers.get(seller)
    return seller if seller is not None and seller.marketplace_id == marketplace.pk else None


def unknown_seller() -> dict[str, list[str]]:
    return {"seller": [_("Unknown seller.")]}


def unknown_shipment() -> dict[str, list[str]]:
    return {"shipment": [_("Unknown shipment.")]}


def field_errors(obj: Model) -> dict[str, list[str]]:
    """Return the row's own field errors (validators, choices, lengths, and the shared input
    rules of policies/validators.py), reading no table."""
    skipped, defaults, ruled = _field_checks(type(obj))
    # A field still holding its model's default holds a value checked once for the model.
    at_default = {name for name, default in defaults if obj.__dict__.get(name) is default}
    errors = {}
    try:
        obj.clean_fields(exclude=skipped | at_default)
    except ValidationError as exc:
        errors = exc.message_dict
    for f, rules in ruled:
        value = getattr(obj, f.attname)
        if f.name in errors or f.name in at_default or value in f.empty_values:
            continue
        try:
            for rule in rules:
                rule(value)
        except ValidationError as exc:
            errors[f.name] = exc.messages
    return errors


IMMUTABLE = (str, int, Decimal, dt.date, type(None))


@functools.cache
def _field_checks(
    model,
) -> tuple[frozenset[str], tuple[tuple[str, Any], ...], tuple[tuple[Field, tuple], ...]]:
    """Return the fields `field_errors` leaves out; those whose default is one valid value,
    with it; and the others with their shared rules: worked out once per model, not once
    per row of a batch."""
    # Relations would cost a query each; a protected state field cannot be re-set.
    skipped = frozenset(
        f.name
        for f in model._meta.concrete_fields
        if f.is_relation or getattr(f, "protected", False)
    )
    checked = [f for f in model._meta.concrete_fields if f.name not in skipped]
    defaults = []
    for f, default in _defaults(model):
        # Only a value nothing can change stays the value checked.
        if f not in checked or not isinstance(default, IMMUTABLE):
            continue
        try:
            f.clean(default, None)
            if default not in f.empty_values:
                for rule in field_rules(f):
                    rule(default)
        except ValidationError:
            continue
        defaults.append((f.name, default))
    ruled = tuple((f, rules) for f in checked if (rules := field_rules(f)))
    return skipped, tuple(defaults), ruled


@functools.cache
def _defaults(model) -> tuple[tuple[Field, Any], ...]:
    """Return each concrete field with its default: the value itself, or what makes it."""
    found = []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            found.append((f, f.default))
        else:
            found.append((f, f.get_default()))
    return tuple(found)


def build(model, **values) -> Model:
    """Return the unsaved `model(**values)`, made by position as Django makes the rows it
    reads, at half the cost of its keyword arguments: for the thousands of rows of a batch.

    `values` are by field name (a relation as its object or None) or attname; a relation
    given as an object is kept on the row, as `model(**values)` keeps it.
    """
    args, related = [], []
    for f, default in _defaults(model):
        if f.name in values and f.is_relation:
            target = values[f.name]
            related.append((f, target))
            args.append(None if target is None else target.pk)
        elif f.attname in values:
            args.append(values[f.attname])
        else:
            args.append(default() if callable(default) else default)
    if unknown := values.keys() - _names(model):
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    row = model(*args)
    for f, target in related:
        f.set_cached_value(row, target)
    return row


@functools.cache
def _names(model) -> frozenset[str]:
    return frozenset(name for f in model._meta.concrete_fields for name in {f.name, f.attname})


def ensure_valid(obj: Model) -> None:
    """Raise a validation DomainError naming the row's invalid fields, if any."""
    if errors := field_errors(obj):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Invalid input."), fields=errors)


def checked(row: Model) -> Model | ItemResult:
    """Return the row, or the error answering it if its own fields are invalid."""
    if errors := field_errors(row):
        return ItemResult.error(row.external_id, errors)
    return row


def conflict(external_id: str, differing: dict[str, list[str]]) -> ItemResult:
    """Answer an item whose external id is stored with other content, naming what differs."""
    return ItemResult.refused(
        external_id,
        ConflictError(
            ErrorCode.CONFLICT,
            _("A record with this external id exists with other content: %(fields)s.")
            % {"fields": ", ".join(differing)},
            fields=differing,
        ),
    )


def replay_result(
    *, external_id: str, stored: Model | dict[str, Any], values: dict[str, Any], earlier: bool
) -> ItemResult:
    """Answer an item whose external id is already stored, or `earlier` in the same batch:
    a conflict naming the fields where `values` differ, else unchanged (created, for an
    earlier item) with the stored row, if it is a model object."""
    if isinstance(stored, dict):
        differing, obj = differing_values(stored, values), None
    else:
        differing, obj = differing_fields(stored, values), stored
    if differing:
        return conflict(external_id, differing)
    return ItemResult(external_id, CREATED if earlier else UNCHANGED, obj)


# Columns whose Python values (validated str, Decimal, aware datetimes, dates, ids) the
# database driver takes as they are.
PLAIN_COLUMNS = frozenset(
    {"CharField", "TextField", "DecimalField", "DateField", "DateTimeField", "BooleanField"}
    | {"IntegerField", "BigIntegerField", "PositiveIntegerField", "ForeignKey", "JSONField"}
)


# The attnames that tell a row of a marketplace's batch from the others.
EXTERNAL_KEY = ("marketplace_id", "external_id")


def insert_rows(model, rows: list[Model], *, key: tuple[str, ...] = EXTERNAL_KEY) -> list[Model]:
    """Insert `rows` at once and set their primary keys; return those not inserted because
    a concurrent writer stored a row in their place first (the same `key`, or another
    unique key of the table).

    The rows go in in the order of `key`, so that writers of overlapping batches wait for
    each other in one order, never in a circle; a row whose place an uncommitted writer
    holds waits for its end. On PostgreSQL this is the statement `bulk_create` sends (one
    `INSERT … SELECT FROM unnest(…)`) without its preparation of each value, which costs
    three times the insert itself for the millions of rows of an ingest or an import.
    SQLite takes one writer at a time: there nothing is skipped.
    """
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if (
        connection.vendor != "postgresql"
        or not rows
        or any(f.get_internal_type() not in PLAIN_COLUMNS for f in fields)
    ):
        with transaction.atomic():
            model.objects.bulk_create(rows)
        return []
    now = timezone.now()
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for row in rows:
                setattr(row, f.attname, now)
        elif f.get_internal_type() == "DateTimeField":
            # As Django reads a naive time: in the project's zone, not the connection's UTC.
            for row in rows:
                value = getattr(row, f.attname)
                if value is not None and timezone.is_naive(value):
                    setattr(row, f.attname, timezone.make_aware(value))
    rows = sorted(rows, key=attrgetter(*key))
    with transaction.atomic():
        placed = _insert_skipping_taken(
            model,
            fields,
            [_column(f, list(map(attrgetter(f.attname), rows))) for f in fields],
            returning=(*key, model._meta.pk.attname),
        )
    pks = {tuple(values[:-1]): values[-1] for values in placed}
    skipped = []
    for row in rows:
        pk = pks.get(tuple(getattr(row, name) for name in key))
        if pk is None:
            skipped.append(row)
            continue
        row.pk = pk
        row._state.adding, row._state.db = False, connection.alias
    return skipped


class _FullCollections:
    """The garbage collector's full collections, held off while any batch runs in any of
    the process's threads, and back as they were once the last of them ends."""

    # Past any count of young collections a batch reaches.
    NEVER = 1_000_000

    def __init__(self):
        self.lock, self.batches, self.threshold = threading.Lock(), 0, None

    @contextmanager
    def deferred(self):
        """Hold off full collections while a batch of many thousand rows runs; the young
        generations are collected as ever.

        A full collection walks every object the process holds, Django's own (hundreds
        of thousands) too, and a batch's chunks leave enough survivors to set one off
        every few thousand rows: 30 of them took 3.3 s of a 200,000-row report import's
        22 s. A chunk's garbage is young and still goes with its chunk (the import's
        memory stays flat, as its benchmark shows); what was promoted waits for the
        first full collection after the batch.
        """
        with self.lock:
            if self.batches == 0:
                self.threshold = gc.get_threshold()
                gc.set_threshold(*self.threshold[:2], self.NEVER)
            self.batches += 1
        try:
            yield
        finally:
            with self.lock:
                self.batches -= 1
                if self.batches == 0:
                    gc.set_threshold(*self.threshold)


full_collections_deferred = _FullCollections().deferred


class Statistics:
    """The planner's statistics of the tables a long batch grows, renewed by the batch.

    The lookups of stored rows are planned by their tables' statistics, and a table the
    statistics call small is read whole for each lookup instead of through its index: a
    first 200,000-row report took three times as long as the next. Autovacuum renews them
    only minutes later, and may be off. Once the batch has written `first` rows, and then
    each time its rows have doubled, it renews those of the tables whose statistics count
    fewer rows than it has written: an ANALYZE of a large table costs a fraction of a
    second, and a table that large is planned well without it.
    """

    def __init__(self, *tables: str, first: int):
        self.tables, self.at = list(tables), first

    def written(self, rows: int) -> None:
        """Tell how many rows the batch has written so far."""
        if rows < self.at or connection.vendor != "postgresql":
            return
        self.at = 2 * rows
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT oid::regclass::text FROM pg_class"
                " WHERE oid = ANY(%s::regclass[]) AND reltuples < %s",
                [self.tables, rows],
            )
            if stale := [name for (name,) in cursor.fetchall()]:
                # As regclass names them: quoted where they need it.
                cursor.execute("ANALYZE " + ", ".join(stale))


@contextmanager
def array_cursor():
    """Yield a cursor of the connection that binds its values on the server.

    For statements that send a batch as arrays: Django's cursor writes every value into
    the SQL text, and quoting arrays of thousands of values in Python costs three times
    what psycopg's binary dumpers, in C, take. Values go as `%b`. It is Django's cursor
    wrapper still, so the statements count, log and translate errors as any other.
    """
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        yield cursor


def _insert_skipping_taken(model, fields, columns: list[list], *, returning) -> list[tuple]:
    """Insert the rows given as a list of values per field, but those whose place (a unique
    key) is taken; return the `returning` attnames of the rows inserted."""
    if model is ShipmentEvent and partitioned():
        return _events_insert_skipping_taken(fields, columns, returning=returning)
    quote = connection.ops.quote_name
    types = ", ".join(f"%b::{f.db_type(connection).split('(')[0]}[]" for f in fields)
    returned = ", ".join(quote(model._meta.get_field(name).column) for name in returning)
    with array_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)}"
            f" ({', '.join(quote(f.column) for f in fields)})"
            f" SELECT * FROM unnest({types}) ON CONFLICT DO NOTHING RETURNING {returned}",
            columns,
        )
        return cursor.fetchall()


def _events_insert_skipping_taken(fields, columns: list[list], *, returning) -> list[tuple]:
    """`_insert_skipping_taken` for the partitioned events. ON CONFLICT sees only a table's
    own indexes, and an event id's unique key is in the key table (policies/partitions.py):
    each row first takes its key there, with its event's id drawn ahead, and only the rows
    that got theirs go in."""
    quote = connection.ops.quote_name
    table = quote(ShipmentEvent._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    types = ", ".join(f"%b::{f.db_type(connection).split('(')[0]}[]" for f in fields)
    returned = ", ".join(quote(ShipmentEvent._meta.get_field(name).column) for name in returning)
    with array_cursor() as cursor:
        cursor.execute(
            f"WITH new AS (SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id, r.*"
            f" FROM unnest({types}) AS r({names})),"
            f" placed AS (INSERT INTO {KEYS}"
            " SELECT marketplace_id, external_id, id, created_at FROM new"
            " ON CONFLICT DO NOTHING RETURNING event_id)"
            f" INSERT INTO {table} (id, {names}) SELECT id, {names} FROM new"
            f" WHERE id IN (SELECT event_id FROM placed) RETURNING {returned}",
            columns,
        )
        return cursor.fetchall()


def _column(field, values: list) -> list:
    if field.get_internal_type() == "JSONField":
        # The driver's own JSON wrapper: a bare list or dict would be sent as an array.
        return [field.get_db_prep_value(value, connection) for value in values]
    return values


def update_values(model, name: str, values: dict[int, Any]) -> None:
    """Set field `name` of each row, by primary key, to its value, in one statement.

    On PostgreSQL one UPDATE joins the values as arrays: `bulk_update`'s CASE of a
    branch per row costs more to build and to plan than the update itself.
    """
    if not values:
        return
    if connection.vendor != "postgresql":
        rows = [model(pk=pk, **{name: value}) for pk, value in values.items()]
        model.objects.bulk_update(rows, [name])
        return
    meta, quote = model._meta, connection.ops.quote_name
    field, pk = meta.get_field(name), meta.pk
    with array_cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {quote(field.column)} = v.value"
            f" FROM unnest(%b::{pk.db_type(connection)}[],"
            f" %b::{field.db_type(connection).split('(')[0]}[]) AS v(pk, value)"
            f" WHERE {quote(meta.db_table)}.{quote(pk.column)} = v.pk",
            [list(values), list(values.values())],
        )


def insert_values(
    model,
    rows: list[dict[str, Any]],
    *,
    same: dict[str, Any] | None = None,
    key: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Insert rows given as {attname: value}, all with the same names, at once. A field
    left out takes the value `same` gives it for every row, else its default; an auto_now
    one, the time.

    For batches too large for a model object per row; the rows' keys are not
    read back. With `key` (the attnames, among the rows' own, that tell a row
    from the others) the rows go in in its order, and those a concurrent writer
    stored first in their place are skipped and returned, as by `insert_rows`;
    without, a concurrent insert of the same unique key surfaces as IntegrityError. On
    PostgreSQL the rows go by COPY, which psycopg formats in C: for the
    million rows of an import, an INSERT's parameters (an array element or a
    placeholder per value) cost more to prepare than the insert itself.
    """
    if not rows:
        return []
    names, rest, now = list(rows[0]), dict(same or {}), timezone.now()
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in names or f.attname in rest:
            continue
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        rest[f.attname] = now if auto else f.get_default()
    if key is not None:
        rows = sorted(rows, key=itemgetter(*key))
    if connection.vendor != "postgresql":
        with transaction.atomic():
            model.objects.bulk_create([model(**row, **rest) for row in rows])
        return []
    meta, quote = model._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in [*names, *rest])
    # As the database takes them: a JSON default ({}) goes as JSON, not as a dict.
    fill = [
        meta.get_field(name).get_db_prep_save(value, connection) for name, value in rest.items()
    ]
    try:
        # COPY is the driver's own call: Django's wrapper does not translate its errors.
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([*map(row.__getitem__, names), *fill])
        return []
    except IntegrityError:
        if key is None:
            raise
    # A concurrent writer committed some of the rows' places first, which COPY cannot
    # skip: this rarer path inserts the others by a statement that can.
    fields = [meta.get_field(name) for name in [*names, *rest]]
    values = [[row[name] for row in rows] for name in names]
    values += [[value] * len(rows) for value in fill]
    with transaction.atomic():
        placed = set(
            _insert_skipping_taken(
                model,
                fields,
                [_column(f, column) for f, column in zip(fields, values, strict=True)],
                returning=key,
            )
        )
    return [row for row in rows if tuple(row[name] for name in key) not in placed]


def bulk_write(
    *,
    marketplace: Marketplace,
    items: list[dict],
    stored: QuerySet | Callable[[set[str]], QuerySet],
    values: Callable[[dict], dict[str, Any] | ItemResult],
    new: Callable[[dict, dict[str, Any]], Any],
    insert: Callable[[dict[str, Any]], dict[str, ItemResult] | None] | None = None,
    compared: tuple[str, ...] | None = None,
    replay: Callable[..., ItemResult] = replay_result,
) -> list[ItemResult]:
    """Write a batch by external id; return one ItemResult per item, in order.

    The marketplace's rows of `stored` (or of `stored(ids)`) with the items'
    external ids are read in one query: as model objects, or with `compared`
    as dicts of those fields (a relation by its key). Per item, `values(item)`
    returns what a replay is compared on, or the item's error. An item whose id is stored,
    or earlier in the batch, is answered by `replay(external_id=, stored=,
    values=, earlier=)` (by default unchanged, or a conflict naming the
    differing fields); any other by `new(item, values)`: the row to insert,
    or the item's error. `insert(rows)` then writes the new rows, keyed by
    external id, at once; it may return the final answers of some of them by
    external id (a filing's refusals). A new row's answer is created, with
    the row if it is a model object.

    A race is answered as the replay it is: where `insert` answers a row
    `raced` (`displaced`: a concurrent writer stored one under its id first;
    or a refusal such a writer may have caused), every item with that id is
    answered by `replay(…, earlier=False)` of the row stored under it, if
    any, read in one more query.
    """

    def read(ids):
        ids = set(ids)
        rows = stored(ids) if callable(stored) else stored
        if compared is None:
            return by_external_id(rows, marketplace=marketplace, ids=ids)
        return values_by_external_id(rows, marketplace=marketplace, ids=ids, fields=compared)

    existing = read(i["external_id"] for i in items)
    results: list[ItemResult] = []
    given: list[dict[str, Any] | ItemResult] = []
    rows: dict[str, Any] = {}
    positions: dict[str, int] = {}
    for item in items:
        external_id = item["external_id"]
        item_values = values(item)
        given.append(item_values)
        if isinstance(item_values, ItemResult):
            results.append(item_values)
        elif (row := existing.get(external_id) or rows.get(external_id)) is not None:
            earlier = external_id not in existing
            results.append(
                replay(external_id=external_id, stored=row, values=item_values, earlier=earlier)
            )
        elif isinstance(row := new(item, item_values), ItemResult):
            results.append(row)
        else:
            rows[external_id] = row
            positions[external_id] = len(results)
            results.append(
                ItemResult(external_id, CREATED, row if isinstance(row, Model) else None)
            )
    answers = insert(rows) if insert is not None else None
    for external_id, answer in (answers or {}).items():
        results[positions[external_id]] = answer
    if raced := {result.external_id for result in results if result.raced}:
        stored_now = read(raced)
        for position, (item, item_values) in enumerate(zip(items, given, strict=True)):
            row = stored_now.get(item["external_id"])
            if row is not None and not isinstance(item_values, ItemResult):
                results[position] = replay(
                    external_id=item["external_id"], stored=row, values=item_values, earlier=False
                )
    return results


def sellers_upsert_bulk(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """Create or update the marketplace's sellers by their external id."""
    fields = ("legal_name", "tax_id", "email", "language")
    changed = {}

    def update(*, external_id, stored, values, earlier):
        # A replay with other content updates the seller instead of conflicting.
        candidate = Seller(marketplace=marketplace, external_id=external_id, **values)
        if errors := field_errors(candidate):
            return ItemResult.error(external_id, errors)
        if not differing_fields(stored, values):
            return ItemResult(external_id, UNCHANGED, stored)
        for name, value in values.items():
            setattr(stored, name, value)
        if not earlier:
            changed[external_id] = stored
        return ItemResult(external_id, UPDATED, stored)

    results = bulk_write(
        marketplace=marketplace,
        items=items,
        stored=Seller.objects,
        values=lambda item: {name: item[name] for name in fields if name in item},
        new=lambda item, values: checked(
            Seller(marketplace=marketplace, external_id=item["external_id"], **values)
        ),
        insert=lambda rows: displaced(
            row.external_id for row in insert_rows(Seller, [*rows.values()])
        ),
        replay=update,
    )
    # After the insert: a seller another writer stored first may be updated too.
    if changed:
        Seller.objects.bulk_update(list(changed.values()), [*fields, "updated_at"])
    return results


def policies_in_force(*, seller_ids: set[int]) -> dict[int, list[Policy]]:
    """Return, per seller, its active policies with their cover terms loaded."""
    policies = Policy.objects.filter(
        seller_id__in=seller_ids, status=PolicyStatus.ACTIVE
    ).prefetch_related(
        Prefetch("product_version__covers", queryset=CoverTerms.objects.order_by("cover"))
    )
    by_seller = defaultdict(list)
    for policy in policies:
        by_seller[policy.seller_id].append(policy)
    return by_seller


def policy_on(policies: list[Policy], day: dt.date) -> Policy | None:
    """Return the policy among `policies` in force on `day`: its period holds the day."""
    return next((p for p in policies if p.period_start <= day <= p.period_end), None)


def shipment_premium(*, policy: Policy | None, declared_value: Decimal) -> Decimal:
    """Return the premium an item earns under every cover of the policy it ships under."""
    if policy is None:
        return ZERO
    return sum(
        (
            premium_for_item(
                basis=terms.premium_basis,
                rate=terms.premium_rate,
                fee=terms.premium_fee,
                declared_value=declared_value,
            )
            for terms in policy.product_version.covers.all()
        ),
        ZERO,
    )


SHIPMENT_FIELDS = (
    "order_id",
    "sku",
    "category",
    "declared_value",
    "warehouse",
    "pickup_point",
    "fulfilment",
    "shipped_at",
)


def shipments_record_bulk(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """Store shipped items, each insured under its seller's policy in force when it shipped.

    `item["seller"]` is the marketplace's seller id, or a Seller. An item may bring the
    reverse-logistics fee already charged on it (a report's fee row does), which a new
    shipment starts with; its reverse leg's event keeps it as ever.
    """
    sellers = sellers_by_ref(marketplace=marketplace, items=items)
    in_force = policies_in_force(
        seller_ids={s.pk for s in sellers.values()}
        | {i["seller"].pk for i in items if isinstance(i["seller"], Seller)}
    )

    def item_values(item):
        seller = item_seller(item, sellers=sellers, marketplace=marketplace)
        if seller is None:
            return ItemResult.error(item["external_id"], unknown_seller())
        return {"seller": seller, **{name: item[name] for name in SHIPMENT_FIELDS}}

    zone = timezone.get_current_timezone()

    def new_shipment(item, values):
        shipped_on = timezone.localdate(item["shipped_at"], zone)
        policy = policy_on(in_force.get(values["seller"].pk, []), shipped_on)
        return checked(
            build(
                Shipment,
                marketplace=marketplace,
                external_id=item["external_id"],
                policy=policy,
                premium=shipment_premium(policy=policy, declared_value=item["declared_value"]),
                reverse_logistics_fee=item.get("reverse_logistics_fee"),
                **values,
            )
        )

    return bulk_write(
        marketplace=marketplace,
        items=items,
        stored=Shipment.objects,
        values=item_values,
        new=new_shipment,
        insert=lambda rows: displaced(
            row.external_id for row in insert_rows(Shipment, [*rows.values()])
        ),
    )


EVENT_SHIPMENT_FIELDS = (
    "marketplace_id",
    "external_id",
    "seller_id",
    "policy_id",
    "order_id",
    "category",
    "declared_value",
    "shipped_at",
    "reverse_logistics_fee",
)


def events_stored(*, marketplace: Marketplace, ids: set[str]) -> QuerySet[ShipmentEvent]:
    """Return events among which are all the marketplace's stored ones with these ids.

    On PostgreSQL just those: the key table (policies/partitions.py) names each one's id
    and month, so the events are read from their own partitions, and a batch of new
    events, the usual one, reads no partition at all. Elsewhere, all events.
    """
    if not partitioned():
        return ShipmentEvent.objects.all()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT event_id, created_at FROM {KEYS}"
            # As `InArray` puts it, and for its reasons.
            " WHERE marketplace_id = %s AND external_id IN (SELECT unnest(%s::text[]))",
            [marketplace.pk, list(ids)],
        )
        found = cursor.fetchall()
    if not found:
        return ShipmentEvent.objects.none()
    return ShipmentEvent.objects.filter(
        InArray(F("pk"), {pk for pk, _ in found}), InArray(F("created_at"), {at for _, at in found})
    )


def shipment_events_record_bulk(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """Store shipment events; keep a reverse leg's fee on its shipment too.

    `item["shipment"]` is the marketplace's shipment id, or a Shipment. This is
    the hottest path of the product (millions of events a day), so the items'
    fields come validated by the caller (the API's input serializer, or
    `shipment_event_record`) instead of a second time row by row here.

    The shipments named by id are locked as they are read, in one order: a
    concurrent batch with events of the same shipments (a replay sent twice
    at once) waits for this one's commit, then reads its events and the
    claims they opened as stored, exactly as a replay sent after it.
    """
    # What events and the claims they open read of a shipment, and no more.
    shipments = by_external_id(
        Shipment.objects.only(*EVENT_SHIPMENT_FIELDS).select_for_update(no_key=True).order_by("pk"),
        marketplace=marketplace,
        ids=(i["shipment"] for i in items if not isinstance(i["shipment"], Shipment)),
    )

    def item_values(item):
        shipment = item["shipment"]
        if not isinstance(shipment, Shipment):
            shipment = shipments.get(shipment)
        if shipment is None or shipment.marketplace_id != marketplace.pk:
            return ItemResult.error(item["external_id"], unknown_shipment())
        return {
            "shipment": shipment,
            "kind": item["kind"],
            "occurred_at": item["occurred_at"],
            "amount": item.get("amount"),
        }

    def insert(rows):
        skipped = {event.external_id for event in insert_rows(ShipmentEvent, [*rows.values()])}
        # A reverse leg's fee is kept from the events stored here: the last one's, per item,
        # written where the item does not hold it already.
        fees, held = {}, {}
        for event in rows.values():
            reverse = event.kind in REVERSE_LEG_KINDS and event.amount is not None
            if reverse and event.external_id not in skipped:
                shipment = event.shipment
                held.setdefault(shipment.pk, shipment.reverse_logistics_fee)
                shipment.reverse_logistics_fee = fees[shipment.pk] = event.amount
        update_values(
            Shipment,
            "reverse_logistics_fee",
            {pk: fee for pk, fee in fees.items() if fee != held[pk]},
        )
        return displaced(skipped)

    return bulk_write(
        marketplace=marketplace,
        items=items,
        stored=lambda ids: events_stored(marketplace=marketplace, ids=ids),
        values=item_values,
        new=lambda item, values: build(
            ShipmentEvent, marketplace=marketplace, external_id=item["external_id"], **values
        ),
        insert=insert,
    )

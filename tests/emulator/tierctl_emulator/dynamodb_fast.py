"""A rollback snapshot for moto's TransactWriteItems that costs what the
transaction touches, not the whole table.

moto backs every transaction up with `copy.deepcopy` of each table it names,
so 200 transactions against a table of 1,000 items copy 200,000 items: the
first sync of a large estate measured moto, not tierctl (about 0.15 s per
transaction). AWS's cost does not grow with the table. For transactions of
Put, Delete and ConditionCheck only (what tierctl sends), a Put replaces the
item object and a Delete removes it, so a two-level copy of the table's item
map (hash -> range -> item) restores the table exactly; a transaction with an
Update (which mutates items in place) still gets moto's full deep copy.
Requests are serialised by the emulator's DynamoDB lock, so the snapshot
cannot race another write. moto also snapshots the table once per item of the
transaction; one snapshot per table and transaction is kept.

Parsed condition expressions are cached by (expression, names, values):
parsing is most of moto's cost per item, and tierctl sends the same
`attribute_not_exists(#k)` for every item it creates. The parsed condition
is evaluated against each item anew, so a cached one answers the same.
"""

import copy
import json
import threading
from collections import OrderedDict

import moto.dynamodb.models as ddb
from moto.dynamodb.models.table import Table

_local = threading.local()


class _CopyShim:
    """Stands in for the `copy` module inside moto.dynamodb.models."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj, memo=None):
        if getattr(_local, "cheap", False) and isinstance(obj, Table):
            taken = _local.snapshots.get(id(obj))
            if taken is not None:
                return taken
            clone = copy.copy(obj)
            if obj.has_range_key:
                items = type(obj.items)(dict)
                for h, by_range in obj.items.items():
                    items[h] = dict(by_range)
            else:
                items = type(obj.items)(dict)
                items.update(obj.items)
            clone.items = items
            _local.snapshots[id(obj)] = clone
            return clone
        return copy.deepcopy(obj, memo)


_original = ddb.DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    _local.cheap = all("Update" not in item for item in transact_items)
    _local.snapshots = {}
    try:
        return _original(self, transact_items)
    finally:
        _local.cheap = False
        _local.snapshots = {}


ddb.copy = _CopyShim()
ddb.DynamoDBBackend.transact_write_items = _transact_write_items


_parse = ddb.get_filter_expression
_parsed = OrderedDict()
_parsed_lock = threading.Lock()


def _cached_filter_expression(expr, names, values):
    try:
        key = (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
    except TypeError:
        return _parse(expr, names, values)
    with _parsed_lock:
        op = _parsed.get(key)
        if op is not None:
            _parsed.move_to_end(key)
            return op
    op = _parse(expr, names, values)
    with _parsed_lock:
        _parsed[key] = op
        while len(_parsed) > 4096:
            _parsed.popitem(last=False)
    return op


ddb.get_filter_expression = _cached_filter_expression
import moto.dynamodb.models.table as _table  # noqa: E402

_table.get_filter_expression = _cached_filter_expression

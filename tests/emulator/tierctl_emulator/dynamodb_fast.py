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
cannot race another write.
"""

import copy
import threading

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
            clone = copy.copy(obj)
            if obj.has_range_key:
                items = type(obj.items)(dict)
                for h, by_range in obj.items.items():
                    items[h] = dict(by_range)
            else:
                items = type(obj.items)(dict)
                items.update(obj.items)
            clone.items = items
            return clone
        return copy.deepcopy(obj, memo)


_original = ddb.DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    _local.cheap = all("Update" not in item for item in transact_items)
    try:
        return _original(self, transact_items)
    finally:
        _local.cheap = False


ddb.copy = _CopyShim()
ddb.DynamoDBBackend.transact_write_items = _transact_write_items

"""DescribeInstances gaps in moto 5.2.5 that tierctl's discovery depends on.

* moto ignores MaxResults/NextToken and always returns every instance in one
  page: we paginate moto's full answer ourselves (EC2 counts *instances*, not
  reservations, towards MaxResults), so callers must follow nextToken.
* moto raises NotImplementedError for the `instance-state-code` filter: we
  rewrite it into the equivalent `instance-state-name` filter.
* AWS rejects MaxResults outside 5..1000 and MaxResults combined with InstanceIds.
"""

import base64
import re
import xml.etree.ElementTree as ET

from .ec2_realism import STATE_CODES
from .protocol import error_for

_CODE_NAMES = {str(code): name for name, code in STATE_CODES.items()}
_XMLNS = re.compile(rb' xmlns="([^"]*)"')


def _rewrite_state_code_filters(params):
    for key, value in list(params.items()):
        match = re.fullmatch(r"Filter\.(\d+)\.Name", key)
        if match and value == "instance-state-code":
            params[key] = "instance-state-name"
            prefix = f"Filter.{match.group(1)}.Value."
            for vkey in [k for k in params if k.startswith(prefix)]:
                params[vkey] = _CODE_NAMES.get(params[vkey], "no-such-state")


def handle(req, forward, fast=False):
    """Answer DescribeInstances via moto (forward(params)) with AWS pagination rules.

    `fast`: answer from moto's backend without its slow serialiser (benchmarks)."""
    if req.action != "DescribeInstances":
        return None
    params = dict(req.params)
    max_results = params.pop("MaxResults", None)
    token = params.pop("NextToken", None)
    _rewrite_state_code_filters(params)
    if max_results is None and token is None and params == req.params and not fast:
        return None  # nothing to fix: let moto answer as usual
    start = 0
    if max_results is not None:
        if req.instance_ids:
            return error_for(req, "InvalidParameterCombination",
                             "The parameter instancesSet cannot be used with the parameter "
                             "maxResults")
        try:
            max_results = int(max_results)
        except ValueError:
            max_results = -1
        if not 5 <= max_results <= 1000:
            return error_for(req, "InvalidParameterValue",
                             f"Value ( {max_results} ) for parameter maxResults is invalid. "
                             "Expecting a value greater than 5.")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1])
        except (ValueError, IndexError, UnicodeDecodeError):
            return error_for(req, "InvalidParameterValue", f"Invalid value '{token}' for nextToken")
    if fast:
        from . import fast_describe
        answer = fast_describe.handle(req, params, max_results, start)
        if answer is not None:
            return answer
    status, headers, body = forward(params)
    if status != 200 or max_results is None and not token:
        return status, headers, body
    # Work namespace-free (ElementTree's namespace registry is process-global).
    xmlns = _XMLNS.search(body)
    root = ET.fromstring(_XMLNS.sub(b"", body, count=1))
    reservation_set = root.find("reservationSet")
    seen, end = 0, start + (max_results or 1000)
    for reservation in list(reservation_set):
        instances = reservation.find("instancesSet")
        for instance in list(instances):
            if not start <= seen < end:
                instances.remove(instance)
            seen += 1
        if len(instances) == 0:
            reservation_set.remove(reservation)
    if seen > end:
        next_token = ET.SubElement(root, "nextToken")
        next_token.text = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode()
    if xmlns:
        root.set("xmlns", xmlns.group(1).decode())
    out = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
    return status, headers, out

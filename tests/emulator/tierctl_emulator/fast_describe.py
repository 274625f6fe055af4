"""A fast DescribeInstances for benchmarks (`POST /_tierctl/config {"fastDescribe": true}`).

moto's generic serialiser needs about 2.5 ms per instance, so describing a
1,000-instance fleet takes seconds, far longer than EC2 itself: benchmark
figures would measure moto. This answers DescribeInstances straight from
moto's backend with the fields clients read (ids, state, type, tags, launch
time, placement, network, architecture, virtualisation, ENA, EBS
optimisation, lifecycle, hibernation), filtered and paginated as EC2 does.
It is off by default; the tests use moto's full answer.
"""

import base64
import re
from xml.sax.saxutils import escape

from .ec2_realism import STATE_CODES, backend
from .protocol import error_for

_OWNER = "123456789012"


def _filters(params):
    filters = {}
    for key, name in params.items():
        match = re.fullmatch(r"Filter\.(\d+)\.Name", key)
        if match:
            prefix = f"Filter.{match.group(1)}.Value."
            filters[name] = [v for k, v in sorted(params.items()) if k.startswith(prefix)]
    return filters


def _tag(name, value):
    return f"<{name}>{escape(str(value))}</{name}>" if value is not None else ""


def _timestamp(value):
    """ISO 8601 to the second, as moto's own answer has it."""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    text = str(value).replace(" ", "T")
    return text if text.endswith("Z") else text[:19] + ".000Z"


def _matches(i, tags, filters):
    """EC2's filter semantics for the filters tierctl sends (values OR-ed,
    filters AND-ed, `*`/`?` wildcards, `\\` escapes); None when a filter is not known."""
    from .ec2_filters import matches
    for name, values in filters.items():
        if name.startswith("tag:"):
            have = [tags.get(name[4:])]
        elif name == "tag-key":
            have = list(tags)
        else:
            field = {"vpc-id": i.vpc_id, "subnet-id": i.subnet_id, "instance-id": i.id,
                     "instance-state-name": i._state.name, "instance-type": i.instance_type}
            if name not in field:
                return None
            have = [field[name]]
        if not any(matches(h, v) for h in have for v in values):
            return False
    return True


def _instance(i, tag_map):
    state = i._state.name
    tags = "".join(f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>"
                   for k, v in tag_map.items())
    hibernation = getattr(i, "hibernation_options", None) or {}
    lifecycle = getattr(i, "instance_lifecycle", None)
    return (
        "<item>"
        + _tag("instanceId", i.id) + _tag("imageId", i.image_id)
        + f"<instanceState><code>{STATE_CODES.get(state, 0)}</code><name>{state}</name></instanceState>"
        + _tag("instanceType", i.instance_type)
        + _tag("launchTime", _timestamp(i.launch_time))
        + f"<placement><availabilityZone>{escape(str(getattr(i.placement, 'zone', '') or ''))}</availabilityZone></placement>"
        + _tag("subnetId", i.subnet_id) + _tag("vpcId", i.vpc_id)
        + _tag("privateIpAddress", getattr(i, "private_ip", None))
        + _tag("architecture", getattr(i, "architecture", "x86_64"))
        + _tag("virtualizationType", getattr(i, "virtualization_type", "hvm"))
        + "<hypervisor>xen</hypervisor>"
        + _tag("ebsOptimized", str(bool(getattr(i, "ebs_optimized", False))).lower())
        + _tag("enaSupport", str(bool(getattr(i, "ena_support", False))).lower())
        + _tag("instanceLifecycle", lifecycle)
        + (f"<hibernationOptions><configured>{str(bool(hibernation.get('Configured'))).lower()}"
           "</configured></hibernationOptions>" if hibernation else "")
        + f"<tagSet>{tags}</tagSet>"
        + "</item>"
    )


def handle(req, params, max_results, start):
    """The answer, or None to let the faithful path answer."""
    ec2 = backend(req.region)
    filters = _filters(params)
    # moto looks tags up by scanning every tag of the region, per instance:
    # read its tag store once instead.
    store = getattr(ec2, "tags", {})
    ids = set(req.instance_ids)
    known = {i.id for r in ec2.reservations.values() for i in r.instances}
    unknown = [i for i in ids if i not in known]
    if unknown:
        return error_for(req, "InvalidInstanceID.NotFound",
                         f"The instance IDs '{', '.join(sorted(unknown))}' do not exist")
    reservations = []
    for r in ec2.reservations.values():
        chosen = []
        for i in r.instances:
            if ids and i.id not in ids:
                continue
            match = _matches(i, store.get(i.id, {}), filters)
            if match is None:
                return None  # a filter only moto knows: take the faithful path
            if match:
                chosen.append(i)
        if chosen:
            reservations.append((r, chosen))
    end = start + (max_results or 1000)
    seen = 0
    items = []
    for r, instances in reservations:
        chosen = []
        for i in instances:
            if start <= seen < end:
                chosen.append(_instance(i, store.get(i.id, {})))
            seen += 1
        if chosen:
            items.append(f"<item><reservationId>{r.id}</reservationId><ownerId>{_OWNER}</ownerId>"
                         f"<groupSet/><instancesSet>{''.join(chosen)}</instancesSet></item>")
    token = ""
    if max_results is not None and seen > end:
        token = "<nextToken>" + base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() + "</nextToken>"
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>tierctl-emulator</requestId><reservationSet>{''.join(items)}</reservationSet>"
            f"{token}</DescribeInstancesResponse>")
    return 200, [("Content-Type", "text/xml")], body.encode()

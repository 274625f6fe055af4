"""ELBv2 target health the tests can steer.

moto already derives target health from the instance state (`unused` when
stopped, `healthy` when running). Health gates also need targets that are
running but not (yet) healthy: an override turns a would-be `healthy`
answer into another state, for a while or until reset.
"""

import threading
import time

from moto.elbv2 import models as elbv2

_lock = threading.Lock()
_overrides = {}  # instance id -> (state, reason, until monotonic or None)
_original = elbv2.FakeTargetGroup.health_for


def _health_for(self, target, ec2_backend):
    status = _original(self, target, ec2_backend)
    with _lock:
        override = _overrides.get(target["Id"])
    if override and status.status == "healthy":
        state, reason, until = override
        if until is None or time.monotonic() < until:
            return elbv2.FakeHealthStatus(target["Id"], status.port, self.health_check_port,
                                          state, reason, "set by the tierctl emulator")
    return status


elbv2.FakeTargetGroup.health_for = _health_for


def set_health(body):
    """`{"instanceIds": [...], "state": "unhealthy", "reason": "Target.FailedHealthChecks", "forMs": 1500}`"""
    state = body.get("state", "unhealthy")
    reason = body.get("reason", "Target.FailedHealthChecks")
    until = time.monotonic() + body["forMs"] / 1000 if body.get("forMs") is not None else None
    with _lock:
        for instance_id in body.get("instanceIds", []):
            _overrides[instance_id] = (state, reason, until)
    return {"instanceIds": body.get("instanceIds", []), "state": state}


def reset():
    with _lock:
        _overrides.clear()

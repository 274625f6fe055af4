"""Auto Scaling groups with transition times and steerable lifecycle states.

moto 5.2.5 already serves Auto Scaling: UpdateAutoScalingGroup launches
instances in the EC2 backend (tagged `aws:autoscaling:groupName`, with the
group's propagated tags) when the desired capacity grows and terminates
them in the EC2 backend when it shrinks; group tags, warm pools
(PutWarmPool -> `WarmPoolConfiguration`) and Standby (EnterStandby) are
moto's own. What moto lacks for health gates: its new instances are
`InService` at once. Here an instance launched by a scale-out stays
`Pending` for `inServiceMs` (config), and tests can hold a group's
instances in a state (`Pending`, ...) for a while or until reset.
"""

import threading
import time

from moto.autoscaling import models as asg

_lock = threading.Lock()
_config = {"inServiceMs": 0}
_holds = {}  # group name -> (state, until monotonic or None)


def _get_lifecycle(self):
    state = self.__dict__.get("_lifecycle", "InService")
    if state != "InService":
        return state
    with _lock:
        hold = _holds.get(self.__dict__.get("auto_scaling_group_name"))
    if hold and (hold[1] is None or time.monotonic() < hold[1]):
        return hold[0]
    ready_at = self.__dict__.get("_ready_at")
    if ready_at is not None and time.monotonic() < ready_at:
        return "Pending"
    return state


def _set_lifecycle(self, value):
    self.__dict__["_lifecycle"] = value


asg.InstanceState.lifecycle_state = property(_get_lifecycle, _set_lifecycle)

_original_replace = asg.FakeAutoScalingGroup.replace_autoscaling_group_instances


def _replace(self, count_needed, propagated_tags):
    before = len(self.instance_states)
    _original_replace(self, count_needed, propagated_tags)
    with _lock:
        delay = _config["inServiceMs"] / 1000
    ready_at = time.monotonic() + delay
    for state in self.instance_states[before:]:
        state.__dict__["_ready_at"] = ready_at


asg.FakeAutoScalingGroup.replace_autoscaling_group_instances = _replace


def configure(body):
    """`{"inServiceMs": 1500}`: how long a scaled-out instance stays Pending."""
    with _lock:
        if "inServiceMs" in body:
            _config["inServiceMs"] = int(body["inServiceMs"])
        return dict(_config)


def hold(body):
    """`{"groupName": "web", "state": "Pending", "forMs": 1500}` (no forMs: until reset)."""
    state = body.get("state", "Pending")
    until = time.monotonic() + body["forMs"] / 1000 if body.get("forMs") is not None else None
    with _lock:
        _holds[body["groupName"]] = (state, until)
    return {"groupName": body["groupName"], "state": state}


def reset():
    with _lock:
        _config["inServiceMs"] = 0
        _holds.clear()


def _active_instances(self):
    """moto's own view (what the group counts and registers), not the shown Pending."""
    return [x for x in self.instance_states
            if x.__dict__.get("_lifecycle", "InService") == "InService"]


asg.FakeAutoScalingGroup.active_instances = _active_instances

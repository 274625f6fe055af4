"""EC2 instance state realism on top of moto.

moto flips an instance to `stopped`/`running` instantly and accepts any stop/start.
Real EC2 passes through `stopping` (64) / `pending` (0), refuses to start a
`stopping` instance, and fails a whole batch when one instance is in the wrong
state. We therefore handle StopInstances / StartInstances ourselves (on moto's
instance objects) and finish transitions lazily: `tick()` runs at the start of
every request, so every Describe* sees the state a real caller would see.
"""

import threading
import time

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.ec2.models import ec2_backends

from .protocol import ec2_response, error_for

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}

# Attributes EC2 only lets you change on a stopped instance.
_NEEDS_STOPPED = {"instanceType", "userData", "kernel", "ramdisk"}


def backend(region):
    return ec2_backends[DEFAULT_ACCOUNT_ID][region or "us-east-1"]


def _truthy(value):
    return str(value).lower() == "true"


def _state_xml(tag, name):
    return f"<{tag}><code>{STATE_CODES[name]}</code><name>{name}</name></{tag}>"


class Ec2Realism:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.stop_ms = 300
            self.start_ms = 300
            self.overrides = {}   # instance id -> {"stopDelayMs": .., "startDelayMs": ..}
            self.pending = {}     # instance id -> (due time, instance, transitional, final)
            self.fast_describe = False  # benchmarks: see fast_describe.py

    def configure(self, body):
        with self.lock:
            self.stop_ms = int(body.get("stopDelayMs", self.stop_ms))
            self.start_ms = int(body.get("startDelayMs", self.start_ms))
            self.fast_describe = bool(body.get("fastDescribe", getattr(self, "fast_describe", False)))
            return {"stopDelayMs": self.stop_ms, "startDelayMs": self.start_ms,
                    "fastDescribe": self.fast_describe}

    def set_instance(self, instance_id, body):
        with self.lock:
            entry = self.overrides.setdefault(instance_id, {})
            for key in ("stopDelayMs", "startDelayMs"):
                if key in body:
                    entry[key] = int(body[key])
            return dict(entry)

    def _delay(self, instance_id, key):
        default = self.stop_ms if key == "stopDelayMs" else self.start_ms
        return self.overrides.get(instance_id, {}).get(key, default) / 1000.0

    def tick(self):
        """Finish every transition whose delay has passed."""
        now = time.monotonic()
        with self.lock:
            for instance_id, (due, inst, transitional, final) in list(self.pending.items()):
                if inst._state.name != transitional:
                    # Something else (e.g. TerminateInstances in moto) moved it on.
                    del self.pending[instance_id]
                elif due <= now:
                    inst._state.name, inst._state.code = final, STATE_CODES[final]
                    del self.pending[instance_id]

    # ------------------------------------------------------------ handlers

    def handle(self, req):
        """Return a response for the EC2 actions we own, or None to let moto answer."""
        if req.action in ("StopInstances", "StartInstances"):
            return self._stop_start(req)
        if req.action == "ModifyInstanceAttribute":
            return self._modify_attribute(req)
        return None

    def _instances(self, req):
        ids = req.instance_ids
        if not ids:
            raise ServiceException("MissingParameter",
                                   "The request must contain the parameter InstanceId")
        return backend(req.region).get_multi_instances_by_id(ids)

    def _stop_start(self, req):
        stopping = req.action == "StopInstances"
        try:
            instances = self._instances(req)
        except ServiceException as exc:
            return error_for(req, exc.code, exc.message)
        if _truthy(req.param("DryRun")):
            return error_for(req, "DryRunOperation",
                             "Request would have succeeded, but DryRun flag is set.", 412)
        verb = "stopped" if stopping else "started"
        refused = {"pending", "shutting-down", "terminated"} if stopping else \
            {"stopping", "shutting-down", "terminated"}
        done = {"stopping", "stopped"} if stopping else {"pending", "running"}
        with self.lock:
            self.tick()
            # All-or-nothing: validate the whole batch before touching anything.
            for inst in instances:
                if inst._state.name in refused:
                    return error_for(req, "IncorrectInstanceState",
                                     f"The instance '{inst.id}' is not in a state from which "
                                     f"it can be {verb}.")
                if not stopping and inst._state.name not in done:
                    # A bad type change is accepted by ModifyInstanceAttribute
                    # and only fails here, at start, as on AWS.
                    problem = _start_problem(inst)
                    if problem:
                        return error_for(req, *problem)
                if stopping and inst.disable_api_stop is True and inst._state.name not in done:
                    return error_for(req, "OperationNotPermitted",
                                     f"The instance '{inst.id}' may not be stopped. Modify its "
                                     "'disableApiStop' instance attribute and try again.")
            items = []
            for inst in instances:
                previous = inst._state.name
                if previous in done:
                    current = previous  # already there: success, current == previous
                else:
                    # moto's stop()/start() update NICs, reason, state reason...
                    (inst.stop if stopping else inst.start)()
                    current, final = ("stopping", "stopped") if stopping else ("pending", "running")
                    delay = self._delay(inst.id, "stopDelayMs" if stopping else "startDelayMs")
                    if delay > 0:
                        inst._state.name, inst._state.code = current, STATE_CODES[current]
                        self.pending[inst.id] = (time.monotonic() + delay, inst, current, final)
                items.append(f"<item><instanceId>{inst.id}</instanceId>"
                             f"{_state_xml('currentState', current)}"
                             f"{_state_xml('previousState', previous)}</item>")
        return ec2_response(req.action, "<instancesSet>" + "".join(items) + "</instancesSet>")

    def _modify_attribute(self, req):
        try:
            [inst] = self._instances(req)
        except ServiceException as exc:
            return error_for(req, exc.code, exc.message)
        if _truthy(req.param("DryRun")):
            return error_for(req, "DryRunOperation",
                             "Request would have succeeded, but DryRun flag is set.", 412)
        attribute = req.param("Attribute")
        for name in _NEEDS_STOPPED:
            if req.param(name[0].upper() + name[1:] + ".Value") is not None:
                attribute = name
        with self.lock:
            self.tick()
            if attribute in _NEEDS_STOPPED and inst._state.name != "stopped":
                return error_for(req, "IncorrectInstanceState",
                                 f"The instance '{inst.id}' is not in the 'stopped' state.")
        return None


def _start_problem(inst):
    """(code, message) when the instance's type cannot run its configuration."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES
    info = INSTANCE_TYPES.get(inst.instance_type) or {}
    ena = (info.get("NetworkInfo") or {}).get("EnaSupport")
    if ena == "required" and not getattr(inst, "ena_support", False):
        return ("InvalidParameterCombination",
                f"Enhanced networking with the Elastic Network Adapter (ENA) is required for the "
                f"'{inst.instance_type}' instance type. Ensure that you are using an AMI that is enabled for ENA.")
    ebs = (info.get("EbsInfo") or {}).get("EbsOptimizedSupport")
    if ebs == "unsupported" and getattr(inst, "ebs_optimized", False):
        return ("Unsupported",
                "The requested configuration is currently not supported. Please check the documentation "
                "for supported configurations.")
    return None

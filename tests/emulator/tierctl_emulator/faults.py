"""Fault injection (AWS errors on the next N matching calls) and artificial latency."""

import itertools
import threading

from .protocol import error_for

ACCOUNT_ID = "123456789012"

_DEFAULT_STATUS = {
    "RequestLimitExceeded": 503,
    # Real DynamoDB/SSM/SNS send throttling as 400; the emulator defaults to 503 as
    # briefed (both are retried by the SDKs, which classify by error code).
    "ThrottlingException": 503,
    "Throttling": 503,
    "ProvisionedThroughputExceededException": 400,
    "InsufficientInstanceCapacity": 500,
    "InternalError": 500,
    "InternalFailure": 500,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "Unavailable": 503,
    "DryRunOperation": 412,
}

_VERB = {"StartInstances": "started", "StopInstances": "stopped",
         "TerminateInstances": "terminated", "RebootInstances": "rebooted"}


def default_status(error):
    return _DEFAULT_STATUS.get(error, 400)


def default_message(error, req, ids):
    """A message shaped like the one AWS sends for `error` on this request."""
    action, region = req.action, req.region or "us-east-1"
    first = ids[0] if ids else "i-00000000000000000"
    quoted = ", ".join(ids)
    if error == "IncorrectInstanceState":
        verb = _VERB.get(action)
        if verb:
            return f"The instance '{first}' is not in a state from which it can be {verb}."
        return f"The instance '{first}' is not in the 'stopped' state."
    if error == "InvalidInstanceID.NotFound":
        if len(ids) > 1:
            return f"The instance IDs '{quoted}' do not exist"
        return f"The instance ID '{first}' does not exist"
    if error == "InvalidInstanceID.Malformed":
        return f'Invalid id: "{first}"'
    if error == "InvalidInstanceId":
        return f"Instances [[{quoted}]] not in a valid state for account {ACCOUNT_ID}"
    if error in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"):
        resource = (f"arn:aws:ec2:{region}:{ACCOUNT_ID}:instance/{first}" if ids
                    else "*")
        text = (f"User: arn:aws:iam::{ACCOUNT_ID}:user/tierctl is not authorized to perform: "
                f"{req.service}:{action} on resource: {resource} because no identity-based "
                f"policy allows the {req.service}:{action} action")
        if error == "UnauthorizedOperation":
            return ("You are not authorized to perform this operation. " + text +
                    ". Encoded authorization failure message: EMULATED")
        return text
    if error == "RequestLimitExceeded":
        return "Request limit exceeded."
    if error in ("ThrottlingException", "Throttling"):
        return "Rate exceeded"
    if error == "ProvisionedThroughputExceededException":
        return ("The level of configured provisioned throughput for the table was exceeded. "
                "Consider increasing your provisioning level with the UpdateTable API.")
    if error == "InsufficientInstanceCapacity":
        return ("We currently do not have sufficient capacity in the Availability Zone you "
                "requested. Our system will be working on provisioning additional capacity.")
    if error in ("InternalError", "InternalFailure", "InternalServerError"):
        return "An internal error has occurred"
    if error == "DryRunOperation":
        return "Request would have succeeded, but DryRun flag is set."
    return f"Injected fault: {error}"


class FaultRules:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._ids = itertools.count(1)

    def reset(self):
        with self._lock:
            self._rules = []

    def add(self, spec):
        if not spec.get("service") or not spec.get("error"):
            raise ValueError("fault needs 'service' and 'error'")
        rule = {
            "id": next(self._ids),
            "service": spec["service"].lower(),
            "action": spec.get("action"),
            "error": spec["error"],
            "status": int(spec.get("status") or default_status(spec["error"])),
            "message": spec.get("message"),
            "times": int(spec.get("times", 1)),
            "instanceIds": list(spec.get("instanceIds") or []),
        }
        with self._lock:
            self._rules.append(rule)
        return dict(rule)

    def list(self):
        with self._lock:
            return [dict(r) for r in self._rules]

    def take(self, req):
        """If a rule matches `req`, consume one use and return the error response."""
        with self._lock:
            for rule in self._rules:
                if rule["service"] != req.service:
                    continue
                if rule["action"] and rule["action"] != req.action:
                    continue
                ids = req.instance_ids
                if rule["instanceIds"]:
                    ids = [i for i in req.instance_ids if i in rule["instanceIds"]]
                    if not ids:
                        continue
                if rule["times"] > 0:
                    rule["times"] -= 1
                    if rule["times"] == 0:
                        self._rules.remove(rule)
                message = rule["message"] or default_message(rule["error"], req, ids)
                return rule["error"], error_for(req, rule["error"], message, rule["status"])
        return None


class SlowRules:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def reset(self):
        with self._lock:
            self._rules = []

    def add(self, spec):
        rule = {"service": spec["service"].lower(), "action": spec.get("action"),
                "latencyMs": int(spec.get("latencyMs", 0))}
        with self._lock:
            self._rules.append(rule)
        return rule

    def list(self):
        with self._lock:
            return list(self._rules)

    def delay_seconds(self, req):
        with self._lock:
            return sum(r["latencyMs"] for r in self._rules
                       if r["service"] == req.service
                       and (not r["action"] or r["action"] == req.action)) / 1000.0

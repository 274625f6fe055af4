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


# Codes the SDKs treat as throttling (counted apart in the fault stats).
THROTTLE_CODES = frozenset({
    "RequestLimitExceeded", "ThrottlingException", "Throttling", "ThrottledException",
    "ProvisionedThroughputExceededException", "RequestThrottled", "RequestThrottledException",
    "TooManyRequestsException", "SlowDown", "LimitExceededException", "EC2ThrottledException",
})

# The throttling code of each service, for rules with `"error": "throttle"`.
THROTTLE_CODE_OF = {
    "ec2": "RequestLimitExceeded",
    "ssm": "ThrottlingException",
    "dynamodb": "ThrottlingException",
    "elb": "Throttling",
    "elbv2": "Throttling",
    "sns": "Throttling",
    "s3": "SlowDown",
}


class FaultRules:
    """Fault rules. A rule fires on matching calls:

    * plain: the next `times` matching calls (default 1; -1 = until cleared);
    * `every: N`: every Nth matching call (the Nth, 2Nth, ...), `times` counting firings
      (default -1);
    * `stormMs: T` (optionally `startInMs: D`): every matching call from D ms after the rule
      was added, for T ms; the rule then expires by itself (`times` default -1).
    """

    def __init__(self, clock=None):
        import time as _time
        self._clock = clock or _time.monotonic
        self._lock = threading.Lock()
        self._rules = []
        self._ids = itertools.count(1)
        self._stats = {}

    def reset(self):
        with self._lock:
            self._rules = []

    def reset_stats(self):
        with self._lock:
            self._stats = {}

    def add(self, spec):
        if not spec.get("service") or not spec.get("error"):
            raise ValueError("fault needs 'service' and 'error'")
        service = spec["service"].lower()
        error = spec["error"]
        if error == "throttle":
            if service not in THROTTLE_CODE_OF:
                raise ValueError(f"no throttling code known for service {service}")
            error = THROTTLE_CODE_OF[service]
        every = spec.get("every")
        storm = spec.get("stormMs")
        if every is not None and (int(every) < 1):
            raise ValueError("'every' must be at least 1")
        if storm is not None and int(storm) < 0:
            raise ValueError("'stormMs' must not be negative")
        if every is not None and storm is not None:
            raise ValueError("a rule has 'every' or 'stormMs', not both")
        patterned = every is not None or storm is not None
        now = self._clock()
        start = now + int(spec.get("startInMs", 0)) / 1000.0
        rule = {
            "id": next(self._ids),
            "service": service,
            "action": spec.get("action"),
            "error": error,
            "status": int(spec.get("status") or default_status(error)),
            "message": spec.get("message"),
            "times": int(spec.get("times", -1 if patterned else 1)),
            "instanceIds": list(spec.get("instanceIds") or []),
            "every": int(every) if every is not None else None,
            "stormMs": int(storm) if storm is not None else None,
            "startInMs": int(spec.get("startInMs", 0)),
            "matched": 0,
            "fired": 0,
        }
        with self._lock:
            self._rules.append({**rule, "_start": start,
                                "_end": start + (rule["stormMs"] or 0) / 1000.0})
        return rule

    @staticmethod
    def _public(rule):
        return {k: v for k, v in rule.items() if not k.startswith("_")}

    def list(self):
        with self._lock:
            return [self._public(r) for r in self._rules]

    def stats(self):
        """Injected faults: totals, throttles, and per `service:Action` per code."""
        with self._lock:
            by_call = {k: dict(v) for k, v in self._stats.items()}
        injected = sum(n for codes in by_call.values() for n in codes.values())
        throttled = sum(n for codes in by_call.values() for c, n in codes.items()
                        if c in THROTTLE_CODES)
        by_service = {}
        for key, codes in by_call.items():
            n = sum(v for c, v in codes.items() if c in THROTTLE_CODES)
            if n:
                service = key.split(":", 1)[0]
                by_service[service] = by_service.get(service, 0) + n
        return {"injected": injected, "throttled": throttled,
                "throttledByService": by_service, "byCall": by_call}

    def take(self, req):
        """If a rule matches `req`, consume one use and return the error response."""
        with self._lock:
            now = self._clock()
            for rule in list(self._rules):
                if rule["service"] != req.service:
                    continue
                if rule["action"] and rule["action"] != req.action:
                    continue
                ids = req.instance_ids
                if rule["instanceIds"]:
                    ids = [i for i in req.instance_ids if i in rule["instanceIds"]]
                    if not ids:
                        continue
                if rule["stormMs"] is not None:
                    if now < rule["_start"]:
                        continue
                    if now >= rule["_end"]:
                        self._rules.remove(rule)
                        continue
                rule["matched"] += 1
                if rule["every"] is not None and rule["matched"] % rule["every"] != 0:
                    continue
                rule["fired"] += 1
                if rule["times"] > 0:
                    rule["times"] -= 1
                    if rule["times"] == 0:
                        self._rules.remove(rule)
                message = rule["message"] or default_message(rule["error"], req, ids)
                key = f"{req.service}:{req.action}"
                codes = self._stats.setdefault(key, {})
                codes[rule["error"]] = codes.get(rule["error"], 0) + 1
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

"""The test-control API under /_tierctl/ (JSON in, JSON out, never in the call log)."""

import json
import re
from urllib.parse import parse_qs

from . import seed as seeding
from . import asg_realism, target_health

PREFIX = "/_tierctl/"


def _reply(status, payload):
    body = json.dumps(payload).encode("utf-8")
    return status, [("Content-Type", "application/json")], body


def handle(emulator, method, path, query_string, body):
    """Dispatch one admin request. Returns (status, headers, body)."""
    try:
        data = json.loads(body) if body and body.strip() else {}
    except ValueError as exc:
        return _reply(400, {"error": f"invalid JSON: {exc}"})
    route = path[len(PREFIX):].strip("/")
    query = {k: v[0] for k, v in parse_qs(query_string).items()}
    try:
        return _route(emulator, method, route, query, data)
    except (ValueError, KeyError, TypeError) as exc:
        return _reply(400, {"error": f"{type(exc).__name__}: {exc}"})


def _route(em, method, route, query, data):
    if route == "target-health" and method == "POST":
        return _reply(200, target_health.set_health(data))
    if route == "asg" and method in ("POST", "PUT"):
        return _reply(200, asg_realism.configure(data))
    if route == "asg/hold" and method == "POST":
        return _reply(200, asg_realism.hold(data))
    if route == "health" and method == "GET":
        return _reply(200, {"ok": True})
    if route == "reset" and method == "POST":
        em.reset()
        return _reply(200, {"ok": True})
    if route == "config" and method in ("POST", "PUT"):
        return _reply(200, em.ec2.configure(data))
    if route == "config" and method == "GET":
        return _reply(200, em.ec2.configure({}))
    match = re.fullmatch(r"instances/([^/]+)/transition", route)
    if match and method in ("PUT", "POST"):
        return _reply(200, em.ec2.set_instance(match.group(1), data))
    if route == "rds/config" and method in ("POST", "PUT"):
        return _reply(200, em.rds.configure(data))
    if route == "rds/seed" and method == "POST":
        return _reply(200, em.rds.seed(data))
    match = re.fullmatch(r"rds/databases/([^/]+)/automatic-restart", route)
    if match and method == "POST":
        return _reply(200, em.rds.automatic_restart(match.group(1), data))
    match = re.fullmatch(r"rds/databases/([^/]+)/transition", route)
    if match and method in ("PUT", "POST"):
        return _reply(200, em.rds.set_database(match.group(1), data))
    match = re.fullmatch(r"guests/([^/]+)", route)
    if match and method in ("PUT", "POST"):
        return _reply(200, em.ssm.put_guest(match.group(1), data))
    if match and method == "GET":
        guest = em.ssm.get_guest(match.group(1))
        return _reply(200, guest) if guest else _reply(404, {"error": "no such guest"})
    if route == "guests" and method == "POST":
        spec = {k: v for k, v in data.items() if k != "instanceIds"}
        return _reply(200, {"guests": {i: em.ssm.put_guest(i, spec) for i in data["instanceIds"]}})
    if route == "faults" and method == "POST":
        return _reply(200, em.faults.add(data))
    if route == "faults" and method == "GET":
        return _reply(200, {"faults": em.faults.list()})
    if route == "faults" and method == "DELETE":
        em.faults.reset()
        return _reply(200, {"ok": True})
    if route == "faults/stats" and method == "GET":
        return _reply(200, em.faults.stats())
    if route == "faults/stats" and method == "DELETE":
        em.faults.reset_stats()
        return _reply(200, {"ok": True})
    if route == "slow" and method == "POST":
        return _reply(200, em.slow.add(data))
    if route == "slow" and method == "GET":
        return _reply(200, {"slow": em.slow.list()})
    if route == "slow" and method == "DELETE":
        em.slow.reset()
        return _reply(200, {"ok": True})
    if route == "calls" and method == "GET":
        return _reply(200, {"calls": em.calls.query(query.get("service"), query.get("action"))})
    if route == "calls" and method == "DELETE":
        em.calls.reset()
        return _reply(200, {"ok": True})
    if route == "calls/counts" and method == "GET":
        return _reply(200, em.calls.counts())
    if route == "lambda/invocations" and method == "POST":
        request_id = em.lambda_runtime.enqueue(data["event"], data.get("timeoutMs"))
        return _reply(200, {"requestId": request_id})
    if route == "lambda/results" and method == "GET":
        return _reply(200, em.lambda_runtime.snapshot(int(query.get("count", 0)),
                                                      int(query.get("timeoutMs", 0))))
    if route == "lambda/config" and method in ("POST", "PUT"):
        return _reply(200, em.lambda_runtime.configure(data))
    if route == "lambda/config" and method == "GET":
        return _reply(200, em.lambda_runtime.configure({}))
    if route == "seed" and method == "POST":
        with em.ec2.lock:
            return _reply(200, seeding.seed(data, em.ssm))
    return _reply(404, {"error": f"no admin route {method} /_tierctl/{route}"})

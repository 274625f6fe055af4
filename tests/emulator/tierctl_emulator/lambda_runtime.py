"""A Lambda Runtime API fake (the protocol a custom runtime's `bootstrap` speaks).

One function, one queue of invocations:

  GET  /2018-06-01/runtime/invocation/next             next event (long poll, bounded:
                                                        204 after `pollSeconds` without one)
  POST /2018-06-01/runtime/invocation/<id>/response    the function's answer
  POST /2018-06-01/runtime/invocation/<id>/error       a function error
  POST /2018-06-01/runtime/init/error                  an initialisation error

Each event is delivered with Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms
(delivery time + the invocation's `timeoutMs`, so a test can force a short deadline),
Lambda-Runtime-Invoked-Function-Arn and Lambda-Runtime-Trace-Id. Events are queued by the
admin API (`POST /_tierctl/lambda/invocations`) or by Lambda `Invoke` with
InvocationType=Event (`POST /2015-03-31/functions/<name>/invocations`), which is how the
runner continues a run in a new invocation of itself.
"""

import json
import re
import threading
import time
import uuid
from collections import deque

RUNTIME_PREFIX = "/2018-06-01/runtime/"
_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_RESULT = re.compile(r"^invocation/([^/]+)/(response|error)$")

DEFAULTS = {
    "timeoutMs": 900_000,
    "pollSeconds": 10.0,
    "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:tierctl-runner",
}


def _json(status, payload, headers=()):
    body = json.dumps(payload).encode("utf-8")
    return status, [("Content-Type", "application/json"), *headers], body


def invoke_path(path):
    """The function name of an Invoke path, or None."""
    match = _INVOKE.match(path)
    return match.group(1) if match else None


class LambdaRuntime:
    def __init__(self):
        self.cond = threading.Condition()
        self.reset()

    def reset(self):
        with self.cond:
            self.config = dict(DEFAULTS)
            self.queue = deque()
            self.inflight = {}
            self.results = []
            self.init_errors = []
            self.cond.notify_all()

    def configure(self, data):
        with self.cond:
            for key in ("timeoutMs", "pollSeconds", "functionArn"):
                if key in data:
                    self.config[key] = data[key]
            return dict(self.config)

    def enqueue(self, event, timeout_ms=None, source="admin"):
        """Queue one invocation; returns its request id."""
        request_id = str(uuid.uuid4())
        with self.cond:
            self.queue.append({
                "requestId": request_id,
                "event": event,
                "timeoutMs": int(timeout_ms if timeout_ms is not None else self.config["timeoutMs"]),
                "source": source,
                "queuedAt": time.time(),
            })
            self.cond.notify_all()
        return request_id

    # The Runtime API.

    def handle(self, method, path, headers, body):
        route = path[len(RUNTIME_PREFIX):].strip("/")
        if route == "invocation/next" and method == "GET":
            return self._next()
        match = _RESULT.match(route)
        if match and method == "POST":
            return self._finish(match.group(1), match.group(2), headers, body)
        if route == "init/error" and method == "POST":
            with self.cond:
                self.init_errors.append({"body": _text(body),
                                         "errorType": headers.get("errorType"),
                                         "at": time.time()})
                self.cond.notify_all()
            return _json(202, {"status": "OK"})
        return _json(404, {"errorMessage": f"no runtime route {method} {path}",
                           "errorType": "InvalidRequest"})

    def _next(self):
        with self.cond:
            limit = time.time() + float(self.config["pollSeconds"])
            while not self.queue:
                left = limit - time.time()
                if left <= 0:
                    # lambda_runtime (debug builds) polls again after a 204.
                    return 204, [], b""
                self.cond.wait(left)
            inv = self.queue.popleft()
            now_ms = int(time.time() * 1000)
            inv["deadlineMs"] = now_ms + inv["timeoutMs"]
            inv["deliveredAt"] = time.time()
            inv["traceId"] = f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0"
            self.inflight[inv["requestId"]] = inv
            headers = [
                ("Lambda-Runtime-Aws-Request-Id", inv["requestId"]),
                ("Lambda-Runtime-Deadline-Ms", str(inv["deadlineMs"])),
                ("Lambda-Runtime-Invoked-Function-Arn", self.config["functionArn"]),
                ("Lambda-Runtime-Trace-Id", inv["traceId"]),
            ]
        return _json(200, inv["event"], headers)

    def _finish(self, request_id, kind, headers, body):
        with self.cond:
            inv = self.inflight.pop(request_id, None)
            if inv is None:
                return _json(400, {"errorMessage": f"unknown or finished request id {request_id}",
                                   "errorType": "InvalidRequestID"})
            text = _text(body)
            try:
                payload = json.loads(text) if text.strip() else None
            except ValueError:
                payload = text
            self.results.append({
                "requestId": request_id,
                "event": inv["event"],
                "source": inv["source"],
                "status": kind,
                "body": payload,
                "errorType": headers.get("lambda-runtime-function-error-type"),
                "deadlineMs": inv["deadlineMs"],
                "finishedAt": time.time(),
                "lateMs": max(0, int(time.time() * 1000) - inv["deadlineMs"]),
            })
            self.cond.notify_all()
        return _json(202, {"status": "OK"})

    # Lambda's Invoke (InvocationType=Event only).

    def invoke(self, headers, body):
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind != "Event":
            return _json(400, {"message": "the emulator's Lambda queues only InvocationType=Event",
                               "Type": "User"},
                         [("x-amzn-ErrorType", "InvalidParameterValueException")])
        text = _text(body)
        try:
            event = json.loads(text) if text.strip() else {}
        except ValueError:
            return _json(400, {"message": "the payload is not JSON", "Type": "User"},
                         [("x-amzn-ErrorType", "InvalidRequestContentException")])
        request_id = self.enqueue(event, source="invoke")
        return 202, [("x-amzn-RequestId", request_id), ("Content-Type", "application/json")], b""

    # The admin side.

    def snapshot(self, wait_for=0, timeout_ms=0):
        """Results so far; with `wait_for`, wait (bounded) until there are that many."""
        with self.cond:
            limit = time.time() + min(float(timeout_ms), 120_000) / 1000
            while len(self.results) < wait_for and time.time() < limit:
                self.cond.wait(max(0.0, limit - time.time()))
            return {
                "results": list(self.results),
                "pending": len(self.queue),
                "inflight": len(self.inflight),
                "initErrors": list(self.init_errors),
            }


def _text(body):
    return body.decode("utf-8", "replace") if body else ""

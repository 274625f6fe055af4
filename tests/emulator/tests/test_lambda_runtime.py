"""The Lambda Runtime API fake, driven over HTTP as a custom runtime and boto3 would."""

import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_emulator as base  # noqa: E402  (its emulator process and helpers)

from botocore.exceptions import ClientError  # noqa: E402


def setUpModule():
    base.setUpModule()


def tearDownModule():
    base.tearDownModule()


def runtime(method, path, body=None, headers=None):
    """One Runtime API request: (status, headers, parsed body)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(base._URL + "/2018-06-01/runtime/" + path, data=data,
                                     method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


class LambdaRuntimeTest(unittest.TestCase):
    def setUp(self):
        base.admin("POST", "reset")

    def test_an_event_is_delivered_with_the_runtime_headers_and_answered(self):
        event = {"action": "stop", "workload": "shop"}
        queued = base.admin("POST", "lambda/invocations", {"event": event, "timeoutMs": 5000})
        before = int(time.time() * 1000)
        status, headers, body = runtime("GET", "invocation/next")
        self.assertEqual(status, 200)
        self.assertEqual(body, event)
        self.assertEqual(headers["Lambda-Runtime-Aws-Request-Id"], queued["requestId"])
        deadline = int(headers["Lambda-Runtime-Deadline-Ms"])
        self.assertTrue(before + 4000 <= deadline <= int(time.time() * 1000) + 5000, deadline)
        self.assertIn(":function:", headers["Lambda-Runtime-Invoked-Function-Arn"])
        self.assertTrue(headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-"))
        status, _, _ = runtime("POST", f"invocation/{queued['requestId']}/response", '{"ok": 1}')
        self.assertEqual(status, 202)
        got = base.admin("GET", "lambda/results?count=1&timeoutMs=2000")
        self.assertEqual([(r["status"], r["body"]) for r in got["results"]], [("response", {"ok": 1})])
        self.assertEqual((got["pending"], got["inflight"]), (0, 0))
        # A request id answers once.
        status, _, body = runtime("POST", f"invocation/{queued['requestId']}/response", "{}")
        self.assertEqual((status, body["errorType"]), (400, "InvalidRequestID"))

    def test_the_long_poll_is_bounded(self):
        base.admin("POST", "lambda/config", {"pollSeconds": 0.3})
        started = time.time()
        status, _, body = runtime("GET", "invocation/next")
        self.assertEqual((status, body), (204, None))
        self.assertLess(time.time() - started, 5)

    def test_a_waiting_poll_gets_an_event_queued_later(self):
        base.admin("POST", "lambda/config", {"pollSeconds": 5})
        import threading
        timer = threading.Timer(0.3, lambda: base.admin(
            "POST", "lambda/invocations", {"event": {"n": 1}}))
        timer.start()
        status, _, body = runtime("GET", "invocation/next")
        timer.join()
        self.assertEqual((status, body), (200, {"n": 1}))

    def test_function_and_init_errors_are_recorded(self):
        base.admin("POST", "lambda/invocations", {"event": {"n": 2}})
        _, headers, _ = runtime("GET", "invocation/next")
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        error = json.dumps({"errorType": "Boom", "errorMessage": "no"})
        status, _, _ = runtime("POST", f"invocation/{rid}/error", error,
                               {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
        self.assertEqual(status, 202)
        status, _, _ = runtime("POST", "init/error", error)
        self.assertEqual(status, 202)
        got = base.admin("GET", "lambda/results")
        self.assertEqual(got["results"][0]["status"], "error")
        self.assertEqual(got["results"][0]["body"]["errorType"], "Boom")
        self.assertEqual(got["results"][0]["errorType"], "Unhandled")
        self.assertEqual(len(got["initErrors"]), 1)

    def test_an_asynchronous_invoke_queues_an_event(self):
        lam = base.client("lambda")
        out = lam.invoke(FunctionName="tierctl-runner", InvocationType="Event",
                         Payload=json.dumps({"action": "start", "workload": "w"}))
        self.assertEqual(out["StatusCode"], 202)
        status, _, body = runtime("GET", "invocation/next")
        self.assertEqual((status, body), (200, {"action": "start", "workload": "w"}))
        calls = base.admin("GET", "calls?service=lambda")["calls"]
        self.assertEqual([(c["action"], c["status"]) for c in calls], [("Invoke", 202)])
        with self.assertRaises(ClientError):
            lam.invoke(FunctionName="tierctl-runner", Payload=b"{}")

    def test_an_injected_invoke_fault_has_lambdas_error_shape(self):
        base.admin("POST", "faults", {"service": "lambda", "action": "Invoke",
                                      "error": "ServiceException", "status": 500})
        lam = base.client("lambda")
        with self.assertRaises(ClientError) as caught:
            lam.invoke(FunctionName="tierctl-runner", InvocationType="Event", Payload=b"{}")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ServiceException")
        self.assertEqual(base.admin("GET", "lambda/results")["pending"], 0)

    def test_a_reset_empties_the_queue(self):
        base.admin("POST", "lambda/invocations", {"event": {}})
        base.admin("POST", "reset")
        got = base.admin("GET", "lambda/results")
        self.assertEqual((got["pending"], got["results"]), (0, []))


if __name__ == "__main__":
    unittest.main()

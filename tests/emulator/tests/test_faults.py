"""Unit tests of the fault rules (no server): every Nth call, throttle storms, stats.

A fake clock drives the storms, so nothing here sleeps.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tierctl_emulator.faults import FaultRules  # noqa: E402
from tierctl_emulator.protocol import AwsRequest  # noqa: E402


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def req(service="ec2", action="StopInstances", ids=()):
    protocol = "ec2" if service == "ec2" else ("json" if service in ("ssm", "dynamodb") else "query")
    return AwsRequest(service, "us-west-2", action, 1, {}, list(ids), protocol)


def pattern(rules, n, **kw):
    """Which of the next n calls fail: a string like '..x..x'."""
    return "".join("x" if rules.take(req(**kw)) else "." for _ in range(n))


class FaultRuleTest(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.rules = FaultRules(clock=self.clock)

    def test_every_third_call_of_a_service_is_throttled(self):
        rule = self.rules.add({"service": "ec2", "error": "RequestLimitExceeded", "every": 3})
        self.assertEqual(rule["times"], -1)
        self.assertEqual(pattern(self.rules, 9), "..x..x..x")
        # Other services do not count towards the pattern.
        self.assertEqual(pattern(self.rules, 3, service="ssm", action="SendCommand"), "...")
        self.assertEqual(pattern(self.rules, 3), "..x")
        [listed] = self.rules.list()
        self.assertEqual((listed["matched"], listed["fired"]), (12, 4))
        self.assertNotIn("_start", listed)

    def test_every_with_times_stops_after_that_many_firings(self):
        self.rules.add({"service": "ec2", "error": "RequestLimitExceeded", "every": 2, "times": 2})
        self.assertEqual(pattern(self.rules, 8), ".x.x....")
        self.assertEqual(self.rules.list(), [])

    def test_a_storm_throttles_everything_for_its_time_then_expires(self):
        self.rules.add({"service": "ec2", "error": "throttle", "stormMs": 5000, "startInMs": 1000})
        self.assertEqual(pattern(self.rules, 2), "..")  # not started yet
        self.clock.now += 1.0
        self.assertEqual(pattern(self.rules, 3), "xxx")
        self.clock.now += 4.9
        self.assertEqual(pattern(self.rules, 1), "x")
        self.clock.now += 0.1
        self.assertEqual(pattern(self.rules, 3), "...")
        self.assertEqual(self.rules.list(), [], "an expired storm removes itself")

    def test_throttle_alias_picks_each_services_code(self):
        for service, code, status in [("ec2", "RequestLimitExceeded", 503),
                                      ("ssm", "ThrottlingException", 503),
                                      ("dynamodb", "ThrottlingException", 503)]:
            with self.subTest(service=service):
                rule = self.rules.add({"service": service, "error": "throttle"})
                self.assertEqual((rule["error"], rule["status"]), (code, status))
                got, (st, _h, _b) = self.rules.take(req(service=service, action="X"))
                self.assertEqual((got, st), (code, status))
        with self.assertRaises(ValueError):
            self.rules.add({"service": "nope", "error": "throttle"})

    def test_bad_patterns_are_refused(self):
        for spec in ({"every": 0}, {"stormMs": -1}, {"every": 2, "stormMs": 10}):
            with self.subTest(spec=spec), self.assertRaises(ValueError):
                self.rules.add({"service": "ec2", "error": "RequestLimitExceeded", **spec})

    def test_stats_count_injected_faults_and_throttles(self):
        self.rules.add({"service": "ec2", "error": "RequestLimitExceeded", "every": 2})
        self.rules.add({"service": "dynamodb", "error": "ProvisionedThroughputExceededException",
                        "times": 2})
        self.rules.add({"service": "ssm", "error": "InvalidInstanceId"})
        pattern(self.rules, 4)
        pattern(self.rules, 3, service="dynamodb", action="PutItem")
        pattern(self.rules, 1, service="ssm", action="SendCommand")
        stats = self.rules.stats()
        self.assertEqual(stats["injected"], 5)
        self.assertEqual(stats["throttled"], 4)
        self.assertEqual(stats["throttledByService"], {"ec2": 2, "dynamodb": 2})
        self.assertEqual(stats["byCall"]["ec2:StopInstances"], {"RequestLimitExceeded": 2})
        self.assertEqual(stats["byCall"]["ssm:SendCommand"], {"InvalidInstanceId": 1})
        self.rules.reset()
        self.assertEqual(self.rules.stats()["throttled"], 4, "clearing rules keeps the stats")
        self.rules.reset_stats()
        self.assertEqual(self.rules.stats()["injected"], 0)


if __name__ == "__main__":
    unittest.main()

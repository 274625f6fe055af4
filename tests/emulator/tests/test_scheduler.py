"""EventBridge Scheduler through the emulator (boto3 over HTTP): moto's
backend is served, the refusals AWS makes are made, calls are logged.

Shares the emulator process and helpers of test_emulator.
"""

import os
import sys
import unittest

from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_emulator as emu  # noqa: E402
from test_emulator import admin, client  # noqa: E402

sys.path.insert(0, os.path.dirname(HERE))
from tierctl_emulator.scheduler_realism import expression_problem  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/tierctl-scheduler"
RUNNER = "arn:aws:lambda:us-west-2:123456789012:function:tierctl-runner"


def setUpModule():
    if emu._PROC is None or emu._PROC.poll() is not None:
        emu.setUpModule()


def tearDownModule():
    emu.tearDownModule()


def target(**extra):
    t = {"Arn": RUNNER, "RoleArn": ROLE, "Input": '{"action":"stop","workload":"w"}',
         "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}}
    t.update(extra)
    return t


def schedule(**overrides):
    args = {"Name": "w-stop", "GroupName": "tierctl",
            "ScheduleExpression": "cron(0 19 ? * MON-FRI *)",
            "ScheduleExpressionTimezone": "Europe/Berlin",
            "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": target()}
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


class SchedulerTest(unittest.TestCase):
    def setUp(self):
        admin("POST", "reset")
        # Client-side validation off: the emulator's own refusals are under test.
        self.s = client("scheduler", validate=False)

    def code(self, call, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            call(**kwargs)
        return ctx.exception.response["Error"]["Code"], ctx.exception.response[
            "ResponseMetadata"]["HTTPStatusCode"]

    def test_schedules_round_trip_and_are_logged(self):
        self.s.create_schedule_group(Name="tierctl", Tags=[{"Key": "ManagedBy", "Value": "tierctl"}])
        self.s.create_schedule(**schedule())
        got = self.s.get_schedule(Name="w-stop", GroupName="tierctl")
        self.assertEqual(got["ScheduleExpressionTimezone"], "Europe/Berlin")
        self.assertEqual(got["FlexibleTimeWindow"], {"Mode": "OFF"})
        self.assertEqual(got["Target"]["RetryPolicy"]["MaximumRetryAttempts"], 10)
        names = [x["Name"] for x in self.s.list_schedules(GroupName="tierctl")["Schedules"]]
        self.assertEqual(names, ["w-stop"])
        self.s.update_schedule(**schedule(ScheduleExpression="cron(0 20 ? * MON-FRI *)"))
        self.assertEqual(self.s.get_schedule(Name="w-stop", GroupName="tierctl")[
            "ScheduleExpression"], "cron(0 20 ? * MON-FRI *)")
        self.s.delete_schedule(Name="w-stop", GroupName="tierctl")
        self.assertEqual(self.code(self.s.get_schedule, Name="w-stop", GroupName="tierctl"),
                         ("ResourceNotFoundException", 404))
        calls = admin("GET", "calls?service=scheduler")["calls"]
        self.assertEqual([c["action"] for c in calls], [
            "CreateScheduleGroup", "CreateSchedule", "GetSchedule", "ListSchedules",
            "UpdateSchedule", "GetSchedule", "DeleteSchedule", "GetSchedule"])
        create = calls[1]["params"]
        self.assertEqual(create["Name"], "w-stop")
        self.assertEqual(create["ScheduleExpressionTimezone"], "Europe/Berlin")
        self.assertEqual(calls[2]["params"]["GroupName"], "tierctl")

    def test_groups_must_exist_and_are_not_replaced(self):
        self.assertEqual(self.code(self.s.create_schedule, **schedule()),
                         ("ResourceNotFoundException", 404))
        self.assertEqual(self.code(self.s.get_schedule_group, Name="tierctl"),
                         ("ResourceNotFoundException", 404))
        self.s.create_schedule_group(Name="tierctl")
        self.s.create_schedule(**schedule())
        self.assertEqual(self.code(self.s.create_schedule_group, Name="tierctl"),
                         ("ConflictException", 409))
        self.assertEqual(self.code(self.s.create_schedule, **schedule()),
                         ("ConflictException", 409))
        self.assertEqual(self.code(self.s.update_schedule, **schedule(Name="other")),
                         ("ResourceNotFoundException", 404))
        # The group and its schedule are still there.
        self.s.get_schedule(Name="w-stop", GroupName="tierctl")

    def test_what_aws_refuses_is_refused(self):
        self.s.create_schedule_group(Name="tierctl")
        bad = [
            schedule(Name="has space"),
            schedule(Name="x" * 65),
            schedule(FlexibleTimeWindow=None),
            schedule(FlexibleTimeWindow={"Mode": "OFF", "MaximumWindowInMinutes": 5}),
            schedule(FlexibleTimeWindow={"Mode": "FLEXIBLE"}),
            schedule(ScheduleExpression="0 19 ? * MON-FRI *"),
            schedule(ScheduleExpression="cron(0 19 * * MON-FRI)"),
            schedule(ScheduleExpression="cron(0 19 * * MON-FRI *)"),
            schedule(ScheduleExpressionTimezone="Europe/Atlantis"),
            schedule(State="PAUSED"),
            schedule(Description="d" * 513),
            schedule(Target=target(RoleArn="tierctl-scheduler")),
            schedule(Target=target(Arn="runner")),
            schedule(Target=target(RetryPolicy={"MaximumEventAgeInSeconds": 30})),
            schedule(Target=target(RetryPolicy={"MaximumRetryAttempts": 186})),
            schedule(Target=target(DeadLetterConfig={
                "Arn": "arn:aws:sns:us-west-2:123456789012:topic"})),
        ]
        for args in bad:
            with self.subTest(args=args):
                self.assertEqual(self.code(self.s.create_schedule, **args),
                                 ("ValidationException", 400))
        self.assertEqual(admin("GET", "calls?service=scheduler&action=CreateSchedule")["calls"][0][
            "error"], "ValidationException")
        self.assertEqual(self.s.list_schedules(GroupName="tierctl")["Schedules"], [])

    def test_expressions(self):
        for ok in ["cron(0 7 ? * MON-FRI *)", "cron(0/15 * * * ? *)", "rate(5 minutes)",
                   "at(2030-01-01T07:00:00)", "cron(0 10 ? * 6L 2030)"]:
            self.assertIsNone(expression_problem(ok), ok)
        for bad in ["", "cron()", "cron(0 7 ? * ? *)", "cron(0 7 1 * MON *)", "every day"]:
            self.assertIsNotNone(expression_problem(bad), bad)


if __name__ == "__main__":
    unittest.main()

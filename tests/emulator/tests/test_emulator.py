"""End-to-end tests of the tierctl emulator, driven with boto3 over HTTP.

Run: cd tests/emulator && ../../.venv/bin/python -m unittest discover -s tests -v
One emulator subprocess serves the whole module; every test starts with a reset.
"""

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)  # tests/emulator
sys.path.insert(0, PKG_ROOT)
from tierctl_emulator import guest_shell  # noqa: E402

REGION = "us-west-2"
_PROC = None
_URL = None

LINUX_CHECK = ("if [ -e {} ]; then echo TIERCTL_OVERRIDE=present; "
               "else echo TIERCTL_OVERRIDE=absent; fi")
WIN_CHECK = ("if (Test-Path -LiteralPath {}) {{ 'TIERCTL_OVERRIDE=present' }} "
             "else {{ 'TIERCTL_OVERRIDE=absent' }}")


def posix_quote(path):
    return "'" + path.replace("'", "'\\''") + "'"


def ps_quote(path):
    out = "".join(c + c if c in "'\u2018\u2019\u201a\u201b" else c for c in path)
    return "'" + out + "'"


def _stop_emulator():
    global _PROC
    if _PROC and _PROC.poll() is None:
        _PROC.terminate()
        try:
            _PROC.wait(5)
        except subprocess.TimeoutExpired:
            _PROC.kill()
            _PROC.wait()
    if _PROC and _PROC.stdout:
        _PROC.stdout.close()
    _PROC = None


def setUpModule():
    global _PROC, _URL
    port_file = os.path.join(tempfile.mkdtemp(prefix="tierctl-emu-"), "port")
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    _PROC = subprocess.Popen(
        [sys.executable, "-m", "tierctl_emulator", "--port", "0", "--port-file", port_file,
         "--parent-pid", str(os.getpid())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    atexit.register(_stop_emulator)
    deadline = time.time() + 30
    while not os.path.exists(port_file):
        if _PROC.poll() is not None or time.time() > deadline:
            raise RuntimeError("emulator did not start")
        time.sleep(0.05)
    with open(port_file) as handle:
        port = int(handle.read())
    line = _PROC.stdout.readline().strip()
    assert line == f"listening on http://127.0.0.1:{port}", line
    _URL = f"http://127.0.0.1:{port}"


def tearDownModule():
    _stop_emulator()


def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(_URL + "/_tierctl/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def client(service, validate=True, **retries):
    # total_max_attempts counts the first try (botocore's max_attempts does not).
    config = Config(retries=retries or {"mode": "standard", "total_max_attempts": 1},
                    parameter_validation=validate)
    return boto3.client(service, endpoint_url=_URL, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=config)


def seed(tiers, vpc=True):
    body = {"region": REGION, "vpc": vpc, "workloads": [{
        "workloadTag": {"key": "Environment", "value": "ENV001"}, "tierTagKey": "Role",
        "tiers": tiers}]}
    return admin("POST", "seed", body)


def state_of(ec2, instance_id):
    res = ec2.describe_instances(InstanceIds=[instance_id])
    return res["Reservations"][0]["Instances"][0]["State"]["Name"]


def wait_invocation(ssm, command_id, instance_id, timeout=5):
    deadline = time.time() + timeout
    while True:
        inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if inv["Status"] not in ("Pending", "InProgress") or time.time() > deadline:
            return inv
        time.sleep(0.05)


class EmulatorTest(unittest.TestCase):
    def setUp(self):
        admin("POST", "reset")
        self.ec2 = client("ec2")
        self.ssm = client("ssm")

    # ------------------------------------------------------------ EC2

    def test_stop_goes_through_stopping(self):
        admin("POST", "config", {"stopDelayMs": 400, "startDelayMs": 400})
        [iid] = seed([{"name": "Role_Web", "count": 1}])["workloads"][0]["tiers"][0]["instanceIds"]
        res = self.ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
        self.assertEqual(res["CurrentState"], {"Code": 64, "Name": "stopping"})
        self.assertEqual(res["PreviousState"], {"Code": 16, "Name": "running"})
        self.assertEqual(state_of(self.ec2, iid), "stopping")
        time.sleep(0.5)
        self.assertEqual(state_of(self.ec2, iid), "stopped")
        again = self.ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
        self.assertEqual(again["CurrentState"]["Name"], "stopped")
        self.assertEqual(again["PreviousState"]["Name"], "stopped")
        res = self.ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
        self.assertEqual((res["CurrentState"]["Name"], res["PreviousState"]["Name"]),
                         ("pending", "stopped"))
        with self.assertRaises(ClientError) as ctx:  # pending cannot be stopped
            self.ec2.stop_instances(InstanceIds=[iid])
        self.assertEqual(ctx.exception.response["Error"]["Code"], "IncorrectInstanceState")
        time.sleep(0.5)
        self.assertEqual(state_of(self.ec2, iid), "running")

    def test_start_of_stopping_instance_fails_whole_batch(self):
        tiers = seed([{"name": "A", "count": 1}, {"name": "B", "count": 1, "state": "stopped"}])
        [a], [b] = [t["instanceIds"] for t in tiers["workloads"][0]["tiers"]]
        self.assertEqual(state_of(self.ec2, b), "stopped")
        admin("PUT", f"instances/{a}/transition", {"stopDelayMs": 5000})
        self.ec2.stop_instances(InstanceIds=[a])
        with self.assertRaises(ClientError) as ctx:
            self.ec2.start_instances(InstanceIds=[b, a])
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], "IncorrectInstanceState")
        self.assertEqual(err["Message"],
                         f"The instance '{a}' is not in a state from which it can be started.")
        self.assertEqual(state_of(self.ec2, b), "stopped")  # not started either

    def test_tag_filters_follow_aws_wildcards_and_escapes(self):
        ids = {}
        for value in ["*", "a?c", "abc", "axc", "[ab]", "a", "x\\y", "xy"]:
            res = self.ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                         TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                             {"Key": "Lit", "Value": value}]}])
            ids[value] = res["Instances"][0]["InstanceId"]

        def found(value):
            res = self.ec2.describe_instances(Filters=[{"Name": "tag:Lit", "Values": [value]}])
            got = {i["InstanceId"] for r in res["Reservations"] for i in r["Instances"]}
            return sorted(v for v, i in ids.items() if i in got)

        self.assertEqual(found("*"), sorted(ids))  # a wildcard: every value
        self.assertEqual(found("\\*"), ["*"])  # escaped: only the literal
        self.assertEqual(found("a?c"), ["a?c", "abc", "axc"])
        self.assertEqual(found("a\\?c"), ["a?c"])
        self.assertEqual(found("[ab]"), ["[ab]"])  # not a character class on AWS
        self.assertEqual(found("x\\\\y"), ["x\\y"])  # escaped backslash = one backslash

    def test_dry_run_changes_nothing(self):
        [iid] = seed([{"name": "A", "count": 1}])["workloads"][0]["tiers"][0]["instanceIds"]
        for call in (lambda: self.ec2.stop_instances(InstanceIds=[iid], DryRun=True),
                     lambda: self.ec2.modify_instance_attribute(
                         InstanceId=iid, InstanceType={"Value": "t3.micro"}, DryRun=True)):
            with self.assertRaises(ClientError) as ctx:
                call()
            self.assertEqual(ctx.exception.response["Error"]["Code"], "DryRunOperation")
            self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        self.assertEqual(state_of(self.ec2, iid), "running")

    def test_resize_needs_stopped_instance(self):
        admin("POST", "config", {"stopDelayMs": 0})
        [iid] = seed([{"name": "A", "count": 1}])["workloads"][0]["tiers"][0]["instanceIds"]
        with self.assertRaises(ClientError) as ctx:
            self.ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.micro"})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "IncorrectInstanceState")
        self.ec2.stop_instances(InstanceIds=[iid])
        self.assertEqual(state_of(self.ec2, iid), "stopped")
        self.ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.micro"})
        inst = self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["InstanceType"], "t3.micro")

    def test_seed_1000_instances_fast_and_discoverable(self):
        started = time.time()
        out = seed([{"name": "Role_Web", "count": 1000, "instanceType": "t2.nano"}])
        elapsed = time.time() - started
        print(f"\n  seeding 1000 instances took {elapsed:.2f}s", file=sys.stderr)
        self.assertLess(elapsed, 10)
        ids = out["workloads"][0]["tiers"][0]["instanceIds"]
        self.assertEqual(len(ids), 1000)
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag:Environment", "Values": ["ENV001"]},
                     {"Name": "tag:Role", "Values": ["Role_Web"]},
                     {"Name": "vpc-id", "Values": [out["vpcId"]]},
                     {"Name": "instance-state-name", "Values": ["running"]}],
            PaginationConfig={"PageSize": 500})
        found = [i for p in pages for r in p["Reservations"] for i in r["Instances"]]
        self.assertEqual(len(found), 1000)
        names = {t["Value"] for t in found[0]["Tags"] if t["Key"] == "Name"}
        self.assertTrue(names and next(iter(names)).startswith("Role_Web-"))

    def test_describe_instances_pagination_and_state_code_filter(self):
        seed([{"name": "Web", "count": 12}, {"name": "DB", "count": 3, "state": "stopped"}])
        pages = list(self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-code", "Values": ["16"]},
                     {"Name": "tag-key", "Values": ["Role"]}],
            PaginationConfig={"PageSize": 5}))
        sizes = [sum(len(r["Instances"]) for r in p["Reservations"]) for p in pages]
        self.assertEqual(sizes, [5, 5, 2])
        stopped = self.ec2.describe_instances(
            Filters=[{"Name": "instance-state-code", "Values": ["80"]}])["Reservations"]
        self.assertEqual(sum(len(r["Instances"]) for r in stopped), 3)
        raw = client("ec2", validate=False)
        for kwargs in ({"MaxResults": 1001}, {"MaxResults": 5, "InstanceIds": ["i-1"]}):
            with self.assertRaises(ClientError) as ctx:
                raw.describe_instances(**kwargs)
            self.assertIn(ctx.exception.response["Error"]["Code"],
                          ("InvalidParameterValue", "InvalidParameterCombination"))

    # ------------------------------------------------------------ faults and call log

    def test_throttling_is_retried_and_logged(self):
        [iid] = seed([{"name": "A", "count": 1}])["workloads"][0]["tiers"][0]["instanceIds"]
        admin("POST", "faults", {"service": "ec2", "action": "StopInstances",
                                 "error": "RequestLimitExceeded", "times": 3})
        ec2 = client("ec2", mode="standard", total_max_attempts=5)
        ec2.stop_instances(InstanceIds=[iid])
        calls = admin("GET", "calls?service=ec2&action=StopInstances")["calls"]
        self.assertEqual([c["attempt"] for c in calls], [1, 2, 3, 4])
        self.assertEqual([c["status"] for c in calls], [503, 503, 503, 200])
        self.assertEqual([c["error"] for c in calls], ["RequestLimitExceeded"] * 3 + [None])
        self.assertEqual(calls[0]["instanceIds"], [iid])
        self.assertEqual(calls[0]["params"]["InstanceId.1"], iid)
        self.assertEqual(admin("GET", "calls/counts")["ec2:StopInstances"], 4)
        self.assertEqual(admin("GET", "faults")["faults"], [])
        # JSON-protocol throttling is retried too.
        admin("POST", "faults", {"service": "dynamodb", "action": "ListTables",
                                 "error": "ThrottlingException", "times": 2})
        client("dynamodb", mode="standard", total_max_attempts=3).list_tables()
        ddb_calls = admin("GET", "calls?service=dynamodb")["calls"]
        self.assertEqual([c["error"] for c in ddb_calls], ["ThrottlingException"] * 2 + [None])

    def test_every_nth_call_and_storms_throttle_and_are_counted(self):
        admin("POST", "faults", {"service": "ec2", "error": "RequestLimitExceeded", "every": 3})
        ec2 = client("ec2")  # no retries: each call is one attempt
        codes = []
        for _ in range(6):
            try:
                ec2.describe_instances()
                codes.append(None)
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
                self.assertEqual(exc.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        self.assertEqual(codes, [None, None, "RequestLimitExceeded"] * 2)
        admin("DELETE", "faults")
        # A storm of 0.6 s starting 0.3 s from now, on SSM with its own code.
        admin("POST", "faults", {"service": "ssm", "error": "throttle", "stormMs": 600,
                                 "startInMs": 300})
        ssm = client("ssm")
        ssm.describe_instance_information()
        time.sleep(0.35)
        with self.assertRaises(ClientError) as ctx:
            ssm.describe_instance_information()
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ThrottlingException")
        time.sleep(0.6)
        ssm.describe_instance_information()
        self.assertEqual(admin("GET", "faults")["faults"], [])
        # DynamoDB's provisioned-throughput code, retried by the SDK.
        admin("POST", "faults", {"service": "dynamodb", "error":
                                 "ProvisionedThroughputExceededException", "every": 1, "times": 2})
        client("dynamodb", mode="standard", total_max_attempts=3).list_tables()
        stats = admin("GET", "faults/stats")
        self.assertEqual(stats["throttled"], 5)
        self.assertEqual(stats["throttledByService"], {"ec2": 2, "ssm": 1, "dynamodb": 2})
        self.assertEqual(stats["byCall"]["ec2:DescribeInstances"], {"RequestLimitExceeded": 2})
        admin("DELETE", "faults/stats")
        self.assertEqual(admin("GET", "faults/stats")["injected"], 0)

    def test_instance_fault_fails_whole_batch(self):
        [a, b] = seed([{"name": "A", "count": 2}])["workloads"][0]["tiers"][0]["instanceIds"]
        admin("POST", "faults", {"service": "ec2", "action": "StopInstances",
                                 "error": "UnauthorizedOperation", "times": -1,
                                 "instanceIds": [b]})
        with self.assertRaises(ClientError) as ctx:
            self.ec2.stop_instances(InstanceIds=[a, b])
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], "UnauthorizedOperation")
        self.assertIn(b, err["Message"])
        self.assertNotIn(a, err["Message"])
        self.assertEqual(state_of(self.ec2, a), "running")
        self.ec2.stop_instances(InstanceIds=[a])  # a alone does not match the rule
        with self.assertRaises(ClientError):
            self.ec2.stop_instances(InstanceIds=[b])  # times -1: every call
        counts = admin("GET", "calls/counts")
        self.assertEqual(counts["ec2:StopInstances"], 3)
        self.assertEqual(counts["ec2:DescribeInstances"], 1)

    def test_error_shapes_parse_in_every_protocol(self):
        ddb, sns, s3 = client("dynamodb"), client("sns"), client("s3")
        elb, elbv2 = client("elb"), client("elbv2")
        cases = [
            ("dynamodb", "GetItem", "ThrottlingException",
             lambda: ddb.get_item(TableName="t", Key={"k": {"S": "v"}})),
            ("sns", "Publish", "Throttling",
             lambda: sns.publish(TopicArn="arn:aws:sns:us-west-2:123456789012:x", Message="m")),
            ("s3", "GetObject", "AccessDenied", lambda: s3.get_object(Bucket="b", Key="k")),
            ("elb", "DescribeLoadBalancers", "Throttling", elb.describe_load_balancers),
            ("elbv2", "DescribeLoadBalancers", "Throttling", elbv2.describe_load_balancers),
            ("ssm", "SendCommand", "InvalidInstanceId",
             lambda: self.ssm.send_command(InstanceIds=["i-1"], DocumentName="AWS-RunShellScript")),
            ("ec2", "DescribeInstances", "InsufficientInstanceCapacity",
             self.ec2.describe_instances),
        ]
        for service, action, code, call in cases:
            with self.subTest(service=service):
                admin("POST", "faults", {"service": service, "action": action, "error": code})
                with self.assertRaises(ClientError) as ctx:
                    call()
                self.assertEqual(ctx.exception.response["Error"]["Code"], code)
        counts = admin("GET", "calls/counts")
        for service, action, _, _ in cases:
            self.assertEqual(counts.get(f"{service}:{action}"), 1, (service, action))

    def test_slow_rule_adds_latency(self):
        admin("POST", "slow", {"service": "ec2", "action": "DescribeInstances", "latencyMs": 300})
        started = time.time()
        self.ec2.describe_instances()
        self.assertGreaterEqual(time.time() - started, 0.3)
        admin("DELETE", "slow")

    # ------------------------------------------------------------ SSM guests

    def _guest(self, **guest):
        tiers = seed([{"name": "A", "count": 1, "guest": guest}])
        return tiers["workloads"][0]["tiers"][0]["instanceIds"][0]

    def _run(self, iid, line, document="AWS-RunShellScript", **extra):
        cmd = self.ssm.send_command(InstanceIds=[iid], DocumentName=document,
                                    Parameters={"commands": [line]}, **extra)["Command"]
        self.assertEqual(cmd["Status"], "Pending")
        return cmd["CommandId"], wait_invocation(self.ssm, cmd["CommandId"], iid)

    def test_linux_override_check(self):
        path = "/tmp/it's here/StopOverride"
        iid = self._guest(os="linux", files=[path], latencyMs=50)
        _, inv = self._run(iid, LINUX_CHECK.format(posix_quote(path)))
        self.assertEqual((inv["Status"], inv["ResponseCode"]), ("Success", 0))
        self.assertEqual(inv["StandardOutputContent"], "TIERCTL_OVERRIDE=present\n")
        _, inv = self._run(iid, LINUX_CHECK.format(posix_quote("/tmp/other")))
        self.assertEqual(inv["StandardOutputContent"], "TIERCTL_OVERRIDE=absent\n")

    def test_windows_override_check(self):
        iid = self._guest(os="windows", files=["C:\\Ops\\Stop'Override.txt"], latencyMs=50)
        _, inv = self._run(iid, WIN_CHECK.format(ps_quote("c:/ops/stop'override.TXT")),
                           document="AWS-RunPowerShellScript")
        self.assertEqual(inv["Status"], "Success")
        self.assertEqual(inv["StandardOutputContent"].strip(), "TIERCTL_OVERRIDE=present")
        _, inv = self._run(iid, WIN_CHECK.format(ps_quote("C:\\Ops\\none.txt")),
                           document="AWS-RunPowerShellScript")
        self.assertEqual(inv["StandardOutputContent"].strip(), "TIERCTL_OVERRIDE=absent")
        _, inv = self._run(iid, "echo hi")  # shell document on a Windows guest
        self.assertEqual((inv["Status"], inv["StatusDetails"]), ("Failed", "InvalidPlatform"))

    def _own_document(self, pattern=r"^/[A-Za-z0-9/._-]*$", marker=True):
        name = f"tierctl-Test{len(self.ssm.meta.region_name)}-{time.time_ns()}"
        script = (["# tierctl-override-check v2"] if marker else []) + ["p='{{ path }}'"]
        content = json.dumps({
            "schemaVersion": "2.2", "description": "test",
            "parameters": {"path": {"type": "String", "allowedPattern": pattern}},
            "mainSteps": [
                {"action": "aws:runShellScript", "name": "linux",
                 "precondition": {"StringEquals": ["platformType", "Linux"]},
                 "inputs": {"runCommand": script}},
                {"action": "aws:runPowerShellScript", "name": "windows",
                 "precondition": {"StringEquals": ["platformType", "Windows"]},
                 "inputs": {"runCommand": script}}]})
        self.ssm.create_document(Name=name, Content=content, DocumentType="Command",
                                 DocumentFormat="JSON")
        return name, content

    def _check(self, iid, document, path):
        cmd = self.ssm.send_command(InstanceIds=[iid], DocumentName=document,
                                    Parameters={"path": [path]})["Command"]
        return wait_invocation(self.ssm, cmd["CommandId"], iid)

    def test_documents_have_versions_and_a_default(self):
        name, content = self._own_document()
        d = self.ssm.describe_document(Name=name)["Document"]
        self.assertEqual((d["DefaultVersion"], d["LatestVersion"], d["Description"]), ("1", "1", "test"))
        with self.assertRaises(ClientError) as err:
            self.ssm.update_document(Name=name, Content=content, DocumentVersion="$LATEST")
        self.assertEqual(err.exception.response["Error"]["Code"], "DuplicateDocumentContent")
        changed = json.loads(content)
        changed["description"] = "v2"
        v = self.ssm.update_document(Name=name, Content=json.dumps(changed),
                                     DocumentVersion="$LATEST")["DocumentDescription"]
        self.assertEqual(v["DocumentVersion"], "2")
        self.assertEqual(self.ssm.describe_document(Name=name)["Document"]["Description"], "test")
        self.ssm.update_document_default_version(Name=name, DocumentVersion="2")
        self.assertEqual(self.ssm.describe_document(Name=name)["Document"]["Description"], "v2")
        with self.assertRaises(ClientError) as err:
            self.ssm.describe_document(Name="tierctl-Nothing")
        self.assertEqual(err.exception.response["Error"]["Code"], "InvalidDocument")

    def test_allowed_pattern_and_parameters_are_enforced(self):
        name, _ = self._own_document()
        iid = self._guest(os="linux", files=["/tmp/x"], latencyMs=0)
        for bad in ["/tmp/x'; reboot; '", "relative", "/tmp/$(id)"]:
            with self.subTest(path=bad), self.assertRaises(ClientError) as err:
                self.ssm.send_command(InstanceIds=[iid], DocumentName=name,
                                      Parameters={"path": [bad]})
            self.assertEqual(err.exception.response["Error"]["Code"], "InvalidParameters")
        for params in [{}, {"path": ["/tmp/x"], "commands": ["id"]}]:
            with self.subTest(params=params), self.assertRaises(ClientError) as err:
                self.ssm.send_command(InstanceIds=[iid], DocumentName=name, Parameters=params)
            self.assertEqual(err.exception.response["Error"]["Code"], "InvalidParameters")
        self.assertEqual(self._check(iid, name, "/tmp/x")["StandardOutputContent"],
                         "TIERCTL_OVERRIDE=present\n")

    def test_file_states_answer_like_the_scripts(self):
        name, _ = self._own_document(pattern=r"^.+$")
        want = {
            "present": "TIERCTL_OVERRIDE=present",
            "unreadable": "TIERCTL_OVERRIDE=unsure stat: cannot statx '/f': Permission denied",
            "dangling": "TIERCTL_OVERRIDE=unsure dangling symbolic link: /f",
            "io-error": "TIERCTL_OVERRIDE=unsure stat: cannot statx '/f': Input/output error",
        }
        for state, line in want.items():
            with self.subTest(state=state):
                iid = self._guest(os="linux", files=[{"path": "/f", "state": state}], latencyMs=0)
                self.assertEqual(self._check(iid, name, "/f")["StandardOutputContent"], line + "\n")
        iid = self._guest(os="linux", files=[], latencyMs=0)
        self.assertEqual(self._check(iid, name, "/f")["StandardOutputContent"],
                         "TIERCTL_OVERRIDE=absent\n")
        win = self._guest(os="windows", files=[{"path": "C:\\f", "state": "unreadable"}], latencyMs=0)
        self.assertIn("UnauthorizedAccessException",
                      self._check(win, name, "c:/F")["StandardOutputContent"])
        other, _ = self._own_document(pattern=r"^.+$", marker=False)
        inv = self._check(iid, other, "/f")
        self.assertEqual(inv["Status"], "Failed", "only tierctl's check is emulated")

    def test_injection_and_unknown_commands_fail(self):
        iid = self._guest(files=["/tmp/x"], latencyMs=0)
        for line in [LINUX_CHECK.format("'/tmp/x'; rm -rf /; ''"),
                     LINUX_CHECK.format("/tmp/x"),
                     LINUX_CHECK.format(posix_quote("/tmp/x")) + "; reboot",
                     "rm -rf /"]:
            with self.subTest(line=line):
                _, inv = self._run(iid, line)
                self.assertEqual(inv["Status"], "Failed")
                self.assertNotEqual(inv["ResponseCode"], 0)
                self.assertTrue(inv["StandardErrorContent"])
        _, inv = self._run(iid, "echo hello  world")
        self.assertEqual((inv["Status"], inv["StandardOutputContent"]), ("Success", "hello world\n"))

    def test_offline_and_unregistered_agents(self):
        tiers = seed([{"name": "On", "count": 1},
                      {"name": "Off", "count": 1, "guest": {"agent": "offline"}},
                      {"name": "Unreg", "count": 1, "guest": {"agent": "unregistered"}}])
        [on], [off], [unreg] = [t["instanceIds"] for t in tiers["workloads"][0]["tiers"]]
        info = self.ssm.describe_instance_information()["InstanceInformationList"]
        self.assertEqual({i["InstanceId"]: i["PingStatus"] for i in info},
                         {on: "Online", off: "ConnectionLost"})
        for bad in (off, unreg):
            with self.assertRaises(ClientError) as ctx:
                self.ssm.send_command(InstanceIds=[on, bad], DocumentName="AWS-RunShellScript",
                                      Parameters={"commands": ["echo x"]})
            err = ctx.exception.response["Error"]
            self.assertEqual(err["Code"], "InvalidInstanceId")
            self.assertIn(bad, err["Message"])
        self.assertEqual(self.ssm.list_commands()["Commands"], [])

    def test_hang_stays_in_progress_then_times_out(self):
        iid = self._guest(agent="hang", latencyMs=0)
        cmd = self.ssm.send_command(
            InstanceIds=[iid], DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["echo x"], "executionTimeout": ["1"]})["Command"]
        time.sleep(0.3)
        inv = self.ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=iid)
        self.assertEqual((inv["Status"], inv["ResponseCode"]), ("InProgress", -1))
        time.sleep(0.9)
        inv = self.ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId=iid)
        self.assertEqual((inv["Status"], inv["StatusDetails"]), ("TimedOut", "ExecutionTimedOut"))

    def test_failing_agent(self):
        iid = self._guest(agent="fail", latencyMs=0)
        _, inv = self._run(iid, "echo x")
        self.assertEqual((inv["Status"], inv["ResponseCode"]), ("Failed", 1))
        self.assertTrue(inv["StandardErrorContent"])

    def test_output_written_to_s3(self):
        s3 = client("s3")
        s3.create_bucket(Bucket="ssm-out",
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        iid = self._guest(files=["/StopOverride"], latencyMs=50)
        command_id, inv = self._run(iid, LINUX_CHECK.format(posix_quote("/StopOverride")),
                                    OutputS3BucketName="ssm-out", OutputS3KeyPrefix="tierctl")
        key = f"tierctl/{command_id}/{iid}/awsrunShellScript/0.awsrunShellScript/stdout"
        self.assertEqual(inv["StandardOutputUrl"],
                         f"https://s3.{REGION}.amazonaws.com/ssm-out/{key}")
        body = s3.get_object(Bucket="ssm-out", Key=key)["Body"].read()
        self.assertEqual(body, b"TIERCTL_OVERRIDE=present\n")
        # A missing bucket does not fail the command.
        _, inv = self._run(iid, "echo ok", OutputS3BucketName="no-such-bucket")
        self.assertEqual(inv["Status"], "Success")

    def test_s3_output_appears_without_polling_ssm(self):
        s3 = client("s3")
        s3.create_bucket(Bucket="ssm-out2",
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        iid = self._guest(latencyMs=100)
        cmd = self.ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                                    Parameters={"commands": ["echo done"]},
                                    OutputS3BucketName="ssm-out2")["Command"]
        key = f"{cmd['CommandId']}/{iid}/awsrunShellScript/0.awsrunShellScript/stdout"
        time.sleep(0.2)
        self.assertEqual(s3.get_object(Bucket="ssm-out2", Key=key)["Body"].read(), b"done\n")

    def test_list_command_invocations_pagination(self):
        ids = seed([{"name": "A", "count": 7, "guest": {"latencyMs": 0}}])
        ids = ids["workloads"][0]["tiers"][0]["instanceIds"]
        cmd = self.ssm.send_command(InstanceIds=ids, DocumentName="AWS-RunShellScript",
                                    Parameters={"commands": ["echo x"]})["Command"]
        seen, token, pages = [], None, 0
        while True:
            kwargs = {"CommandId": cmd["CommandId"], "MaxResults": 3, "Details": True}
            if token:
                kwargs["NextToken"] = token
            page = self.ssm.list_command_invocations(**kwargs)
            pages += 1
            seen += [i["InstanceId"] for i in page["CommandInvocations"]]
            plugin = page["CommandInvocations"][0]["CommandPlugins"][0]
            self.assertEqual((plugin["Name"], plugin["Output"]), ("aws:runShellScript", "x\n"))
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual((pages, sorted(seen)), (3, sorted(ids)))
        self.assertEqual(self.ssm.list_commands(CommandId=cmd["CommandId"])["Commands"][0]
                         ["Status"], "Success")

    def test_describe_instance_information_paging_and_validation(self):
        ids = seed([{"name": "A", "count": 12}])["workloads"][0]["tiers"][0]["instanceIds"]
        first = self.ssm.describe_instance_information(MaxResults=5)
        self.assertEqual(len(first["InstanceInformationList"]), 5)
        allinfo = [i for p in self.ssm.get_paginator("describe_instance_information").paginate()
                   for i in p["InstanceInformationList"]]
        self.assertEqual(sorted(i["InstanceId"] for i in allinfo), sorted(ids))
        some = self.ssm.describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": ids[:2]}])["InstanceInformationList"]
        self.assertEqual(len(some), 2)
        with self.assertRaises(ClientError) as ctx:
            client("ssm", validate=False).describe_instance_information(MaxResults=4)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ValidationException")
        with self.assertRaises(ClientError) as ctx:
            self.ssm.send_command(InstanceIds=[f"i-{n:017x}" for n in range(51)],
                                  DocumentName="AWS-RunShellScript")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ValidationException")

    def test_a_failed_transaction_leaves_the_table_as_it_was(self):
        db = client("dynamodb")
        db.create_table(TableName="T", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"},
                                              {"AttributeName": "r", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"},
                                   {"AttributeName": "r", "KeyType": "RANGE"}])
        for r in ("a", "b"):
            db.put_item(TableName="T", Item={"k": {"S": "w"}, "r": {"S": r}, "v": {"S": "old"}})
        # The first Put would apply, the Delete's condition fails: nothing may change.
        with self.assertRaises(db.exceptions.TransactionCanceledException):
            db.transact_write_items(TransactItems=[
                {"Put": {"TableName": "T", "Item": {"k": {"S": "w"}, "r": {"S": "a"}, "v": {"S": "new"}}}},
                {"Put": {"TableName": "T", "Item": {"k": {"S": "w"}, "r": {"S": "c"}, "v": {"S": "new"}}}},
                {"Delete": {"TableName": "T", "Key": {"k": {"S": "w"}, "r": {"S": "b"}},
                            "ConditionExpression": "v = :x", "ExpressionAttributeValues": {":x": {"S": "nope"}}}},
            ])
        items = sorted((i["r"]["S"], i["v"]["S"]) for i in db.scan(TableName="T")["Items"])
        self.assertEqual(items, [("a", "old"), ("b", "old")])
        # And a transaction that passes applies every write.
        db.transact_write_items(TransactItems=[
            {"Put": {"TableName": "T", "Item": {"k": {"S": "w"}, "r": {"S": "a"}, "v": {"S": "new"}}}},
            {"Delete": {"TableName": "T", "Key": {"k": {"S": "w"}, "r": {"S": "b"}},
                        "ConditionExpression": "v = :x", "ExpressionAttributeValues": {":x": {"S": "old"}}}},
        ])
        items = sorted((i["r"]["S"], i["v"]["S"]) for i in db.scan(TableName="T")["Items"])
        self.assertEqual(items, [("a", "new")])


class GuestShellTest(unittest.TestCase):
    """The interpreter alone: quoting rules of both shells."""

    def test_posix_unquote(self):
        for path in ["/a b", "it's", "''", "/x/'; rm -rf /; '", "$(reboot)", "`id`", ""]:
            self.assertEqual(guest_shell.unquote_posix(posix_quote(path)), path)
        for bad in ["/tmp/x", "'a", "'a'b", "\"a\"", "'a' 'b'", "'a';b''"]:
            self.assertIsNone(guest_shell.unquote_posix(bad), bad)

    def test_powershell_unquote(self):
        for path in ["C:\\a b", "it's", "a\u2019b", "\u2018\u201a\u201b", "$env:x"]:
            self.assertEqual(guest_shell.unquote_powershell(ps_quote(path)), path)
        for bad in ["C:\\x", "'a'b'", "'a", "\"a\"", "'a' + 'b'"]:
            self.assertIsNone(guest_shell.unquote_powershell(bad), bad)

    def test_run_commands(self):
        line = LINUX_CHECK.format(posix_quote("/f"))
        self.assertEqual(guest_shell.run_commands("linux", [line], ["/f"]),
                         (0, "TIERCTL_OVERRIDE=present\n", ""))
        self.assertEqual(guest_shell.run_commands("linux", [line + "\nrm x"], ["/f"])[0], 127)
        self.assertEqual(guest_shell.run_commands("windows", ["echo a b"], [])[1], "a\r\nb\r\n")


if __name__ == "__main__":
    unittest.main()

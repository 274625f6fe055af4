"""tierctl benchmarks against the local AWS emulator (`make bench`).

Every figure comes from running the real binary against the emulator:
API calls are counted from the emulator's call log, wall time is measured
around the tierctl process. Nothing leaves 127.0.0.1.

Scenarios:
  run      stop and start fleets of 10, 100 and 1,000 instances in 4 tiers
           (2 synchronous), with EC2 transitions and delays set; prints calls
           by action, wall time, the lower bound (configured delays + the
           synchronous tiers' transition times) and the overhead above it
  check    the override check of one 120-instance tier (guest latency 0.5 s)
  plan     planning 100 workloads with 10,000 instances from a saved
           observed-state file
  sync     an unchanged sync of 200 workloads x 5 tiers
  asg      one tier of 10 and 50 Auto Scaling groups (2 instances each):
           stop (record sizes, scale in, wait for no instances) and start
           (restore, health gate: InService after 1 s); Auto Scaling calls by
           action and wall time (groups are changed concurrently, bounded)
  rds      one tier of 20 and 50 RDS DB instances: stop (synchronous, 1 s
           transition) and start (health gate: available after 1 s); tagging
           and RDS calls by action and wall time (bounded concurrency)
  throttle stopping 120 instances in 3 tiers (2 synchronous, 2 s delays)
           unthrottled, with 1 in 3 EC2 calls throttled, and with a 5 s
           throttle storm mid-run, in tierctl's default retry mode (standard +
           pacer) and in the SDK's adaptive mode with the same backoffs;
           prints wall time against the unthrottled run and the throttles
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRANSITION_S = 2.0   # EC2 stopping/pending time in the run scenario
DELAY_S = 2          # inter-tier delay of the tiers that have one


class Emulator:
    started = 0

    def __init__(self, work: Path):
        Emulator.started += 1
        port_file = work / f"port-{Emulator.started}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tierctl_emulator", "--port", "0", "--port-file", str(port_file),
             "--parent-pid", str(os.getpid())],
            env={**os.environ, "PYTHONPATH": str(ROOT / "tests/emulator")},
            stdout=subprocess.DEVNULL, stderr=open(work / "emulator.log", "w"))
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the emulator did not start: see " + str(work / "emulator.log"))
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_tierctl/{path}", data=data, method=method)
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.load(r)

    def counts(self, service=None):
        counts = self.admin("GET", "calls/counts")
        return {k: v for k, v in counts.items() if service is None or k.startswith(service + ":")}

    def env(self):
        return {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}", "AWS_REGION": "us-west-2",
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "NO_COLOR": "1"}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def tierctl(args, emu, specs, ok=(0,), env=None):
    begin = time.monotonic()
    p = subprocess.run([ARGS.tierctl, "--specs", str(specs), *args], env={**emu.env(), **(env or {})},
                       capture_output=True, text=True)
    took = time.monotonic() - begin
    if p.returncode not in ok:
        raise SystemExit(f"tierctl {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return took, p.stdout


def run_spec(name):
    return f"""name: {name}
region: us-west-2
selector:
  workloadTag: {{ key: App, value: {name} }}
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: {{ sequence: 0, delaySeconds: {DELAY_S} }}
    start: {{ sequence: 2, delaySeconds: 0 }}
  - name: cache
    stop: {{ sequence: 0, delaySeconds: {DELAY_S} }}
    start: {{ sequence: 2, delaySeconds: 0 }}
  - name: app
    stop: {{ sequence: 1, synchronous: true, delaySeconds: {DELAY_S} }}
    start: {{ sequence: 1, synchronous: true, delaySeconds: {DELAY_S} }}
  - name: db
    stop: {{ sequence: 2, synchronous: true, delaySeconds: 0 }}
    start: {{ sequence: 0, synchronous: true, delaySeconds: {DELAY_S} }}
"""


def bench_run(work):
    print(f"\n## run: 4 tiers (2 synchronous), EC2 transitions {TRANSITION_S:g} s, inter-tier delays {DELAY_S} s\n")
    print("lower bound = the configured delays + the synchronous tiers' transitions; overhead = wall - bound;")
    print("EC2 answer time = how long the emulator took to answer the observing DescribeInstances and the")
    print("poll that confirmed each synchronous tier; " + ("the emulator's fast DescribeInstances answers"
          if ARGS.fast_describe else "moto's own serialiser answers (about 0.4 instances per ms)") + ";")
    print("tierctl's own = overhead - EC2 answer time: start-up, lock, scheduling, polling granularity.\n")
    print("| action | instances | EC2 calls | calls by action | wall (s) | lower bound (s) | overhead (s) | EC2 answer time (s) | tierctl's own (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    # stop: wave 1 delay + (transition + delay) for app + transition for db
    # start: db transition + delay, app transition + delay, web/cache no wait
    bounds = {"stop": DELAY_S + TRANSITION_S + DELAY_S + TRANSITION_S,
              "start": TRANSITION_S + DELAY_S + TRANSITION_S + DELAY_S}
    for n in (10, 100, 1000):
        emu = Emulator(work)
        try:
            specs = work / f"run-{n}"
            specs.mkdir()
            (specs / "Bench.yaml").write_text(run_spec("Bench"))
            per = n // 4
            emu.admin("POST", "config", {"stopDelayMs": int(TRANSITION_S * 1000), "startDelayMs": int(TRANSITION_S * 1000),
                                         "fastDescribe": ARGS.fast_describe})
            emu.admin("POST", "seed", {"region": "us-west-2", "vpc": "vpc-0123abcd", "workloads": [{
                "workloadTag": {"key": "App", "value": "Bench"}, "tierTagKey": "Role",
                "tiers": [{"name": t, "count": per, "instanceType": "t3.micro"} for t in ("web", "cache", "app", "db")]}]})
            for action in ("stop", "start"):
                emu.admin("DELETE", "calls")
                wall, _ = tierctl(["run", action, "Bench"], emu, specs)
                ec2 = emu.counts("ec2")
                total = sum(ec2.values())
                by = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(ec2.items()))
                bound = bounds[action]
                api = answer_time(emu.admin("GET", "calls?service=ec2")["calls"])
                print(f"| {action} | {n} | {total} | {by} | {wall:.2f} | {bound:.2f} | {wall - bound:.2f} "
                      f"| {api:.2f} | {wall - bound - api:.2f} |")
                time.sleep(TRANSITION_S + 0.2)  # let async tiers settle before the next action
        finally:
            emu.stop()


def answer_time(calls):
    """EC2's answer time that no client can avoid: the observing
    DescribeInstances, and for each synchronous wait the poll that confirmed
    it (the emulator's answers grow with the instances described)."""
    observe = sum(c["durationMs"] for c in calls if c["action"] == "DescribeInstances" and not c["instanceIds"])
    last_poll = {}
    for c in calls:
        if c["action"] == "DescribeInstances" and c["instanceIds"]:
            last_poll[frozenset(c["instanceIds"])] = c["durationMs"]
    return (observe + sum(last_poll.values())) / 1000


def bench_check(work):
    print("\n## override check: one tier of 120 instances, guest latency 0.5 s\n")
    emu = Emulator(work)
    try:
        specs = work / "check"
        specs.mkdir()
        (specs / "Check.yaml").write_text("""name: Check
region: us-west-2
selector:
  workloadTag: { key: App, value: Check }
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: { sequence: 0, delaySeconds: 0, override: { file: /tmp/StopOverride, os: linux } }
    start: { sequence: 0 }
""")
        emu.admin("POST", "config", {"stopDelayMs": 0, "startDelayMs": 0})
        seeded = emu.admin("POST", "seed", {"region": "us-west-2", "vpc": "vpc-0123abcd", "workloads": [{
            "workloadTag": {"key": "App", "value": "Check"}, "tierTagKey": "Role",
            "tiers": [{"name": "web", "count": 120, "guest": {"os": "linux", "latencyMs": 500}}]}]})
        ids = seeded["workloads"][0]["tiers"][0]["instanceIds"]
        emu.admin("POST", "guests", {"instanceIds": ids[:10], "os": "linux", "files": ["/tmp/StopOverride"], "latencyMs": 500})
        emu.admin("POST", "guests", {"instanceIds": ids[10:15], "os": "linux", "agent": "offline", "latencyMs": 500})
        tierctl(["sync"], emu, specs)  # creates tierctl's SSM document, which the check runs
        emu.admin("DELETE", "calls")
        wall, out = tierctl(["-o", "json", "run", "stop", "Check"], emu, specs, ok=(3,))
        report = json.loads(out)["report"]["workloads"][0]["outcomes"]
        statuses = {}
        for o in report:
            statuses[o["status"]] = statuses.get(o["status"], 0) + 1
        calls = emu.admin("GET", "calls")["calls"]
        ssm = [c for c in calls if c["service"] == "ssm"]
        check_s = max(c["time"] for c in ssm) - min(c["time"] for c in ssm)
        counts = emu.counts("ssm")
        print("| instances | SendCommand calls | SSM calls | check time (s) | guest latency + 2 s | whole run (s) | outcomes |")
        print("|---|---|---|---|---|---|---|")
        print(f"| 120 | {counts.get('ssm:SendCommand', 0)} | {sum(counts.values())} | {check_s:.2f} | 2.50 | {wall:.2f} | "
              + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items())) + " |")
        print("\nThe original makes one SSM command per instance in series and polls S3 for each: at least 120 round trips.")
    finally:
        emu.stop()


def bench_plan(work):
    print("\n## plan: 100 workloads from a saved observed state (no AWS calls)\n")
    print("| workloads | instances | best of 3 (s) | all runs (s) |")
    print("|---|---|---|---|")
    for per_tier in (25, 250):
        specs = work / f"plan-{per_tier}"
        specs.mkdir()
        observed = {"version": 1, "workloads": {}}
        for w in range(100):
            name = f"wl{w:03}"
            (specs / f"{name}.yaml").write_text(run_spec(name))
            instances = []
            for t, tier in enumerate(("web", "cache", "app", "db")):
                for i in range(per_tier):
                    instances.append({"id": f"i-{w:04x}{t:02x}{i:010x}", "tier": tier, "state": "running",
                                      "instanceType": "t3.micro", "name": f"{tier}-{i}"})
            observed["workloads"][name] = {"region": "us-west-2", "instances": instances}
        obs = work / f"observed-{per_tier}.json"
        obs.write_text(json.dumps(observed))
        emu_env = {**os.environ, "NO_COLOR": "1"}
        times = []
        for _ in range(3):
            begin = time.monotonic()
            p = subprocess.run([ARGS.tierctl, "--specs", str(specs), "-o", "json", "plan", "stop", "--all", "--offline",
                                "--observed", str(obs)], env=emu_env, capture_output=True, text=True)
            times.append(time.monotonic() - begin)
            if p.returncode != 0:
                raise SystemExit(p.stderr)
        print(f"| 100 | {100 * 4 * per_tier} | {min(times):.3f} | {', '.join(f'{t:.3f}' for t in times)} |")


def bench_sync(work):
    print("\n## sync: 200 workloads x 5 tiers\n")
    specs = work / "sync"
    specs.mkdir()
    for w in range(200):
        tiers = "".join(f"  - name: tier{t}\n    stop: {{ sequence: {t} }}\n    start: {{ sequence: {4 - t} }}\n" for t in range(5))
        (specs / f"wl{w:03}.yaml").write_text(
            f"name: wl{w:03}\nregion: us-west-2\nselector:\n  workloadTag: {{ key: App, value: a{w} }}\n"
            f"  tierTagKey: Tier\n  vpcId: vpc-0123abcd\ntiers:\n{tiers}")
    print("| DynamoDB latency | concurrency | first sync (s) | transactions | unchanged sync (s) | DynamoDB calls when unchanged |")
    print("|---|---|---|---|---|---|")
    for latency_ms, concurrency in ((0, 16), (30, 1), (30, 16), (30, 32), (30, 64)):
        emu = Emulator(work)
        try:
            if latency_ms:
                emu.admin("POST", "slow", {"service": "dynamodb", "latencyMs": latency_ms})
            first, _ = tierctl(["sync", "--concurrency", str(concurrency)], emu, specs)
            transactions = emu.counts("dynamodb").get("dynamodb:TransactWriteItems", 0)
            emu.admin("DELETE", "calls")
            again, _ = tierctl(["sync"], emu, specs)
            counts = emu.counts("dynamodb")
            print(f"| {latency_ms} ms | {concurrency} | {first:.2f} | {transactions} | {again:.2f} | {sum(counts.values())} ("
                  + ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(counts.items())) + ") |")
        finally:
            emu.stop()


THROTTLE_TRANSITION_S = 0.5


def throttle_spec(name):
    return f"""name: {name}
region: us-west-2
selector:
  workloadTag: {{ key: App, value: {name} }}
  tierTagKey: Role
  vpcId: vpc-0123abcd
tiers:
  - name: web
    stop: {{ sequence: 0, delaySeconds: {DELAY_S} }}
    start: {{ sequence: 2 }}
  - name: app
    stop: {{ sequence: 1, synchronous: true, delaySeconds: {DELAY_S} }}
    start: {{ sequence: 1, synchronous: true }}
  - name: db
    stop: {{ sequence: 2, synchronous: true }}
    start: {{ sequence: 0, synchronous: true }}
"""


def bench_throttle(work):
    print("\n## throttle: stop 120 instances in 3 tiers (2 synchronous, 2 s delays), "
          f"EC2 transitions {THROTTLE_TRANSITION_S:g} s\n")
    print("Each run stops its own identical fleet in one emulator (a warm-up run first creates the lease")
    print("table). `default` = tierctl's policy (standard retry mode, backoff 0.5 s doubling to a 2 s cap,")
    print("14 attempts, the pacer told of throttles); `adaptive` = `AWS_RETRY_MODE=adaptive`, same backoffs,")
    print("plus the SDK's client-side rate limiter. Throttles are counted by the emulator's fault stats.\n")
    runs = [("unthrottled", "default", None), ("1 in 3 EC2 calls", "default", "third"),
            ("1 in 3 EC2 calls", "adaptive", "third"), ("5 s storm from 1.5 s", "default", "storm"),
            ("5 s storm from 1.5 s", "adaptive", "storm")]
    emu = Emulator(work)
    try:
        specs = work / "throttle"
        specs.mkdir()
        names = ["Warm"] + [f"T{i}" for i in range(len(runs))]
        emu.admin("POST", "config", {"stopDelayMs": int(THROTTLE_TRANSITION_S * 1000),
                                     "startDelayMs": int(THROTTLE_TRANSITION_S * 1000),
                                     "fastDescribe": ARGS.fast_describe})
        for name in names:
            (specs / f"{name}.yaml").write_text(throttle_spec(name))
            emu.admin("POST", "seed", {"region": "us-west-2", "vpc": "vpc-0123abcd", "workloads": [{
                "workloadTag": {"key": "App", "value": name}, "tierTagKey": "Role",
                "tiers": [{"name": t, "count": 40, "instanceType": "t3.micro"} for t in ("web", "app", "db")]}]})
        tierctl(["run", "stop", "Warm"], emu, specs)
        print("| run | retry mode | EC2 calls | throttled | wall (s) | extra (s) | extra per throttle (s) |")
        print("|---|---|---|---|---|---|---|")
        clean = None
        for (what, mode, fault), name in zip(runs, names[1:]):
            emu.admin("DELETE", "faults")
            emu.admin("DELETE", "faults/stats")
            emu.admin("DELETE", "calls")
            if fault == "third":
                emu.admin("POST", "faults", {"service": "ec2", "error": "RequestLimitExceeded", "every": 3})
            elif fault == "storm":
                emu.admin("POST", "faults", {"service": "ec2", "error": "RequestLimitExceeded",
                                             "stormMs": 5000, "startInMs": 1500})
            env = {"AWS_RETRY_MODE": "adaptive"} if mode == "adaptive" else {}
            wall, _ = tierctl(["run", "stop", name], emu, specs, env=env)
            throttled = emu.admin("GET", "faults/stats")["throttled"]
            calls = sum(emu.counts("ec2").values())
            if clean is None:
                clean = wall
            extra = wall - clean
            per = f"{extra / throttled:.2f}" if throttled else "-"
            print(f"| {what} | {mode} | {calls} | {throttled} | {wall:.2f} | {extra:.2f} | {per} |")
        emu.admin("DELETE", "faults")
    finally:
        emu.stop()


ASG_SPEC = """name: Groups
region: us-west-2
selector:
  workloadTag: { key: App, value: groups }
  tierTagKey: Role
tiers:
  - name: web
    members: [asg]
    stop: { sequence: 0, synchronous: true, delaySeconds: 0 }
    start: { sequence: 0, waitHealthy: true, healthTimeoutSeconds: 120, delaySeconds: 0 }
"""


def bench_asg(work):
    import boto3
    in_service_s = 1.0
    print(f"\n## asg: one tier of Auto Scaling groups (2 instances each), new instances InService after {in_service_s:g} s\n")
    print("| action | groups | Auto Scaling calls | calls by action | other calls | wall (s) |")
    print("|---|---|---|---|---|---|")
    for n in (10, 50):
        emu = Emulator(work)
        try:
            specs = work / f"asg-{n}"
            specs.mkdir()
            (specs / "Groups.yaml").write_text(ASG_SPEC)
            emu.admin("POST", "asg", {"inServiceMs": int(in_service_s * 1000)})
            asg = boto3.client("autoscaling", endpoint_url=f"http://127.0.0.1:{emu.port}", region_name="us-west-2",
                               aws_access_key_id="bench", aws_secret_access_key="bench")
            asg.create_launch_configuration(LaunchConfigurationName="bench", ImageId="ami-12c6146b",
                                            InstanceType="t3.micro")
            for g in range(n):
                name = f"web-{g:03d}"
                asg.create_auto_scaling_group(
                    AutoScalingGroupName=name, LaunchConfigurationName="bench", MinSize=1, MaxSize=4,
                    DesiredCapacity=2, AvailabilityZones=["us-west-2a"],
                    Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
                           "ResourceType": "auto-scaling-group"} for k, v in (("App", "groups"), ("Role", "web"))])
            for action in ("stop", "start"):
                emu.admin("DELETE", "calls")
                wall, _ = tierctl(["run", action, "Groups"], emu, specs)
                counts = emu.counts()
                groups = {k: v for k, v in counts.items() if k.startswith("autoscaling:")}
                other = sum(v for k, v in counts.items() if not k.startswith("autoscaling:"))
                by = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(groups.items()))
                print(f"| {action} | {n} | {sum(groups.values())} | {by} | {other} | {wall:.2f} |")
        finally:
            emu.stop()


RDS_SPEC = """name: Dbs
region: us-west-2
selector:
  workloadTag: { key: App, value: dbs }
  tierTagKey: Role
tiers:
  - name: db
    members: [rds]
    stop: { sequence: 0, synchronous: true, delaySeconds: 0 }
    start: { sequence: 0, waitHealthy: true, healthTimeoutSeconds: 120, delaySeconds: 0 }
"""


def bench_rds(work):
    transition_s = 1.0
    print(f"\n## rds: one tier of RDS DB instances, stop and start transitions {transition_s:g} s\n")
    print("| action | DB instances | tagging + RDS calls | calls by action | other calls | wall (s) |")
    print("|---|---|---|---|---|---|")
    for n in (20, 50):
        emu = Emulator(work)
        try:
            specs = work / f"rds-{n}"
            specs.mkdir()
            (specs / "Dbs.yaml").write_text(RDS_SPEC)
            ms = int(transition_s * 1000)
            emu.admin("POST", "rds/config", {"stopDelayMs": ms, "startDelayMs": ms})
            emu.admin("POST", "rds/seed", {"region": "us-west-2", "databases": [
                {"id": f"db-{d:03d}", "tags": {"App": "dbs", "Role": "db"}} for d in range(n)]})
            for action in ("stop", "start"):
                emu.admin("DELETE", "calls")
                wall, _ = tierctl(["run", action, "Dbs"], emu, specs)
                counts = emu.counts()
                mine = {k: v for k, v in counts.items() if k.split(":")[0] in ("rds", "tagging")}
                other = sum(v for k, v in counts.items() if k not in mine)
                by = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(mine.items()))
                print(f"| {action} | {n} | {sum(mine.values())} | {by} | {other} | {wall:.2f} |")
        finally:
            emu.stop()


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tierctl", default=str(ROOT / "target/debug/tierctl"))
    parser.add_argument("--moto-describe", dest="fast_describe", action="store_false",
                        help="answer DescribeInstances with moto's own (slow) serialiser in the run scenario")
    parser.add_argument("scenarios", nargs="*", default=["run", "check", "plan", "sync", "asg", "rds", "throttle"])
    ARGS = parser.parse_args()
    print(f"# tierctl benchmarks ({os.cpu_count()} cores, emulator on 127.0.0.1, binary {ARGS.tierctl})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for s in ARGS.scenarios:
            {"run": bench_run, "check": bench_check, "plan": bench_plan, "sync": bench_sync,
             "asg": bench_asg, "rds": bench_rds, "throttle": bench_throttle}[s](work)


if __name__ == "__main__":
    main()

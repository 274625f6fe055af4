#!/usr/bin/env bash
# `make demo`: tierctl's main job on the built-in example, against the local
# AWS emulator (loopback only, dummy credentials, nothing leaves the machine).
set -euo pipefail
cd "$(dirname "$0")/../.."

TIERCTL=${TIERCTL:-target/debug/tierctl}
PY=${TIERCTL_EMULATOR_PYTHON:-.venv/bin/python}
SPECS=${SPECS:-workloads}
work=$(mktemp -d)
emulator_pid=""
runner_pid=""
cleanup() {
  if [ -n "$runner_pid" ]; then kill "$runner_pid" 2>/dev/null || true; wait "$runner_pid" 2>/dev/null || true; fi
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain" >&2; }
run() { step "tierctl $*"; "$TIERCTL" "$@"; }

PYTHONPATH=tests/emulator "$PY" -m tierctl_emulator --port 0 --port-file "$work/port" --parent-pid $$ \
  >"$work/emulator.out" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/emulator.log" >&2; echo "the emulator did not start" >&2; exit 1; }
port=$(cat "$work/port")

# Everything below talks to the emulator only.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-west-2
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "AWS emulator on 127.0.0.1:$port" >&2

# The example fleet: instances tagged as the example workloads expect, with
# SSM guests (one app server has its override file), plus one instance whose
# tier tag has a typo. EC2 state changes take 300 ms here.
"$PY" - "$port" tests/demo/fleet.json <<'PY'
import json, sys, urllib.request
port, fleet = sys.argv[1], sys.argv[2]
def admin(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_tierctl/{path}", data=json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(req))
admin("config", {"stopDelayMs": 300, "startDelayMs": 300})
for body in json.load(open(fleet)):
    seeded = admin("seed", body)
    n = sum(len(t["instanceIds"]) for w in seeded["workloads"] for t in w["tiers"])
    print(f"seeded {n} instances in {body['region']} ({seeded['vpcId']})", file=sys.stderr)
PY

run validate "$SPECS"
step "tierctl sync --check   # before the first sync: drift, exit code 2"
set +e; "$TIERCTL" --specs "$SPECS" sync --check; code=$?; set -e
echo "exit code: $code" >&2
[ "$code" -eq 2 ] || { echo "expected drift (2) before the first sync" >&2; exit 1; }
run --specs "$SPECS" sync
run --specs "$SPECS" sync --check

# Runs exit 3 when instances were deliberately kept running (override files).
expect() { # expect CODE tierctl-args...
  local want=$1; shift
  step "tierctl $*"
  set +e; "$TIERCTL" --specs "$SPECS" "$@"; local code=$?; set -e
  echo "exit code: $code" >&2
  [ "$code" -eq "$want" ] || { echo "expected exit code $want" >&2; exit 1; }
}
expect 0 plan stop --all
expect 3 run stop --all --from dynamodb
expect 0 plan start --profile performant BotoTestCase1
expect 0 run start --profile performant BotoTestCase1 --from dynamodb
expect 0 run start WinReporting

# Every instance that was stopped now runs at its tier's `performant` type.
# The app servers kept running overnight (their override file), and a running
# instance cannot change type: they keep theirs.
"$PY" - <<'PY'
import boto3, sys
ec2 = boto3.client("ec2", region_name="us-west-2")
want = {"Role_Web": "c5.large", "Role_App": "t2.micro", "Role_DB": "r5.2xlarge"}
seen = 0
for r in ec2.describe_instances(Filters=[{"Name": "tag:Environment", "Values": ["ENV001"]}])["Reservations"]:
    for i in r["Instances"]:
        tier = {t["Key"]: t["Value"] for t in i["Tags"]}.get("Role")
        if tier in want:
            seen += 1
            if (i["InstanceType"], i["State"]["Name"]) != (want[tier], "running"):
                sys.exit(f"{i['InstanceId']} ({tier}) is {i['InstanceType']}, {i['State']['Name']}")
print(f"checked: the {seen} instances of BotoTestCase1 run, the ones that were stopped at their performant type", file=sys.stderr)
PY
# An Auto Scaling web tier (tests/demo/asg): a group of 2 in front of 2 EC2
# app servers. The stop records the group's sizes in its tag and scales it in
# (AWS terminates its instances); a second stop keeps the recorded sizes; the
# start restores them, and its health gate waits until InService = desired
# (new instances are Pending for 1.5 s here).
"$PY" - "$port" <<'PY'
import json, sys, urllib.request
import boto3
port = sys.argv[1]
def admin(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_tierctl/{path}", data=json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(req))
admin("seed", {"region": "us-west-2", "workloads": [{"workloadTag": {"key": "App", "value": "storefront"},
      "tierTagKey": "Role", "tiers": [{"name": "app", "count": 2, "guest": {"os": "linux", "files": []}}]}]})
admin("asg", {"inServiceMs": 1500})
asg = boto3.client("autoscaling", region_name="us-west-2")
asg.create_launch_configuration(LaunchConfigurationName="storefront-web", ImageId="ami-12c6146b", InstanceType="t3.micro")
tags = [{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": "storefront-web",
         "ResourceType": "auto-scaling-group"} for k, v in {"App": "storefront", "Role": "web"}.items()]
asg.create_auto_scaling_group(AutoScalingGroupName="storefront-web", LaunchConfigurationName="storefront-web",
                              MinSize=1, MaxSize=4, DesiredCapacity=2, AvailabilityZones=["us-west-2a"], Tags=tags)
print("created Auto Scaling group storefront-web (min 1, max 4, desired 2) and 2 app servers", file=sys.stderr)
PY
ASG_SPECS=tests/demo/asg
run validate "$ASG_SPECS"
expect_asg() { SPECS="$ASG_SPECS" expect "$@"; }
expect_asg 0 plan stop Storefront
expect_asg 0 run stop Storefront
expect_asg 0 run stop Storefront
expect_asg 0 plan start Storefront
expect_asg 0 run start Storefront
"$PY" - <<'PY'
import boto3, sys
g = boto3.client("autoscaling", region_name="us-west-2").describe_auto_scaling_groups(
    AutoScalingGroupNames=["storefront-web"])["AutoScalingGroups"][0]
states = sorted(i["LifecycleState"] for i in g["Instances"])
if (g["MinSize"], g["MaxSize"], g["DesiredCapacity"], states) != (1, 4, 2, ["InService", "InService"]):
    sys.exit(f"storefront-web: {g['MinSize']}/{g['MaxSize']}/{g['DesiredCapacity']}, {states}")
if any(t["Key"] == "tierctl:stopped-sizes" for t in g["Tags"]):
    sys.exit("the recorded sizes tag is still there")
print("checked: storefront-web is back at min 1, max 4, desired 2 with 2 fresh instances InService", file=sys.stderr)
PY

run --specs "$SPECS" import --all --out "$work/imported"
step "cat imported/WinReporting.yaml   # the tables, back as a spec"
cat "$work/imported/WinReporting.yaml"
# The Lambda runner: tierctl started as `bootstrap` (as Lambda's provided.al2023
# runtime starts it) serves the emulator's Lambda Runtime API; one scheduled
# stop event, as EventBridge Scheduler sends it, runs what
# `tierctl run stop WinReporting --from dynamodb` runs.
runner_started=$EPOCHREALTIME
step "bootstrap   # tierctl as the Lambda runner, one scheduled stop of WinReporting through the Runtime API"
(AWS_LAMBDA_RUNTIME_API="127.0.0.1:$port" AWS_LAMBDA_FUNCTION_NAME=tierctl-runner \
  AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
  exec -a bootstrap "$TIERCTL") >"$work/runner.out" 2>"$work/runner.err" &
runner_pid=$!
"$PY" - "$port" "$work/runner.out" <<'PY'
import datetime, json, sys, urllib.request
port, out = sys.argv[1], sys.argv[2]
def admin(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_tierctl/{path}", data=data,
                                 method="POST" if data else "GET")
    return json.load(urllib.request.urlopen(req, timeout=90))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
event = {"action": "stop", "workload": "WinReporting", "scheduledTime": now, "maxAgeSeconds": 3600}
print("event:", json.dumps(event), file=sys.stderr)
admin("lambda/invocations", {"event": event})
results = admin("lambda/results?count=1&timeoutMs=60000")["results"]
if not results or results[0]["status"] != "response":
    sys.exit(f"the runner did not answer: {results}")
doc = results[0]["body"]
for w in doc["report"]["workloads"]:
    states = sorted({o["status"] for o in w["outcomes"]})
    print(f"runner: workload {w['name']}: {len(w['outcomes'])} instances, {', '.join(states)}", file=sys.stderr)
print(f"runner: exit code {doc['exitCode']}; the report, also logged as one JSON line on stdout "
      f"({len(open(out).read().splitlines())} line)", file=sys.stderr)
if doc["exitCode"] != 3:  # as `run stop`: a guest kept its instance running (override file)
    sys.exit("expected exit code 3")
PY
kill "$runner_pid" 2>/dev/null || true; wait "$runner_pid" 2>/dev/null || true; runner_pid=""
awk -v a="$runner_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "runner step: %.1f s\n", b - a }' >&2


# Schedules (tests/demo/scheduled): a spec with a Berlin schedule. `sync`
# writes one EventBridge Scheduler schedule per action in the group `tierctl`,
# with the time zone set (AWS handles daylight saving time) and the Lambda
# runner as target; a second sync writes nothing. `plan` shows the next runs
# in Berlin time and in UTC, across the next daylight saving change.
SPECS=tests/demo/scheduled
runner_arn=arn:aws:lambda:us-west-2:123456789012:function:tierctl-runner
role_arn=arn:aws:iam::123456789012:role/tierctl-scheduler
run --specs "$SPECS" sync --runner-arn "$runner_arn" --scheduler-role-arn "$role_arn"
run --specs "$SPECS" sync --check --runner-arn "$runner_arn" --scheduler-role-arn "$role_arn"
"$PY" - <<'PY'
import boto3, sys
s = boto3.client("scheduler", region_name="us-west-2")
for name in ("Nightly-stop", "Nightly-start"):
    d = s.get_schedule(GroupName="tierctl", Name=name)
    print(f"schedule {name}: {d['ScheduleExpression']} in {d['ScheduleExpressionTimezone']}, "
          f"target {d['Target']['Arn'].split(':')[-1]}, input {d['Target']['Input']}", file=sys.stderr)
PY
expect 0 plan stop Nightly --offline

# RDS and Aurora: a db tier of DB instances and an Aurora cluster (tests/demo/rds).
# Aurora members go with their cluster; the read replica is held back (AWS
# refuses to stop it, and its source), so the stop exits 3. RDS transitions take 500 ms.
"$PY" - "$port" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
def admin(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_tierctl/{path}", data=json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(req))
admin("rds/config", {"stopDelayMs": 500, "startDelayMs": 500})
tags = {"App": "shop", "Role": "db"}
admin("seed", {"region": "us-west-2", "workloads": [{"workloadTag": {"key": "App", "value": "shop"},
      "tierTagKey": "Role", "tiers": [{"name": "app", "count": 2}]}]})
admin("rds/seed", {"region": "us-west-2", "databases": [
    {"id": "orders", "tags": tags},
    {"id": "reports", "tags": tags}, {"id": "reports-ro", "replicaOf": "reports", "tags": tags},
    {"kind": "cluster", "id": "sales", "members": ["sales-1", "sales-2"], "tags": tags}]})
print("seeded 2 app instances, DB instances orders, reports, reports-ro and Aurora cluster sales", file=sys.stderr)
PY
SPECS=tests/demo/rds
expect 0 plan stop Shop
expect 3 run stop Shop
expect 0 plan start Shop
expect 0 run start Shop
printf '\ndemo finished: validate, sync, plan, run stop, run start (profile performant), an Auto Scaling tier stopped and started, import, one Lambda runner invocation, an RDS/Aurora db tier, against the local emulator\n' >&2

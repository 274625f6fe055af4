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
cleanup() {
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
run --specs "$SPECS" import --all --out "$work/imported"
step "cat imported/WinReporting.yaml   # the tables, back as a spec"
cat "$work/imported/WinReporting.yaml"

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
printf '\ndemo finished: validate, sync, plan, run stop, run start (profile performant), import, and an RDS/Aurora db tier, against the local emulator\n' >&2

"""deploy/tierctl-runner.yaml against tierctl: the roles' policies and trust
policies in the template are the ones `tierctl iam-policy --role runner` /
`--role scheduler` (`--trust`) print, with the template's intrinsic
functions resolved for one account and region.

Run: TIERCTL=target/debug/tierctl .venv/bin/python -m unittest discover -s tests/deploy
(`make test-deploy`, which also runs cfn-lint on the template).
"""

import json
import os
import re
import subprocess
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "deploy", "tierctl-runner.yaml")
TIERCTL = os.environ.get("TIERCTL", os.path.join(ROOT, "target", "debug", "tierctl"))
ACCOUNT, REGION = "123456789012", "eu-central-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tierctl-runner"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:tierctl-runner-dead-letters"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load():
    with open(TEMPLATE) as handle:
        return yaml.load(handle, Loader=_Loader)  # noqa: S506 - our own loader, safe base


def resolve(value, params, conditions):
    """The value with Ref, Sub, GetAtt and If resolved; NoValue entries dropped."""
    if isinstance(value, list):
        out = [resolve(v, params, conditions) for v in value]
        return [v for v in out if v is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return _NO_VALUE if arg == "AWS::NoValue" else params[arg]
        if key == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: params[m.group(1)], arg)
        if key == "Fn::GetAtt":
            return params[".".join(arg)]
        if key == "Fn::If":
            cond, yes, no = arg
            return resolve(yes if conditions[cond] else no, params, conditions)
    out = {k: resolve(v, params, conditions) for k, v in value.items()}
    return {k: v for k, v in out.items() if v is not _NO_VALUE}


_NO_VALUE = object()


def tierctl(*args):
    out = subprocess.run(
        [TIERCTL, "--specs", os.path.join(ROOT, "workloads"), "--dynamodb-region", REGION,
         "iam-policy", "--account", ACCOUNT, *args],
        check=True, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TIERCTL_")})
    return json.loads(out.stdout)


class TemplateTest(unittest.TestCase):
    def setUp(self):
        self.template = load()
        self.params = {
            "AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
            "FunctionName": "tierctl-runner", "Runner.Arn": FUNCTION_ARN,
            "DeadLetters.Arn": QUEUE_ARN, "RunPolicyArn": "",
            "RunnerRoleName": "tierctl-runner", "SchedulerRoleName": "tierctl-scheduler",
        }

    def role(self, name, queue=False):
        conditions = {"HasRunPolicy": False, "MakeGroup": True, "MakeQueue": queue}
        return resolve(self.template["Resources"][name]["Properties"], self.params, conditions)

    def test_the_runner_role_has_the_runner_statements_beyond_the_run_policy(self):
        role = self.role("RunnerRole")
        inline = role["Policies"][0]["PolicyDocument"]["Statement"]
        run = tierctl("--for", "run")["Statement"]
        runner = tierctl("--role", "runner")["Statement"]
        # What the runner needs = the run policy (RunPolicyArn) + the template's inline part.
        self.assertEqual(runner[:len(run)], run)
        self.assertEqual(inline, runner[len(run):])
        self.assertEqual(role["AssumeRolePolicyDocument"],
                         tierctl("--role", "runner", "--trust"))
        self.assertNotIn("ManagedPolicyArns", role)

    def test_the_scheduler_role_may_only_invoke_the_runner(self):
        role = self.role("SchedulerRole")
        self.assertEqual(role["Policies"][0]["PolicyDocument"],
                         tierctl("--role", "scheduler", "--runner-arn", FUNCTION_ARN))
        self.assertEqual(role["AssumeRolePolicyDocument"],
                         tierctl("--role", "scheduler", "--trust"))
        with_queue = self.role("SchedulerRole", queue=True)
        self.assertEqual(with_queue["Policies"][0]["PolicyDocument"],
                         tierctl("--role", "scheduler", "--runner-arn", FUNCTION_ARN,
                                 "--dead-letter-arn", QUEUE_ARN))

    def test_function_group_and_names_are_what_sync_and_iam_policy_assume(self):
        res = self.template["Resources"]
        fn = res["Runner"]["Properties"]
        self.assertEqual(fn["Runtime"], "provided.al2023")
        self.assertEqual(self.template["Parameters"]["Architecture"]["Default"], "arm64")
        self.assertEqual(self.template["Parameters"]["FunctionName"]["Default"], "tierctl-runner")
        self.assertEqual(self.template["Parameters"]["SchedulerRoleName"]["Default"],
                         "tierctl-scheduler")
        self.assertEqual(res["ScheduleGroup"]["Properties"]["Name"], "tierctl")
        self.assertEqual(res["RunnerAsync"]["Properties"]["MaximumEventAgeInSeconds"], 3600)
        for output in ("RunnerArn", "SchedulerRoleArn", "DeadLetterArn"):
            self.assertIn(output, self.template["Outputs"])


if __name__ == "__main__":
    unittest.main()

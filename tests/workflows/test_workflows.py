"""Static checks of the workflow files that actionlint does not make:
third-party actions pinned to full commit SHAs with the version in a comment,
least-privilege permissions, OIDC only (no long-lived AWS keys), and the CI
role rules: the pull request never gets the write role, write jobs run in a
protected environment and (dispatched by hand) only from the default branch,
and no job outlives its AWS credentials."""

import re
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / ".github" / "actions").glob("*/action.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)


class WorkflowFilesTest(unittest.TestCase):
    def test_files_exist(self):
        names = {p.name for p in FILES}
        for n in ("ci.yml", "pull-request.yml", "sync.yml", "schedule.yml", "release.yml", "action.yml"):
            self.assertIn(n, names)

    def test_third_party_actions_are_pinned_to_a_commit(self):
        for path in FILES:
            for ref, rest in USES.findall(path.read_text()):
                if ref.startswith("./"):
                    continue
                with self.subTest(file=path.name, uses=ref):
                    self.assertRegex(ref, r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
                    self.assertRegex(rest, r"^\s+# v\d+\.\d+\.\d+\s*$")

    def test_same_action_same_pin(self):
        pins = {}
        for path in FILES:
            for ref, rest in USES.findall(path.read_text()):
                if "@" in ref:
                    name, sha = ref.split("@")
                    pins.setdefault(name, set()).add((sha, rest.strip()))
        for name, seen in pins.items():
            with self.subTest(action=name):
                self.assertEqual(len(seen), 1, seen)

    def test_permissions_are_explicit(self):
        for path in FILES:
            if path.name == "action.yml":
                continue
            text = path.read_text()
            with self.subTest(file=path.name):
                self.assertRegex(text, r"(?m)^permissions:")
                self.assertNotIn("write-all", text)

    def test_oidc_only_where_aws_is_used(self):
        for path in FILES:
            text = path.read_text()
            with self.subTest(file=path.name):
                uses_aws = "aws-actions/configure-aws-credentials@" in text
                self.assertEqual("id-token: write" in text, uses_aws)
                for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY",
                                  "AWS_ACCESS_KEY_ID", "secrets."):
                    self.assertNotIn(forbidden, text)
                if uses_aws:
                    self.assertIn("role-to-assume: ${{ vars.", text)

    def test_scripts_are_strict_bash(self):
        for path in sorted((ROOT / ".github").glob("**/*.sh")):
            text = path.read_text()
            with self.subTest(script=path.name):
                self.assertTrue(text.startswith("#!/usr/bin/env bash\n"))
                self.assertIn("\nset -euo pipefail\n", text)
                self.assertTrue(path.stat().st_mode & 0o111, "not executable")

    def test_schedule_crons_are_mapped_to_actions(self):
        text = (ROOT / ".github" / "workflows" / "schedule.yml").read_text()
        crons = re.findall(r'- cron: "([^"]+)" # (stop|start)', text)
        self.assertEqual(sorted(a for _, a in crons), ["start", "stop"])
        for cron, action in crons:
            with self.subTest(cron=cron):
                # used in both the ACTION env and the concurrency group
                self.assertEqual(text.count(f"github.event.schedule == '{cron}' && '{action}'"), 2)



WRITE_ROLE = "vars.TIERCTL_AWS_ROLE_ARN"
DEFAULT_BRANCH_ONLY = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"


def workflow(name):
    # PyYAML reads the key `on` as True.
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def aws_steps(job):
    return [s for s in job.get("steps", [])
            if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")]


def aws_jobs():
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job_id, job in workflow(path.name)["jobs"].items():
            if aws_steps(job):
                yield path.name, job_id, job


class CiRolesTest(unittest.TestCase):
    def test_there_are_aws_jobs(self):
        names = {(f, j) for f, j, _ in aws_jobs()}
        self.assertTrue({("pull-request.yml", "plan"), ("sync.yml", "sync"),
                         ("schedule.yml", "run")} <= names, names)

    def test_the_pull_request_never_receives_the_write_role(self):
        text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
        self.assertNotIn(WRITE_ROLE, text, "no fallback to the write role")
        for job_id, job in workflow("pull-request.yml")["jobs"].items():
            for step in aws_steps(job):
                with self.subTest(job=job_id):
                    self.assertEqual(step["with"]["role-to-assume"],
                                     "${{ vars.TIERCTL_AWS_PLAN_ROLE_ARN }}")
        self.assertEqual(set(workflow("pull-request.yml")["on"]), {"pull_request"})

    def test_write_jobs_run_in_an_environment(self):
        for name, job_id, job in aws_jobs():
            roles = [s["with"]["role-to-assume"] for s in aws_steps(job)]
            if not any(WRITE_ROLE in r for r in roles):
                continue
            with self.subTest(file=name, job=job_id):
                env = job.get("environment")
                env = env.get("name") if isinstance(env, dict) else env
                self.assertEqual(env, "tierctl-write")

    def test_the_write_role_is_only_used_by_jobs_in_the_environment(self):
        for name, job_id, job in aws_jobs():
            env = job.get("environment")
            for step in aws_steps(job):
                with self.subTest(file=name, job=job_id):
                    if env is None:
                        self.assertNotIn(WRITE_ROLE, step["with"]["role-to-assume"])

    def test_manual_dispatch_of_a_write_job_runs_only_from_the_default_branch(self):
        for name, job_id, job in aws_jobs():
            if job.get("environment") is None:
                continue
            with self.subTest(file=name, job=job_id):
                on = workflow(name)["on"]
                if "workflow_dispatch" in on or "push" in on:
                    condition = str(job.get("if", ""))
                    self.assertIn(DEFAULT_BRANCH_ONLY, condition)
                    # the branch rule is ANDed with the rest, not ORed away
                    rest = condition.replace(DEFAULT_BRANCH_ONLY, "")
                    self.assertTrue(rest.strip() == "" or rest.rstrip().endswith("&&"),
                                    condition)

    def test_no_job_outlives_its_credentials(self):
        for name, job_id, job in aws_jobs():
            with self.subTest(file=name, job=job_id):
                timeout = job.get("timeout-minutes")
                self.assertIsInstance(timeout, int, "a literal timeout-minutes")
                for step in aws_steps(job):
                    duration = step["with"].get("role-duration-seconds", 3600)
                    self.assertIsInstance(duration, int, "a literal role-duration-seconds")
                    self.assertLessEqual(timeout * 60, duration)


if __name__ == "__main__":
    unittest.main()

"""Tests of the GitHub Actions workflow scripts (.github/scripts/*.sh and the
install-tierctl action's install.sh), run locally as the workflows run them:
GITHUB_STEP_SUMMARY / GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH point at temp
files, and a fake `tierctl` and a fake `gh` (tests/workflows/fakes/) come first
on PATH, record their arguments and answer with canned output and exit codes.

Run: .venv/bin/python -m unittest discover -s tests/workflows
"""

import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / ".github" / "scripts"
INSTALL = ROOT / ".github" / "actions" / "install-tierctl" / "install.sh"
FAKES = Path(__file__).resolve().parent / "fakes"
MARKER = "<!-- tierctl-plan -->"


class ScriptTest(unittest.TestCase):
    """A fresh temp folder per test with the GitHub files and the fakes' logs."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tierctl-wf-test-")
        self.tmp = Path(self._tmp.name)
        self.runner_temp = self.tmp / "runner-temp"
        self.runner_temp.mkdir()
        self.summary = self.tmp / "step_summary.md"
        self.output = self.tmp / "github_output"
        self.github_env = self.tmp / "github_env"
        self.github_path = self.tmp / "github_path"
        self.tierctl_log = self.tmp / "tierctl.log"
        self.gh_log = self.tmp / "gh.log"
        self.spec_file = self.tmp / "tierctl-spec.json"
        for f in (self.summary, self.output, self.github_env, self.github_path):
            f.write_text("")
        self.spec({})

    def tearDown(self):
        self._tmp.cleanup()

    def spec(self, replies):
        self.spec_file.write_text(json.dumps(replies))

    def run_script(self, script, *args, env=None, cwd=None):
        base = {
            "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "RUNNER_TEMP": str(self.runner_temp),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_ENV": str(self.github_env),
            "GITHUB_PATH": str(self.github_path),
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/specs",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
            "FAKE_TIERCTL_LOG": str(self.tierctl_log),
            "FAKE_TIERCTL_SPEC": str(self.spec_file),
            "FAKE_GH_LOG": str(self.gh_log),
        }
        base.update(env or {})
        return subprocess.run(
            ["bash", str(script), *args],
            env=base,
            cwd=cwd or self.tmp,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def outputs(self):
        out = {}
        for line in self.output.read_text().splitlines():
            key, _, value = line.partition("=")
            out[key] = value
        return out

    @staticmethod
    def _calls(log):
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def tierctl_calls(self):
        return self._calls(self.tierctl_log)

    def gh_calls(self):
        return self._calls(self.gh_log)

    def assert_runner_temp_holds(self, *names):
        """The scripts clean up their work folders: only these files remain."""
        self.assertEqual(sorted(p.name for p in self.runner_temp.iterdir()), sorted(names))


# --------------------------------------------------------------------------
class PlanCommentTest(ScriptTest):
    SCRIPT = SCRIPTS / "plan-comment.sh"
    SYNC_MD = "| workload | change |\n|---|---|\n| web-prod | ~ tiers[0].stop.delaySeconds 5 -> 10 |\n"
    STOP_MD = "#### web-prod\n\n1. wave 0: Role_Web (2 instances)\n"
    START_MD = "#### web-prod\n\n1. wave 0: Role_DB (1 instance)\n"

    def online_spec(self, sync_rc=2, stop_rc=0, start_rc=0, validate_rc=0):
        self.spec({
            "validate:github": {"rc": validate_rc, "stdout": "" if validate_rc == 0 else
                                "::error file=workloads/web-prod.yaml,line=3,col=9::region: not an AWS region\n"},
            "validate:text": {"rc": validate_rc, "stdout":
                              "workloads/web-prod.yaml:3:9: error: region: not an AWS region\n"},
            "sync": {"rc": sync_rc, "stdout": self.SYNC_MD if sync_rc in (0, 2) else "",
                     "stderr": "" if sync_rc in (0, 2) else "error: AccessDeniedException: dynamodb:Scan\n"},
            "plan stop": {"rc": stop_rc, "stdout": self.STOP_MD, "summary": "FROM TIERCTL\n"},
            "plan start": {"rc": start_rc, "stdout": self.START_MD, "summary": "FROM TIERCTL\n"},
        })

    def body(self):
        return Path(self.outputs()["body-file"]).read_text()

    def test_online_drift_is_not_a_failure(self):
        self.online_spec(sync_rc=2)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online"})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = self.outputs()
        self.assertEqual(out["status"], "drift")
        self.assertEqual(out["mode"], "online")
        self.assertEqual(out["body-file"], str(self.runner_temp / "tierctl-plan-comment.md"))
        body = self.body()
        self.assertTrue(body.startswith(MARKER + "\n"), body[:80])
        for part in ("### Validate", "All workload specs are valid",
                     "### Configuration drift (`tierctl sync --check`)", self.SYNC_MD,
                     "### Plan: stop (`tierctl plan stop --all`)", self.STOP_MD,
                     "### Plan: start (`tierctl plan start --all`)", self.START_MD,
                     "Commit `0123456789ab`", "https://github.com/acme/specs/actions/runs/4242"):
            self.assertIn(part, body)
        self.assertNotIn("Offline plan", body)
        self.assertLess(body.index("Configuration drift"), body.index("Plan: stop"))
        self.assertLess(body.index("Plan: stop"), body.index("Plan: start"))

        argv = [c["argv"] for c in self.tierctl_calls()]
        self.assertEqual(argv, [
            ["--color", "never", "validate", "-o", "github"],
            ["--color", "never", "sync", "--check", "-o", "markdown"],
            ["--color", "never", "plan", "stop", "--all", "-o", "markdown"],
            ["--color", "never", "plan", "start", "--all", "-o", "markdown"],
        ])
        # tierctl does not see the step summary (no double plans): the script
        # writes the whole body there exactly once.
        self.assertTrue(all(not c["summary_env"] for c in self.tierctl_calls()[1:]))
        summary = self.summary.read_text()
        self.assertEqual(summary, body)
        self.assertNotIn("FROM TIERCTL", summary)
        self.assert_runner_temp_holds("tierctl-plan-comment.md")

    def test_online_plans_are_saved_for_the_artifact_when_asked(self):
        self.online_spec(sync_rc=0)
        plans = self.tmp / "plans"
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online", "PLAN_DIR": str(plans)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.outputs()["plan-dir"], str(plans))
        argv = [c["argv"] for c in self.tierctl_calls()]
        self.assertIn(["--color", "never", "plan", "stop", "--all", "--out", str(plans / "plan-stop.json"),
                       "-o", "markdown"], argv)
        self.assertIn(["--color", "never", "plan", "start", "--all", "--out", str(plans / "plan-start.json"),
                       "-o", "markdown"], argv)

    def test_offline_plans_are_never_saved(self):
        self.online_spec(sync_rc=0)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "offline", "PLAN_DIR": str(self.tmp / "p")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("plan-dir", self.outputs())
        self.assertTrue(all("--out" not in c["argv"] for c in self.tierctl_calls()))

    def test_online_no_drift(self):
        self.online_spec(sync_rc=0)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.outputs()["status"], "ok")
        self.assertIn("no configuration drift", self.body())

    def test_offline_says_so_and_makes_no_aws_call(self):
        self.online_spec()
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "offline",
                                               "OFFLINE_REASON": "pull request from a fork"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.outputs()["mode"], "offline")
        body = self.body()
        self.assertTrue(body.startswith(MARKER))
        self.assertIn("**Offline plan**", body)
        self.assertIn("(pull request from a fork)", body)
        self.assertIn("`sync --check` was skipped", body)
        self.assertNotIn("### Configuration drift", body)
        self.assertIn(self.STOP_MD, body)
        argv = [c["argv"] for c in self.tierctl_calls()]
        self.assertNotIn("sync", [a[2] for a in argv])
        self.assertIn(["--color", "never", "plan", "stop", "--all", "--offline", "-o", "markdown"], argv)
        self.assertIn(["--color", "never", "plan", "start", "--all", "--offline", "-o", "markdown"], argv)

    def test_sync_error_fails_but_the_body_is_written(self):
        self.online_spec(sync_rc=1)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.outputs()["status"], "failed")
        body = self.body()
        self.assertTrue(body.startswith(MARKER))
        self.assertIn("**tierctl failed**", body)
        self.assertIn(":x: `tierctl` exited with code 1.", body)
        # tierctl's log (stderr) stays in the job log, not in the comment.
        self.assertIn("AccessDeniedException", r.stderr)
        self.assertIn(self.STOP_MD, body)  # the plans are still shown
        self.assert_runner_temp_holds("tierctl-plan-comment.md")

    def test_plan_error_fails(self):
        self.online_spec(sync_rc=0, start_rc=1)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.outputs()["status"], "failed")
        self.assertIn("### Plan: start (`tierctl plan start --all`)\n\n:x: `tierctl` exited with code 1.",
                      self.body())

    def test_interrupted_sync_fails(self):
        self.online_spec(sync_rc=130)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.outputs()["status"], "failed")

    def test_invalid_specs_skip_sync_and_plan(self):
        self.online_spec(validate_rc=1)
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "online"})
        self.assertEqual(r.returncode, 1)
        # The annotations reach the job log (stdout), where GitHub reads them.
        self.assertIn("::error file=workloads/web-prod.yaml,line=3,col=9::", r.stdout)
        body = self.body()
        self.assertIn("Validation failed (exit code 1)", body)
        self.assertIn("~~~~text\nworkloads/web-prod.yaml:3:9: error: region: not an AWS region\n~~~~", body)
        self.assertIn("were skipped because validation failed", body)
        cmds = [c["argv"][2] for c in self.tierctl_calls()]
        self.assertEqual(cmds, ["validate", "validate"])

    def test_too_long_for_a_comment(self):
        self.spec({"plan stop": {"stdout": "x" * 5000}, "plan start": {"stdout": "y"}})
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "offline", "COMMENT_LIMIT": "2000"})
        self.assertEqual(r.returncode, 0, r.stderr)
        body = self.body()
        self.assertTrue(body.startswith(MARKER))
        self.assertLess(len(body), 2000)
        self.assertIn("too long for a pull request comment", body)
        self.assertIn("[job summary](https://github.com/acme/specs/actions/runs/4242)", body)
        self.assertIn("x" * 5000, self.summary.read_text())  # the summary has it all

    def test_unknown_mode(self):
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "maybe"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("::error::", r.stdout)
        self.assertEqual(self.tierctl_calls(), [])

    def test_works_without_github_files(self):
        self.spec({})
        out = self.tmp / "comment.md"
        r = self.run_script(self.SCRIPT, env={"TIERCTL_PLAN_MODE": "offline", "GITHUB_STEP_SUMMARY": "",
                                               "GITHUB_OUTPUT": "", "COMMENT_FILE": str(out)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("_(no output)_", out.read_text())


# --------------------------------------------------------------------------
class UpsertCommentTest(ScriptTest):
    SCRIPT = SCRIPTS / "upsert-comment.sh"
    BOT = {"login": "github-actions[bot]", "type": "Bot"}
    HUMAN = {"login": "alice", "type": "User"}

    def setUp(self):
        super().setUp()
        self.body_file = self.tmp / "body.md"
        self.body_file.write_text(MARKER + "\n## tierctl plan\n\nnew `plan` with \"quotes\" and $dollars\n")

    def run_upsert(self, pages, **env):
        base = {"PR_NUMBER": "17", "FAKE_GH_COMMENTS": json.dumps(pages)}
        base.update(env)
        return self.run_script(self.SCRIPT, str(self.body_file), env=base)

    def writes(self):
        return [c for c in self.gh_calls() if "--method" in c["argv"]]

    def test_existing_comment_is_updated_not_duplicated(self):
        pages = [
            [{"id": 100, "user": self.HUMAN, "body": "LGTM"}],
            [{"id": 205, "user": self.BOT, "body": MARKER + "\n## tierctl plan\nold"},
             {"id": 300, "user": self.BOT, "body": "another bot comment"}],
        ]
        r = self.run_upsert(pages)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        listing = self.gh_calls()[0]["argv"]
        self.assertEqual(listing, ["api", "--paginate", "repos/acme/specs/issues/17/comments?per_page=100"])
        writes = self.writes()
        self.assertEqual(len(writes), 1)
        self.assertEqual(writes[0]["argv"][:4], ["api", "--method", "PATCH", "repos/acme/specs/issues/comments/205"])
        self.assertEqual(writes[0]["input"], {"body": self.body_file.read_text()})
        out = self.outputs()
        self.assertEqual(out["comment-action"], "updated")
        self.assertEqual(out["comment-id"], "205")
        self.assertIn("issuecomment-205", out["comment-url"])

    def test_no_comment_yet_creates_one(self):
        r = self.run_upsert([[{"id": 100, "user": self.HUMAN, "body": "LGTM"}], []])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        writes = self.writes()
        self.assertEqual(len(writes), 1)
        self.assertEqual(writes[0]["argv"][:4], ["api", "--method", "POST", "repos/acme/specs/issues/17/comments"])
        self.assertEqual(writes[0]["input"]["body"], self.body_file.read_text())
        self.assertEqual(self.outputs()["comment-action"], "created")

    def test_a_human_quoting_the_marker_is_not_overwritten(self):
        r = self.run_upsert([[{"id": 100, "user": self.HUMAN, "body": "> " + MARKER + " why?"}]])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.writes()[0]["argv"][2], "POST")

    def test_oldest_of_several_is_updated(self):
        pages = [[{"id": 500, "user": self.BOT, "body": MARKER}, {"id": 400, "user": self.BOT, "body": MARKER}]]
        r = self.run_upsert(pages)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.writes()[0]["argv"][3], "repos/acme/specs/issues/comments/400")

    def test_any_author_when_configured(self):
        r = self.run_upsert([[{"id": 7, "user": {"login": "my-app[bot]"}, "body": MARKER}]], COMMENT_AUTHOR="")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.writes()[0]["argv"][2], "PATCH")

    def test_body_without_marker_is_refused(self):
        self.body_file.write_text("no marker\n")
        r = self.run_upsert([[]])
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not contain the marker", r.stdout)
        self.assertEqual(self.gh_calls(), [])

    def test_bad_pr_number(self):
        r = self.run_upsert([[]], PR_NUMBER="17; rm -rf /")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.gh_calls(), [])

    def test_write_failure_fails(self):
        r = self.run_upsert([[]], FAKE_GH_WRITE_RC="1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("::error title=tierctl plan comment::could not comment", r.stdout)

    def test_write_failure_is_a_warning_for_forks(self):
        r = self.run_upsert([[]], FAKE_GH_WRITE_RC="1", COMMENT_SOFT_FAIL="true")
        self.assertEqual(r.returncode, 0)
        self.assertIn("::warning title=tierctl plan comment::", r.stdout)
        r = self.run_upsert([[]], FAKE_GH_LIST_RC="1", COMMENT_SOFT_FAIL="true")
        self.assertEqual(r.returncode, 0)
        self.assertIn("::warning", r.stdout)


# --------------------------------------------------------------------------
class RunScheduledTest(ScriptTest):
    SCRIPT = SCRIPTS / "run-scheduled.sh"

    def run_with(self, rc=0, **env):
        self.spec({"run stop": {"rc": rc}, "run start": {"rc": rc}})
        return self.run_script(self.SCRIPT, env=env)

    def argv(self):
        calls = self.tierctl_calls()
        self.assertEqual(len(calls), 1)
        return calls[0]["argv"]

    def test_all_workloads(self):
        r = self.run_with(ACTION="stop", WORKLOADS="--all", PROFILE="", DRY_RUN="false")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.argv(), ["--color", "never", "run", "stop", "--all", "--from", "dynamodb"])
        self.assertEqual(self.outputs(), {"exit-code": "0", "result": "ok"})

    def test_named_workloads_profile_dry_run(self):
        r = self.run_with(ACTION="start", WORKLOADS="web-prod api-prod", PROFILE="performant", DRY_RUN="true")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.argv(), ["--color", "never", "run", "start", "web-prod", "api-prod",
                                       "--from", "dynamodb", "--profile", "performant", "--dry-run"])

    def test_commas_and_extra_spaces(self):
        r = self.run_with(ACTION="stop", WORKLOADS=" web-prod,api-prod  BotoTestCase1 ")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.argv()[4:7], ["web-prod", "api-prod", "BotoTestCase1"])

    def test_defaults_for_a_scheduled_run(self):
        r = self.run_with(ACTION="start")  # no WORKLOADS, PROFILE, DRY_RUN
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.argv(), ["--color", "never", "run", "start", "--all", "--from", "dynamodb"])

    def test_tierctl_writes_the_summary_itself(self):
        self.spec({"run stop": {"rc": 0, "summary": "## tierctl run stop\n"}})
        r = self.run_script(self.SCRIPT, env={"ACTION": "stop"})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(self.tierctl_calls()[0]["summary_env"])
        self.assertEqual(self.summary.read_text(), "## tierctl run stop\n")

    def test_held_back_is_a_warning_not_a_failure(self):
        r = self.run_with(rc=3, ACTION="stop")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("::warning title=tierctl run stop::", r.stdout)
        self.assertEqual(self.outputs(), {"exit-code": "3", "result": "held-back"})

    def test_failure_fails(self):
        r = self.run_with(rc=1, ACTION="start")
        self.assertEqual(r.returncode, 1)
        self.assertIn("::error title=tierctl run start::failed with exit code 1", r.stdout)
        self.assertEqual(self.outputs(), {"exit-code": "1", "result": "failed"})

    def test_interrupted(self):
        r = self.run_with(rc=130, ACTION="start")
        self.assertEqual(r.returncode, 130)
        self.assertEqual(self.outputs()["result"], "failed")

    def test_refused_inputs_never_reach_tierctl(self):
        cases = [
            {"ACTION": "unknown"},  # a cron not mapped in schedule.yml
            {"ACTION": ""},
            {"ACTION": "reboot"},
            {"ACTION": "stop", "WORKLOADS": "--all web-prod"},
            {"ACTION": "stop", "WORKLOADS": "--specs /tmp"},
            {"ACTION": "stop", "WORKLOADS": "web;rm"},
            {"ACTION": "stop", "WORKLOADS": "$(id)"},
            {"ACTION": "stop", "WORKLOADS": "web-prod\napi-prod"},
            {"ACTION": "start", "PROFILE": "--dry-run"},
            {"ACTION": "start", "PROFILE": "a b"},
            {"ACTION": "start", "DRY_RUN": "yes"},
        ]
        for env in cases:
            with self.subTest(env=env):
                self.tierctl_log.unlink(missing_ok=True)
                r = self.run_with(**env)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("::error title=tierctl run::", r.stdout)
                self.assertEqual(self.tierctl_calls(), [])


# --------------------------------------------------------------------------
class ConfigureEnvTest(ScriptTest):
    SCRIPT = SCRIPTS / "configure-env.sh"

    def test_only_set_values_are_exported(self):
        r = self.run_script(self.SCRIPT, env={"IN_DYNAMODB_REGION": "eu-west-1", "IN_WORKLOAD_TABLE": "",
                                              "IN_TIER_TABLE": "Tiers"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.github_env.read_text(),
                         "TIERCTL_DYNAMODB_REGION=eu-west-1\nTIERCTL_TIER_TABLE=Tiers\n")

    def test_the_schedules_settings_are_exported(self):
        arn = "arn:aws:lambda:eu-west-1:123456789012:function:tierctl-runner"
        r = self.run_script(self.SCRIPT, env={"IN_RUNNER_ARN": arn, "IN_SCHEDULER_ROLE_ARN": "",
                                              "IN_DEAD_LETTER_ARN": "arn:aws:sqs:eu-west-1:1:q"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.github_env.read_text(),
                         f"TIERCTL_RUNNER_ARN={arn}\nTIERCTL_DEAD_LETTER_ARN=arn:aws:sqs:eu-west-1:1:q\n")

    def test_nothing_set(self):
        r = self.run_script(self.SCRIPT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.github_env.read_text(), "")

    def test_multiline_is_refused(self):
        r = self.run_script(self.SCRIPT, env={"IN_TIER_TABLE": "a\nTIERCTL_SPECS=/etc"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.github_env.read_text(), "")


# --------------------------------------------------------------------------
class ReleaseTest(ScriptTest):
    """release-version.sh, package-release.sh, publish-release.sh and the
    install-tierctl action's install.sh, end to end with a fake binary."""

    VERSION = "0.3.1"

    def setUp(self):
        super().setUp()
        self.binary = self.tmp / "build" / "tierctl"
        self.binary.parent.mkdir()
        self.binary.write_text(f"#!/bin/sh\necho 'tierctl {self.VERSION}'\n")
        self.binary.chmod(0o755)
        self.readme = self.tmp / "README.md"
        self.readme.write_text("# tierctl\n")
        self.dist = self.tmp / "dist"

    def package(self, target="x86_64-unknown-linux-gnu"):
        r = self.run_script(SCRIPTS / "package-release.sh", self.VERSION, target, str(self.binary),
                            str(self.dist), env={"SOURCE_DATE_EPOCH": "1700000000", "README": str(self.readme)})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return self.dist / f"tierctl-{self.VERSION}-{target}.tar.gz"

    def test_release_version(self):
        cargo = self.tmp / "Cargo.toml"
        cargo.write_text('[package]\nname = "tierctl"\nversion = "0.3.1"\n\n[dependencies]\nfoo = { version = "1" }\n')
        r = self.run_script(SCRIPTS / "release-version.sh", "v0.3.1", str(cargo))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), "0.3.1")
        self.assertEqual(self.outputs(), {"version": "0.3.1"})
        for tag in ("v0.3.2", "0.3.1", "v0.3", "vfoo"):
            with self.subTest(tag=tag):
                self.assertEqual(self.run_script(SCRIPTS / "release-version.sh", tag, str(cargo)).returncode, 1)

    def test_release_version_of_this_repository(self):
        r = self.run_script(SCRIPTS / "release-version.sh", "v0.0.0-never", str(ROOT / "Cargo.toml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match the package version", r.stdout)

    def test_package_layout_checksum_and_reproducibility(self):
        archive = self.package()
        checksum = Path(str(archive) + ".sha256")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        self.assertEqual(checksum.read_text(), f"{digest}  {archive.name}\n")
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
        prefix = f"tierctl-{self.VERSION}-x86_64-unknown-linux-gnu"
        self.assertEqual(sorted(members), [prefix, f"{prefix}/README.md", f"{prefix}/tierctl"])
        self.assertEqual(members[f"{prefix}/tierctl"].mode & 0o777, 0o755)
        self.assertEqual(members[f"{prefix}/tierctl"].uid, 0)
        self.assertEqual(members[f"{prefix}/tierctl"].mtime, 1700000000)
        self.assertEqual(self.outputs()["archive"], str(archive))
        archive.unlink()
        self.package()
        self.assertEqual(hashlib.sha256(archive.read_bytes()).hexdigest(), digest)

    def test_package_includes_man_pages_and_completions(self):
        extras = self.tmp / "extras"
        (extras / "man" / "man1").mkdir(parents=True)
        (extras / "man" / "man1" / "tierctl.1").write_text(".TH tierctl 1\n")
        (extras / "completions").mkdir()
        (extras / "completions" / "tierctl.bash").write_text("complete -F _tierctl tierctl\n")
        r = self.run_script(SCRIPTS / "package-release.sh", self.VERSION, "x86_64-unknown-linux-gnu",
                            str(self.binary), str(self.dist),
                            env={"SOURCE_DATE_EPOCH": "1700000000", "README": str(self.readme),
                                 "EXTRAS": str(extras)})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        archive = self.dist / f"tierctl-{self.VERSION}-x86_64-unknown-linux-gnu.tar.gz"
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
        prefix = f"tierctl-{self.VERSION}-x86_64-unknown-linux-gnu"
        self.assertIn(f"{prefix}/man/man1/tierctl.1", members)
        self.assertIn(f"{prefix}/completions/tierctl.bash", members)
        self.assertEqual(members[f"{prefix}/man/man1/tierctl.1"].mode & 0o777, 0o644)
        self.assertEqual(members[f"{prefix}/tierctl"].mode & 0o777, 0o755)

    def test_package_refuses_unknown_target(self):
        r = self.run_script(SCRIPTS / "package-release.sh", self.VERSION, "x86_64-pc-windows-msvc",
                            str(self.binary), str(self.dist))
        self.assertEqual(r.returncode, 1)

    def install(self, **env):
        base = {"TIERCTL_VERSION": "v" + self.VERSION, "TIERCTL_REPO": "acme/tierctl", "RUNNER_ARCH": "X64",
                "RUNNER_OS": "Linux", "FAKE_GH_RELEASE_DIR": str(self.dist)}
        base.update(env)
        return self.run_script(INSTALL, env=base)

    def test_install_release_binary(self):
        self.package("x86_64-unknown-linux-gnu")
        self.package("aarch64-unknown-linux-gnu")
        self.output.write_text("")
        r = self.install()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("sha256 verified", r.stdout)
        self.assertIn(f"tierctl {self.VERSION}", r.stdout)
        installed = self.runner_temp / "tierctl" / "bin" / "tierctl"
        self.assertTrue(os.access(installed, os.X_OK))
        self.assertEqual(self.github_path.read_text(), f"{installed.parent}\n")
        self.assertEqual(self.outputs(), {"path": str(installed), "source": "release"})
        download = self.gh_calls()[0]["argv"]
        self.assertEqual(download[:5], ["release", "download", "v" + self.VERSION, "--repo", "acme/tierctl"])
        name = f"tierctl-{self.VERSION}-x86_64-unknown-linux-gnu.tar.gz"
        self.assertEqual([download[i + 1] for i, a in enumerate(download) if a == "--pattern"],
                         [name, name + ".sha256"])
        self.assert_runner_temp_holds("tierctl")  # the download folder is gone

    def test_install_picks_the_runner_arch(self):
        self.package("aarch64-unknown-linux-gnu")
        r = self.install(RUNNER_ARCH="ARM64")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("aarch64-unknown-linux-gnu.tar.gz", " ".join(self.gh_calls()[0]["argv"]))

    def test_install_refuses_a_bad_checksum(self):
        archive = self.package()
        Path(str(archive) + ".sha256").write_text(f"{'0' * 64}  {archive.name}\n")
        r = self.install()
        self.assertEqual(r.returncode, 1)
        self.assertIn("checksum mismatch", r.stdout)
        self.assertFalse((self.runner_temp / "tierctl" / "bin" / "tierctl").exists())
        self.assertEqual(self.github_path.read_text(), "")

    def test_install_refuses_a_checksum_for_another_file(self):
        archive = self.package()
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        Path(str(archive) + ".sha256").write_text(f"{digest}  other.tar.gz\n")
        r = self.install()
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no checksum for", r.stdout)

    def test_install_refuses_unknown_arch_and_version(self):
        self.assertEqual(self.install(RUNNER_ARCH="ARM").returncode, 1)
        self.assertEqual(self.install(TIERCTL_VERSION="latest").returncode, 1)
        self.assertEqual(self.install(RUNNER_OS="macOS").returncode, 1)
        self.assertEqual(self.gh_calls(), [])

    def test_publish_creates_the_release(self):
        self.package("x86_64-unknown-linux-gnu")
        self.package("aarch64-unknown-linux-gnu")
        r = self.run_script(SCRIPTS / "publish-release.sh", "v" + self.VERSION, str(self.dist))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        calls = [c["argv"] for c in self.gh_calls()]
        self.assertEqual(calls[0][:3], ["release", "view", "v" + self.VERSION])
        create = calls[1]
        self.assertEqual(create[:3], ["release", "create", "v" + self.VERSION])
        assets = sorted(Path(a).name for a in create if a.startswith(str(self.dist)))
        self.assertEqual(len(assets), 4)
        self.assertIn("--verify-tag", create)
        self.assertNotIn("--prerelease", create)

    def test_publish_rerun_replaces_assets(self):
        self.package()
        r = self.run_script(SCRIPTS / "publish-release.sh", "v" + self.VERSION, str(self.dist),
                            env={"FAKE_GH_RELEASE_VIEW_RC": "0"})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        upload = self.gh_calls()[1]["argv"]
        self.assertEqual(upload[:2], ["release", "upload"])
        self.assertIn("--clobber", upload)

    def test_publish_refuses_a_corrupt_archive(self):
        archive = self.package()
        archive.write_bytes(archive.read_bytes() + b"x")
        r = self.run_script(SCRIPTS / "publish-release.sh", "v" + self.VERSION, str(self.dist))
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual([c for c in self.gh_calls() if c["argv"][1] in ("create", "upload")], [])

    def package_lambda(self, target="x86_64-unknown-linux-gnu"):
        r = self.run_script(SCRIPTS / "package-lambda.sh", self.VERSION, target, str(self.binary),
                            str(self.dist), env={"SOURCE_DATE_EPOCH": "1700000000"})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        arch = {"x86_64-unknown-linux-gnu": "x86_64", "aarch64-unknown-linux-gnu": "arm64"}[target]
        return self.dist / f"tierctl-lambda-{self.VERSION}-{arch}.zip"

    def test_lambda_zip_holds_bootstrap_and_is_reproducible(self):
        import zipfile
        archive = self.package_lambda("aarch64-unknown-linux-gnu")
        self.assertEqual(archive.name, f"tierctl-lambda-{self.VERSION}-arm64.zip")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        self.assertEqual(Path(str(archive) + ".sha256").read_text(), f"{digest}  {archive.name}\n")
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            self.assertEqual([i.filename for i in infos], ["bootstrap"])
            self.assertEqual((infos[0].external_attr >> 16) & 0o777, 0o755)
            self.assertEqual(z.read("bootstrap"), self.binary.read_bytes())
        self.assertEqual(self.outputs()["zip"], str(archive))
        archive.unlink()
        self.package_lambda("aarch64-unknown-linux-gnu")
        self.assertEqual(hashlib.sha256(archive.read_bytes()).hexdigest(), digest)
        r = self.run_script(SCRIPTS / "package-lambda.sh", self.VERSION, "x86_64-unknown-linux-musl",
                            str(self.binary), str(self.dist))
        self.assertEqual(r.returncode, 1)

    def test_publish_attaches_the_lambda_zips(self):
        self.package()
        self.package_lambda("x86_64-unknown-linux-gnu")
        self.package_lambda("aarch64-unknown-linux-gnu")
        r = self.run_script(SCRIPTS / "publish-release.sh", "v" + self.VERSION, str(self.dist))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        create = [c["argv"] for c in self.gh_calls()][1]
        assets = sorted(Path(a).name for a in create if a.startswith(str(self.dist)))
        self.assertIn(f"tierctl-lambda-{self.VERSION}-arm64.zip", assets)
        self.assertIn(f"tierctl-lambda-{self.VERSION}-x86_64.zip.sha256", assets)
        self.assertEqual(len(assets), 6)

    def test_publish_nothing_to_publish(self):
        self.dist.mkdir()
        r = self.run_script(SCRIPTS / "publish-release.sh", "v1.0.0", str(self.dist))
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()

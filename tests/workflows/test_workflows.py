"""Static checks of the workflow files that actionlint does not make:
third-party actions pinned to full commit SHAs with the version in a comment,
least-privilege permissions, OIDC only (no long-lived AWS keys)."""

import re
import unittest
from pathlib import Path

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


if __name__ == "__main__":
    unittest.main()

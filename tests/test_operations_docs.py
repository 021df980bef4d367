"""The operations surface's readers: Markdown structure, command checks, alert
policies (with monitoring_v3's own types) and the live policy driver's mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.cloud import monitoring_v3

from readiness.drivers.monitoring import by_display_name, deployment_gaps
from readiness.ops import markdown
from readiness.ops.alerts import policy_problems
from readiness.ops.commands import CommandChecker
from readiness.ops.docs import OpsDocs
from readiness.ops.markdown import Code

ROOT = Path(__file__).resolve().parents[1]

RUNBOOK = """# Runbook

## Detection

Alert `cloud-run-5xx-rate`.

## Mitigation/Rollback

```sh
gcloud run services update-traffic "$SERVICE" \\
  --to-revisions "$PREV=100"
```

```text
make not-a-command-in-a-template
```

### DEP-06

<a id="custom-anchor"></a>
"""


def test_markdown_sections_anchors_and_code():
    doc = markdown.parse(RUNBOOK)
    assert list(doc.sections) == ["Detection", "Mitigation/Rollback"]
    assert doc.has_anchor("dep-06") and doc.has_anchor("custom-anchor")
    assert doc.has_anchor("mitigationrollback")
    shell = [c for c in doc.code if c.block_lang == "sh"]
    assert [c.text for c in shell] == [
        'gcloud run services update-traffic "$SERVICE" --to-revisions "$PREV=100"'
    ]
    assert any(c.block_lang is None and c.text == "cloud-run-5xx-rate" for c in doc.code)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(
        ".PHONY: readiness faults\nreadiness: venv\n\t@echo ok\nfaults:\n\t@echo ok\nVAR := 1\n"
    )
    pkg = tmp_path / "fixtures" / "standin" / "faults"
    pkg.mkdir(parents=True)
    (pkg / "__main__.py").write_text("")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "rollback.sh").write_text("#!/bin/sh\n")
    return tmp_path


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("make readiness ENV=staging SURFACES=packs", None),
        ("make faults", None),
        ("make rollback-service", "make target 'rollback-service' does not exist"),
        ("python -m fixtures.standin.faults", None),
        ("python -m fixtures.standin.nope", "module 'fixtures.standin.nope'"),
        ("python -m pytest suites --env staging", None),
        ("./scripts/rollback.sh", None),
        ("bash scripts/missing.sh", "script scripts/missing.sh does not exist"),
        ("PREV=$(gcloud run revisions list --limit 2 | tail -n 1)", None),
        ("gcloud run services update-traffic svc --to-revisions <prev>=100", "placeholder <prev>"),
        ("gcloud frobnicate things now", "not a gcloud command group"),
        ("gcloud run", "needs a command group and a command"),
        ('echo "unclosed', "does not parse"),
    ],
)
def test_command_checker(repo: Path, command: str, problem: str | None):
    found = CommandChecker(repo).problems(Code(command, 1, "sh"))
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found


def test_only_commands_are_judged(repo: Path):
    checker = CommandChecker(repo)
    assert checker.is_command(Code("make test", 1, None))
    assert not checker.is_command(Code("dataface-cloud", 1, None))
    assert not checker.is_command(Code("# a comment", 1, "sh"))


POLICY = {
    "displayName": "Dataface Cloud: 5xx",
    "combiner": "OR",
    "conditions": [
        {
            "displayName": "5xx",
            "conditionThreshold": {
                "filter": 'metric.type = "run.googleapis.com/request_count"',
                "comparison": "COMPARISON_GT",
                "thresholdValue": 1,
                "duration": "300s",
            },
        }
    ],
    "notificationChannels": ["projects/p/notificationChannels/123"],
    "documentation": {"content": "Runbook: docs/runbooks/deployment.md#dep-06"},
}


def _with(path: list[str | int], value):
    import copy

    doc = copy.deepcopy(POLICY)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (POLICY, None),
        (_with(["conditions", 0, "conditionThreshold", "duration"], "5m"), "Duration must end"),
        (_with(["conditions", 0, "conditionThreshold", "thresholdValu"], 1), "no field named"),
        (_with(["notificationChannels"], None), "no notificationChannels"),
        (_with(["documentation"], None), "no documentation"),
        (_with(["conditions"], []), "no conditions"),
        (
            _with(
                ["conditions", 0], {"displayName": "log", "conditionMatchedLog": {"filter": "x"}}
            ),
            "notificationRateLimit",
        ),
    ],
)
def test_alert_policy_validation(doc, problem):
    found = policy_problems("p", doc)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_deployed_policies_mapping_uses_monitoring_types():
    deployed = by_display_name(
        [
            monitoring_v3.AlertPolicy(display_name="a"),  # enabled unset: API default is on
            monitoring_v3.AlertPolicy(display_name="b", enabled=False),
        ]
    )
    assert deployed == {"a": True, "b": False}
    gaps = deployment_gaps({"a.yaml": "a", "b.yaml": "b", "c.yaml": "c"}, deployed)
    assert gaps == [
        "b.yaml: policy 'b' is deployed but disabled",
        "c.yaml: policy 'c' is not deployed",
    ]


def test_committed_docs_load():
    docs = OpsDocs(ROOT / "docs")
    assert docs.owners().surfaces and docs.risks().risks and docs.routing().routes
    assert docs.scope().backlog and docs.deferrals().deferrals
    assert all(policy_problems(n, raw) == [] for n, raw in docs.policies().items())
    assert {d.surface for _, d in docs.drills()} >= set(docs.risks().high_risk_surfaces())

"""Can the commands a runbook names be run here?

An on-call engineer at 3 a.m. copies a command from the runbook. If it names a
make target that was renamed, a script that moved or a CLI verb that does not
exist, the runbook fails exactly when it is needed. So commands of this project
(make targets, scripts and modules in the repo, the ``dct`` CLI) must exist;
external CLIs (gcloud, curl, stripe, ...) cannot be checked for existence
here, so they must at least parse as a shell command, name a known gcloud
command group, and carry no ``<placeholder>`` the shell would read as a
redirect.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from readiness.ops.markdown import Code

SHELL_LANGS = frozenset({"sh", "bash", "shell", "console", "zsh"})
PYTHONS = frozenset({"python", "python3", ".venv/bin/python", ".venv/bin/python3"})
DCTS = frozenset({"dct", ".venv/bin/dct"})
# External CLIs an on-call runbook may name; checked for shape only.
EXTERNAL = frozenset(
    {"gcloud", "gsutil", "bq", "curl", "stripe", "psql", "jq", "openssl", "dig", "kubectl"}
)
SCRIPT_PREFIXES = ("./", "scripts/", ".ci/", "bin/")
# gcloud command groups the launch surfaces use (alpha/beta are prefixes).
GCLOUD_GROUPS = frozenset(
    {
        "run",
        "secrets",
        "monitoring",
        "logging",
        "dns",
        "certificate-manager",
        "compute",
        "domains",
        "projects",
        "iam",
        "artifacts",
        "builds",
        "services",
        "auth",
        "config",
        "scheduler",
        "pubsub",
        "sql",
        "kms",
    }
)
_SEPARATORS = frozenset({"|", "||", "&&", ";", "(", ")", "&", "$("})
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w.-]*>")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_FLAG = re.compile(r"^--?[a-z0-9][a-z0-9-]*(=.*)?$")
_MAKE_RULE = re.compile(r"^([A-Za-z0-9_.%/$()-]+(?:\s+[A-Za-z0-9_.%/$()-]+)*)\s*::?(?!=)")


@dataclass
class CommandChecker:
    """Judges commands against one checkout (its Makefile, files, modules)."""

    repo_dir: Path

    @cached_property
    def make_targets(self) -> set[str]:
        makefile = self.repo_dir / "Makefile"
        if not makefile.is_file():
            return set()
        targets: set[str] = set()
        for line in makefile.read_text().splitlines():
            if line.startswith(("\t", "#", " ")):
                continue
            m = _MAKE_RULE.match(line)
            if m:
                targets.update(t for t in m.group(1).split() if not t.startswith("."))
        return targets

    @cached_property
    def dct_verbs(self) -> set[str]:
        """The installed dct's top-level commands, from its own CLI object."""
        import typer
        from dbt_charts.cli.main import app

        return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]

    def is_command(self, code: Code) -> bool:
        """Whether a piece of code is something a reader would run."""
        if code.block_lang in SHELL_LANGS:
            return not code.text.startswith("#")
        words = code.text.split()
        if not words:
            return False
        first = words[0].lstrip("$ ").strip() or (words[1] if len(words) > 1 else "")
        return (
            first in PYTHONS
            or first in DCTS
            or first in EXTERNAL
            or first in {"make", "pytest", ".venv/bin/pytest"}
            or first.startswith(SCRIPT_PREFIXES)
        )

    def problems(self, code: Code) -> list[str]:
        """What is wrong with one command; empty when it can run here."""
        text = code.text.removeprefix("$ ")
        found = _PLACEHOLDER.search(text)
        if found:
            return [
                f"`{text}`: placeholder {found.group(0)} is a shell redirect when pasted; "
                "use a variable ($NAME)"
            ]
        try:
            lex = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
            lex.whitespace_split = True
            tokens = list(lex)
        except ValueError as e:
            return [f"`{text}`: does not parse as a shell command ({e})"]
        out: list[str] = []
        for segment in _segments(tokens):
            out.extend(self._judge(segment, text))
        return out

    def _judge(self, argv: list[str], text: str) -> list[str]:
        word, args = argv[0], argv[1:]
        if word == "make":
            targets = [a for a in args if not a.startswith("-") and not _ASSIGN.match(a)]
            return [
                f"`{text}`: make target '{t}' does not exist in {self.repo_dir / 'Makefile'}"
                for t in targets
                if t not in self.make_targets
            ]
        if word in PYTHONS:
            return self._python(args, text)
        if word in DCTS:
            verb = next((a for a in args if not a.startswith("-")), None)
            if verb is None or verb in self.dct_verbs:
                return []
            return [
                f"`{text}`: dct has no command '{verb}' (has: {', '.join(sorted(self.dct_verbs))})"
            ]
        if word in {"bash", "sh"} and args:
            return self._script(args[0], text)
        if word.startswith(SCRIPT_PREFIXES):
            return self._script(word, text)
        if word == "gcloud":
            return _gcloud(args, text)
        return []

    def _python(self, args: list[str], text: str) -> list[str]:
        if "-m" in args:
            i = args.index("-m")
            if i + 1 >= len(args):
                return [f"`{text}`: -m without a module"]
            module = args[i + 1]
            return (
                []
                if self._module_exists(module)
                else [f"`{text}`: module '{module}' is neither in {self.repo_dir} nor installed"]
            )
        script = next((a for a in args if a.endswith(".py")), None)
        return self._script(script, text) if script else []

    def _module_exists(self, module: str) -> bool:
        parts = module.split(".")
        if (self.repo_dir / parts[0]).exists():
            base = self.repo_dir.joinpath(*parts)
            return (base / "__main__.py").is_file() or base.with_suffix(".py").is_file()
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    def _script(self, path: str, text: str) -> list[str]:
        if (self.repo_dir / path).is_file():
            return []
        return [f"`{text}`: script {path} does not exist in {self.repo_dir}"]


def _segments(tokens: list[str]) -> list[list[str]]:
    """Simple commands of a pipeline/list, leading VAR=value assignments dropped."""
    out: list[list[str]] = []
    current: list[str] = []
    for tok in [*tokens, ";"]:
        if tok in _SEPARATORS or set(tok) <= set(";&|()"):
            while current and (_ASSIGN.match(current[0]) or current[0] in {"$", "export"}):
                current.pop(0)
            if current:
                out.append(current)
            current = []
        else:
            current.append(tok)
    return [s for s in out if s and s[0]]


def _gcloud(args: list[str], text: str) -> list[str]:
    words = [a for a in args if not a.startswith("-")]
    if words and words[0] in {"alpha", "beta"}:
        words = words[1:]
    if len(words) < 2:
        return [f"`{text}`: gcloud needs a command group and a command"]
    if words[0] not in GCLOUD_GROUPS:
        return [f"`{text}`: '{words[0]}' is not a gcloud command group the launch uses"]
    bad = [a for a in args if a.startswith("-") and not _FLAG.match(a)]
    return [f"`{text}`: malformed gcloud flag {b}" for b in bad]

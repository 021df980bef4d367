"""One file for the launch review: a run's evidence, sealed, and how to check it.

    python -m readiness.archive build [RUN_DIR] [--out FILE] [--sign]
    python -m readiness.archive verify PATH [--bundle B] [--identity I] [--issuer I]
                                            [--require-signature] [--trusted-root F] [--json]

``build`` packs a finished run directory (reports/latest by default) into
``reports/<run-id>-evidence.tar.gz``: the whole run directory under
``<run-id>/``, the criteria catalog, waivers and env file in force under
``<run-id>/inputs/``, the run's own manifest as ``run-manifest.json``, and a
new ``manifest.json`` with the sha256 and size of every file in the archive.

``verify`` recomputes every digest of an archive or an unpacked directory and
names each file changed, missing or added. A digest only shows the files match
*a* manifest; anyone who edits gate.json can rewrite manifest.json too. What
ties the manifest to the nightly job is its Sigstore bundle,
``manifest.json.sigstore.json`` beside it (not listed in the manifest), made in
CI by keyless signing and checked here offline against the trusted root that
ships in the pinned sigstore wheel.

Exit codes: 0 intact, 1 something changed, missing, added, refused or a bad
signature, 2 usage (no such path, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, computed_field, field_validator

from readiness.evidence import file_sha256
from readiness.gatefile import GateReport

if TYPE_CHECKING:
    from sigstore.verify import Verifier

MANIFEST = "manifest.json"
BUNDLE = "manifest.json.sigstore.json"
RUN_MANIFEST = "run-manifest.json"
INPUTS = "inputs"
ROOT = Path(__file__).resolve().parents[1]
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY_EXAMPLE = (
    "https://github.com/<owner>/<repo>/.github/workflows/nightly-readiness.yml@refs/heads/main"
)
# Never part of the sealed content: the manifest cannot hold its own digest,
# and the bundle is made from the manifest after it is written.
UNSEALED = frozenset({MANIFEST, BUNDLE})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA = re.compile(r"[0-9a-f]{40}")
_ENV_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ArchiveError(Exception):
    """The archive cannot be built or checked at all (as opposed to a check that
    found differences): the message names the path and why."""


def _safe_relpath(name: str) -> bool:
    """A manifest path that cannot reach outside the tree it describes."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


class Manifest(BaseModel):
    """manifest.json. The run directory's (readiness.evidence.write_manifest)
    has run_dir, algorithm and files; the archive's adds the rest. Extra keys
    are kept so a manifest from a later version still verifies."""

    model_config = ConfigDict(extra="allow")

    run_dir: str
    algorithm: Literal["sha256"] = "sha256"
    files: dict[str, str]
    run_id: str | None = None
    verdict: str | None = None
    env: str | None = None
    created_at: str | None = None
    sizes: dict[str, int] | None = None
    # Where each inputs/ file came from: "git <sha>" or "working tree ...".
    inputs: dict[str, str] = {}
    # Files deliberately left out, and why (an env file detect-secrets flags).
    omitted: dict[str, str] = {}
    # Files the run directory gained after the run sealed it (not in its manifest).
    added_after_run: list[str] = []

    @field_validator("files")
    @classmethod
    def _paths_and_digests(cls, files: dict[str, str]) -> dict[str, str]:
        # A path like ../../etc/passwd would make verify read outside the tree.
        for name, digest in files.items():
            if not _safe_relpath(name):
                raise ValueError(f"unsafe path {name!r}")
            if not _SHA256.fullmatch(digest):
                raise ValueError(f"{name}: {digest!r} is not a sha256 hex digest")
        return files


class VerifyResult(BaseModel):
    """What verify found; ``format_result`` prints it, ``ok`` is the exit code."""

    path: str
    manifest: Manifest
    checked: int
    changed: list[str] = []
    missing: list[str] = []
    added: list[str] = []
    signature: Literal["verified", "absent", "failed"] = "absent"
    signature_detail: str = ""
    bundle: str | None = None
    require_signature: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        if self.changed or self.missing or self.added or self.signature == "failed":
            return False
        return self.signature == "verified" or not self.require_signature


class _Tree(BaseModel):
    """An archive or directory read once: every file's digest, plus the bytes
    of the two files verify needs whole."""

    label: str
    digests: dict[str, str]
    manifest: bytes
    bundle: bytes | None


# ---------------------------------------------------------------- reading trees


def _find_root(path: Path) -> Path:
    """The directory holding manifest.json: ``path`` itself, or the one
    directory inside it (what ``tar -xzf`` of an archive leaves)."""
    if (path / MANIFEST).is_file():
        return path
    subdirs = [p for p in path.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
    if len(subdirs) == 1:
        return subdirs[0]
    raise ArchiveError(
        f"{path}: no {MANIFEST} here"
        + (" (more than one unpacked run inside: name one)" if subdirs else "")
        + ": not an evidence directory, or its manifest was removed"
    )


def _read_dir(path: Path) -> _Tree:
    root = _find_root(path)
    digests: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                # A link can point anywhere; evidence is regular files only.
                raise ArchiveError(f"{root}: refused {rel}: a symbolic link, not a file")
            if rel in UNSEALED:
                continue
            digests[rel] = file_sha256(full)
    manifest = (root / MANIFEST).read_bytes()
    bundle = (root / BUNDLE).read_bytes() if (root / BUNDLE).is_file() else None
    return _Tree(label=str(root), digests=digests, manifest=manifest, bundle=bundle)


def _refuse(member: tarfile.TarInfo, dest: str) -> str | None:
    """Why a member must not be trusted, or None. tarfile's "data" filter
    rejects ``..`` escapes, links leaving the tree and device files; it only
    strips a leading "/" (extraction stays inside), so absolute names are
    refused here: an archive this module wrote never has one."""
    name = member.name
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "path with '..'"
    try:
        tarfile.data_filter(member, dest)
    except tarfile.FilterError as e:
        return str(e)
    if not (member.isfile() or member.isdir()):
        return "not a regular file or directory"
    return None


def _read_tar(path: Path) -> _Tree:
    dest = str(Path(tempfile.gettempdir()) / "readiness-verify-dest")
    entries: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                why = _refuse(member, dest)
                if why:
                    raise ArchiveError(f"{path}: refused member {member.name!r}: {why}")
                if member.isdir():
                    continue
                name = member.name.removeprefix("./")
                if name in entries:
                    # Extraction keeps the last copy; a check of the first would be fooled.
                    raise ArchiveError(f"{path}: refused member {name!r}: appears twice")
                f = tar.extractfile(member)
                if f is None:  # pragma: no cover - isfile() members always have data
                    raise ArchiveError(f"{path}: cannot read member {name!r}")
                if PurePosixPath(name).name in UNSEALED and name.count("/") <= 1:
                    blobs[name] = f.read()
                    entries[name] = hashlib.sha256(blobs[name]).hexdigest()
                else:
                    entries[name] = hashlib.file_digest(f, "sha256").hexdigest()
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as e:
        raise ArchiveError(f"{path}: not a readable .tar.gz archive ({e})") from e

    # The manifest names the archive's root: <run-id>/manifest.json, or a bare
    # manifest.json for an archive re-packed without the top directory.
    tops = sorted(n for n in blobs if PurePosixPath(n).name == MANIFEST)
    if not tops:
        raise ArchiveError(f"{path}: no {MANIFEST} in the archive: it cannot be verified")
    if len(tops) > 1:
        raise ArchiveError(f"{path}: refused: more than one manifest ({', '.join(tops)})")
    prefix = tops[0][: -len(MANIFEST)]
    digests: dict[str, str] = {}
    for name, digest in entries.items():
        if not name.startswith(prefix):
            # Beside the run's directory: reported as added, as ../name (a
            # manifest path never has "..", so it cannot pass for a listed file).
            digests[f"../{name}"] = digest
        elif (rel := name[len(prefix) :]) not in UNSEALED:
            digests[rel] = digest
    return _Tree(
        label=f"{path}:{prefix}" if prefix else str(path),
        digests=digests,
        manifest=blobs[tops[0]],
        bundle=blobs.get(prefix + BUNDLE),
    )


def _parse_manifest(raw: bytes, label: str) -> Manifest:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{label}/{MANIFEST} is malformed: not JSON ({e})") from e
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ArchiveError(
            f"{label}/{MANIFEST} is malformed: {where}: {first['msg']}"
            + (f" ({e.error_count() - 1} more problems)" if e.error_count() > 1 else "")
        ) from e


# ------------------------------------------------------------------- signature


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    # sigstore logs a WARNING for every offline load; with no logging set up
    # Python prints it to stderr, in the middle of verify's own report.
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _verifier(trusted_root: Path | None) -> Verifier:
    """sigstore's Verifier with no network. ``Verifier.production(offline=True)``
    is what ``sigstore verify --offline`` uses: the trusted root (Fulcio CAs,
    Rekor and CT log keys, TSAs) from sigstore-python's local TUF cache, which
    is seeded from the copy embedded in the wheel when empty. A bundle carries
    its own Rekor inclusion proof and signed checkpoint, so nothing else is
    fetched. ``trusted_root`` replaces it with a trusted_root.json of your own
    (after Sigstore rotates a key the pinned wheel's copy does not have)."""
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    if trusted_root is not None:
        return Verifier(trusted_root=TrustedRoot.from_file(str(trusted_root)))
    with _quiet("sigstore._internal.tuf"):
        return Verifier.production(offline=True)


def _check_bundle(
    manifest: bytes,
    bundle: bytes,
    bundle_label: str,
    identity: str,
    issuer: str,
    trusted_root: Path | None,
) -> tuple[bool, str]:
    """(verified, one line saying why) for a bundle over manifest.json's bytes."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle
    from sigstore.verify import policy

    def why(e: Exception) -> str:
        first = (str(e).strip().splitlines() or [""])[0]
        return first if isinstance(e, SigstoreError) else f"{type(e).__name__}: {first}"

    # Fail closed: whatever goes wrong reading or checking the bundle (its
    # parser raises more than sigstore's own errors on a corrupt file), the
    # manifest is not shown to be signed, and the line says why.
    try:
        parsed = Bundle.from_json(bundle)
    except Exception as e:
        return False, f"{bundle_label} is not a Sigstore bundle: {why(e)}"
    try:
        verifier = _verifier(trusted_root)
        verifier.verify_artifact(
            manifest, parsed, policy.Identity(identity=identity, issuer=issuer)
        )
    except Exception as e:
        return False, f"{bundle_label} does not verify {MANIFEST}: {why(e)}"
    return True, f"{bundle_label} verifies {MANIFEST}: signed by {identity} ({issuer})"


# ---------------------------------------------------------------------- verify


def verify(
    path: Path,
    *,
    bundle: Path | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    require_signature: bool = False,
    trusted_root: Path | None = None,
) -> VerifyResult:
    """Check an evidence archive (.tar.gz) or unpacked directory (a run
    directory too) against its manifest.json, and its Sigstore bundle when one
    is there or given. Raises ArchiveError when it cannot be checked at all:
    no such path, no or a malformed manifest, an unsafe or duplicated member."""
    if not path.exists():
        raise ArchiveError(f"{path}: no such file or directory")
    if bundle is not None and not bundle.is_file():
        raise ArchiveError(f"{bundle}: no such bundle file")
    if path.is_dir():
        tree = _read_dir(path)
    elif tarfile.is_tarfile(path):
        tree = _read_tar(path)
    else:
        raise ArchiveError(f"{path}: neither a .tar.gz evidence archive nor a directory")
    manifest = _parse_manifest(tree.manifest, tree.label)

    expected, found = manifest.files, tree.digests
    changed = sorted(n for n in expected if n in found and found[n] != expected[n])
    missing = sorted(n for n in expected if n not in found)
    added = sorted(n for n in found if n not in expected)
    result = VerifyResult(
        path=str(path),
        manifest=manifest,
        checked=len(expected) - len(changed) - len(missing),
        changed=changed,
        missing=missing,
        added=added,
        require_signature=require_signature,
    )

    raw_bundle = bundle.read_bytes() if bundle is not None else tree.bundle
    if raw_bundle is None:
        result.signature_detail = f"no {BUNDLE} beside {MANIFEST}: the manifest is not signed"
        return result
    result.bundle = str(bundle) if bundle is not None else f"{tree.label}/{BUNDLE}"
    if not identity:
        result.signature = "failed"
        result.signature_detail = (
            f"{result.bundle} cannot be checked without the signer's identity "
            f"(--identity {IDENTITY_EXAMPLE})"
        )
        return result
    ok, detail = _check_bundle(
        tree.manifest, raw_bundle, result.bundle, identity, issuer or GITHUB_ISSUER, trusted_root
    )
    result.signature = "verified" if ok else "failed"
    result.signature_detail = detail
    return result


def format_result(result: VerifyResult) -> list[str]:
    """One line per file that differs, then the signature, then the verdict:
    the lines ``python -m readiness.archive verify`` prints."""
    lines = [f"changed: {n}" for n in result.changed]
    lines += [f"missing: {n}" for n in result.missing]
    lines += [f"added: {n}" for n in result.added]
    if result.signature == "absent" and result.require_signature:
        lines.append(f"signature: required, but {result.signature_detail}")
    else:
        lines.append(f"signature: {result.signature}: {result.signature_detail}")
    m = result.manifest
    about = ", ".join(
        f"{k} {v}" for k, v in (("run", m.run_id or m.run_dir), ("verdict", m.verdict)) if v
    )
    if result.ok:
        lines.append(f"intact: {result.checked} files match {MANIFEST} ({about})")
    else:
        counts = ", ".join(
            f"{len(v)} {k}"
            for k, v in (
                ("changed", result.changed),
                ("missing", result.missing),
                ("added", result.added),
            )
            if v
        )
        problems = [counts] if counts else []
        if result.signature != "verified" and (
            result.signature == "failed" or result.require_signature
        ):
            problems.append("signature not verified")
        lines.append(f"NOT intact: {'; '.join(problems)} ({about})")
    return lines


# ----------------------------------------------------------------------- build


def _load_gate(run_dir: Path) -> GateReport:
    gate_file = run_dir / "gate.json"
    if not gate_file.is_file():
        raise ArchiveError(
            f"{run_dir}: no gate.json: not a finished gate run (the run died before writing it)"
        )
    try:
        report = GateReport.model_validate_json(gate_file.read_bytes())
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ArchiveError(
            f"{gate_file}: not a gate.json this gate can read: {where}: {first['msg']}"
        ) from e
    if report.interrupted:
        raise ArchiveError(
            f"{run_dir}: the run was interrupted (gate.json interrupted: true, exit 102): "
            "its evidence is partial and is not launch evidence"
        )
    return report


def _run_files(run_dir: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(run_dir, followlinks=False):
        dirnames.sort()
        for name in filenames + dirnames:
            full = Path(dirpath, name)
            rel = full.relative_to(run_dir).as_posix()
            if full.is_symlink():
                raise ArchiveError(f"{run_dir}: {rel} is a symbolic link; evidence is files only")
            if full.is_file():
                files[rel] = full
    return files


def _check_run_seal(run_dir: Path, digests: dict[str, str]) -> list[str]:
    """The run directory still matches the manifest the run wrote (``digests``:
    its files now); returns the files added since, which are kept and named in
    the archive's manifest (CI's comparison.md, a page written afterwards)."""
    if not (run_dir / MANIFEST).is_file():
        raise ArchiveError(f"{run_dir}: no {MANIFEST}: the run did not finish sealing its evidence")
    sealed = _parse_manifest((run_dir / MANIFEST).read_bytes(), str(run_dir)).files
    problems = [f"changed: {n}" for n in sorted(sealed) if n in digests and digests[n] != sealed[n]]
    problems += [f"missing: {n}" for n in sorted(sealed) if n not in digests]
    if problems:
        raise ArchiveError(
            f"{run_dir} no longer matches the {MANIFEST} the run wrote, so it is not "
            f"what the run produced: {'; '.join(problems)}"
        )
    return sorted(n for n in digests if n not in sealed)


def _git_show(root: Path, sha: str, rel: str) -> bytes | None:
    try:
        proc = subprocess.run(
            ["git", "show", f"{sha}:{rel}"], cwd=root, capture_output=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _input(root: Path, rel: str, git_sha: str) -> tuple[bytes, str] | None:
    """A file as it was in force for the run: from the run's commit when the
    run was on a clean one (the working tree may have moved on since), else
    the working tree (a -dirty run's exact files are not recorded anywhere)."""
    if _GIT_SHA.fullmatch(git_sha):
        data = _git_show(root, git_sha, rel)
        if data is not None:
            return data, f"git {git_sha}"
    path = root / rel
    if path.is_file() and not path.is_symlink():
        note = f" (the run was at {git_sha})" if git_sha != "unknown" else ""
        return path.read_bytes(), f"working tree at archive time{note}"
    return None


def _secrets_in(root: Path, rel: str, data: bytes) -> str | None:
    """Why ``data`` must stay out of the archive, or None. Env files name env
    vars rather than hold secrets; detect-secrets against the repository's
    reviewed baseline (the one SEC-01 uses) makes sure of it."""
    from readiness.drivers.secret_scan import ScanError, scan

    with tempfile.TemporaryDirectory(prefix="archive-scan-") as tmp:
        copy = Path(tmp, rel)
        copy.parent.mkdir(parents=True)
        copy.write_bytes(data)
        try:
            new, _, _ = scan(Path(tmp), [rel], root / ".secrets.baseline", [])
        except ScanError as e:
            return f"could not be scanned for secrets ({e})"
    if new:
        kinds = ", ".join(sorted({f"{f.type} (line {f.line})" for f in new}))
        return f"detect-secrets found what may be a secret not in the baseline: {kinds}"
    return None


def _inputs(
    root: Path, report: GateReport
) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(inputs/ files, where each came from, files left out and why)."""
    files: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    omitted: dict[str, str] = {}
    wanted = ["criteria.yaml", "waivers.yaml"]
    if _ENV_NAME.fullmatch(report.env):
        env_rel = f"envs/{report.env}.yaml"
        # Only a file under envs/: an env given by path may live anywhere.
        envs = (root / "envs").resolve()
        if (root / env_rel).resolve().parent == envs:
            wanted.append(env_rel)
    for rel in wanted:
        arc = f"{INPUTS}/{rel}"
        got = _input(root, rel, report.git_sha)
        if got is None:
            if not rel.startswith("envs/"):
                omitted[arc] = f"{rel} not found under {root}"
            continue
        data, source = got
        if rel.startswith("envs/") and (why := _secrets_in(root, rel, data)):
            omitted[arc] = why
            continue
        files[arc], sources[arc] = data, source
    return files, sources, omitted


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    # Fixed owner, mode and time: nothing of who built the archive, or where.
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _sign(manifest: bytes, timeout_s: float = 300) -> bytes:
    """Keyless Sigstore signing of manifest.json, as CI does it: ``python -m
    sigstore sign`` picks up the ambient OIDC identity (GitHub Actions with
    ``id-token: write``) and needs network to Fulcio and Rekor."""
    with tempfile.TemporaryDirectory(prefix="archive-sign-") as tmp:
        target = Path(tmp, MANIFEST)
        target.write_bytes(manifest)
        cmd = _sign_command(target, Path(tmp, BUNDLE))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ArchiveError(f"signing {MANIFEST} failed: {e}") from e
        out = Path(tmp, BUNDLE)
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ArchiveError(
                f"signing {MANIFEST} failed ({' '.join(cmd[1:4])} exited {proc.returncode}): "
                f"{tail[0]}"
            )
        return out.read_bytes()


def _sign_command(manifest: Path, bundle: Path) -> list[str]:
    return [sys.executable, "-m", "sigstore", "sign", "--bundle", str(bundle), str(manifest)]


def default_out(run_dir: Path, run_id: str) -> Path:
    """reports/<run-id>-evidence.tar.gz, beside the run directory (git-ignored)."""
    return run_dir.resolve().parent / f"{run_id}-evidence.tar.gz"


def build(run_dir: Path, root: Path, out: Path | None = None, *, sign: bool = False) -> Path:
    """Pack a finished run for the launch review; returns the archive's path.

    Refuses a run that did not finish (no gate.json, or interrupted) and one
    whose files no longer match the manifest the run wrote: the archive must
    seal what the run produced, not what someone edited since. ``sign`` adds
    a Sigstore bundle for the new manifest (CI only: needs an OIDC identity).
    """
    run_dir = run_dir.resolve()
    if not run_dir.is_dir():
        raise ArchiveError(f"{run_dir}: no such run directory")
    report = _load_gate(run_dir)
    top = report.run_id
    if "/" in top or not _safe_relpath(top):
        raise ArchiveError(f"{run_dir}/gate.json: run_id {top!r} cannot name a directory")
    run_files = _run_files(run_dir)
    for reserved in (RUN_MANIFEST, BUNDLE):
        if reserved in run_files:
            raise ArchiveError(
                f"{run_dir}: has a {reserved} of its own; the archive needs that name"
            )
    inputs, sources, omitted = _inputs(root.resolve(), report)
    clash = sorted(set(inputs) & set(run_files))
    if clash:
        raise ArchiveError(f"{run_dir}: has {clash[0]} of its own; the archive needs that name")

    run_digests: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for rel in sorted(run_files):
        if rel == MANIFEST:
            continue
        run_digests[rel] = file_sha256(run_files[rel])
        sizes[rel] = run_files[rel].stat().st_size
    added_after = _check_run_seal(run_dir, run_digests)

    # The run's own seal is kept, renamed: manifest.json is the archive's.
    payload: dict[str, Path | bytes] = {rel: run_files[rel] for rel in run_digests}
    payload[RUN_MANIFEST] = run_files[MANIFEST]
    payload.update(inputs)
    digests = dict(run_digests)
    for rel in (RUN_MANIFEST, *inputs):
        item = payload[rel]
        data = item if isinstance(item, bytes) else item.read_bytes()
        digests[rel], sizes[rel] = hashlib.sha256(data).hexdigest(), len(data)
    digests = dict(sorted(digests.items()))
    sizes = dict(sorted(sizes.items()))
    manifest = Manifest(
        run_dir=run_dir.name,
        files=digests,
        run_id=report.run_id,
        verdict=report.verdict.value,
        env=report.env,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        sizes=sizes,
        inputs=sources,
        omitted=omitted,
        added_after_run=added_after,
    )
    manifest_bytes = (manifest.model_dump_json(indent=2) + "\n").encode()
    bundle = _sign(manifest_bytes) if sign else None

    out = (out or default_out(run_dir, report.run_id)).resolve()
    if out.is_relative_to(run_dir):
        raise ArchiveError(f"{out}: inside the run directory it archives")
    out.parent.mkdir(parents=True, exist_ok=True)
    mtime = _epoch(report.finished_at)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            # The manifest first: a reader streaming the archive knows what to expect.
            heads: list[tuple[str, bytes]] = [(MANIFEST, manifest_bytes)]
            if bundle is not None:
                heads.append((BUNDLE, bundle))
            for rel, data in heads:
                tar.addfile(_tarinfo(f"{top}/{rel}", len(data), mtime), io.BytesIO(data))
            for rel in sorted(payload):
                item = payload[rel]
                info = _tarinfo(f"{top}/{rel}", sizes[rel], mtime)
                if isinstance(item, bytes):
                    tar.addfile(info, io.BytesIO(item))
                else:
                    with item.open("rb") as f:
                        tar.addfile(info, f)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _epoch(stamp: str) -> int:
    try:
        return int(datetime.fromisoformat(stamp).timestamp())
    except ValueError:
        return 0


# ------------------------------------------------------------------ command line


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m readiness.archive", description=__doc__.split("\n\n")[0]
    )
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="pack a finished run into <run-id>-evidence.tar.gz")
    b.add_argument("run_dir", nargs="?", default="reports/latest", help="default reports/latest")
    b.add_argument("--out", help="archive path (default reports/<run-id>-evidence.tar.gz)")
    b.add_argument(
        "--root", default=str(ROOT), help="repository whose catalog, waivers and envs/ go in"
    )
    b.add_argument(
        "--sign", action="store_true", help="sign manifest.json with Sigstore (CI; needs OIDC)"
    )
    v = sub.add_parser("verify", help="check an archive or directory against its manifest")
    v.add_argument("path")
    v.add_argument("--bundle", help=f"Sigstore bundle (default: {BUNDLE} inside PATH)")
    v.add_argument("--identity", help=f"expected signer, e.g. {IDENTITY_EXAMPLE}")
    v.add_argument("--issuer", default=GITHUB_ISSUER, help="expected OIDC issuer")
    v.add_argument("--require-signature", action="store_true", help="fail when there is no bundle")
    v.add_argument("--trusted-root", help="a Sigstore trusted_root.json instead of the embedded")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        if not Path(args.run_dir).is_dir():
            print(f"error: {args.run_dir}: no such run directory", file=sys.stderr)
            return 2
        try:
            out = build(
                Path(args.run_dir),
                Path(args.root),
                Path(args.out) if args.out else None,
                sign=args.sign,
            )
        except ArchiveError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"{out} ({_size(out.stat().st_size)})")
        return 0
    path = Path(args.path)
    if not path.exists():
        print(f"error: {path}: no such file or directory", file=sys.stderr)
        return 2
    try:
        result = verify(
            path,
            bundle=Path(args.bundle) if args.bundle else None,
            identity=args.identity,
            issuer=args.issuer,
            require_signature=args.require_signature,
            trusted_root=Path(args.trusted_root) if args.trusted_root else None,
        )
    except ArchiveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print("\n".join(format_result(result)))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

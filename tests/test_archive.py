"""The launch-review archive: what build packs, and what verify catches."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from readiness import archive
from readiness.archive import ArchiveError, build, format_result, main, verify
from readiness.evidence import write_manifest
from readiness.gatefile import GateReport, Scope
from readiness.verdict import Verdict
from tests.conftest import ROOT

RUN_ID = "20261130T010203Z-local-abcd"
IDENTITY = "https://github.com/dataface/launch-gate/.github/workflows/nightly-readiness.yml@refs/heads/main"
ISSUER = archive.GITHUB_ISSUER


def _report(**changes: object) -> GateReport:
    base = GateReport(
        verdict=Verdict.GO,
        env="local",
        run_id=RUN_ID,
        started_at="2026-11-30T01:02:03+00:00",
        finished_at="2026-11-30T01:05:00+00:00",
        git_sha="unknown",
        versions={"python": "3.11"},
        scope=Scope(surfaces=["packs"], criteria=["PACK-04"], partial=True),
        exit_code=0,
        criteria=[],
        waivers=[],
        summary={"pass": 0},
    )
    return base.model_copy(update=changes)


def _make_run(reports: Path, report: GateReport | None = None) -> Path:
    """A run directory as the gate leaves it, sealed by the gate's own write_manifest."""
    report = report or _report()
    run = reports / report.run_id
    files = {
        "gate.json": report.model_dump_json(indent=2) + "\n",
        "gate.md": "# GO\n",
        "index.html": "<html>landing</html>\n",
        "report.html": "<html>report</html>\n",
        "junit.xml": "<testsuites/>\n",
        "allure-results/abc-result.json": '{"status": "passed"}\n',
        "allure-report/index.html": "<html>allure</html>\n",
        "evidence/load/LOAD-01-browse.json": '{"p95": 2.3}\n',
        "evidence/load/browse/browse_stats.csv": "name,p95\nboards,2300\n",
    }
    for rel, text in files.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text(text)
    (run / "evidence/deployment").mkdir(parents=True)
    (run / "evidence/deployment/DEP-05-06-timeline.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + bytes(64)
    )
    write_manifest(run)
    return run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository root: the catalog, the waivers, an env file, the reviewed baseline."""
    root = tmp_path / "repo"
    (root / "envs").mkdir(parents=True)
    (root / "criteria.yaml").write_text("criteria: {}\n")
    (root / "waivers.yaml").write_text("waivers: []\n")
    (root / "envs" / "local.yaml").write_text("env:\n  name: local\n  token: {env: CLOUD_TOKEN}\n")
    shutil.copy(ROOT / ".secrets.baseline", root / ".secrets.baseline")
    return root


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return _make_run(tmp_path / "reports")


@pytest.fixture
def built(run_dir: Path, repo: Path) -> Path:
    return build(run_dir, repo)


def _unpack(archive_path: Path, dest: Path) -> Path:
    with tarfile.open(archive_path) as tar:
        tar.extractall(dest, filter="data")
    return dest / RUN_ID


def _rewrite_manifest(root: Path) -> None:
    """What a forger does after editing a file: make the digests match again."""
    m = json.loads((root / "manifest.json").read_text())
    for rel in m["files"]:
        m["files"][rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    (root / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")


def _foreign_bundle(content: bytes, identity: str = IDENTITY) -> bytes:
    """A well-formed Sigstore bundle (v0.3: leaf certificate, message
    signature, Rekor entry with inclusion proof and checkpoint) over other
    content, from a self-made certificate that no Fulcio CA issued. sigstore
    parses it; only verification can reject it."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    no = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "not fulcio")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(minutes=10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, **no), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True
        )
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), ISSUER.encode()
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    digest = hashlib.sha256(content).digest()
    sig = key.sign(content, ec.ECDSA(hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": b64(sig), "publicKey": {"content": b64(pem)}},
        },
    }
    entry = {
        "logIndex": "1",
        "logId": {"keyId": b64(bytes(32))},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
        "integratedTime": str(int(now.timestamp())),
        "inclusionPromise": {"signedEntryTimestamp": b64(b"not a signature")},
        "inclusionProof": {
            "logIndex": "1",
            "rootHash": b64(bytes(32)),
            "treeSize": "2",
            "hashes": [b64(b"\1" * 32)],
            "checkpoint": {"envelope": "rekor.example - 1\n2\nAAAA\n\n"},
        },
        "canonicalizedBody": b64(json.dumps(body).encode()),
    }
    return json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [entry],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(sig),
            },
        }
    ).encode()


# ------------------------------------------------------------------------ build


def test_build_packs_the_run_inputs_and_a_manifest_of_everything(built: Path, run_dir: Path):
    assert built == run_dir.parent / f"{RUN_ID}-evidence.tar.gz"
    with tarfile.open(built) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(f"{RUN_ID}/manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == f"{RUN_ID}/manifest.json"
    assert names[1:] == sorted(names[1:]), "members in a fixed order"
    files = set(manifest["files"])
    assert {n.removeprefix(f"{RUN_ID}/") for n in names[1:]} == files
    assert {
        "index.html",
        "report.html",
        "gate.json",
        "gate.md",
        "junit.xml",
        "allure-results/abc-result.json",
        "allure-report/index.html",
        "evidence/deployment/DEP-05-06-timeline.png",
        "evidence/load/browse/browse_stats.csv",
        "run-manifest.json",
        "inputs/criteria.yaml",
        "inputs/waivers.yaml",
        "inputs/envs/local.yaml",
    } <= files
    assert manifest["run_dir"] == RUN_ID and manifest["algorithm"] == "sha256"
    assert (manifest["run_id"], manifest["verdict"], manifest["env"]) == (RUN_ID, "GO", "local")
    assert manifest["created_at"] and set(manifest["sizes"]) == files
    assert manifest["sizes"]["gate.md"] == len("# GO\n")
    assert manifest["inputs"]["inputs/criteria.yaml"].startswith("working tree")


def test_build_refuses_an_interrupted_or_unfinished_run(tmp_path: Path, repo: Path):
    interrupted = _make_run(tmp_path / "reports", _report(interrupted=True, exit_code=102))
    with pytest.raises(ArchiveError, match=rf"{RUN_ID}.*interrupted"):
        build(interrupted, repo)
    (interrupted / "gate.json").unlink()
    with pytest.raises(ArchiveError, match=rf"{RUN_ID}: no gate.json"):
        build(interrupted, repo)


def test_build_refuses_a_run_edited_since_it_was_sealed_and_keeps_later_files(
    run_dir: Path, repo: Path, tmp_path: Path
):
    (run_dir / "comparison.md").write_text("nothing regressed\n")
    out = build(run_dir, repo)
    result = verify(out)
    assert result.ok and result.manifest.added_after_run == ["comparison.md"]

    (run_dir / "gate.md").write_text("# GO (edited)\n")
    with pytest.raises(ArchiveError, match=r"no longer matches.*changed: gate\.md"):
        build(run_dir, repo, tmp_path / "again.tar.gz")


def test_build_leaves_out_an_env_file_with_a_secret(run_dir: Path, repo: Path):
    (repo / "envs" / "local.yaml").write_text(
        'env:\n  name: local\n  password: "hX9#kQ2$vL7pR4wzM8tB"\n'
    )
    manifest = verify(build(run_dir, repo)).manifest
    assert "inputs/envs/local.yaml" not in manifest.files
    assert "secret" in manifest.omitted["inputs/envs/local.yaml"]


# ----------------------------------------------------------------------- verify


def test_verify_an_intact_archive_and_its_unpacked_directory(built: Path, tmp_path: Path):
    result = verify(built)
    assert result.ok and not (result.changed or result.missing or result.added)
    assert result.checked == len(result.manifest.files)
    assert result.signature == "absent"
    assert format_result(result)[-1].startswith(f"intact: {result.checked} files")
    unpacked = _unpack(built, tmp_path / "x")
    assert verify(unpacked).ok
    assert verify(unpacked.parent).ok, "the directory tar -xzf leaves works too"


def test_verify_names_changed_missing_and_added_files(built: Path, tmp_path: Path):
    root = _unpack(built, tmp_path / "x")
    (root / "gate.json").write_text('{"verdict": "GO"}\n')
    (root / "evidence/load/browse/browse_stats.csv").unlink()
    (root / "evidence/extra.png").write_bytes(b"late")
    result = verify(root)
    assert not result.ok
    assert (result.changed, result.missing, result.added) == (
        ["gate.json"],
        ["evidence/load/browse/browse_stats.csv"],
        ["evidence/extra.png"],
    )
    lines = format_result(result)
    assert lines[:3] == [
        "changed: gate.json",
        "missing: evidence/load/browse/browse_stats.csv",
        "added: evidence/extra.png",
    ]
    assert lines[-1].startswith("NOT intact: 1 changed, 1 missing, 1 added")


def test_verify_a_run_directory_with_the_gates_own_manifest(run_dir: Path):
    assert verify(run_dir).ok
    (run_dir / "junit.xml").write_text("<testsuites tests='9'/>\n")
    assert verify(run_dir).changed == ["junit.xml"]


def test_missing_or_malformed_manifest_is_a_clear_error(built: Path, tmp_path: Path):
    root = _unpack(built, tmp_path / "x")
    (root / "manifest.json").write_text('{"run_dir": "r", "files": {"../../etc/passwd": "00"}}')
    with pytest.raises(
        ArchiveError,
        match=r"manifest\.json is malformed: files: .*unsafe path '\.\./\.\./etc/passwd'",
    ):
        verify(root)
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(ArchiveError, match=r"manifest\.json is malformed: not JSON"):
        verify(root)
    (root / "manifest.json").unlink()
    with pytest.raises(ArchiveError, match=r"no manifest\.json"):
        verify(root)

    repacked = tmp_path / "no-manifest.tar.gz"
    with tarfile.open(repacked, "w:gz") as tar:
        tar.add(root, arcname=RUN_ID)
    with pytest.raises(ArchiveError, match=r"no-manifest.tar.gz: no manifest.json in the archive"):
        verify(repacked)


def _tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [("../../evil.sh", "'..'"), ("/etc/cron.d/evil", "absolute path"), (f"{RUN_ID}/../x", "'..'")],
)
def test_traversal_members_are_refused(tmp_path: Path, built: Path, name: str, why: str):
    with tarfile.open(built) as tar:
        manifest = tar.extractfile(f"{RUN_ID}/manifest.json").read()  # type: ignore[union-attr]
    evil = _tar_with(
        tmp_path / "evil.tar.gz",
        [(_file(f"{RUN_ID}/manifest.json"), manifest), (_file(name), b"pwned")],
    )
    with pytest.raises(ArchiveError, match=rf"refused member .*{why}"):
        verify(evil)


def test_links_and_duplicates_are_refused(tmp_path: Path, built: Path):
    with tarfile.open(built) as tar:
        manifest = tar.extractfile(f"{RUN_ID}/manifest.json").read()  # type: ignore[union-attr]
    link = _file(f"{RUN_ID}/gate.json")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(ArchiveError, match="refused member"):
        verify(
            _tar_with(
                tmp_path / "l.tar.gz", [(_file(f"{RUN_ID}/manifest.json"), manifest), (link, b"")]
            )
        )
    dup = [(_file(f"{RUN_ID}/manifest.json"), manifest)] + [
        (_file(f"{RUN_ID}/gate.md"), body) for body in (b"# GO\n", b"# NO-GO\n")
    ]
    with pytest.raises(ArchiveError, match="appears twice"):
        verify(_tar_with(tmp_path / "d.tar.gz", dup))


def test_a_truncated_archive_or_a_member_outside_the_run_is_reported(built: Path, tmp_path: Path):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(built.read_bytes()[: built.stat().st_size // 2])
    with pytest.raises(ArchiveError, match=r"cut\.tar\.gz: not a readable \.tar\.gz archive"):
        verify(cut)

    root = _unpack(built, tmp_path / "x")
    beside = tmp_path / "beside.tar.gz"
    with tarfile.open(beside, "w:gz") as tar:
        tar.add(root, arcname=RUN_ID)
        tar.add(root / "gate.json", arcname="gate.json")
    result = verify(beside)
    assert (result.added, result.changed) == (["../gate.json"], [])


# -------------------------------------------------------------------- signature


def test_a_bundle_for_other_content_fails_naming_the_bundle(built: Path, tmp_path: Path):
    """The real sigstore Verifier, offline, against a well-formed bundle that
    no Sigstore CA issued: the certificate chain does not lead to Fulcio."""
    bundle = tmp_path / "manifest.json.sigstore.json"
    bundle.write_bytes(_foreign_bundle(b"some other manifest"))
    result = verify(built, bundle=bundle, identity=IDENTITY, issuer=ISSUER)
    assert not result.ok and result.signature == "failed"
    assert result.signature_detail.startswith(f"{bundle} does not verify manifest.json:")
    assert "certificate" in result.signature_detail
    assert f"signature: failed: {bundle}" in "\n".join(format_result(result))


def test_a_corrupt_bundle_fails_naming_the_bundle(built: Path, tmp_path: Path):
    root = _unpack(built, tmp_path / "x")
    (root / "manifest.json.sigstore.json").write_text('{"mediaType": "truncated')
    result = verify(root, identity=IDENTITY)
    assert not result.ok and result.signature == "failed"
    assert result.bundle == f"{root}/manifest.json.sigstore.json"
    assert result.signature_detail.startswith(
        f"{root}/manifest.json.sigstore.json is not a Sigstore bundle"
    )
    assert result.changed == result.added == [], "the bundle is not part of the sealed files"


def test_a_bundle_without_an_expected_identity_is_not_trusted(built: Path, tmp_path: Path):
    bundle = tmp_path / "b.sigstore.json"
    bundle.write_bytes(_foreign_bundle(b"x"))
    result = verify(built, bundle=bundle)
    assert not result.ok and "--identity" in result.signature_detail


def test_require_signature_fails_without_a_bundle(built: Path, capsys: pytest.CaptureFixture[str]):
    result = verify(built, require_signature=True)
    assert not result.ok and result.signature == "absent"
    assert main(["verify", str(built), "--require-signature"]) == 1
    out = capsys.readouterr().out
    assert "signature: required, but no manifest.json.sigstore.json" in out
    assert "NOT intact: signature not verified" in out


class _SignedOnly:
    """Stands in for sigstore's Verifier in the one branch no test here can
    reach for real: a bundle that verifies needs a certificate from Fulcio and
    an entry in Rekor (keyless signing, network only in CI). It keeps the one
    property the consequence below depends on: the signature covers exactly
    the bytes that were signed."""

    def __init__(self, signed: bytes) -> None:
        self.signed = signed

    def verify_artifact(self, input_: bytes, bundle: object, policy: object) -> None:
        from sigstore.errors import VerificationError

        if hashlib.sha256(input_).digest() != hashlib.sha256(self.signed).digest():
            raise VerificationError("Bundle message digest mismatch")


def test_a_rewritten_manifest_passes_digests_but_fails_the_signature(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    root = _unpack(built, tmp_path / "x")
    signed = (root / "manifest.json").read_bytes()
    (root / "manifest.json.sigstore.json").write_bytes(_foreign_bundle(signed))
    monkeypatch.setattr(archive, "_verifier", lambda trusted_root: _SignedOnly(signed))

    result = verify(root, identity=IDENTITY, issuer=ISSUER, require_signature=True)
    assert result.ok and result.signature == "verified"
    assert f"signed by {IDENTITY}" in format_result(result)[0]

    gate = json.loads((root / "gate.json").read_text())
    gate["verdict"] = "GO"
    gate["summary"] = {"pass": 59}
    (root / "gate.json").write_text(json.dumps(gate))
    _rewrite_manifest(root)
    forged = verify(root, identity=IDENTITY, issuer=ISSUER)
    assert forged.changed == forged.missing == forged.added == [], "digests agree again"
    assert not forged.ok and forged.signature == "failed"
    assert "digest mismatch" in forged.signature_detail


def test_build_sign_puts_the_bundle_beside_the_manifest_unlisted(
    run_dir: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
):
    # The signing command itself needs CI's OIDC token; here a stand-in writes
    # the bundle where `python -m sigstore sign --bundle B manifest.json` would.
    def fake(manifest: Path, bundle: Path) -> list[str]:
        code = f"import pathlib; pathlib.Path({str(bundle)!r}).write_text('{{}}')"
        return [sys.executable, "-c", code]

    monkeypatch.setattr(archive, "_sign_command", fake)
    out = build(run_dir, repo, sign=True)
    with tarfile.open(out) as tar:
        assert tar.getnames()[:2] == [
            f"{RUN_ID}/manifest.json",
            f"{RUN_ID}/manifest.json.sigstore.json",
        ]
    result = verify(out, identity=IDENTITY)
    assert result.added == [] and result.signature == "failed"

    monkeypatch.setattr(archive, "_sign_command", lambda m, b: ["false"])
    with pytest.raises(ArchiveError, match=r"signing manifest\.json failed"):
        build(run_dir, repo, sign=True)


# ---------------------------------------------------------------- command line


def test_command_line_exit_codes(
    built: Path, tmp_path: Path, run_dir: Path, repo: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["verify", str(built)]) == 0
    assert "intact:" in capsys.readouterr().out
    root = _unpack(built, tmp_path / "x")
    (root / "gate.md").write_text("# NO-GO\n")
    assert main(["verify", str(root)]) == 1
    assert capsys.readouterr().out.splitlines()[0] == "changed: gate.md"
    assert main(["verify", str(tmp_path / "nope.tar.gz")]) == 2
    (root / "manifest.json").unlink()
    assert main(["verify", str(root)]) == 1
    assert "no manifest.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["verify"])
    assert usage.value.code == 2
    out = tmp_path / "cli.tar.gz"
    assert main(["build", str(run_dir), "--root", str(repo), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{out} (")
    assert main(["build", str(tmp_path / "no-run")]) == 2


# ------------------------------------------------------------- a real gate run


def test_archive_of_a_real_gate_run(
    gate_run: Callable[..., object], capsys: pytest.CaptureFixture[str]
):
    run = gate_run("--criteria", "PACK-04")
    assert main(["build", str(run.run_dir)]) == 0  # type: ignore[attr-defined]
    path = Path(capsys.readouterr().out.split(" (")[0])
    assert path.name == f"{run.gate['run_id']}-evidence.tar.gz"  # type: ignore[attr-defined]
    result = verify(path)
    assert result.ok, format_result(result)
    assert result.manifest.verdict == run.gate["verdict"]  # type: ignore[attr-defined]
    assert {"gate.json", "junit.xml", "report.html", "inputs/criteria.yaml"} <= set(
        result.manifest.files
    )
    assert any(n.startswith("allure-results/") for n in result.manifest.files)

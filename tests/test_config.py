"""Environment files: typed, expanded, and every mistake named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from readiness.config import ConfigError, load_env

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "env.yaml"
    p.write_text(body)
    return p


def test_shipped_env_files_load():
    for name in ("local", "staging", "production.example"):
        env = load_env(str(ROOT / "envs" / f"{name}.yaml"), ROOT)
        assert env.env.kind in ("local", "staging", "production")


def test_local_packs_section_is_typed_and_absolute():
    env = load_env("local", ROOT)
    packs = env.surface("packs")
    assert packs.project_dir == ROOT / "fixtures" / "packs"
    assert packs.freshness.error_after.as_timedelta().total_seconds() == 24 * 3600


def test_unknown_env_lists_known_ones():
    with pytest.raises(ConfigError, match=r"no file .*known: .*local"):
        load_env("nowhere", ROOT)


def test_missing_shared_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match="kind: missing required key"):
        load_env(str(write(tmp_path, "name: x\n")), ROOT)


def test_broken_surface_section_is_a_problem_of_that_surface_only(tmp_path):
    env = load_env(
        str(
            write(
                tmp_path,
                "name: x\nkind: staging\npacks:\n  warehouse: {path: w.duckdb}\n  colour: red\n",
            )
        ),
        ROOT,
    )
    problems = " ".join(env.problems["packs"])
    assert "packs.project_dir: missing required key" in problems
    assert "packs.colour: unknown key" in problems
    with pytest.raises(ConfigError, match="project_dir"):
        env.surface("packs")


def test_unset_variable_is_named_with_its_key(tmp_path, monkeypatch):
    monkeypatch.delenv("GATE_TEST_DIR", raising=False)
    body = "name: x\nkind: staging\npacks:\n  project_dir: ${GATE_TEST_DIR}\n  warehouse: {path: w.duckdb}\n"
    env = load_env(str(write(tmp_path, body)), ROOT)
    assert "packs.project_dir: uses ${GATE_TEST_DIR}, which is not set" in env.problems["packs"][0]
    monkeypatch.setenv("GATE_TEST_DIR", "/srv/packs")
    assert load_env(str(write(tmp_path, body)), ROOT).surface("packs").project_dir == Path(
        "/srv/packs"
    )


def test_env_round_trips_to_workers():
    env = load_env("local", ROOT)
    again = type(env).from_json(env.to_json())
    assert again.surface("packs") == env.surface("packs")


def test_relative_paths_resolve_against_the_env_file(tmp_path):
    """An env file means the same wherever the gate runs from."""
    (tmp_path / "envs").mkdir()
    body = "name: x\nkind: staging\npacks:\n  project_dir: ../packs\n  warehouse: {path: w.duckdb}\n"
    env = load_env(str(write(tmp_path / "envs", body)), ROOT)
    assert env.surface("packs").project_dir == tmp_path / "packs"
    assert env.surface("packs").warehouse.path == tmp_path / "envs" / "w.duckdb"


def test_an_unset_variable_in_an_optional_key_leaves_only_that_key_out(tmp_path, monkeypatch):
    monkeypatch.delenv("GATE_TEST_REPO", raising=False)
    body = (
        "name: x\nkind: staging\nsecrets:\n  required: [a]\n"
        "  scan: {root: \"${GATE_TEST_REPO}\", paths: [.], baseline: b}\n"
    )
    env = load_env(str(write(tmp_path, body)), ROOT)
    cfg = env.surface("secrets")
    assert cfg.scan is None and cfg.required == ["a"]
    assert "GATE_TEST_REPO" in env.missing("secrets", "scan")
    assert env.missing("secrets", "store") == "secrets.store is not set in env.yaml"


def test_packs_warehouse_settings_pick_their_adapter_and_name_what_is_wrong():
    from pydantic import ValidationError

    from readiness.settings.packs import (
        DuckDBWarehouseConfig,
        PacksConfig,
        PostgresWarehouseConfig,
    )

    old = PacksConfig.model_validate({"project_dir": "p", "warehouse": {"path": "w.duckdb"}})
    assert isinstance(old.warehouse, DuckDBWarehouseConfig)  # env files before the adapters
    pg = PacksConfig.model_validate(
        {
            "project_dir": "p",
            "warehouse": {
                "type": "postgres",
                "host": "db",
                "dbname": "analytics",
                "user": "gate",
                "password": {"env": "PG_PW"},
            },
            "validation": {"blocking": ["WARN-FANOUT-RISK"]},
            "freshness": {"connectors": {"hubspot": {"schema": "hubspot", "timezone": "Europe/Oslo"}}},
        }
    )
    assert isinstance(pg.warehouse, PostgresWarehouseConfig) and pg.warehouse.port == 5432
    assert pg.validation.blocks("WARN-FANOUT-RISK") and pg.validation.blocks("WARN-OTHER")
    assert not pg.validation.blocks("WARN-COLUMN-CHECK-UNAVAILABLE")
    assert pg.validation.unchecked("WARN-WAREHOUSE-CHECK-UNAVAILABLE")
    bad = [
        ({"type": "oracle", "path": "x"}, {}, "oracle"),
        ({"type": "postgres", "host": "db"}, {}, "dbname"),
        ({"path": "w"}, {"validation": {"blocking": ["W-1"], "informational": ["W-1"]}}, "W-1"),
        ({"path": "w"}, {"freshness": {"timezone": "Mars/Olympus"}}, "Mars/Olympus"),
    ]
    for warehouse, extra, needle in bad:
        with pytest.raises(ValidationError, match=needle):
            PacksConfig.model_validate({"project_dir": "p", "warehouse": warehouse, **extra})

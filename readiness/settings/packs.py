"""Settings of the dashboard-packs surface (``packs:`` in an env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from readiness.settings.base import Duration, Strict


class WarehouseConfig(Strict):
    """Where the packs' connector data lives.

    ``project_env_var`` is the variable the dct project reads its warehouse path
    from (``path: "{{ env_var('DATAFACE_WAREHOUSE') }}"`` in dbt_charts.yml). The
    rehearsals (drift, empty, edge) point it at scratch copies; a project that
    hard-codes its path can still be validated and rendered, but not rehearsed.
    """

    type: Literal["duckdb"] = "duckdb"
    path: Path
    project_env_var: str | None = "DATAFACE_WAREHOUSE"


class ConnectorFreshness(Strict):
    """One connector's freshness source: a schema, optionally narrowed to tables."""

    schema_: str = Field(alias="schema")
    tables: list[str] | None = None
    warn_after: Duration | None = None
    error_after: Duration | None = None


class FreshnessConfig(Strict):
    """dbt source freshness, per connector, on Fivetran's sync stamp."""

    loaded_at_field: str = "_fivetran_synced"
    warn_after: Duration = Duration(count=6, period="hour")
    error_after: Duration = Duration(count=24, period="hour")
    # None: every schema with a table carrying loaded_at_field is a connector.
    connectors: dict[str, ConnectorFreshness] | None = None


class PacksConfig(Strict):
    """The dashboard-packs surface: any dct project and its warehouse."""

    project_dir: Path
    previous_project_dir: Path | None = None
    boards: str = "charts/**/*.yml"
    warehouse: WarehouseConfig
    freshness: FreshnessConfig = FreshnessConfig()
    # Rehearsals mutate scratch copies only; off means PACK-03/05/08 are not evaluated.
    rehearsals: bool = True

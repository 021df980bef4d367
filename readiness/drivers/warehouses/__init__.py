"""Warehouse adapters of the packs surface, one per kind, behind one Protocol."""

from __future__ import annotations

from pathlib import Path

from readiness.drivers.warehouses.base import (
    SYSTEM_PREFIX,
    Column,
    ScratchError,
    ScratchWarehouse,
    Table,
    Warehouse,
    WarehouseError,
)
from readiness.settings.packs import (
    BigQueryWarehouseConfig,
    DuckDBWarehouseConfig,
    PostgresWarehouseConfig,
    SnowflakeWarehouseConfig,
)

__all__ = [
    "SYSTEM_PREFIX",
    "Column",
    "ScratchError",
    "ScratchWarehouse",
    "Table",
    "Warehouse",
    "WarehouseError",
    "open_warehouse",
]


def open_warehouse(
    config: DuckDBWarehouseConfig
    | PostgresWarehouseConfig
    | SnowflakeWarehouseConfig
    | BigQueryWarehouseConfig,
    workdir: Path,
    timeout_s: float = 300.0,
) -> Warehouse:
    """The adapter for ``packs.warehouse`` (client libraries load only when used).

    ``workdir`` holds what a rehearsal keeps on this machine (DuckDB copies,
    the lock that takes BigQuery scratch copies in turn)."""
    if isinstance(config, DuckDBWarehouseConfig):
        from readiness.drivers.warehouses.duckdb_file import DuckDBWarehouse

        return DuckDBWarehouse(config.path, config.project_env_var, config.schemas, workdir)
    if isinstance(config, PostgresWarehouseConfig):
        from readiness.drivers.warehouses.postgres import PostgresWarehouse

        return PostgresWarehouse(config)
    if isinstance(config, SnowflakeWarehouseConfig):
        from readiness.drivers.warehouses.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse(config, timeout_s=timeout_s)
    from readiness.drivers.warehouses.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(
        config, lock_path=workdir / "bigquery-scratch.lock", timeout_s=timeout_s
    )

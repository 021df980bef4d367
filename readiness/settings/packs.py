"""Settings of the dashboard-packs surface (``packs:`` in an env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from readiness.settings.base import Duration, EnvVarRef, Strict


class _Warehouse(Strict):
    """What every warehouse section shares.

    ``project_env_var`` is the variable the dct project reads its warehouse's
    location from (DuckDB: the file path; PostgreSQL and Snowflake: the
    database; BigQuery: the project). The rehearsals point it at scratch
    copies, and prove dct followed it before judging; a project that hard-codes
    its location can still be validated and rendered, but not rehearsed.
    ``source`` is the dct source the boards read (default: the project's only one).
    """

    project_env_var: str | None = "DATAFACE_WAREHOUSE"
    source: str | None = None
    # Connector schemas (BigQuery: datasets) to judge and copy; None: every
    # schema but the database's own catalogs.
    schemas: list[str] | None = None


class DuckDBWarehouseConfig(_Warehouse):
    """A DuckDB file: the local stand-in's, or a snapshot of a real warehouse."""

    type: Literal["duckdb"] = "duckdb"
    path: Path


class PostgresWarehouseConfig(_Warehouse):
    """A PostgreSQL database (Fivetran's PostgreSQL destination).

    Rehearsals copy the connector schemas into a scratch database on the same
    server (the login needs CREATEDB), dropped when the rehearsal ends.
    """

    type: Literal["postgres"]
    host: str
    port: int = 5432
    dbname: str
    user: str
    password: EnvVarRef | None = None
    sslmode: str | None = None
    connect_timeout_s: int = 10
    # Roles dct logs in as, when not as ``user``: granted read on each scratch database.
    scratch_readers: list[str] = []


class SnowflakeWarehouseConfig(_Warehouse):
    """A Snowflake database; rehearsals run on a zero-copy clone of it."""

    type: Literal["snowflake"]
    account: str
    user: str
    database: str
    warehouse: str | None = None
    role: str | None = None
    password: EnvVarRef | None = None
    private_key_path: Path | None = None


class BigQueryWarehouseConfig(_Warehouse):
    """A BigQuery project whose datasets are the connector schemas.

    Boards name tables as ``dataset.table``, so a copy needs the same dataset
    names in another project: ``scratch_project`` (a sandbox the gate may
    write), where rehearsals clone the tables and delete them afterwards.
    """

    type: Literal["bigquery"]
    project: str
    location: str = "US"
    scratch_project: str | None = None
    keyfile: Path | None = None


def _warehouse_type(value: Any) -> str:
    # Env files written before the other adapters say nothing or `type: duckdb`.
    if isinstance(value, dict):
        return str(value.get("type", "duckdb"))
    return str(getattr(value, "type", "duckdb"))


WarehouseConfig = Annotated[
    Annotated[DuckDBWarehouseConfig, Tag("duckdb")]
    | Annotated[PostgresWarehouseConfig, Tag("postgres")]
    | Annotated[SnowflakeWarehouseConfig, Tag("snowflake")]
    | Annotated[BigQueryWarehouseConfig, Tag("bigquery")],
    Discriminator(_warehouse_type),
]


class ConnectorFreshness(Strict):
    """One connector's freshness source: a schema, optionally narrowed to tables.

    ``loaded_at_field`` overrides the surface's for this connector; ``tables``
    may map a table to its own field (a table Fivetran does not stamp, read by
    another column). ``timezone`` is how to read a naive timestamp.
    """

    schema_: str = Field(alias="schema")
    tables: list[str] | dict[str, str] | None = None
    loaded_at_field: str | None = None
    timezone: str | None = None
    warn_after: Duration | None = None
    error_after: Duration | None = None

    def field_of(self, table: str, default: str) -> str:
        if isinstance(self.tables, dict) and self.tables.get(table):
            return self.tables[table]
        return self.loaded_at_field or default

    def includes(self, table: str) -> bool:
        return self.tables is None or table in self.tables


class FreshnessConfig(Strict):
    """dbt source freshness, per connector, on Fivetran's sync stamp."""

    loaded_at_field: str = "_fivetran_synced"
    # A naive loaded-at value is read in this zone (Fivetran writes UTC).
    timezone: str = "UTC"
    warn_after: Duration = Duration(count=6, period="hour")
    error_after: Duration = Duration(count=24, period="hour")
    # None: every schema with a table carrying loaded_at_field is a connector.
    connectors: dict[str, ConnectorFreshness] | None = None

    @model_validator(mode="after")
    def _zones_exist(self) -> FreshnessConfig:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        zones = [("timezone", self.timezone)] + [
            (f"connectors.{n}.timezone", c.timezone)
            for n, c in (self.connectors or {}).items()
            if c.timezone
        ]
        for key, zone in zones:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as e:
                raise ValueError(f"freshness.{key}: unknown time zone {zone!r}") from e
        return self


# dct warns with these when the warehouse (or the dbt project) cannot answer a
# question, e.g. PostgreSQL's EXPLAIN validates a query but returns no columns.
# Not a finding about the pack; listed in the evidence, never counted as checked.
WAREHOUSE_CANNOT_ANSWER = (
    "WARN-COLUMN-CHECK-UNAVAILABLE",
    "WARN-DBT-MANIFEST-MISSING",
    "WARN-DBT-QUERY-COLUMNS-INDETERMINATE",
    "WARN-DBT-MODEL-COLUMNS-UNRESOLVED",
)


# dct could not open the warehouse at all (e.g. the database does not exist)
# and still answers success: nothing was checked, so PACK-01 is not evaluated
# unless the env lists the code as blocking.
WAREHOUSE_NOT_CHECKED = ("WARN-WAREHOUSE-CHECK-UNAVAILABLE",)


class ValidationConfig(Strict):
    """How PACK-01 judges `dct validate` warnings: by code."""

    informational: list[str] = list(WAREHOUSE_CANNOT_ANSWER)
    blocking: list[str] = []
    # A warning in neither list.
    unlisted: Literal["block", "informational"] = "block"

    @model_validator(mode="after")
    def _disjoint(self) -> ValidationConfig:
        both = sorted(set(self.informational) & set(self.blocking))
        if both:
            raise ValueError(
                f"validation: {', '.join(both)} listed as both blocking and informational"
            )
        return self

    def unchecked(self, code: str) -> bool:
        """The warning says the warehouse check did not run at all."""
        return code in WAREHOUSE_NOT_CHECKED and code not in self.blocking

    def blocks(self, code: str) -> bool:
        if code in self.blocking:
            return True
        if code in self.informational:
            return False
        return self.unlisted == "block"


class PacksConfig(Strict):
    """The dashboard-packs surface: any dct project and its warehouse."""

    project_dir: Path
    previous_project_dir: Path | None = None
    boards: str = "charts/**/*.yml"
    warehouse: WarehouseConfig
    # Variables the dct project reads (its dbt_charts.yml env_var()s: a host, a
    # login), set for every dct call; a credential by reference, {env: NAME}.
    project_env: dict[str, str | EnvVarRef] = {}
    freshness: FreshnessConfig = FreshnessConfig()
    validation: ValidationConfig = ValidationConfig()
    # Rehearsals mutate scratch copies only; off means PACK-03/05/08 are not evaluated.
    rehearsals: bool = True

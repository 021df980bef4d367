"""BigQuery as the packs' warehouse, through google-cloud-bigquery.

Reads ask each judged dataset's INFORMATION_SCHEMA. Boards name tables as
``dataset.table`` and the dct source names the project, so a scratch copy is
the same datasets in another project (``scratch_project``), each table a
zero-copy clone (``CREATE TABLE ... CLONE``), deleted when the rehearsal ends.
Mutations are DML and DDL jobs, never streaming inserts: rows in the streaming
buffer cannot be truncated or changed for a while after they land.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from google.cloud import bigquery

from readiness.drivers.google_api import ApiFailure, call
from readiness.drivers.warehouses.base import (
    MARKER_SCHEMA,
    MARKER_TABLE,
    ScratchError,
    Table,
    WarehouseError,
    batches,
    group_columns,
    located_by,
)
from readiness.settings.packs import BigQueryWarehouseConfig

# The label that marks a dataset as a scratch copy the gate made (value: the
# rehearsal's name). A dataset without it is never touched.
LABEL = "readiness-scratch"
# A scratch table outlives an interrupted run (killed process, lost machine) by
# at most a day; a normal run deletes it within minutes.
_EXPIRY_MS = 24 * 3600 * 1000
_MAX_DATASETS = 10_000
# Rows (or values) per statement: well under BigQuery's 10,000 parameters per query.
_BATCH = 100

# Column type -> query parameter type, and the Python values the library
# serialises as that type. Any other value travels as a STRING and the CAST in
# the statement converts it (or fails loudly).
_PARAM_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "INT64": ("INT64", (int,)),
    "INTEGER": ("INT64", (int,)),
    "FLOAT64": ("FLOAT64", (int, float)),
    "FLOAT": ("FLOAT64", (int, float)),
    "NUMERIC": ("NUMERIC", (int, float, Decimal)),
    "DECIMAL": ("NUMERIC", (int, float, Decimal)),
    "BIGNUMERIC": ("BIGNUMERIC", (int, float, Decimal)),
    "BIGDECIMAL": ("BIGNUMERIC", (int, float, Decimal)),
    "BOOL": ("BOOL", (bool,)),
    "BOOLEAN": ("BOOL", (bool,)),
    "STRING": ("STRING", (str,)),
    "BYTES": ("BYTES", (bytes,)),
    "DATE": ("DATE", (date,)),
    "DATETIME": ("DATETIME", (datetime,)),
    "TIMESTAMP": ("TIMESTAMP", (datetime,)),
    "TIME": ("TIME", (time,)),
}


def bq(*parts: str) -> str:
    """A quoted path (`project`.`dataset`.`table`, or a column)."""
    return ".".join("`" + p.replace("\\", "\\\\").replace("`", "\\`") + "`" for p in parts)


def label_value(name: str) -> str:
    """``name`` as a label value: lower case, [a-z0-9_-], at most 63 characters."""
    safe = re.sub(r"[^a-z0-9_-]", "-", name.lower())
    if len(safe) <= 63:
        return safe
    return safe[:54] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def parameter(
    name: str, column_type: str, value: object
) -> tuple[str, bigquery.ScalarQueryParameter | None]:
    """The SQL for one value bound to a column of ``column_type``, and its
    parameter (None: the value is a NULL literal)."""
    base = re.match(r"[A-Z0-9]*", column_type.upper())
    found = _PARAM_TYPES.get(base.group(0) if base else "")
    if found is None:
        # STRUCT, ARRAY, JSON, GEOGRAPHY, INTERVAL, RANGE: no CAST from a scalar
        # parameter reaches them; NULL is the one value every column takes.
        if value is None:
            return "NULL", None
        raise ScratchError(f"no parameter carries {value!r} into a {column_type} column")
    ptype, accepts = found
    fits = isinstance(value, accepts) and not (isinstance(value, bool) and ptype != "BOOL")
    if ptype == "DATE" and isinstance(value, datetime):
        fits = False
    if value is None or fits:
        if ptype in ("NUMERIC", "BIGNUMERIC") and isinstance(value, int | float):
            # The library sends a Decimal as text; a float would go out as a JSON number.
            value = Decimal(repr(value))
        elif ptype == "FLOAT64" and isinstance(value, int):
            value = float(value)
        param = bigquery.ScalarQueryParameter(name, ptype, value)
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        param = bigquery.ScalarQueryParameter(name, "STRING", text)
    return f"CAST(@{name} AS {column_type})", param


def make_client(config: BigQueryWarehouseConfig) -> bigquery.Client:
    """A client for ``config.project``: the key file's service account, or
    application default credentials."""
    credentials = None
    if config.keyfile is not None:
        from google.oauth2 import service_account

        try:
            credentials = service_account.Credentials.from_service_account_file(str(config.keyfile))
        except (OSError, ValueError) as e:
            raise WarehouseError(
                f"bigquery://{config.project}: packs.warehouse.keyfile {config.keyfile}: {e}"
            ) from e
    try:
        return call(
            f"bigquery://{config.project}",
            "create client",
            bigquery.Client,
            project=config.project,
            credentials=credentials,
            location=config.location,
        )
    except ApiFailure as e:
        raise WarehouseError(str(e)) from e


class BigQueryWarehouse:
    """A BigQuery project whose datasets are the connector schemas.

    ``scratch()`` creates datasets named like the judged ones in
    ``scratch_project``, so two rehearsals cannot share a scratch project at
    once: pass ``lock_path`` (a file every process of the run can reach) and
    ``scratch()`` holds a file lock on it for the rehearsal's whole life. Runs
    on other machines are not serialised by it; one scratch project per
    concurrent gate run.
    """

    kind = "bigquery"
    dialect = "bigquery"

    def __init__(
        self,
        config: BigQueryWarehouseConfig,
        client: bigquery.Client | None = None,
        *,
        lock_path: Path | None = None,
        timeout_s: float = 300.0,
        lock_timeout_s: float = 3600.0,
    ) -> None:
        self.config = config
        self.lock_path = lock_path
        self.timeout_s = timeout_s
        self.lock_timeout_s = lock_timeout_s
        self._client = client

    @property
    def client(self) -> bigquery.Client:
        if self._client is None:
            self._client = make_client(self.config)
        return self._client

    @property
    def label(self) -> str:
        return f"bigquery://{self.config.project}"

    def _roles(self) -> str:
        return (
            f"roles/bigquery.jobUser and roles/bigquery.dataViewer on project {self.config.project}"
        )

    def _call(
        self,
        step: str,
        fn: Callable[..., Any],
        *args: Any,
        error: type[WarehouseError] = WarehouseError,
        role: str = "",
        **kwargs: Any,
    ) -> Any:
        try:
            return call(self.label, step, fn, *args, role=role, timeout=self.timeout_s, **kwargs)
        except ApiFailure as e:
            raise error(str(e)) from e

    def _query(
        self,
        step: str,
        sql: str,
        params: Sequence[bigquery.ScalarQueryParameter] = (),
        *,
        error: type[WarehouseError] = WarehouseError,
        role: str = "",
    ) -> list[tuple[Any, ...]]:
        """Rows of one query job, run (and billed) in this warehouse's project."""
        config = bigquery.QueryJobConfig(query_parameters=list(params))

        def run(timeout: float) -> list[tuple[Any, ...]]:
            job = self.client.query(
                sql,
                job_config=config,
                project=self.config.project,
                location=self.config.location,
                timeout=timeout,
            )
            return [tuple(row.values()) for row in job.result(timeout=timeout)]

        return self._call(step, run, error=error, role=role or self._roles())

    def datasets(self) -> list[str]:
        """The judged datasets: ``schemas``, or every dataset in the project."""
        if self.config.schemas is not None:
            return sorted(self.config.schemas)

        def listed(timeout: float) -> list[str]:
            found = self.client.list_datasets(
                self.config.project, max_results=_MAX_DATASETS, timeout=timeout
            )
            return [d.dataset_id for d in found]

        return sorted(
            d for d in self._call("list datasets", listed, role=self._roles()) if d != MARKER_SCHEMA
        )

    def tables(self) -> list[Table]:
        return self._tables(self.datasets())

    def _tables(self, datasets: list[str]) -> list[Table]:
        if not datasets:
            return []
        p = self.config.project
        # One job per question for every dataset, not one per dataset.
        columns = " UNION ALL ".join(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type, "
            "c.is_nullable = 'YES', c.ordinal_position "
            f"FROM {bq(p, d)}.INFORMATION_SCHEMA.COLUMNS c "
            f"JOIN {bq(p, d)}.INFORMATION_SCHEMA.TABLES t ON t.table_name = c.table_name "
            # A table that is itself a clone says CLONE; views cannot be copied.
            "WHERE t.table_type IN ('BASE TABLE', 'CLONE')"
            for d in datasets
        )
        rows = self._query("read columns", f"SELECT * FROM ({columns}) ORDER BY 1, 2, 6")
        return group_columns([r[:5] for r in rows], self._keys(datasets))

    def _keys(self, datasets: list[str]) -> dict[tuple[str, str], list[tuple[str, ...]]]:
        """Primary keys: BigQuery declares them (NOT ENFORCED) and has no UNIQUE
        constraint; edge rows must still respect them."""
        p = self.config.project
        union = " UNION ALL ".join(
            "SELECT tc.table_schema, tc.table_name, tc.constraint_name, k.column_name, "
            "k.ordinal_position "
            f"FROM {bq(p, d)}.INFORMATION_SCHEMA.TABLE_CONSTRAINTS tc "
            f"JOIN {bq(p, d)}.INFORMATION_SCHEMA.KEY_COLUMN_USAGE k "
            "ON k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name "
            "WHERE tc.constraint_type = 'PRIMARY KEY'"
            for d in datasets
        )
        keys: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        cols: dict[tuple[str, str, str], list[str]] = {}
        for schema, table, constraint, column, _ in self._query(
            "read keys", f"SELECT * FROM ({union}) ORDER BY 1, 2, 3, 5"
        ):
            cols.setdefault((schema, table, constraint), []).append(column)
        for (schema, table, _), names in cols.items():
            keys.setdefault((schema, table), []).append(tuple(names))
        return keys

    def max_value(self, table: Table, column: str) -> datetime | None:
        rows = self._query(
            f"max({column}) of {table.qualified}",
            f"SELECT MAX({bq(column)}) FROM {bq(self.config.project, table.schema, table.name)}",
        )
        return rows[0][0] if rows else None

    def fingerprint(self) -> str | None:
        """None: nothing both cheap and sound. Table metadata (last_modified_time,
        row counts) is free but says nothing of what views read from other
        datasets or projects; a content hash (FARM_FINGERPRINT over every row)
        bills a scan of every table on each run. A render cache keyed on the
        wrong content judges old output as new, so this one never caches."""
        return None

    def dct_env(self) -> dict[str, str]:
        return located_by(self.config.project_env_var, self.config.project, "BigQuery project")

    def _scratch_project(self) -> str:
        sp = self.config.scratch_project
        if not sp:
            raise ScratchError(
                f"{self.label}: rehearsals need a sandbox project the gate may write: "
                "set packs.warehouse.scratch_project"
            )
        if sp == self.config.project:
            raise ScratchError(
                f"{self.label}: packs.warehouse.scratch_project is the judged project itself; "
                "scratch datasets carry the judged datasets' names, so they need another project"
            )
        return sp

    @contextmanager
    def _locked(self, sp: str) -> Iterator[None]:
        if self.lock_path is None:
            yield
            return
        lock = FileLock(str(self.lock_path), timeout=self.lock_timeout_s)
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except Timeout as e:
            raise ScratchError(
                f"{self.label}: scratch project {sp} still held by another rehearsal after "
                f"{self.lock_timeout_s:.0f} s (lock {self.lock_path})"
            ) from e
        except OSError as e:
            raise ScratchError(f"{self.label}: scratch lock {self.lock_path}: {e}") from e
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def scratch(self, name: str) -> Iterator[ScratchBigQuery]:
        """The judged datasets, cloned into ``scratch_project`` under their own
        names, plus the marker; every dataset it created is deleted on exit."""
        sp = self._scratch_project()
        tag = label_value(name)
        editor = f"roles/bigquery.dataEditor and roles/bigquery.jobUser on project {sp}"
        try:
            datasets = self.datasets()
            tables = self._tables(datasets)
        except WarehouseError as e:
            raise ScratchError(f"{self.label}: scratch {sp}: list the tables to clone: {e}") from e
        created: list[str] = []

        def step(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return self._call(
                f"scratch {sp}: {what}", fn, *args, error=ScratchError, role=editor, **kwargs
            )

        with self._locked(sp):
            try:
                wanted = [*datasets, MARKER_SCHEMA]
                for d in wanted:
                    self._claim(sp, d, tag, step)
                for d in wanted:
                    ds = bigquery.Dataset(bigquery.DatasetReference(sp, d))
                    ds.location = self.config.location
                    ds.labels = {LABEL: tag}
                    ds.default_table_expiration_ms = _EXPIRY_MS
                    ds.description = (
                        f"Scratch copy of {self.config.project}.{d} for readiness rehearsal "
                        f"{name}; deleted when it ends."
                    )
                    step(f"create dataset {d}", self.client.create_dataset, ds, exists_ok=False)
                    created.append(d)
                scratch = ScratchBigQuery(
                    self.config.model_copy(
                        update={"project": sp, "scratch_project": None, "schemas": datasets}
                    ),
                    self.client,
                    timeout_s=self.timeout_s,
                )
                for t in tables:
                    scratch._query(
                        f"scratch {sp}: clone {t.qualified}",
                        f"CREATE TABLE {bq(sp, t.schema, t.name)} "
                        f"CLONE {bq(self.config.project, t.schema, t.name)}",
                        error=ScratchError,
                        role=f"{editor}, roles/bigquery.dataViewer on "
                        f"{self.config.project}.{t.qualified}",
                    )
                scratch._query(
                    f"scratch {sp}: create marker",
                    f"CREATE TABLE {bq(sp, MARKER_SCHEMA, MARKER_TABLE)} (token STRING)",
                    error=ScratchError,
                    role=editor,
                )
                yield scratch
            finally:
                self._delete(sp, created, step)

    def _claim(self, sp: str, dataset: str, tag: str, step: Callable[..., Any]) -> None:
        """Make sure ``sp.dataset`` is free: absent, or a leftover of this same
        rehearsal interrupted under the lock (deleted here). Anything else is
        another run's copy or real data, and is never touched."""
        try:
            found = step(
                f"look up dataset {dataset}",
                self.client.get_dataset,
                bigquery.DatasetReference(sp, dataset),
            )
        except ScratchError as e:
            if isinstance(e.__cause__, ApiFailure) and e.__cause__.kind == "not-found":
                return
            raise
        mine = (found.labels or {}).get(LABEL) == tag
        if not mine or self.lock_path is None:
            why = (
                "carries this rehearsal's label, but without a lock it may be a live run's"
                if mine
                else f"has no {LABEL}={tag} label: another run's copy or real data"
            )
            raise ScratchError(
                f"{self.label}: scratch {sp}: dataset {sp}.{dataset} already exists and {why}; "
                f"not overwriting it (delete it if it is a leftover: bq rm -r -f {sp}:{dataset})"
            )
        self._drop(sp, dataset, f"delete leftover dataset {dataset}", step)

    def _drop(self, sp: str, dataset: str, what: str, step: Callable[..., Any]) -> None:
        step(
            what,
            self.client.delete_dataset,
            bigquery.DatasetReference(sp, dataset),
            delete_contents=True,
            not_found_ok=True,
        )

    def _delete(self, sp: str, created: list[str], step: Callable[..., Any]) -> None:
        left: list[str] = []
        for d in reversed(created):
            try:
                self._drop(sp, d, f"delete dataset {d}", step)
            except ScratchError as e:
                left.append(f"{sp}:{d} ({e})")
        if left:
            raise ScratchError(
                f"{self.label}: scratch datasets left behind, delete them by hand: {'; '.join(left)}"
            )


class ScratchBigQuery(BigQueryWarehouse):
    """Datasets made for one rehearsal in the scratch project; its mutations
    touch nothing else, and its jobs run (and bill) there."""

    def _write(
        self, step: str, sql: str, params: Sequence[bigquery.ScalarQueryParameter] = ()
    ) -> list[tuple[Any, ...]]:
        return self._query(
            step,
            sql,
            params,
            error=ScratchError,
            role=f"roles/bigquery.dataEditor and roles/bigquery.jobUser on project {self.config.project}",
        )

    def _target(self, table: Table) -> str:
        return bq(self.config.project, table.schema, table.name)

    def mark(self, token: str) -> None:
        self._write(
            "marker",
            f"INSERT INTO {bq(self.config.project, MARKER_SCHEMA, MARKER_TABLE)} (token) "
            "VALUES (@token)",
            [bigquery.ScalarQueryParameter("token", "STRING", token)],
        )

    def rename_columns(self, renames: dict[Table, list[str]], suffix: str = "__renamed") -> None:
        for t, cols in renames.items():
            if not cols:
                continue
            # One statement per table: BigQuery allows 5 metadata updates per
            # table per 10 seconds, and a wide drift renames more columns than that.
            actions = ", ".join(f"RENAME COLUMN {bq(c)} TO {bq(c + suffix)}" for c in cols)
            self._write(
                f"rename columns of {t.qualified}", f"ALTER TABLE {self._target(t)} {actions}"
            )

    def truncate(self, tables: Sequence[Table]) -> None:
        for t in tables:
            self._write(f"truncate {t.qualified}", f"TRUNCATE TABLE {self._target(t)}")

    def insert_rows(self, table: Table, rows: list[dict[str, object]]) -> None:
        """Insert rows by column name: each value a query parameter typed by its
        column, cast to the column's exact type, so an impossible edge value
        fails loudly here."""
        for cols, batch in batches(rows, _BATCH):
            values: list[str] = []
            params: list[bigquery.ScalarQueryParameter] = []
            for r, row in enumerate(batch):
                exprs = []
                for i, c in enumerate(cols):
                    col = table.column(c)
                    if col is None:
                        raise ScratchError(f"{table.qualified} has no column {c}")
                    sql, param = parameter(f"r{r}_{i}", col.type, row[c])
                    exprs.append(sql)
                    if param is not None:
                        params.append(param)
                values.append(f"({', '.join(exprs)})")
            self._write(
                f"edge rows into {table.qualified}",
                f"INSERT INTO {self._target(table)} ({', '.join(bq(c) for c in cols)}) "
                f"VALUES {', '.join(values)}",
                params,
            )

    def taken(self, table: Table, column: str, values: Sequence[object]) -> set[object]:
        col = table.column(column)
        if col is None:
            raise ScratchError(f"{table.qualified} has no column {column}")
        held: set[object] = set()
        for start in range(0, len(values), _BATCH):
            batch = values[start : start + _BATCH]
            probes, params = [], []
            for i, v in enumerate(batch):
                sql, param = parameter(f"v{i}", col.type, v)
                probes.append(f"SELECT {i} AS i, {sql} AS v")
                if param is not None:
                    params.append(param)
            rows = self._write(
                f"keys taken in {table.qualified}.{column}",
                f"SELECT DISTINCT p.i FROM ({' UNION ALL '.join(probes)}) p "
                f"JOIN {self._target(table)} t ON t.{bq(column)} = p.v",
                params,
            )
            held |= {batch[int(r[0])] for r in rows}
        return held

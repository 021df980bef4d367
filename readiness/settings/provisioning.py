"""Settings of the provisioning surface (``provisioning:`` in an env file).

The checks drive Dataface Cloud's setup API with the published client,
``dbt_charts.cloud_client.CloudClient``, at ``base_url`` with bearer tokens
named by environment variable: the same code judges the reference control
plane and staging.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from readiness.settings.base import EnvVarRef, Strict, empty_is_none
from readiness.settings.billing import HttpUrl


class ConnectionProbe(Strict):
    """The warehouse connection PRV-03 creates to walk a project past
    ``untested_connection``: fields in the warehouse type's own vocabulary,
    for a warehouse the deployment can reach (its test must pass)."""

    connection_type: str = "duckdb"
    fields: dict[str, str] = {"path": ":memory:"}


class ProvisioningConfig(Strict):
    """Where the Cloud setup API is, who the gate is there, and its bounds."""

    # The deployment's host; the client appends /api/.
    base_url: HttpUrl
    # A full-scope identity (dashboards:read orgs:admin projects:admin connections:admin).
    token: EnvVarRef
    # A token lacking one scope (``missing_scope``): PRV-01's 403 insufficient_scope.
    scoped_token: EnvVarRef | None = None
    missing_scope: str = "projects:admin"
    # An identity in another org: PRV-01's 404-for-everything (no enumeration).
    other_org_token: EnvVarRef | None = None
    # A member of ``org`` other than ``token``'s identity: PRV-06 changes its
    # role and removes it (then its token must get 404). Absent: that part is
    # not evaluated, naming this setting.
    second_identity_token: EnvVarRef | None = None
    # A connector's credential (an OAuth client's grant in ``org``): PRV-06
    # revokes the grant and the credential must stop working.
    connector_token: EnvVarRef | None = None
    # Who the second identity is, and which OAuth client the connector is
    # (not secrets: how the checks find them in show_member and list_grants).
    second_identity_email: str | None = None
    connector_application: str = "gate-connector"
    # The org the gate works in where a check needs an existing membership; every
    # org, project, connection and invitation the gate creates is named gate-...
    org: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
    # How long a project may sit in one setup stage before PRV-03 fails it.
    stage_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # Status polls while following stages.
    poll_s: float = Field(default=0.2, gt=0, le=60)
    # PRV-04: at most this many creates/invites to reach a quota or rate limit.
    max_breach_attempts: int = Field(default=60, gt=0, le=500)
    # PRV-05: hypothesis max_examples per fuzzed endpoint, and its per-example deadline.
    fuzz_examples: int = Field(default=40, gt=0, le=500)
    fuzz_deadline_s: float = Field(default=5.0, gt=0, le=60)
    stage_connection: ConnectionProbe = ConnectionProbe()
    # The repository every gate- project is created from (Cloud pulls it: it must exist).
    project_repo: str = "https://github.com/dataface/gate-fixture.git"
    project_branch: str = "main"
    project_git_host: str = "github"
    # A CA bundle to trust (the stand-in's throwaway CA); None: the system trust store.
    ca_bundle: Path | None = None

    _empty = field_validator("ca_bundle", "second_identity_email", mode="before")(empty_is_none)

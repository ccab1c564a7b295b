"""Loading a directory of policy files exactly as a server start does: the one check a policy passes.

`serve` loads its policies through load_policies(); `permitgw policy push` and each replica taking a pushed
bundle run the very same function on the bundle materialised in a private directory, so a bundle refused at
push is one a server would refuse at start, and the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpc_health.v1 import health_pb2

from gateway.policy.bundle import Files, bundle_version, check_files, materialised
from gateway.policy.decisions import PolicyTable, build_table
from gateway.rules.eligibility import HousingSettings
from gateway.rules.enrollment import EnrollmentSettings
from gateway.rules.points import PointsTable
from gateway.rules.statistics import StatisticsSettings
from gateway.server.limits import MethodLimits, load_method_limits
from gateway.settings.anomalies import load_anomalies
from gateway.settings.enrollment import load_enrollment
from gateway.settings.housing import load_housing
from gateway.settings.organisations import Organisations, load_organisations
from gateway.settings.points import load_points
from gateway.settings.quotas import load_quotas
from gateway.settings.statistics import load_statistics
from gateway.watch.anomalies import AnomalySettings
from gateway.watch.quotas import QuotaSettings
from permitgw.education.v1 import education_pb2
from permitgw.health.v1 import permit_status_pb2 as hospital_pb2
from permitgw.v1 import audit_pb2, entitlement_pb2, permit_pb2, points_pb2, statistics_pb2

# Every gRPC service the server registers (gateway/server/app.py), whose methods limits.toml may name.
SERVED_SERVICES = ((permit_pb2, "PermitService"), (hospital_pb2, "HealthPermitService"),
                   (entitlement_pb2, "EntitlementService"), (education_pb2, "EnrollmentService"),
                   (points_pb2, "PointsService"), (statistics_pb2, "StatisticsService"), (audit_pb2, "AuditService"),
                   (health_pb2, "Health"))


def served_methods() -> dict[str, Any]:
    """Full method name ("pkg.Service/Method") -> its request message descriptor."""
    return {f"{svc.full_name}/{m.name}": m.input_type
            for svc in (module.DESCRIPTOR.services_by_name[name] for module, name in SERVED_SERVICES)
            for m in svc.methods}


@dataclass(frozen=True)
class LoadedPolicy:
    """Every policy file of a directory, loaded and validated."""

    table: PolicyTable
    quotas: QuotaSettings
    anomalies: AnomalySettings
    enrollment: EnrollmentSettings
    housing: HousingSettings
    points: PointsTable
    statistics: StatisticsSettings
    organisations: Organisations
    method_limits: MethodLimits


def load_policies(directory: Path, version: str | None = None, table: PolicyTable | None = None) -> LoadedPolicy:
    """Load every policy file of `directory`; a PolicyError names the first file that is not valid. The decision
    table is given (already built) or built here, versioned `version` (default: policy_version of the files)."""
    return LoadedPolicy(
        table=table if table is not None else build_table(directory, version),
        quotas=load_quotas(directory),
        anomalies=load_anomalies(directory),
        enrollment=load_enrollment(directory),
        housing=load_housing(directory),
        points=load_points(directory),
        statistics=load_statistics(directory),
        organisations=load_organisations(directory),
        method_limits=load_method_limits(directory, served_methods()),
    )


def load_bundle(files: Files, where: str) -> LoadedPolicy:
    """A policy bundle checked and loaded as a server start loads policies/, versioned by the whole bundle."""
    check_files(files, where)
    with materialised(files) as directory:
        return load_policies(directory, bundle_version(files))

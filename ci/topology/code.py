"""What the services' own code says about the facts in topology.yaml, read by importing it
(never by grepping): each service's Settings (its name, its database, the environment
variables it reads, the upstream URLs it has) and the downstreams its composition root
builds clients for. Used by tests/topology/ and tests/chart/ to hold the topology and the
chart to the code.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic_settings import BaseSettings

from shopmesh_common.service_auth import ServiceAuthSettings

from . import Service

#: URL settings that point at infrastructure, not at another service.
INFRASTRUCTURE_URLS = frozenset({"postgres_url", "redis_url", "amqp_url"})
#: The standard OpenTelemetry variables, read by the SDK (shopmesh_common.telemetry).
OTEL_PREFIX = "OTEL_"


def settings_class(service: Service) -> type[BaseSettings]:
    """The service's own Settings (`<package>.settings.Settings`)."""
    cls: type[BaseSettings] = importlib.import_module(f"{service.package}.settings").Settings
    return cls


def settings_classes(service: Service) -> list[type[BaseSettings]]:
    """Every Settings class that reads a service's environment: its own, and the service-token
    settings that shopmesh_common.app.create_app reads for every service."""
    return [settings_class(service), ServiceAuthSettings]


def default_settings(service: Service) -> Any:
    """Its Settings with the defaults only: the environment of this process is not read."""
    return settings_class(service).model_construct()


def env_names(service: Service) -> frozenset[str]:
    """The variables its Settings read: the env prefix and the field name, upper-cased."""
    names = set()
    for cls in settings_classes(service):
        prefix = cls.model_config.get("env_prefix") or ""
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return frozenset(names)


def reads_env(service: Service, name: str) -> bool:
    """True when the service reads variable `name` (a Settings field, or OTEL_*)."""
    return name.startswith(OTEL_PREFIX) or name in env_names(service)


def downstream_names(service: Service) -> frozenset[str]:
    """The services it builds resilient clients for: `main.downstreams(settings)` names."""
    main = importlib.import_module(f"{service.package}.main")
    downstreams = getattr(main, "downstreams", None)
    if downstreams is None:
        return frozenset()
    return frozenset(d.name for d in downstreams(default_settings(service)))


def url_setting_names(service: Service) -> frozenset[str]:
    """The services its `<service>_url` settings point at (infrastructure excepted)."""
    fields = settings_class(service).model_fields
    return frozenset(
        field.removesuffix("_url").replace("_", "-")
        for field in fields
        if field.endswith("_url") and field not in INFRASTRUCTURE_URLS
    )

"""The single Dagster entry point: assembles every domain under `cs_platform.defs`.

Each domain is a subpackage of `defs/` whose `__init__.py` exposes `defs: dg.Definitions`
(assets, checks, jobs, sensors, schedules). Resources are shared and added here once.
"""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

from cs_platform import defs as defs_package
from cs_platform.defs.resources import shared_resources


def domain_definitions() -> list[dg.Definitions]:
    found = []
    for module in sorted(pkgutil.iter_modules(defs_package.__path__), key=lambda m: m.name):
        if module.ispkg:
            domain = importlib.import_module(f"{defs_package.__name__}.{module.name}")
            if isinstance(getattr(domain, "defs", None), dg.Definitions):
                found.append(domain.defs)
    return found


defs = dg.Definitions.merge(*domain_definitions(), dg.Definitions(resources=shared_resources()))

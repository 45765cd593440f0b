"""Identifiers that reach SQL are validated here, and only here.

Spark SQL statements (MERGE, CALL, ALTER) are built from names; a name that is not a plain
identifier is rejected before any SQL is formed, so a crafted name cannot inject SQL.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # whole name: fullmatch (`$` admits a final newline)


class InvalidIdentifier(ValueError):
    """A table, namespace or column name is not a plain SQL identifier."""


def validate_identifier(name: str, what: str = "identifier") -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise InvalidIdentifier(
            f"invalid {what} {name!r}: use letters, digits and underscores, starting with a letter or underscore"
        )
    return name


def qualified(*parts: str) -> str:
    """`a`.`b`.`c` from validated parts."""
    return ".".join(f"`{validate_identifier(p)}`" for p in parts)


def table_name(name: str, default_catalog: str = "lake", default_namespace: str = "cs") -> str:
    """Validate a user-given table name (`t`, `ns.t` or `catalog.ns.t`) and return it quoted."""
    parts = name.split(".") if isinstance(name, str) else [name]
    if len(parts) == 1:
        parts = [default_catalog, default_namespace, *parts]
    elif len(parts) == 2:
        parts = [default_catalog, *parts]
    if len(parts) != 3:
        raise InvalidIdentifier(f"invalid table name {name!r}: expected table, namespace.table or catalog.namespace.table")
    for part in parts:
        validate_identifier(part, "table name part")
    return qualified(*parts)

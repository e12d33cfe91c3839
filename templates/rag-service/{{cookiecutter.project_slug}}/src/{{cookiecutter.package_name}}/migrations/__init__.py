"""Versioned schema migrations, applied in order once each and recorded in `schema_migrations`.

Each module `mNNNN_<name>.py` holds one `SQL` string; `{dimension}` is the embedding size.
Add a new module to change the schema; never edit an applied one.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("m"):
            continue
        version, _, name = module.name[1:].partition("_")
        sql = importlib.import_module(f"{__name__}.{module.name}").SQL
        found.append(Migration(int(version), name, sql))
    return sorted(found, key=lambda migration: migration.version)

"""Per-table migration progress, so a rerun after success changes nothing and a crashed run
resumes at the step that did not finish.

One small JSON file per source table under `CSP_HOME/migrations/`, replaced atomically
(write to a temporary file, then `os.replace`): a kill -9 leaves either the old or the new state.
A step is recorded only after its action completed, and every action is itself idempotent
(it looks at the catalog before acting), so a crash between action and record is harmless.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

STEPS = ("preflight", "copy", "verify", "cutover")


@dataclass
class MigrationState:
    source: str
    target: str
    steps: dict[str, dict] = field(default_factory=dict)  # step -> {"done_at": ..., "metadata": {...}}

    def done(self, step: str) -> bool:
        return step in self.steps

    def next_step(self) -> str | None:
        return next((s for s in STEPS if s not in self.steps), None)

    @property
    def complete(self) -> bool:
        return self.next_step() is None

    def metadata(self, step: str) -> dict:
        return self.steps.get(step, {}).get("metadata", {})


class MigrationStateStore:
    def __init__(self, home: Path):
        self.directory = Path(home) / "migrations"

    def path(self, source: str) -> Path:
        return self.directory / f"{source}.json"

    def load(self, source: str, target: str) -> MigrationState:
        try:
            data = json.loads(self.path(source).read_text())
        except FileNotFoundError:
            return MigrationState(source, target)
        if data["target"] != target:
            raise ValueError(
                f"{source} is being migrated to {data['target']}, not {target}: roll it back first "
                f"(csp migrate-hive rollback {source}) or use --target {data['target']}"
            )
        return MigrationState(data["source"], data["target"], data["steps"])

    def record(self, state: MigrationState, step: str, metadata: dict) -> None:
        state.steps[step] = {"done_at": datetime.now(timezone.utc).isoformat(), "metadata": metadata}
        self._write(state)

    def forget(self, source: str) -> None:
        self.path(source).unlink(missing_ok=True)

    def _write(self, state: MigrationState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(state.source)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"source": state.source, "target": state.target, "steps": state.steps},
                                  indent=2, sort_keys=True, default=str))
        os.replace(tmp, path)

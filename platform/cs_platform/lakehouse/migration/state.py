"""Per-table migration progress, so a rerun after success changes nothing and a crashed run
resumes at the step that did not finish.

One small JSON file per source table under `<warehouse>/_migrations/`, replaced atomically (a
local file through `os.replace`, an S3 object by one PUT): a kill -9 leaves either the old or the
new state. It lives with the lake, not under CSP_HOME: in production each run may get a fresh
machine, and a migration must resume (or know it is done) wherever its next run starts.
A step is recorded only after its action completed, and every action is itself idempotent
(it looks at the catalog before acting), so a crash between action and record is harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cs_platform.adapters import storage

STEPS = ("preflight", "copy", "verify", "cutover")
ACTIONS = (*STEPS, "plan", "rollback", "rollback_force")  # what one migration job run does


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
    def __init__(self, root: str, settings=None):
        self.root, self.settings = root.rstrip("/"), settings

    @classmethod
    def of(cls, settings) -> "MigrationStateStore":
        """The store of the lake of `settings`: `<warehouse>/_migrations/`."""
        return cls(f"{settings.warehouse.rstrip('/')}/_migrations", settings)

    def uri(self, source: str) -> str:
        return f"{self.root}/{source}.json"

    def read(self, source: str) -> str | None:
        """The recorded state's JSON text, None when nothing is recorded."""
        return storage.read_text(self.uri(source), self.settings)

    def load(self, source: str, target: str) -> MigrationState:
        text = self.read(source)
        if text is None:
            return MigrationState(source, target)
        data = json.loads(text)
        if data["target"] != target:
            raise ValueError(
                f"{source} is being migrated to {data['target']}, not {target}: roll it back first "
                f"(csp migrate-hive rollback {source}) or use --target {data['target']}"
            )
        return MigrationState(data["source"], data["target"], data["steps"])

    def record(self, state: MigrationState, step: str, metadata: dict) -> None:
        state.steps[step] = {"done_at": datetime.now(timezone.utc).isoformat(), "metadata": metadata}
        self._write(state)

    def _write(self, state: MigrationState) -> None:
        storage.write_text(self.uri(state.source), json.dumps(
            {"source": state.source, "target": state.target, "steps": state.steps}, indent=2, sort_keys=True,
            default=str), self.settings)

    def unrecord(self, state: MigrationState, step: str) -> None:
        """Undo the record of `step` (its result no longer holds), so the next run redoes it."""
        state.steps.pop(step, None)
        self._write(state)

    def forget(self, source: str) -> None:
        storage.delete(self.uri(source), self.settings)

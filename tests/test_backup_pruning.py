"""Backups are kept while a restore could still need them, and pruned after that."""

from __future__ import annotations

from pathlib import Path

from malsync.pipeline.records import Action, ChangeRecord, MediaType, Outcome, Settlement
from malsync.store.backup import KEEP_BACKUPS, backup_folder, prune_backups
from malsync.store.checkpoint import Checkpoint


def _run(checkpoint: Checkpoint, state: Path, changed: bool) -> tuple[int, Path]:
    run = checkpoint.start_run(["l.xml"])
    backup = backup_folder(state) / f"ratings-run{run}.json"
    backup.parent.mkdir(exist_ok=True)
    backup.write_text("{}")
    checkpoint.set_backup(run, backup)
    if changed:
        key = (MediaType.ANIME, run)
        change = ChangeRecord(key, Action.UPSERT, None, False, {"status": "completed"})
        intended = Settlement(key, "T", Outcome.UPLOADED, run, "h", written=True, change=change)
        checkpoint.request_started("upsert", 1.0, intended)  # killed before the answer
    return run, backup


def test_seventeen_interrupted_runs_leave_the_newest_backups_a_restore_can_use(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite3"
    outside = tmp_path / "kept-by-hand.json"
    outside.write_text("{}")
    with Checkpoint.open(state) as checkpoint:
        runs = [_run(checkpoint, state, changed=index % 4 != 1) for index in range(17)]
        runs[0][1].unlink()
        checkpoint.set_backup(runs[0][0], outside)  # a path not in the folder is never deleted
        current, _ = _run(checkpoint, state, changed=False)
        prune_backups(checkpoint, state, current)
        remaining = {run for run, _, _ in checkpoint.backups()}
    changed_runs = [run for index, (run, _) in enumerate(runs) if index % 4 != 1]
    expected = {current, *changed_runs[-(KEEP_BACKUPS - 1) :]}
    assert remaining == expected
    assert {p.name for p in backup_folder(state).iterdir()} == {
        f"ratings-run{run}.json" for run in expected
    }
    assert outside.exists()

"""A 20,000-entry export against a bare lxml iterparse pass: parse + map, and the whole dry run.

Run: python benchmarks/bench_import.py [--entries 20000] [--repeat 5]

All passes read the same generated export in the same run, each in a fresh child process (so
that its peak RSS is its own), in paired rounds: every round runs each pass once, one after the
other, and each ratio is the median over the rounds of that round's time against its own bare
pass, so that a busy moment of the shared machine weighs on both; beside it, the fastest round
against the fastest bare pass (other work only ever adds time). Each pass is timed in CPU
seconds of its process (`time.process_time`), so that time the machine gave to other work is
not counted. The figures that matter are the ratios, not seconds. Bytecode is kept, as an
installed malsync has it.

- bare: the leanest reader possible: lxml hands over only the entry elements, nothing reads a
  field. plain: the textbook loop (an event for every element).
- malsync parse + map: the importer with every repair check, each usable entry mapped to its
  request body, all kept; its modules are imported before the timing, as lxml is for the bare
  pass.
- malsync sync --dry-run --report: the whole command without a sign-in, in this process
  (`main`), the report written again every round, as a re-run writes it: importing malsync,
  settings, reading, mapping, the title stage, planning, warnings, the estimate, the JSON
  report and the summary. Only the interpreter's start is left out. And the same without
  `--report`: what a person who reads only the summary waits for.

Where the time goes (profiled on 20,000 entries with cProfile and per-stage CPU timers, one
wrapper around each stage of a dry run; x is the bare pass): of parse + map, lxml's own
parsing is the bare pass; the repairing stream filter adds about 0.15x, reading each entry's
~23 children into a dict about 0.4x, the typed, validated record (ASCII-only numbers, dates,
text made plain, a kind on every warning) about 0.9x (building the frozen record alone 0.2x)
and mapping about 0.4x. The dry run adds, by cost: the JSON report, about 1.3x (each entry's
text from a template of its shape, its values by the C encoder in one call); importing
malsync, about 0.6x (some 75 modules whose dataclasses and enums are made at import; no HTTP
library, browser, listener, SQLite, tenacity or dateutil parser is loaded); the summary, the
estimate and the grouped warnings, about 0.5x (the summary's numbers counted in one pass);
the title stage, about 0.35x (an entry sent by its own MAL id gets its row at once); planning
beyond mapping, about 0.2x. The cyclic garbage collector, spaced out while a command runs,
costs about 0.5x (1.5x with CPython's default thresholds).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATUSES = ["Watching", "Completed", "On-Hold", "Dropped", "Plan to Watch"]
REWATCH = ["", "Very Low", "Low", "Medium", "High", "Very High"]


MODES = ("bare", "plain", "malsync", "dry-run", "dry-run-summary")


def generate(path: Path, entries: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8" ?>\n<myanimelist>\n<myinfo>\n')
        out.write("<user_id>1</user_id><user_name>bench</user_name>")
        out.write("<user_export_type>1</user_export_type>\n</myinfo>\n")
        for number in range(1, entries + 1):
            year = rng.randint(2000, 2024)
            full = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            start = rng.choice(["0000-00-00", full, f"{year}-07-00"])
            comment = rng.choice(["", "Great &amp; fun<br />\nrewatch", "&quot;classic&quot;"])
            out.write(
                f"""\t<anime>
\t\t<series_animedb_id>{number}</series_animedb_id>
\t\t<series_title><![CDATA[Generated title number {number}]]></series_title>
\t\t<series_type>TV</series_type>
\t\t<series_episodes>24</series_episodes>
\t\t<my_id>0</my_id>
\t\t<my_watched_episodes>{rng.randint(0, 24)}</my_watched_episodes>
\t\t<my_start_date>{start}</my_start_date>
\t\t<my_finish_date>0000-00-00</my_finish_date>
\t\t<my_rated></my_rated>
\t\t<my_score>{rng.randint(0, 10)}</my_score>
\t\t<my_storage></my_storage>
\t\t<my_storage_value>0.00</my_storage_value>
\t\t<my_status>{rng.choice(STATUSES)}</my_status>
\t\t<my_comments><![CDATA[{comment}]]></my_comments>
\t\t<my_times_watched>{rng.randint(0, 3)}</my_times_watched>
\t\t<my_rewatch_value>{rng.choice(REWATCH)}</my_rewatch_value>
\t\t<my_priority>{rng.choice(["LOW", "MEDIUM", "HIGH"])}</my_priority>
\t\t<my_tags><![CDATA[tag{number % 17}, bench]]></my_tags>
\t\t<my_rewatching>{rng.randint(0, 1)}</my_rewatching>
\t\t<my_rewatching_ep>0</my_rewatching_ep>
\t\t<my_discuss>1</my_discuss>
\t\t<my_sns>default</my_sns>
\t\t<update_on_import>0</update_on_import>
\t</anime>
"""
            )
        out.write("</myanimelist>\n")


def bare_pass(path: Path) -> int:
    """What any streaming reader must at least do: iterparse every entry and free it."""
    from lxml import etree

    count = 0
    with _open(path) as source:
        for _, element in etree.iterparse(source, events=("end",), tag="anime"):
            count += len(element)
            _free(element)
    return count


def _open(path: Path) -> BinaryIO:
    # lxml's wheels read gzip only through Python, so the lxml passes do too.
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _free(element: Any) -> None:
    """What any streaming reader must do: drop the entry and what came before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def plain_pass(path: Path) -> int:
    """The textbook iterparse loop: an event for every element, entries freed as they end."""
    from lxml import etree

    count = 0
    with _open(path) as source:
        for _, element in etree.iterparse(source):
            count += 1
            if element.tag == "anime":
                _free(element)
    return count


def malsync_pass(path: Path) -> int:
    """Parse + map: stream the export into typed records (with every repair check) and map each
    usable one to its request body, keeping all of them, as the dry run does."""
    from malsync.config.settings import MappingOptions
    from malsync.pipeline.mapper import map_entry
    from malsync.pipeline.records import ListEntry
    from malsync.sources.export_xml import ExportStream

    options = MappingOptions()
    kept = [
        (entry, map_entry(entry, options) if isinstance(entry, ListEntry) else None)
        for entry in ExportStream(path)
    ]
    return len(kept)


def stream_pass(path: Path) -> int:
    """Import without keeping the entries: shows that the importer's own memory stays flat."""
    from malsync.sources.export_xml import ExportStream

    return sum(1 for _ in ExportStream(path))


def dry_run_pass(path: Path, with_report: bool = True) -> int:
    """The whole `malsync sync --dry-run EXPORT --report plan.json` without a sign-in, in this
    process: importing malsync, settings, reading, mapping, planning, warnings, summary and
    the JSON report. Only the interpreter's start is left out, as for the lxml passes."""
    from malsync.cli.main import main

    folder = path.parent
    report = ["--report", str(folder / "plan.json")] if with_report else []
    argv = ["--config", str(_dry_run_config(folder)), "-q", "sync", "--dry-run", str(path)]
    status = main([*argv, *report])
    if status != 0:
        raise SystemExit(f"the dry run failed with exit status {status}")
    return 0  # counted from the report after the timing: reading it is not the run's work


def _reported(path: Path) -> int:
    return len(json.loads((path.parent / "plan.json").read_text(encoding="utf-8"))["entries"])


def _dry_run_config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[anisearch]\ncontact = "bench@example.com"\n\n[sync]\nstate = "{folder / "state"}"\n',
        encoding="utf-8",
    )
    return config


PASSES = {
    "bare": bare_pass,
    "plain": plain_pass,
    "malsync": malsync_pass,
    "dry-run": dry_run_pass,
    "dry-run-summary": lambda path: dry_run_pass(path, with_report=False),
    "stream": stream_pass,
}


def child(mode: str, path: Path) -> None:
    import lxml.etree  # noqa: F401 - every pass gets lxml imported outside its timing

    if mode in ("malsync", "stream"):  # as lxml for the bare pass; the dry run times its own
        import malsync.pipeline.mapper
        import malsync.sources.export_xml  # noqa: F401
    started = time.process_time()
    count = PASSES[mode](path)
    elapsed = time.process_time() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "dry-run":
        count = _reported(path)
    print(json.dumps({"seconds": elapsed, "peak_mib": peak_kib / 1024, "count": count}))


_SERVICE_VARIABLES = ("ANISEARCH_", "MAL_", "MALSYNC_")


def measure(mode: str, path: Path) -> dict[str, float]:
    # No sign-in and nobody's own config, checkpoint, token or notification address: the dry
    # run stays offline. Bytecode is kept (in the temporary folder), as an installed malsync
    # has its own: a run that compiled malsync's modules each time would time the compiler.
    home = path.parent / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(_SERVICE_VARIABLES)},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONPYCACHEPREFIX": str(path.parent / "bytecode"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def paired(path: Path, repeat: int) -> dict[str, list[dict[str, float]]]:
    """Every mode once per round, right after one another, so a busy moment of the machine
    hits a round's bare pass and the pass it is compared with alike."""
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(repeat):
        for mode in MODES:
            runs[mode].append(measure(mode, path))
    return runs


def median_ratio(runs: dict[str, list[dict[str, float]]], mode: str) -> float:
    pairs = zip(runs[mode], runs["bare"], strict=True)
    return statistics.median(ours["seconds"] / bare["seconds"] for ours, bare in pairs)


def best_ratio(runs: dict[str, list[dict[str, float]]], mode: str) -> float:
    """Each pass's fastest round against the bare pass's: what the work costs when nothing
    else on the machine slows either down (other work only ever adds time)."""
    return seconds(runs, mode, min) / seconds(runs, "bare", min)


def seconds(
    runs: dict[str, list[dict[str, float]]],
    mode: str,
    pick: Callable[[list[float]], float] = statistics.median,
) -> float:
    return pick([run["seconds"] for run in runs[mode]])


def report(name: str, runs: dict[str, list[dict[str, float]]]) -> None:
    peak = {mode: max(run["peak_mib"] for run in runs[mode]) for mode in MODES}
    print(f"{name}:")
    print(f"  bare lxml iterparse (entries only): {seconds(runs, 'bare'):.3f} s")
    for mode, label in PASS_NAMES.items():
        print(
            f"  {label}: {seconds(runs, mode):.3f} s, {median_ratio(runs, mode):.2f}x bare "
            f"(fastest rounds: {best_ratio(runs, mode):.2f}x), peak RSS {peak[mode]:.0f} MiB"
        )


PASS_NAMES = {
    "plain": "plain lxml iterparse (every element)",
    "malsync": "malsync parse + map",
    "dry-run": "malsync sync --dry-run --report (whole run)",
    "dry-run-summary": "malsync sync --dry-run, no --report (whole run)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "bench_animelist.xml"
        generate(plain, args.entries)
        packed = plain.with_suffix(".xml.gz")
        packed.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
        print(
            f"export: {args.entries} entries, {plain.stat().st_size / 2**20:.1f} MiB as .xml; "
            f"{args.repeat} paired rounds, every pass in a fresh process; CPU seconds, medians"
        )
        measure("dry-run", plain)  # compiles malsync's bytecode once, before any round
        for path in (plain, packed):
            report(path.name, paired(path, args.repeat))
        small_count = max(args.entries // 10, 1)
        small = Path(folder) / "small.xml"
        generate(small, small_count)
        flat_small = measure("stream", small)["peak_mib"]
        flat_large = measure("stream", plain)["peak_mib"]
        print(
            f"importer alone, entries not kept: peak RSS {flat_small:.0f} MiB for "
            f"{small_count} entries, {flat_large:.0f} MiB for {args.entries}"
        )


if __name__ == "__main__":
    main()

"""aniSearch's MAL links: resolving a list against them, and reading the kept copy, beside the
import of the same list.

Run: python benchmarks/bench_links.py [--entries 20000] [--links 20000] [--repeat 5]

Generates the export `bench_import.py` generates, imports and maps it (parse + map, as a run
does), then times on the mapped bodies: `plan_titles` (and the title stage a run uses,
`assign_titles`, on the planned decisions) against a link table of `--links` MAL ids
(mostly one-to-one, with bundles, parts and unlinked ids as aniSearch's real links have them),
reading the kept copy from the cache folder (`LinkCache.read`, what every run inside the day
does), and reading aniSearch's gzipped answer (`decode_links`, once a day). The figures that
matter are the ratios to the import, not seconds; each is the best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_html_report import best_of  # noqa: E402
from benchmarks.bench_import import generate  # noqa: E402
from malsync.config.settings import MappingOptions  # noqa: E402
from malsync.ids.bundles import Member, plan_titles  # noqa: E402
from malsync.ids.lookup import IdLookup  # noqa: E402
from malsync.ids.titles import assign_titles  # noqa: E402
from malsync.pipeline.mapper import map_entry  # noqa: E402
from malsync.pipeline.planner import build_plan  # noqa: E402
from malsync.pipeline.records import ListEntry, MediaType  # noqa: E402
from malsync.sources.export_xml import ExportStream  # noqa: E402
from malsync.store.mal_links_cache import LinkCache, MalLinks, decode_links  # noqa: E402

ANIME = MediaType.ANIME


def link_table(keys: int, entries: int, seed: int = 11) -> dict[int, tuple[int, ...]]:
    """`keys` MAL ids linked: 1 in 50 a bundle with the next id, 1 in 200 split in two parts;
    5 % of the list's ids left unlinked, as recent or special MAL entries are."""
    rng = random.Random(seed)
    candidates = [n for n in range(1, max(keys, entries) * 2) if rng.random() > 0.05]
    table: dict[int, tuple[int, ...]] = {}
    for mal_id in candidates[:keys]:
        roll = rng.random()
        if roll < 0.02 and mal_id - 1 in table:
            table[mal_id] = table[mal_id - 1][:1]  # a bundle: the same title as the one before
        elif roll < 0.025:
            table[mal_id] = (mal_id + 100_000, mal_id + 200_000)  # parts
        else:
            table[mal_id] = (mal_id + 100_000,)
    return table


def imported(path: Path) -> list[Member]:
    """Parse + map, as bench_import's malsync pass does, keeping the bodies."""
    options = MappingOptions()
    members = []
    for entry in ExportStream(path):
        if isinstance(entry, ListEntry):
            body = map_entry(entry, options).payload
            members.append(Member(entry.media, entry.mal_id, entry.title, body))
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--links", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "bench_animelist.xml"
        generate(export, args.entries)
        members = imported(export)
        table = link_table(args.links, args.entries)
        cache = LinkCache(Path(folder) / "cache")
        cache.write(MalLinks(ANIME, table, time.time()))
        answer = gzip.compress(
            json.dumps({str(k): list(v) for k, v in table.items()}).encode(), mtime=0
        )

        import_seconds = best_of(args.repeat, lambda: imported(export))
        plan = plan_titles(members, {}, {ANIME: table})
        resolve_seconds = best_of(args.repeat, lambda: plan_titles(members, {}, {ANIME: table}))
        planned = build_plan(ExportStream(export), MappingOptions())
        ids = IdLookup(links={ANIME: table})
        stage_seconds = best_of(args.repeat, lambda: assign_titles(planned, ids))
        read_seconds = best_of(args.repeat, lambda: cache.read(ANIME))
        decode_seconds = best_of(args.repeat, lambda: decode_links(answer, "answer"))
        kept_kib = cache.links_path(ANIME).stat().st_size / 2**10

    bundles = sum(1 for request in plan.requests if request.is_bundle)
    print(
        f"list: {len(members)} entries; links: {len(table)} MAL ids; plan: "
        f"{len(plan.requests)} requests ({bundles} bundles), {len(plan.unmatched)} unlinked; "
        f"kept copy {kept_kib:.0f} KiB, answer "
        f"{len(answer) / 2**10:.0f} KiB gzipped; best of {args.repeat}"
    )
    print(f"  import (parse + map): {import_seconds:.3f} s")
    for label, seconds in (
        ("resolve (plan_titles)", resolve_seconds),
        ("the title stage (assign_titles: rows per title)", stage_seconds),
        ("read the kept copy", read_seconds),
        ("read aniSearch's answer", decode_seconds),
    ):
        print(f"  {label}: {seconds:.3f} s, {seconds / import_seconds:.2f}x the import")


if __name__ == "__main__":
    main()

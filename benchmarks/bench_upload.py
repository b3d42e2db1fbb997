"""Upload throughput against the documented rate limit, and how many 429s it provoked.

Run: python benchmarks/bench_upload.py [--entries 1000] [--limit 100] [--window 2]

Syncs a generated export with the real CLI against the fake aniSearch server on 127.0.0.1, whose
PUT limit is scaled down from aniSearch's 100 per 120 s to 100 per 2 s (same shape, 60 times
faster). The first `limit` requests may go out at once, so throughput is measured on the rest:
(entries - limit) / (last arrival - first arrival), as a fraction of limit / window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from malsync.cli.main import main as malsync_main  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.exports import many, write  # noqa: E402
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=2.0)
    args = parser.parse_args()
    os.environ["ANISEARCH_TOKEN"] = GOOD_TOKEN
    with (
        tempfile.TemporaryDirectory() as folder,
        FakeAniSearch(upsert_limit=(args.limit, args.window)) as fake,
    ):
        config = write_config(Path(folder), fake.base_url, upsert=(args.limit, args.window))
        export_path = write(Path(folder) / "list.xml", many(args.entries))
        started = time.perf_counter()
        status = malsync_main(["sync", "-q", "--config", str(config), str(export_path)])
        wall = time.perf_counter() - started
        arrivals = sorted(r.at for r in fake.accepted_puts())
    span = arrivals[-1] - arrivals[0]
    rate = (len(arrivals) - args.limit) / span if span > 0 else float("inf")
    allowed = args.limit / args.window
    print(f"entries: {args.entries}, limit {args.limit} PUT per {args.window:g} s, exit {status}")
    print(f"accepted: {len(arrivals)}, 429 answers: {fake.rate_limited}, wall time {wall:.1f} s")
    print(f"throughput after the first window: {rate:.1f}/s = {rate / allowed:.1%} of the limit")
    print(f"most requests in any {args.window:g} s window: {fake.max_in_any_window()}")


if __name__ == "__main__":
    main()

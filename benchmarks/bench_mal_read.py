"""A live MAL list read: requests sent and wall time without the pacing, for a large list.

Run: python benchmarks/bench_mal_read.py [--entries 20000] [--pace 1.0] [--media anime]

Reads a generated list from the fake MAL API on 127.0.0.1 with the real reader (limit 1000,
nsfw, every field named, paging.next followed) and plans every entry (map, then decide against
an empty checkpoint). The pacing waits (`--pace` seconds from each answer to the next request,
MAL's polite default is 1) are measured and subtracted, so the figure shows what malsync itself
costs; 20,000 entries should take 20 requests.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from malsync.config.settings import (  # noqa: E402
    MalSettings,
    MappingOptions,
    RetryOptions,
    mal_sign_in,
)
from malsync.pipeline.planner import Baseline, Policy, Verdict, build_plan, decide  # noqa: E402
from malsync.pipeline.records import MediaType  # noqa: E402
from malsync.redaction import Secret  # noqa: E402
from malsync.sources.mal_api import MalApiReader  # noqa: E402
from tests.fake_mal import CLIENT_ID, FakeMal, MalUser, anime_item, manga_item  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--media", choices=["anime", "manga"], default="anime")
    args = parser.parse_args()
    media = MediaType(args.media)
    make = anime_item if media is MediaType.ANIME else manga_item
    items = [make(mal_id, finish_date="2017-10-23") for mal_id in range(1, args.entries + 1)]
    user = MalUser(**{media.value: items})
    slept = [0.0]

    def sleep(seconds: float) -> None:
        started = time.perf_counter()
        time.sleep(seconds)
        slept[0] += time.perf_counter() - started

    with FakeMal(users={"bench": user}) as fake:
        sign_in = dataclasses.replace(mal_sign_in(), client_id=Secret(CLIENT_ID))
        settings = MalSettings(api_url=fake.api_url, pace_seconds=args.pace, sign_in=sign_in)
        options = MappingOptions()
        started = time.perf_counter()
        with MalApiReader(settings, RetryOptions(), contact="bench@example.com", sleep=sleep) as r:
            read = r.read(media, "bench")
        read_done = time.perf_counter()
        # Planned as a sync plans: mapped, then decided against an empty checkpoint.
        plan = build_plan(read.entries, options)
        decisions = decide(plan, Baseline(now=time.time()), Policy(media=frozenset({media})))
        bodies = [d for d in decisions if d.verdict is Verdict.SEND]
        mapped_done = time.perf_counter()
        requests_received = len(fake.list_requests())
    wall = mapped_done - started
    print(f"entries: {args.entries} {media.value}, read {len(read.entries)}, to send {len(bodies)}")
    print(f"MAL requests: sent {read.requests}, received by the fake {requests_received}")
    print(f"pacing: {args.pace:g} s between requests, {slept[0]:.2f} s waited in all")
    print(
        f"wall time {wall:.2f} s; without pacing {wall - slept[0]:.2f} s "
        f"(read {read_done - started - slept[0]:.2f} s, plan {mapped_done - read_done:.2f} s)"
    )


if __name__ == "__main__":
    main()

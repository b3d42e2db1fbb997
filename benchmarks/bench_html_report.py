"""How the HTML report copes with a large list: render time, page size and browser load time.

Run: python benchmarks/bench_html_report.py [--entries 20000] [--repeat 3]

Builds a report document with `entries` entries (every outcome, changes, warnings, unmatched
titles) and measures, in the same run:
- render_html against json.dumps of the same document (what --report .json costs), as a ratio;
- the page's size against the JSON's;
- headless Chromium (Debian's `chromium`; install it with `apt-get install chromium`) taking a
  screenshot of the page against one of an empty page (median wall time, ratio and difference):
  the cost of opening the page, parse, layout and paint included, start-up taken out;
- inside Chromium, on a copy with a timing script appended (and the page's CSP removed so that it
  may run): first contentful paint, time until the end of the page was parsed, a forced full
  layout, unticking one outcome and a title search, each over all rows.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from malsync.report.html import render_html  # noqa: E402

OUTCOMES = ["uploaded"] * 8 + ["unchanged"] * 6 + ["failed", "not_found", "unmatched", "kept"]
WORDS = ["no", "kimi", "shoujo", "sekai", "kono", "mahou", "hana", "tenshi", "kaze", "sora"]

TIMING_SCRIPT = """<script>
(function () {
  var parsed = performance.now();
  var paint = performance.getEntriesByName("first-contentful-paint");
  var fcp = paint.length ? paint[0].startTime : -1;
  var t = performance.now(); document.body.offsetHeight; var layout = performance.now() - t;
  var box = document.querySelector('#controls input[value="uploaded"]');
  t = performance.now(); box.checked = false;
  box.dispatchEvent(new Event("change", {bubbles: true}));
  document.body.offsetHeight; var filter = performance.now() - t;
  box.checked = true;
  var search = document.getElementById("search");
  t = performance.now(); search.value = "sora";
  search.dispatchEvent(new Event("change", {bubbles: true}));
  document.body.offsetHeight; var find = performance.now() - t;
  var out = document.createElement("pre"); out.id = "bench";
  out.textContent = JSON.stringify({parsed: parsed, fcp: fcp, layout: layout, filter: filter,
    search: find, shown: document.getElementById("shown").textContent});
  document.body.appendChild(out);
})();
</script></body>"""


def build_document(count: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    entries = []
    for index in range(count):
        outcome = rng.choice(OUTCOMES)
        media = "anime" if index % 4 else "manga"
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))).title()
        changes = []
        if outcome == "uploaded" and rng.random() < 0.5:
            changes = [
                {"field": "episodes_watched", "old": rng.randint(0, 12), "new": 24},
                {"field": "status", "old": "ongoing", "new": "completed"},
            ]
        entries.append(
            {
                "action": "upsert",
                "media": media,
                "mal_id": 1000 + index,
                "title": f"{title} {index}",
                "outcome": outcome,
                "payload": {"use_myanimelist_id": True, "status": "completed"},
                "warnings": ["date 2012-07-00 lacks its day; left out"] if index % 25 == 0 else [],
                "error": "HTTP 500 after 4 attempts" if outcome == "failed" else None,
                "mal_url": f"https://myanimelist.net/{media}/{1000 + index}",
                "source": "animelist.xml",
                "on_anisearch_before": bool(changes),
                "changes": changes,
            }
        )
    outcome_counts: dict[str, int] = {}
    for entry in entries:
        outcome_counts[entry["outcome"]] = outcome_counts.get(entry["outcome"], 0) + 1
    summary = {
        "dry_run": False,
        "files": ["animelist.xml", "mangalist.xml"],
        "total": count,
        "outcomes": dict(sorted(outcome_counts.items())),
        "media": {"anime": {"total": count * 3 // 4, "status": {"completed": count // 2}}},
        "with_warnings": count // 25,
        "deletions": 0,
        "stopped": None,
    }
    return {"summary": summary, "entries": entries}


def best_of(repeat: int, work: Any) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium(binary: str, *args: str) -> tuple[float, str]:
    command = [binary, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    return time.perf_counter() - started, done.stdout


def browser_figures(binary: str, page: Path, folder: Path, repeat: int) -> None:
    empty = folder / "empty.html"
    empty.write_text("<!DOCTYPE html><title>empty</title>\n", encoding="utf-8")
    shot = f"--screenshot={folder / 'shot.png'}"
    size = "--window-size=1280,2000"
    empty_times = [chromium(binary, shot, size, empty.as_uri())[0] for _ in range(repeat)]
    page_times = [chromium(binary, shot, size, page.as_uri())[0] for _ in range(repeat)]
    empty_s, page_s = statistics.median(empty_times), statistics.median(page_times)
    print(
        f"chromium screenshot (median of {repeat}): empty page {empty_s:.2f} s, report "
        f"{page_s:.2f} s, ratio {page_s / empty_s:.2f}, difference {page_s - empty_s:.2f} s"
    )
    timed = folder / "timed.html"
    text = page.read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text, count=1)
    timed.write_text(text.replace("</body>", TIMING_SCRIPT, 1), encoding="utf-8")
    _, dom = chromium(binary, "--dump-dom", timed.as_uri())
    found = re.search(r'<pre id="bench">(.*?)</pre>', dom, re.DOTALL)
    if not found:
        print("in-page timing: no result (did the page's script fail?)")
        return
    inner = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    fcp = inner["fcp"]
    painted = f"{fcp:.0f} ms" if fcp >= 0 else "not before the end of parsing"
    print(
        f"in chromium: first contentful paint {painted}, "
        f"end of page parsed at {inner['parsed']:.0f} ms, full layout "
        f"{inner['layout']:.0f} ms, untick one outcome {inner['filter']:.0f} ms, "
        f"title search {inner['search']:.0f} ms ({inner['shown']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    document = build_document(args.entries)
    json_s = best_of(args.repeat, lambda: json.dumps(document, ensure_ascii=False, indent=2))
    html_s = best_of(args.repeat, lambda: render_html(document))
    page = render_html(document)
    json_bytes = len(json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"))
    page_bytes = len(page.encode("utf-8"))
    print(f"entries: {args.entries}")
    print(
        f"render_html {html_s * 1000:.0f} ms, json.dumps {json_s * 1000:.0f} ms, "
        f"ratio {html_s / json_s:.2f} (best of {args.repeat})"
    )
    print(
        f"page {page_bytes / 1e6:.1f} MB, JSON report {json_bytes / 1e6:.1f} MB, "
        f"ratio {page_bytes / json_bytes:.2f}"
    )
    binary = chromium_binary()
    if binary is None:
        print("chromium not found: apt-get update && apt-get install -y chromium")
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "report.html"
        path.write_text(page, encoding="utf-8")
        browser_figures(binary, path, folder, args.repeat)


if __name__ == "__main__":
    main()

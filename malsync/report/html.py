"""The report as one page for people: works offline, loads nothing, readable without JavaScript.

It is rendered from the JSON report document itself, so it shows any outcome (also ones added
later) and reports written by older versions. Every value from the document is escaped; the
page's Content-Security-Policy lets only malsync's own inline script run and forbids loading
anything, so even a mistake in escaping could not fetch or run foreign code.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from malsync.pipeline.records import MediaType
from malsync.report.links import anisearch_search_url, hand_set_id_line, hand_set_id_section

UNMATCHED_OUTCOMES = ("not_found", "unmatched")
_GOOD = frozenset({"uploaded", "unchanged", "deleted", "planned"})
_BAD = frozenset({"failed", "invalid", "not_found"})

STYLE = """
:root{color-scheme:light dark;--fg:#1d2430;--muted:#5b6575;--line:#d8dde6;--bg:#fff;
--alt:#f4f6f9;--good:#2f8f5b;--bad:#c43d3d;--other:#8a7a2b;--bar:#4a78c2}
@media (prefers-color-scheme:dark){:root{--fg:#e3e7ee;--muted:#9aa4b4;--line:#3a4250;
--bg:#181c22;--alt:#20252d;--good:#4cbf7f;--bad:#ef6b6b;--other:#cdb84f;--bar:#6f9be0}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1400px;padding:1rem 1.5rem;font:14px/1.4 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
h3{font-size:1rem;margin:1rem 0 .4rem}
a{color:var(--bar)}
.facts{display:flex;flex-wrap:wrap;gap:.3rem 1.5rem;margin:0 0 .8rem;padding:0;list-style:none}
.facts b{font-weight:600}
.stopped{border-left:4px solid var(--bad);padding:.4rem .8rem;background:var(--alt)}
.dry{border-left:4px solid var(--other);padding:.4rem .8rem;background:var(--alt)}
.charts{display:flex;flex-wrap:wrap;gap:1rem 3rem}
.chart{min-width:320px;flex:1 1 320px;max-width:560px}
.bar-row{display:grid;grid-template-columns:9rem 1fr 4.5rem;align-items:center;gap:.5rem;
margin:.15rem 0}
.bar-row .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.track{height:.9rem;background:var(--alt);border-radius:2px;overflow:hidden}
.bar{display:block;height:100%;background:var(--bar)}
.bar.good{background:var(--good)}.bar.bad{background:var(--bad)}.bar.other{background:var(--other)}
.n{text-align:right;font-variant-numeric:tabular-nums}
#controls{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;margin:.5rem 0;
padding:.5rem .8rem;border:1px solid var(--line);border-radius:4px}
#controls label{white-space:nowrap}
#search{min-width:18rem;padding:.25rem .4rem;font:inherit}
#shown{color:var(--muted);margin-left:auto}
table{border-collapse:collapse;width:100%;table-layout:fixed}
.chunk{content-visibility:auto}
.entries col:nth-child(1){width:4.5rem}.entries col:nth-child(2){width:22%}
.entries col:nth-child(3){width:5.5rem}.entries col:nth-child(4){width:7.5rem}
.entries col:nth-child(5){width:19%}.entries col:nth-child(6){width:15%}
.entries td:nth-child(5),.entries td:nth-child(6){white-space:pre-line}
.head{position:sticky;top:0;z-index:1}
th,td{border-bottom:1px solid var(--line);padding:.25rem .4rem;text-align:left;
vertical-align:top;overflow-wrap:anywhere}
th{background:var(--bg);border-bottom:2px solid var(--line)}
tbody tr:nth-child(even){background:var(--alt)}
td.good{color:var(--good)}td.bad{color:var(--bad);font-weight:600}td.other{color:var(--other)}
.muted,small{color:var(--muted)}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.92em}
pre{background:var(--alt);padding:.6rem .8rem;overflow:auto;max-height:24rem;user-select:all}
[hidden]{display:none!important}
.entries.titles col:nth-child(5){width:16%}.entries.titles col:nth-child(8){width:9rem}
.entries td:nth-child(8){white-space:pre-line}
tr.grouped td:first-child{border-left:3px solid var(--bar)}
"""

# Filters rows in one pass; the search waits until typing pauses, so 20,000 rows stay fluid.
# Nothing is read from the rows until the first filter: opening the page costs no script time.
SCRIPT = """
(function () {
  var list = document.getElementById("entries");
  var controls = document.getElementById("controls");
  if (!list || !controls) return;
  var chunks = list.children, boxes = controls.querySelectorAll("input[type=checkbox]");
  var search = document.getElementById("search"), shown = document.getElementById("shown");
  var total = list.getElementsByTagName("tr").length, texts = null, timer = 0;
  function text(row) {
    return (row.cells[1].textContent + " " + row.cells[2].textContent).toLowerCase();
  }
  function apply() {
    var on = Object.create(null), query = search.value.trim().toLowerCase(), count = 0;
    for (var b = 0; b < boxes.length; b++) if (boxes[b].checked) on[boxes[b].value] = true;
    if (query !== "" && texts === null) texts = new WeakMap();
    for (var c = 0; c < chunks.length; c++) {
      var rows = chunks[c].getElementsByTagName("tr"), visible = 0;
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i], show = on[row.getAttribute("data-outcome")] === true;
        if (show && query !== "") {
          var t = texts.get(row);
          if (t === undefined) texts.set(row, (t = text(row)));
          show = t.indexOf(query) !== -1;
        }
        if (show) visible++;
        if (row.hidden === show) row.hidden = !show;
      }
      // A chunk with nothing to show takes no room, rather than its estimated height.
      chunks[c].hidden = visible === 0;
      count += visible;
    }
    shown.textContent = count + " of " + total + " entries shown";
  }
  controls.addEventListener("change", apply);
  controls.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  });
  controls.hidden = false;
  shown.textContent = total + " of " + total + " entries shown";
  // A browser may restore ticks and text from an earlier visit: show what they say.
  var restored = search.value !== "";
  for (var b = 0; b < boxes.length; b++) restored = restored || !boxes[b].checked;
  if (restored) apply();
})();
"""


def _source_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src {_source_hash(SCRIPT)}; base-uri 'none'; form-action 'none'"
)


def _text(value: object) -> str:
    """Any document value as escaped text; None (a field an old report lacks) as nothing."""
    if value is None:
        return ""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def _value(value: object) -> str:
    """A field value as a person reads it: strings bare, nothing as "(none)", the rest as JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _link(url: object, label: str) -> str:
    """A link only to a web address; anything else (javascript:, a tampered report) stays text."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return f'<a href="{_text(url)}" rel="noopener noreferrer">{label}</a>'
    return label


def _tone(outcome: str) -> str:
    return "good" if outcome in _GOOD else "bad" if outcome in _BAD else "other"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else []


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def render_html(document: Mapping[str, Any]) -> str:
    """The whole page for one JSON report document (as `Report.to_json()` gives or a file holds)."""
    summary = _mapping(document.get("summary"))
    entries = [entry for entry in _list(document.get("entries")) if isinstance(entry, Mapping)]
    outcomes = _outcome_counts(summary, entries)
    title = "malsync report" + (" (dry run)" if summary.get("dry_run") else "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_text(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        *_summary_section(summary, outcomes, len(entries)),
        *_entries_section(entries, _with_titles(entries)),
        *_unmatched_section(entries),
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _outcome_counts(
    summary: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> Counter[str]:
    """The summary's counts; an old or partial document's are rebuilt from its entries."""
    given = _mapping(summary.get("outcomes"))
    if given:
        return Counter({str(name): _count(n) for name, n in given.items()})
    return Counter(_outcome(entry) for entry in entries)


def _outcome(entry: Mapping[str, Any]) -> str:
    return str(entry.get("outcome") or "unknown")


def _summary_section(
    summary: Mapping[str, Any], outcomes: Counter[str], entry_count: int
) -> list[str]:
    parts = ['<section id="summary"><h2>Summary</h2>']
    if summary.get("dry_run"):
        parts.append('<p class="dry">Dry run: nothing was sent to aniSearch.</p>')
    if summary.get("stopped"):
        parts.append(f'<p class="stopped">Stopped: {_text(summary["stopped"])}</p>')
    parts.append(_facts(summary, entry_count))
    parts.append('<div class="charts">')
    parts.append(_chart("Outcomes", sorted(outcomes.items()), tone=True))
    for kind, given in sorted(_mapping(summary.get("media")).items()):
        numbers = _mapping(given)
        statuses = sorted((str(k), _count(v)) for k, v in _mapping(numbers.get("status")).items())
        caption = f"{kind}: aniSearch status ({_count(numbers.get('total'))} entries)"
        parts.append(_chart(caption, statuses, tone=False))
    parts.append("</div></section>")
    return parts


_KNOWN_SUMMARY_KEYS = frozenset(
    {"dry_run", "files", "total", "outcomes", "media", "with_warnings", "deletions", "stopped"}
)


# Where a key's words need a capital the generic label would lose.
_FACT_NAMES = {"compared_with_anisearch": "Compared with aniSearch"}


def _fact(value: object) -> str:
    """A summary fact as a person reads it: a yes/no as yes or no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _value(value)


def _facts(summary: Mapping[str, Any], entry_count: int) -> str:
    total = summary.get("total", entry_count)
    facts = [("Entries", total)]
    facts += [
        ("With warnings", summary.get("with_warnings")),
        ("Deletions", summary.get("deletions")),
    ]
    files = ", ".join(str(name) for name in _list(summary.get("files")))
    facts.append(("Files", files or None))
    # Keys added by later versions (Report.extra) are shown as they are rather than dropped.
    facts += [
        (_FACT_NAMES.get(key) or str(key).replace("_", " ").capitalize(), _fact(value))
        for key, value in summary.items()
        if key not in _KNOWN_SUMMARY_KEYS and not isinstance(value, Mapping | list)
    ]
    items = [
        f"<li><b>{_text(name)}:</b> {_text(value)}</li>"
        for name, value in facts
        if value is not None
    ]
    return '<ul class="facts">' + "".join(items) + "</ul>"


def _chart(caption: str, counts: Sequence[tuple[str, int]], *, tone: bool) -> str:
    """Bars as plain divs with widths: no image, no canvas, nothing to load."""
    if not counts:
        return ""
    largest = max(n for _, n in counts) or 1
    rows = [f'<div class="chart"><h3>{_text(caption)}</h3>']
    for name, n in counts:
        width = 0.0 if n <= 0 else max(100.0 * n / largest, 0.5)
        tone_class = f" {_tone(name)}" if tone else ""
        rows.append(
            f'<div class="bar-row"><span class="label" title="{_text(name)}">{_text(name)}</span>'
            f'<span class="track"><span class="bar{tone_class}" style="width:{width:.1f}%">'
            f'</span></span><span class="n">{n}</span></div>'
        )
    rows.append("</div>")
    return "".join(rows)


CHUNK_ROWS = 250
_COLUMNS = "<colgroup>" + "<col>" * 7 + "</colgroup>"
_TITLE_COLUMNS = "<colgroup>" + "<col>" * 8 + "</colgroup>"


def _with_titles(entries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the report names aniSearch's titles (older reports do not): then a column says
    which title each entry went into, and a bundle's members are marked as one group."""
    return any(isinstance(entry.get("anisearch_id"), int) for entry in entries)


def _entries_section(entries: Sequence[Mapping[str, Any]], titles: bool = False) -> list[str]:
    # Counted from the rows themselves: the filter must match what it shows and hides.
    outcomes = Counter(_outcome(entry) for entry in entries)
    boxes = "".join(
        f'<label><input type="checkbox" value="{_text(name)}" checked> {_text(name)}'
        f" <small>({n})</small></label>"
        for name, n in sorted(outcomes.items())
    )
    return [
        f'<section id="entries-section"><h2>Entries ({len(entries)})</h2>',
        # Hidden until the script runs: without JavaScript, controls that do nothing would mislead.
        f'<form id="controls" hidden><span>Outcome:</span>{boxes}'
        '<input type="search" id="search" placeholder="Search title or MAL id"'
        ' aria-label="Search title or MAL id"><span id="shown"></span></form>',
        f'<table class="{_table_class(titles)} head">{_columns(titles)}<thead><tr><th>Media</th>'
        "<th>Title</th><th>MAL id</th><th>Outcome</th><th>Changes</th><th>Warnings</th>"
        f"<th>Error</th>{'<th>aniSearch</th>' if titles else ''}</tr>"
        '</thead></table><div id="entries">',
        *(
            _entry_chunk(entries[at : at + CHUNK_ROWS], titles)
            for at in range(0, len(entries), CHUNK_ROWS)
        ),
        "</div></section>",
    ]


def _table_class(titles: bool) -> str:
    return "entries titles" if titles else "entries"


def _columns(titles: bool) -> str:
    return _TITLE_COLUMNS if titles else _COLUMNS


def _entry_chunk(entries: Sequence[Mapping[str, Any]], titles: bool = False) -> str:
    """Rows in tables of CHUNK_ROWS: the browser skips laying out the ones off screen
    (content-visibility), which one table of 20,000 rows would not allow."""
    lines = sum(
        max(1, len(_list(e.get("changes"))), len(_list(e.get("warnings")))) for e in entries
    )
    estimate = lines * 20 + len(entries) * 9
    rows = "".join(_entry_row(entry, titles) for entry in entries)
    return (
        f'<div class="chunk" style="contain-intrinsic-size:auto {estimate}px">'
        f'<table class="{_table_class(titles)}">{_columns(titles)}<tbody>{rows}</tbody>'
        "</table></div>"
    )


def _entry_row(entry: Mapping[str, Any], titles: bool = False) -> str:
    outcome = _outcome(entry)
    action = entry.get("action")
    action_note = f" <small>({_text(action)})</small>" if action not in (None, "upsert") else ""
    # One line per change or warning (white-space:pre-line): fewer elements keep 20,000 rows light.
    changes = "\n".join(
        f"{_text(change.get('field'))}: {_text(_value(change.get('old')))} → "
        f"{_text(_value(change.get('new')))}"
        for change in _list(entry.get("changes"))
        if isinstance(change, Mapping)
    )
    warnings = "\n".join(_text(warning) for warning in _list(entry.get("warnings")))
    title = _text(entry.get("title")) or '<span class="muted">(no title)</span>'
    grouped = ' class="grouped"' if titles and _list(entry.get("bundle")) else ""
    return (
        f'<tr data-outcome="{_text(outcome)}"{grouped}><td>{_text(entry.get("media"))}</td>'
        f"<td>{_link(entry.get('mal_url'), title)}</td><td>{_text(entry.get('mal_id'))}</td>"
        f'<td class="{_tone(outcome)}">{_text(outcome)}{action_note}</td><td>{changes}</td>'
        f"<td>{warnings}</td><td>{_text(entry.get('error'))}</td>"
        f"{f'<td>{_title_cell(entry)}</td>' if titles else ''}</tr>"
    )


def _title_cell(entry: Mapping[str, Any]) -> str:
    """The aniSearch title the entry went into, linked; a bundle's other members (its rows are
    side by side, marked at the left) and a split entry's other parts on a line below."""
    anisearch_id = entry.get("anisearch_id")
    if not isinstance(anisearch_id, int) or isinstance(anisearch_id, bool):
        return ""
    cell = _link(entry.get("anisearch_url"), _text(anisearch_id))
    bundle = [each for each in _list(entry.get("bundle")) if each != entry.get("mal_id")]
    if bundle:
        others = ", ".join(_text(each) for each in bundle)
        cell += f"\n<small>one title with MAL {others}</small>"
    parts = [each for each in _list(entry.get("parts")) if each != anisearch_id]
    if parts:
        cell += f"\n<small>also part: {', '.join(_text(each) for each in parts)}</small>"
    return cell


def _unmatched_by_media(
    entries: Iterable[Mapping[str, Any]],
) -> dict[MediaType, list[Mapping[str, Any]]]:
    grouped: dict[MediaType, list[Mapping[str, Any]]] = {}
    for entry in entries:
        mal_id = entry.get("mal_id")
        if entry.get("outcome") not in UNMATCHED_OUTCOMES or not isinstance(mal_id, int):
            continue
        if entry.get("media") in {kind.value for kind in MediaType}:
            grouped.setdefault(MediaType(entry["media"]), []).append(entry)
    return grouped


def _unmatched_section(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    grouped = _unmatched_by_media(entries)
    if not grouped:
        return []
    parts = [
        '<section id="unmatched"><h2>Titles aniSearch does not know by MAL id</h2>',
        "<p>aniSearch does not know these MAL ids, or its MAL links name no title for them."
        " Find each title on aniSearch (the search link), then put its aniSearch id after the"
        " <code>=</code> of its line under the section header in the config file. Such titles"
        " are then sent by aniSearch id, on the very next run.</p>",
    ]
    for media, items in sorted(grouped.items()):
        parts.extend(_unmatched_media(media, items))
    parts.append("</section>")
    return parts


def _unmatched_media(media: MediaType, items: Sequence[Mapping[str, Any]]) -> list[str]:
    section = hand_set_id_section(media)
    rows = []
    block = [section]
    for entry in items:
        title = str(entry.get("title") or "")
        line = hand_set_id_line(media, entry["mal_id"])
        search = _link(anisearch_search_url(media, title), "search aniSearch") if title else ""
        rows.append(
            f"<tr><td>{_text(title)}</td><td>{_link(entry.get('mal_url'), _text(entry['mal_id']))}"
            f"</td><td>{search}</td><td><code>{_text(line)}</code></td>"
            f"<td>{_text(entry.get('error'))}</td></tr>"
        )
        # A newline in a title would end the TOML comment and break the pasted config.
        block.append(f"{line}  # {' '.join(title.split())}" if title else line)
    return [
        f"<h3>{_text(media.value)} ({len(items)}): <code>{_text(section)}</code></h3>",
        # Laid out only when scrolled to, like the entries (content-visibility).
        f'<div class="chunk" style="contain-intrinsic-size:auto {len(items) * 27 + 40}px">'
        '<table class="unmatched"><colgroup><col><col style="width:7rem"><col style="width:10rem">'
        '<col style="width:9rem"><col style="width:30%"></colgroup><thead><tr><th>Title</th>'
        "<th>MAL</th><th>aniSearch</th><th>Mapping line</th><th>Why</th></tr></thead><tbody>",
        *rows,
        "</tbody></table></div>",
        "<p>Ready to paste (fill in each aniSearch id):</p>",
        f"<pre>{_text(chr(10).join(block))}</pre>",
    ]

"""The HTML report as a browser reads it: parsed with the stdlib parser, not searched as text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from malsync.config.settings import MappingOptions
from malsync.pipeline.planner import build_plan
from malsync.pipeline.records import MediaType, Outcome
from malsync.report.html import SCRIPT, render_html
from malsync.report.links import anisearch_search_url, hand_set_id_line, hand_set_id_section
from malsync.report.run_report import Report, RunInfo
from malsync.sources.export_xml import read_export
from tests.conftest import settled

VOID = {"meta", "link", "img", "input", "br", "col", "source", "hr", "wbr", "area", "base"}
NETWORK_ATTRIBUTES = {"src", "href", "srcset", "poster", "data", "action", "background"}
LOADING_TAGS = {"script", "link", "img", "iframe", "source", "video", "audio", "embed", "object"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag:
                    found.append(child)
                found.extend(child.all(tag))
        return found

    def by_id(self, ident: str) -> Node:
        matches = [n for n in self.walk() if n.attrs.get("id") == ident]
        assert len(matches) == 1, ident
        return matches[0]

    def walk(self) -> list[Node]:
        nodes = [self]
        for child in self.children:
            if isinstance(child, Node):
                nodes.extend(child.walk())
        return nodes


class TreeBuilder(HTMLParser):
    """A small DOM: the page writes every end tag, so a stack is enough."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.start_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.start_tags.append(tag)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> TreeBuilder:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    assert [n.tag for n in builder.stack] == ["#document"], "unclosed elements"
    return builder


def entry(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "action": "upsert",
        "media": "anime",
        "mal_id": 5114,
        "title": "Fullmetal Alchemist: Brotherhood",
        "outcome": "uploaded",
        "payload": {"use_myanimelist_id": True, "status": "completed"},
        "warnings": [],
        "error": None,
        "mal_url": "https://myanimelist.net/anime/5114",
        "source": "animelist.xml",
        "on_anisearch_before": True,
        "changes": [],
    }
    base.update(fields)
    return base


def document(*entries: dict[str, Any], **summary: Any) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    for item in entries:
        outcomes[item["outcome"]] = outcomes.get(item["outcome"], 0) + 1
    base = {
        "dry_run": False,
        "files": ["animelist.xml"],
        "total": len(entries),
        "outcomes": outcomes,
        "media": {"anime": {"total": len(entries), "status": {"completed": len(entries)}}},
        "with_warnings": 0,
        "deletions": 0,
        "stopped": None,
    }
    base.update(summary)
    return {"summary": base, "entries": list(entries)}


SCRIPT_TITLE = "<script>alert(1)</script>"
SAMPLE = document(
    entry(
        changes=[
            {"field": "episodes_watched", "old": 12, "new": 64},
            {"field": "status", "old": None, "new": "completed"},
        ],
        warnings=["start date 2009-04-00 lacks its day; left out"],
    ),
    entry(mal_id=41457, title=SCRIPT_TITLE, outcome="not_found", error='404 "<b>"'),
    entry(
        media="manga",
        mal_id=2,
        title="Berserk & Co",
        outcome="unmatched",
        mal_url="https://myanimelist.net/manga/2",
    ),
    entry(mal_id=9, title="Failing", outcome="failed", error="HTTP 500 after 4 attempts"),
    entry(mal_id=10, title="Not sent", outcome="not_sent"),
)


def entry_rows(tree: Node) -> list[Node]:
    return tree.by_id("entries").all("tr")


def cells(row: Node) -> list[str]:
    return [td.text() for td in row.all("td")]


def test_one_row_per_entry_with_its_cells() -> None:
    tree = parse(render_html(SAMPLE)).root
    rows = entry_rows(tree)
    assert len(rows) == 5
    assert cells(rows[0]) == [
        "anime",
        "Fullmetal Alchemist: Brotherhood",
        "5114",
        "uploaded",
        "episodes_watched: 12 → 64\nstatus: (none) → completed",
        "start date 2009-04-00 lacks its day; left out",
        "",
    ]
    assert rows[0].all("a")[0].attrs["href"] == "https://myanimelist.net/anime/5114"
    assert cells(rows[3])[3:] == ["failed", "", "", "HTTP 500 after 4 attempts"]
    assert [row.attrs["data-outcome"] for row in rows] == [
        "uploaded",
        "not_found",
        "unmatched",
        "failed",
        "not_sent",
    ]


def test_a_script_title_is_shown_as_text_and_only_malsyncs_script_exists() -> None:
    page = render_html(SAMPLE)
    tree = parse(page).root
    scripts = tree.all("script")
    assert len(scripts) == 1
    assert scripts[0].text() == SCRIPT
    assert cells(entry_rows(tree)[1])[1] == SCRIPT_TITLE
    assert cells(entry_rows(tree)[1])[6] == '404 "<b>"'
    assert not [n for n in tree.walk() if n.tag == "b" and n.text() == '"']


def test_nothing_is_loaded_from_the_network() -> None:
    page = render_html(SAMPLE)
    tree = parse(page).root
    for node in tree.walk():
        if node.tag in LOADING_TAGS:
            assert not set(node.attrs) & NETWORK_ATTRIBUTES, node
        if node.tag != "a":
            for name, value in node.attrs.items():
                assert not re.search(r"(https?:)?//", value) or name == "content", node
        assert "url(" not in node.attrs.get("style", "")
    styles = "".join(style.text() for style in tree.all("style"))
    assert "@import" not in styles and "url(" not in styles and "@font-face" not in styles
    policy = [m for m in tree.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in policy[0].attrs["content"]


def test_a_filter_control_for_each_outcome_present() -> None:
    tree = parse(render_html(SAMPLE)).root
    controls = tree.by_id("controls")
    boxes = [i.attrs["value"] for i in controls.all("input") if i.attrs.get("type") == "checkbox"]
    assert boxes == ["failed", "not_found", "not_sent", "unmatched", "uploaded"]
    assert [i.attrs["type"] for i in controls.all("input")].count("search") == 1
    # Without JavaScript the controls would do nothing, so the script shows them.
    assert "hidden" in controls.attrs


def test_unmatched_titles_get_a_search_link_and_a_mapping_line() -> None:
    tree = parse(render_html(SAMPLE)).root
    section = tree.by_id("unmatched")
    rows = [cells(row) for row in section.all("tr") if row.all("td")]
    assert [row[0] for row in rows] == [SCRIPT_TITLE, "Berserk & Co"]
    assert [row[3] for row in rows] == ['"41457" = ', '"2" = ']
    links = [a.attrs["href"] for a in section.all("a") if "anisearch" in a.attrs["href"]]
    assert links == [
        anisearch_search_url(MediaType.ANIME, SCRIPT_TITLE),
        anisearch_search_url(MediaType.MANGA, "Berserk & Co"),
    ]
    assert parse_qs(urlsplit(links[1]).query) == {"text": ["Berserk & Co"]}
    blocks = [pre.text() for pre in section.all("pre")]
    assert blocks == [
        f'[mappings.anime]\n"41457" =   # {SCRIPT_TITLE}',
        '[mappings.manga]\n"2" =   # Berserk & Co',
    ]


def test_links_helpers() -> None:
    url = anisearch_search_url(MediaType.MANGA, "Naruto: Shippuden 2/3 ?&")
    assert (
        url == "https://www.anisearch.com/manga/index?text=Naruto%3A%20Shippuden%202%2F3%20%3F%26"
    )
    assert hand_set_id_line(MediaType.ANIME, 41457) == '"41457" = '
    assert hand_set_id_section(MediaType.MANGA) == "[mappings.manga]"


def test_summary_charts_and_flags() -> None:
    page = render_html(document(*SAMPLE["entries"], dry_run=True, stopped="interrupted <now>"))
    tree = parse(page).root
    summary = tree.by_id("summary")
    assert "Dry run: nothing was sent to aniSearch." in summary.text()
    assert "Stopped: interrupted <now>" in summary.text()
    bars = [
        (row.all("span")[0].text(), row.all("span")[-1].text(), row.all("span")[2].attrs["style"])
        for row in summary.walk()
        if row.attrs.get("class") == "bar-row"
    ]
    assert ("failed", "1", "width:100.0%") in bars
    assert ("completed", "5", "width:100.0%") in bars


def test_an_old_document_without_some_keys_renders() -> None:
    old = {
        "summary": {"dry_run": True, "files": ["a.xml"], "total": 2},
        "entries": [
            {"media": "anime", "mal_id": 1, "title": "Cowboy Bebop", "outcome": "planned"},
            {"media": "manga", "mal_id": None, "title": None, "outcome": None, "error": "no id"},
        ],
    }
    tree = parse(render_html(old)).root
    rows = entry_rows(tree)
    assert [cells(row)[:4] for row in rows] == [
        ["anime", "Cowboy Bebop", "1", "planned"],
        ["manga", "(no title)", "", "unknown"],
    ]
    assert not rows[0].all("a")  # no mal_url in the document: no link
    assert parse(render_html({})).root.by_id("entries").all("tr") == []


def test_only_web_addresses_become_links() -> None:
    tree = parse(render_html(document(entry(mal_url="javascript:alert(1)")))).root
    assert not entry_rows(tree)[0].all("a")


def test_a_real_export_renders_every_entry(real_exports: Path) -> None:
    export = read_export(real_exports / "mangalist_1734298628_-_16433979.xml")
    items = build_plan(export.entries, MappingOptions())
    results = {0: settled(items[0], Outcome.NOT_FOUND, "404")}
    report = Report.build(items, results, RunInfo((export.path,), dry_run=True))
    tree = parse(render_html(report.to_json())).root
    rows = entry_rows(tree)
    assert len(rows) == len(items) == 112
    assert [cells(row)[1] for row in rows] == [item.title for item in items]
    assert len(tree.by_id("unmatched").all("pre")) == 1


text_values = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    title=text_values,
    warning=text_values,
    error=text_values,
    old=st.one_of(st.none(), st.integers(), text_values),
    new=text_values,
    outcome=text_values,
    stopped=text_values,
)
def test_arbitrary_text_never_makes_elements(
    title: str, warning: str, error: str, old: object, new: str, outcome: str, stopped: str
) -> None:
    def page(t: str, w: str, e: str, o: object, n: str, out: str, s: str) -> TreeBuilder:
        item = entry(
            title=t, warnings=[w], error=e, changes=[{"field": n, "old": o, "new": n}], outcome=out
        )
        unmatched = entry(mal_id=7, title=t, outcome="not_found")
        return parse(render_html(document(item, unmatched, stopped=s, extra_note=w)))

    def like(value: object) -> object:
        return ("x" if value else "") if isinstance(value, str) else value

    # The same page with harmless text of the same emptiness must have the very same elements.
    plain = page(
        str(like(title)),
        str(like(warning)),
        str(like(error)),
        like(old),
        str(like(new)),
        outcome,
        str(like(stopped)),
    )
    built = page(title, warning, error, old, new, outcome, stopped)
    assert built.start_tags == plain.start_tags
    rows = entry_rows(built.root)
    assert len(rows) == 2
    assert cells(rows[0])[1] == (title or "(no title)")
    assert rows[0].attrs["data-outcome"] == (outcome or "unknown")


def test_the_summarys_later_facts_name_aniSearch_as_it_is_written() -> None:
    page = render_html(
        document(*SAMPLE["entries"], on_conflict="merge", compared_with_anisearch=True)
    )
    facts = parse(page).root.by_id("summary").text()
    assert "Compared with aniSearch: yes" in facts
    assert "On conflict: merge" in facts

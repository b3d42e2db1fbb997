"""Links and config lines that help a person see where a title went on aniSearch, and set by
hand the aniSearch id of a title aniSearch does not know by MAL id (`[mappings]`).

Shared by the reports and unmatched.csv, so all offer the same search and the same line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from malsync.pipeline.decisions import Decision
from malsync.pipeline.records import MediaType

ANISEARCH_SITE = "https://www.anisearch.com"


def anisearch_search_url(media: MediaType, title: str) -> str:
    """aniSearch's own site search for the title: where a person finds the aniSearch id by hand.

    It is the public web search (the page a browser shows), not an API call; malsync never
    requests it itself.
    """
    return f"{ANISEARCH_SITE}/{media.value}/index?text={quote(title, safe='')}"


def anisearch_title_url(media: MediaType, anisearch_id: int) -> str:
    """The title's page on aniSearch's site, for a person to check where an entry went."""
    return f"{ANISEARCH_SITE}/{media.value}/{anisearch_id}"


def hand_set_id_section(media: MediaType) -> str:
    """The config table a hand-set id for this media type goes under."""
    return f"[mappings.{media.value}]"


def hand_set_id_line(media: MediaType, mal_id: int) -> str:
    """The start of the line that sets the id by hand (the report's "mapping line"); the person
    appends the aniSearch id after `= `.

    `media` is not part of the line itself (the section says it) but keeps call sites honest
    about which section the line belongs under.
    """
    del media
    return f'"{mal_id}" = '


def add_title_fields(fields: dict[str, Any], item: Decision, *, unmatched: bool) -> None:
    """A report entry's aniSearch title, added to its `fields`: the one it went into (a bundle:
    with its members' MAL ids; parts: all of its titles), why, and for a title aniSearch does
    not know (or links to nothing), how to map it by hand."""
    known = item.anisearch_id
    fields["anisearch_id"] = known
    fields["anisearch_url"] = anisearch_title_url(item.media, known) if known is not None else None
    fields["ids_from"] = item.id_source.value if item.id_source is not None else None
    fields["bundle"] = list(item.members) if len(item.members) > 1 else None
    fields["parts"] = list(item.parts) if item.parts else None
    if unmatched and item.mal_id is not None:
        fields["anisearch_search"] = (
            anisearch_search_url(item.media, item.title) if item.title else None
        )
        fields["mapping_section"] = hand_set_id_section(item.media)
        fields["mapping_line"] = hand_set_id_line(item.media, item.mal_id)

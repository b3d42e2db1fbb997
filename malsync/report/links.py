"""Links and config lines that help a person set by hand the aniSearch id of a title aniSearch
does not know by MAL id (`[mappings]`).

Shared by the HTML report and unmatched.csv, so both offer the same search and the same line.
"""

from __future__ import annotations

from urllib.parse import quote

from malsync.pipeline.records import MediaType

ANISEARCH_SITE = "https://www.anisearch.com"


def anisearch_search_url(media: MediaType, title: str) -> str:
    """aniSearch's own site search for the title: where a person finds the aniSearch id by hand.

    It is the public web search (the page a browser shows), not an API call; malsync never
    requests it itself.
    """
    return f"{ANISEARCH_SITE}/{media.value}/index?text={quote(title, safe='')}"


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

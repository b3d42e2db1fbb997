"""Build MAL-style exports for tests, in the layouts real files use."""

from __future__ import annotations

import gzip
from pathlib import Path

ANIME_CURRENT = {
    "series_animedb_id": "5114",
    "series_title": "<![CDATA[Fullmetal Alchemist: Brotherhood]]>",
    "series_type": "TV",
    "series_episodes": "64",
    "my_id": "0",
    "my_watched_episodes": "64",
    "my_start_date": "0000-00-00",
    "my_finish_date": "0000-00-00",
    "my_rated": "",
    "my_score": "0",
    "my_storage": "",
    "my_storage_value": "0.00",
    "my_status": "Completed",
    "my_comments": "<![CDATA[]]>",
    "my_times_watched": "0",
    "my_rewatch_value": "",
    "my_priority": "LOW",
    "my_tags": "<![CDATA[]]>",
    "my_rewatching": "0",
    "my_rewatching_ep": "0",
    "my_discuss": "1",
    "my_sns": "default",
    "update_on_import": "0",
}

ANIME_OLD = {
    "series_animedb_id": "48",
    "series_title": "<![CDATA[.hack//Sign]]>",
    "series_type": "TV",
    "series_episodes": "26",
    "my_id": "0",
    "my_watched_episodes": "26",
    "my_start_date": "0000-00-00",
    "my_finish_date": "0000-00-00",
    "my_rated": "",
    "my_score": "6",
    "my_dvd": "",
    "my_storage": "Retail DVD",
    "my_status": "Completed",
    "my_comments": "<![CDATA[]]>",
    "my_times_watched": "0",
    "my_rewatch_value": "",
    "my_tags": "<![CDATA[]]>",
    "my_rewatching": "",
    "my_rewatching_ep": "0",
    "update_on_import": "0",
}

MANGA_CURRENT = {
    "manga_mangadb_id": "2",
    "manga_title": "<![CDATA[Berserk]]>",
    "manga_volumes": "0",
    "manga_chapters": "0",
    "my_id": "161012020",
    "my_read_volumes": "41",
    "my_read_chapters": "374",
    "my_start_date": "0000-00-00",
    "my_finish_date": "0000-00-00",
    "my_scanalation_group": "<![CDATA[]]>",
    "my_score": "0",
    "my_storage": "",
    "my_retail_volumes": "0",
    "my_status": "Reading",
    "my_comments": "<![CDATA[]]>",
    "my_times_read": "0",
    "my_tags": "<![CDATA[]]>",
    "my_priority": "Low",
    "my_reread_value": "",
    "my_rereading": "NO",
    "my_discuss": "YES",
    "my_sns": "default",
    "update_on_import": "0",
}

HEADER = """<?xml version="1.0" encoding="UTF-8" ?>
\t\t<!--
\t\t Created by XML Export feature at MyAnimeList.net
\t\t Version 1.1.0
\t\t-->

\t\t<myanimelist>
"""


def entry(tag: str, base: dict[str, str], drop: tuple[str, ...] = (), **values: str) -> str:
    fields = {**base, **values}
    body = "".join(
        f"\n\t\t\t\t\t<{name}>{value}</{name}>"
        for name, value in fields.items()
        if name not in drop
    )
    return f"\n\t\t\t\t<{tag}>{body}\n\t\t\t\t</{tag}>\n"


def anime(drop: tuple[str, ...] = (), **values: str) -> str:
    return entry("anime", ANIME_CURRENT, drop, **values)


def old_anime(drop: tuple[str, ...] = (), **values: str) -> str:
    return entry("anime", ANIME_OLD, drop, **values)


def manga(drop: tuple[str, ...] = (), **values: str) -> str:
    return entry("manga", MANGA_CURRENT, drop, **values)


def export(entries: list[str], export_type: int = 1, myinfo: str | None = None) -> str:
    info = (
        myinfo
        if myinfo is not None
        else (
            "\n\t\t\t<myinfo>\n\t\t\t\t<user_id>1</user_id>\n\t\t\t\t<user_name>t</user_name>"
            f"\n\t\t\t\t<user_export_type>{export_type}</user_export_type>\n\t\t\t</myinfo>\n"
        )
    )
    return HEADER + info + "".join(entries) + "\n\t\t</myanimelist>\n"


def write(path: Path, text: str | bytes, gzipped: bool = False) -> Path:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if gzipped:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def many(count: int, first_id: int = 1, media: str = "anime", **values: str) -> str:
    """An export of `count` entries with consecutive MAL ids."""
    make = anime if media == "anime" else manga
    id_field = "series_animedb_id" if media == "anime" else "manga_mangadb_id"
    title_field = "series_title" if media == "anime" else "manga_title"
    entries = [
        make(**{id_field: str(mal_id), title_field: f"<![CDATA[Title {mal_id}]]>", **values})
        for mal_id in range(first_id, first_id + count)
    ]
    return export(entries, 1 if media == "anime" else 2)

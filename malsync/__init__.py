"""malsync: move a MyAnimeList list to aniSearch and keep it in sync."""

__version__ = "0.1.0"

"""Each title's aniSearch id(s), between reading and planning: hand-set ids first, then
aniSearch's own MAL links (bundles merged, parts given their share), else the MAL id itself.
Pure: the links arrive already fetched (anisearch/mal_links.py, store/mal_links_cache.py).
"""

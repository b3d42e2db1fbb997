"""The config: the frozen dataclasses a run is built from, the values each key may take, and the
packaged example config.
"""

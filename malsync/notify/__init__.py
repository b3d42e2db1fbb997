"""Telling a person when a run needs them: the message (notice) and its sending (Apprise)."""

"""Talking to aniSearch: the HTTP client, the one session (rate windows, retries, token renewal),
what aniSearch holds, the account binding.
"""

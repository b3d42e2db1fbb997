"""Signing in: OAuth with PKCE for aniSearch and MAL, the token store, the loopback redirect
listener.
"""

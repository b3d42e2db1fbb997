"""`malsync login`, `logout` and `status` on the command line: signing in to each service and
what a run would sign in with."""

from __future__ import annotations

import argparse
import json

from malsync.auth.oauth import logout
from malsync.auth.providers import ANISEARCH, PROVIDERS
from malsync.cli.console import Console
from malsync.commands.status import status_document, status_lines
from malsync.compose import Composition
from malsync.errors import ExitStatus


def status_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    settings = root.settings
    document = status_document(settings.anisearch, settings.myanimelist, root.checkpoint_file)
    if args.json:
        console.out([json.dumps(document, indent=2, ensure_ascii=False)])
    else:
        console.out(status_lines(document))
    # Shown all the same, but a checkpoint no sync can use must not look fine to a script.
    damaged = document["checkpoint"].get("problem") is not None
    return ExitStatus.BAD_INPUT if damaged else ExitStatus.OK


def login_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    from malsync.auth.browser import login  # the browser and the listener: for this command only

    provider = PROVIDERS[args.service]
    sign_in = root.sign_in(provider)
    redirect_uri = sign_in.redirect_uri

    def show(url: str) -> None:
        # The address carries the client id, which the service needs: shown as it is.
        console.emit([f"Open this address in a browser and sign in to {provider.name}:"])
        console.emit([url], redacted=False)
        if args.paste:
            console.emit(
                [
                    f"After you sign in, {provider.name} sends the browser to {redirect_uri}, "
                    'and the browser shows a "cannot connect" page: that is expected. Copy '
                    f"that page's whole address (it starts with {redirect_uri}?code=) from "
                    "the address bar."
                ]
            )

    def read_pasted() -> str:
        return console.read_line("Paste that address here, then press Enter: ")

    tokens = login(
        sign_in,
        root.contact,
        show=show,
        open_browser=not args.no_browser and not args.paste,
        read_pasted=read_pasted if args.paste else None,
        timeout=args.timeout,
        provider=provider,
    )
    lines = [f"Signed in to {provider.name}."]
    if provider is ANISEARCH:
        scopes = " ".join(sorted(tokens.scopes)) if tokens.scopes is not None else "not stated"
        lines = [f"Signed in to aniSearch (scopes: {scopes})."]
    lines.append(
        f"The tokens are in {sign_in.token_file}, readable only by you; malsync renews them by "
        "itself."
    )
    token_origin = root.settings.anisearch.token_origin
    if provider is ANISEARCH and token_origin:
        lines.append(f"Note: {token_origin} is set and is used instead.")
    console.emit(lines)
    return ExitStatus.OK


def logout_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    provider = PROVIDERS[args.service]
    sign_in = root.sign_in(provider)
    signed_out = logout(sign_in, root.contact, provider)
    problem = signed_out.problem
    if not signed_out.stored:
        console.emit([f"Not signed in to {provider.name}: nothing to do."])
        return ExitStatus.OK
    if signed_out.damaged:
        damaged = f"the damaged {provider.name} token file {sign_in.token_file}"
        console.emit([f"Signed out: {damaged} was deleted."])
        return ExitStatus.OK
    if problem:
        console.emit(
            [
                f"The stored sign-in was deleted, but revoking it at {provider.name} failed: "
                f"{problem}.",
                f"The refresh token stays valid on {provider.name}'s side until it expires.",
            ]
        )
        return ExitStatus.SOME_FAILED
    if not provider.revocable:
        console.emit([f"Signed out: the stored {provider.name} sign-in was deleted."])
        return ExitStatus.OK
    console.emit(["Signed out: the refresh token was revoked and the stored sign-in deleted."])
    return ExitStatus.OK

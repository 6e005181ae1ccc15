"""How a client command runs: its connection (flags, then the environment, then the saved
login), one refresh when the saved access token has expired, and errors printed, not raised."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

from ncrsh_swarm.client import DEFAULT_URL, SwarmClient, refresh
from ncrsh_swarm.errors import AuthenticationError, SwarmError
from ncrsh_swarm.terminal import Credentials

Command = Callable[[SwarmClient, argparse.Namespace], Awaitable[int]]


def _connection(args: argparse.Namespace) -> tuple[str, str | None, Credentials | None]:
    """(url, token, the saved login if the token is its): flags, then environment, then the saved login."""
    saved = Credentials.load()
    url = args.url or os.environ.get("NCRSH_URL") or (saved.url if saved else DEFAULT_URL)
    token = args.token or os.environ.get("NCRSH_TOKEN")
    if token is None and saved is not None and saved.url == url:
        return url, saved.access, saved
    return url, token, None


async def _call(command: Command, args: argparse.Namespace) -> int:
    url, token, saved = _connection(args)
    try:
        async with SwarmClient(url, token) as client:
            return await command(client, args)
    except AuthenticationError:
        if saved is None:
            raise
    # The saved access token expired: refresh it once (the refresh token rotates) and try again.
    tokens = await refresh(url, saved.refresh)
    Credentials(url, saved.username, tokens.access, tokens.refresh).save()
    async with SwarmClient(url, tokens.access) as client:
        return await command(client, args)


def run(command: Command, args: argparse.Namespace) -> None:
    try:
        code = asyncio.run(_call(command, args))
    except SwarmError as exc:
        code = report(exc)
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)


def report(exc: SwarmError) -> int:
    detail = exc.detail
    if isinstance(detail, dict):  # a validation error: each field and its messages
        detail = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items())
    print(f"ncrsh: error {exc.code} {exc.message}: {detail}", file=sys.stderr)
    return 1

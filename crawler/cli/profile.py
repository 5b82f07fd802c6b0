"""`lastseen profile`: the investigator's signed-in browser states, kept encrypted."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.cli.common import err, marked, out, print_json
from crawler.cli.errors import UserError, friendly
from crawler.cli.options import json_option
from crawler.profiles.formats import cookie_names, read_state, storage_state
from crawler.profiles.store import Profile, ProfileStore, check_name, open_profiles

EXIT_LOGIN_WALL = 5


def _store(ctx: click.Context) -> ProfileStore:
    return open_profiles(ctx.find_root().params.get("db"))


def _options(func: Any) -> Any:
    """How the profile's pages are told apart and what else is secret; on a profile imported
    again, options not given keep their earlier values."""
    for option in reversed(
        [
            click.option("--account", metavar="LABEL",
                         help="Who the profile is signed in as, in your words (shown in every "
                              "capture's provenance and report; default: NAME)."),
            click.option("--signed-in-selector", metavar="CSS",
                         help="A CSS selector that only signed-in pages show."),
            click.option("--signed-in-text", metavar="TEXT",
                         help="A text that only signed-in pages show."),
            click.option("--login-wall-url", "wall_urls", multiple=True, metavar="GLOB",
                         help="URL pattern of the site's login page (repeatable; Facebook, "
                              "Instagram, TikTok and X are built in)."),
            click.option("--login-wall-selector", metavar="CSS",
                         help="A CSS selector of the site's sign-in form."),
            click.option("--secret-header", "secret_headers", multiple=True, metavar="NAME",
                         help="Another header whose values are redacted (repeatable; Cookie, "
                              "Authorization, Proxy-Authorization and Set-Cookie always are)."),
            click.option("--secret-field", "secret_fields", multiple=True, metavar="NAME",
                         help="A form field of request bodies whose values are redacted "
                              "(repeatable; a CSRF token)."),
            click.option("--max-pages", type=click.IntRange(1, 64), metavar="N",
                         help="Pages that may use the profile at once (default 1)."),
        ]
    ):  # fmt: skip
        func = option(func)
    return func


def _save(store: ProfileStore, name: str, state: dict[str, Any], opts: dict[str, Any]) -> Profile:
    old = store.find(name)
    profile = old or Profile(name=name, account=name, state=state)
    signed_in = dict(profile.signed_in)
    if opts["signed_in_selector"] or opts["signed_in_text"]:
        signed_in = {
            k: v
            for k, v in (("selector", opts["signed_in_selector"]), ("text", opts["signed_in_text"]))
            if v
        }
    wall = dict(profile.login_wall)
    if opts["wall_urls"]:
        wall["urls"] = list(opts["wall_urls"])
    if opts["login_wall_selector"]:
        wall["selector"] = opts["login_wall_selector"]
    profile = replace(
        profile,
        account=opts["account"] or profile.account,
        state=state,
        signed_in=signed_in,
        login_wall=wall,
        secret_headers=tuple(opts["secret_headers"]) or profile.secret_headers,
        secret_fields=tuple(opts["secret_fields"]) or profile.secret_fields,
        max_pages=opts["max_pages"] or profile.max_pages,
        signed_out_since=None,  # a fresh state: signed in again
        signed_out_url=None,
    )
    store.put(profile)
    return profile


def _status(profile: Profile) -> str:
    if profile.signed_out_since:
        return f"signed out since {profile.signed_out_since}"
    return "signed in"


def _saved(profile: Profile, store: ProfileStore) -> None:
    cookies = len(profile.state.get("cookies", []))
    out.print(
        f"profile {marked(profile.name)} ({marked(profile.account)}): {cookies} cookie(s) for "
        f"{marked(', '.join(profile.sites) or '-')}, encrypted in {marked(store.where)}",
        soft_wrap=True,
    )


@click.group()
def profile() -> None:
    """Signed-in browser profiles for captures behind a login (kept encrypted)."""


@profile.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_options
@click.pass_context
@friendly
def import_(ctx: click.Context, name: str, file: Path, **opts: Any) -> None:
    """Import a Playwright storage_state JSON or a Netscape cookies.txt as profile NAME."""
    check_name(name)
    state = read_state(file)
    store = _store(ctx)
    _saved(_save(store, name, state, opts), store)


@profile.command()
@click.argument("name")
@click.argument("url")
@_options
@click.pass_context
@friendly
def login(ctx: click.Context, name: str, url: str, **opts: Any) -> None:
    """Open a browser window at URL; sign in, close the window, and the state is saved."""
    from crawler.plan.seeds import check_url

    check_name(name)
    check_url(url)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError(
            "no display to open a browser window on (DISPLAY is not set): sign in on a machine "
            "with a screen and use `lastseen profile import NAME FILE` with its cookies.txt or "
            "storage_state"
        )
    state = _sign_in(url)
    store = _store(ctx)
    _saved(_save(store, name, storage_state(state, "the browser"), opts), store)


def _sign_in(url: str) -> dict[str, Any]:
    """A headed browser at ``url`` until its window is closed; its last state."""
    from playwright.sync_api import Error, sync_playwright

    from crawler.browser import launch_options

    options = dict(launch_options(), headless=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**options)  # type: ignore[arg-type]
        context = browser.new_context(no_viewport=True)
        page = context.new_page()
        page.goto(url)
        state: dict[str, Any] = dict(context.storage_state())
        out.print("sign in, then close the browser window to save the profile")
        while browser.is_connected() and context.pages:
            try:
                state = dict(context.storage_state())
            except Error:
                break
            time.sleep(1)
        browser.close()
    return state


@profile.command("ls")
@json_option("Print the profiles as one JSON array.")
@click.pass_context
@friendly
def ls(ctx: click.Context, as_json: bool) -> None:
    """List the profiles: account, sites, signed in or signed out since when."""
    profiles = _store(ctx).all()
    if as_json:
        print_json([_summary(p) for p in profiles])
        return
    if not profiles:
        out.print("no profiles (lastseen profile import NAME FILE)")
    for p in profiles:
        out.print(
            f"[bold]{marked(p.name)}[/]  {marked(p.account)}  {marked(', '.join(p.sites))}  "
            f"{_status(p)}",
            soft_wrap=True,
        )


def _summary(p: Profile) -> dict[str, Any]:
    return {
        "name": p.name,
        "account": p.account,
        "sites": p.sites,
        "status": "signed-out" if p.signed_out_since else "signed-in",
        "signed_out_since": p.signed_out_since,
        "signed_out_url": p.signed_out_url,
        "max_pages": p.max_pages,
        "updated_at": p.updated_at,
    }


@profile.command()
@click.argument("name")
@json_option("Print the profile as one JSON object.")
@click.pass_context
@friendly
def show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a profile: account, sites, cookie names and expiry (never their values)."""
    p = _store(ctx).get(name)
    cookies = cookie_names(p.state)
    detail = {
        **_summary(p),
        "signed_in": p.signed_in,
        "login_wall": p.login_wall,
        "secret_headers": list(p.secret_headers),
        "secret_fields": list(p.secret_fields),
        "cookies": cookies,
        "created_at": p.created_at,
    }
    if as_json:
        print_json(detail)
        return
    out.print(f"[bold]{marked(p.name)}[/]: {marked(p.account)}, {_status(p)}", soft_wrap=True)
    out.print(f"  sites: {marked(', '.join(p.sites))}", soft_wrap=True)
    out.print(f"  pages at once: {p.max_pages}")
    for key in ("signed_in", "login_wall", "secret_headers", "secret_fields"):
        if detail[key]:
            out.print(f"  {key.replace('_', ' ')}: {marked(detail[key])}", soft_wrap=True)
    for c in cookies:
        expires = (
            "session"
            if c["expires"] is None
            else datetime.fromtimestamp(c["expires"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        flag = " (expired)" if c["expired"] else ""
        out.print(f"  cookie {marked(c['name'])} @ {marked(c['domain'])}, expires {expires}{flag}")


@profile.command()
@click.argument("name")
@click.pass_context
@friendly
def rm(ctx: click.Context, name: str) -> None:
    """Delete a profile (its encrypted state; captures made with it keep their provenance)."""
    if not _store(ctx).remove(name):
        raise UserError(f"no profile named {name!r} (lastseen profile ls)")
    out.print(f"profile {marked(name)} deleted")


def check_profiles(ctx: click.Context, jobs: list[Any]) -> None:
    """Every profile the jobs name exists and can be decrypted: a one-line error before anything
    is captured."""
    names = sorted({job.profile for job in jobs if job.profile})
    if names:
        store = _store(ctx)
        for name in names:
            store.get(name)


def paused_jobs(db_url: str | None, jobs: list[Any]) -> tuple[list[Any], list[str]]:
    """A scheduled run's jobs, less those whose profile is signed out (they wait until it is
    signed in again: a login wall every run proves nothing); and a line for each paused one."""
    names = {job.profile for job in jobs if job.profile}
    if not names:
        return jobs, []
    store = open_profiles(db_url)
    out_since = {}
    for name in names:
        p = store.find(name)
        if p is not None and p.signed_out_since:
            out_since[name] = p.signed_out_since
    keep = [job for job in jobs if job.profile not in out_since]
    lines = [
        f"{job.url}: profile {job.profile} signed out since {out_since[job.profile]}"
        for job in jobs
        if job.profile in out_since
    ]
    return keep, lines


def report_login_walls(ctx: click.Context, jobs: list[Any], summaries: list[Any]) -> None:
    """Tell the operator which profiles are signed out after this run (on stderr)."""
    walled = [s for s in summaries if s.get("outcome") == "login-wall"]
    names = sorted({job.profile for job in jobs if job.profile})
    if not walled or not names:
        return
    store = _store(ctx)
    for name in names:
        p = store.find(name)
        if p is not None and p.signed_out_since:
            err.print(
                f"[yellow]profile {marked(name)} ({marked(p.account)}) is signed out since "
                f"{p.signed_out_since}[/]: {len(walled)} capture(s) met a login wall; sign in "
                f"again (lastseen profile login/import {marked(name)})",
                soft_wrap=True,
            )


COMMANDS = [profile]

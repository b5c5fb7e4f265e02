"""The whole portal in headless Chromium: register -> log in -> upload a watchlist ->
build, run and activate a filter -> replay the real alerts through a worker running the
ingest, sherlock and filter agents -> the match arrives in the live feed -> object page.
Screenshots of every step are kept in test-artifacts/browser/.
"""
from __future__ import annotations

import asyncio
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from solas.replay import replay
from solas.workers import start_worker, stop_worker
from tests.integration.web.conftest import SAMPLES
from web.config import LIVE as LIVE_HUB
from web.sky import ID_COLUMNS, POSITION_COLUMNS

pytestmark = pytest.mark.integration


def replay_samples(settings) -> int:
    """Replay the real sample alerts of the survey; returns the messages sent."""
    folder = settings.data_dir / "alerts" / settings.survey
    paths = [str(folder / name) for name in SAMPLES[settings.survey]]
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        return pool.submit(asyncio.run, replay(settings, paths, progress=False)).result().messages


def test_register_upload_filter_live_object(server, sample_objects, page, artifacts,
                                            tmp_path):
    survey = server.settings.survey
    oid_col = ID_COLUMNS[survey]
    target = next(r for r in sample_objects if r[POSITION_COLUMNS[survey][0]] is not None)
    oid = target[oid_col]
    ra, dec = (target[c] for c in POSITION_COLUMNS[survey])
    shot = lambda name: page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    name = f"b{uuid.uuid4().hex[:8]}"

    # register (logs in), log out, log in again
    page.goto(f"{server.url}/register")
    page.fill("input[name=username]", name)
    page.fill("input[name=email]", f"{name}@example.org")
    page.fill("input[name=password]", "a browser password")
    page.fill("input[name=password2]", "a browser password")
    shot("01-register")
    page.click("#register-form button")
    page.wait_for_url(re.compile(r"/profile$"))
    page.click("header button:has-text('Log out')")
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "a browser password")
    page.click("#login-form button")
    assert page.locator("#profile-link").inner_text() == name
    shot("02-logged-in")

    # upload a watchlist with a cone on the target object
    csv = tmp_path / "watchlist.csv"
    csv.write_text(f"name,ra,dec,radius\ntarget,{ra},{dec},2\nbad,999,0\n")
    page.goto(f"{server.url}/watchlists")
    page.set_input_files("#watchlist-form input[type=file]", str(csv))
    page.fill("#watchlist-form input[name=name]", "browser list")
    page.check("#watchlist-form input[name=active]")
    page.click("#watchlist-form button")
    page.wait_for_url(re.compile(r"/watchlists/\d+$"))
    wl_id = int(page.url.rsplit("/", 1)[1])
    page.wait_for_selector(f"#hits a:has-text('{oid}')", timeout=60_000)
    assert "1 rejected lines" in page.content()
    shot("03-watchlist")

    # build the filter: autocompletion, run, save active with Kafka output
    page.goto(f"{server.url}/filters/new")
    page.wait_for_selector("#schema-tree details")
    page.fill("textarea[name=selected]", "")
    page.click("textarea[name=selected]")
    page.keyboard.type(f"objects.{oid_col[:5]}")
    page.wait_for_selector(f"#completions div:has-text('objects.{oid_col}')")
    page.keyboard.press("Enter")
    page.keyboard.type(", watchlist_hits.name")
    assert page.input_value("textarea[name=selected]") == \
        f"objects.{oid_col}, watchlist_hits.name"
    page.fill("input[name=tables]", f"objects, watchlist:{wl_id}")
    page.click("#run-filter")
    page.wait_for_selector("#result-table")
    assert str(oid) in page.inner_text("#result-table")
    shot("04-filter-run")
    page.fill("input[name=name]", "browser filter")
    page.select_option("select[name=run]", "1")
    page.select_option("select[name=output]", "2")
    page.click("#save-filter")
    page.wait_for_url(re.compile(r"/filters/\d+$"))
    filter_id = int(page.url.rsplit("/", 1)[1])
    topic = page.inner_text("#topic-name")
    assert topic == f"{server.settings.topic_prefix}{filter_id}"
    assert topic in page.inner_text("#consumer-snippet")
    shot("05-filter-saved")

    # the live feed of the filter; the real alerts are replayed through the pipeline
    page.goto(f"{server.url}/live?filter={filter_id}")
    page.wait_for_selector("#live-state[data-state=open]")
    hub = server.app[LIVE_HUB]
    deadline = time.monotonic() + 30
    while not hub.ready.is_set() and time.monotonic() < deadline:
        time.sleep(0.1)
    worker = start_worker(server.settings, ["ingest", "sherlock", "filter"], 8)
    try:
        replay_samples(server.settings)
        page.wait_for_selector(f"tr.live-row[data-object='{oid}']", timeout=240_000)
    finally:
        stop_worker(worker)
    assert "target" in page.inner_text(f"tr.live-row[data-object='{oid}']")
    shot("06-live-match")

    # follow the match to the object page: light curve and cutouts
    page.click(f"tr.live-row[data-object='{oid}'] a.live-object")
    page.wait_for_selector("#lightcurve svg .lc-point")
    assert page.inner_text("#object-title") == str(oid)
    assert page.locator("#lightcurve svg .lc-point").count() > 0
    page.check("input[name=lc-mode][value=mag]")
    page.wait_for_function(
        "() => document.querySelectorAll('img.cutout').length === 3 && "
        "[...document.querySelectorAll('img.cutout')].every(i => i.complete && i.naturalWidth > 0)")
    assert "browser list" in page.inner_text("#watchlist-hits")
    shot("07-object-page")

"""The portal's pages work under its Content-Security-Policy (issue 32 item 4): no
violation is reported in Chromium, the scripts still run, and the delete buttons still
ask before they delete (data-confirm instead of inline handlers)."""
from __future__ import annotations

import re
import uuid

import pytest

from web.middleware import CONTENT_SECURITY_POLICY
from web.sky import ID_COLUMNS

pytestmark = pytest.mark.integration


def test_pages_run_under_the_csp(server, sample_objects, page):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    oid = sample_objects[0][ID_COLUMNS[server.settings.survey]]
    name = f"c{uuid.uuid4().hex[:8]}"
    page.goto(f"{server.url}/register")
    page.fill("input[name=username]", name)
    page.fill("input[name=email]", f"{name}@example.org")
    page.fill("input[name=password]", "a browser password")
    page.fill("input[name=password2]", "a browser password")
    page.click("#register-form button")
    page.wait_for_url(re.compile(r"/profile$"))
    for path in ("/", "/status", "/schema", "/watchlists", "/watchmaps", "/annotators",
                 "/live", "/profile", f"/search?q={oid}"):
        response = page.goto(f"{server.url}{path}")
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
    page.goto(f"{server.url}/objects/{oid}")
    page.wait_for_selector("#lightcurve svg .lc-point")  # lightcurve.js ran
    page.goto(f"{server.url}/filters/new")
    page.wait_for_selector("#schema-tree details")  # builder.js fetched the schema
    page.fill("textarea[name=selected]", f"objects.{ID_COLUMNS[server.settings.survey]}")
    page.click("#run-filter")
    page.wait_for_selector("#result-table")
    page.fill("input[name=name]", "csp filter")
    page.click("#save-filter")
    page.wait_for_url(re.compile(r"/filters/\d+$"))
    filter_url = page.url
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Delete filter')")
    page.wait_for_timeout(500)
    assert page.url == filter_url  # dismissed: nothing deleted
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete filter')")
    page.wait_for_url(re.compile(r"/filters$"))
    assert page.goto(filter_url).status == 404
    assert violations == []

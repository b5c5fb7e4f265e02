"""Links and redirects are safe (issue 32 item 4): only http(s) links are stored or
shown, a login's ``next`` is a path on this site, and pages send a CSP."""
from __future__ import annotations

import jinja2
import pytest

from web import forms
from web.annotations import _annotation, annotator_fields
from web.middleware import CONTENT_SECURITY_POLICY
from web.pages import setup_filters
from web.security import is_http_url, local_path

HOSTILE_URLS = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                "vbscript:msgbox(1)", "//evil.example/x", "/relative", "http://",
                "http:\\\\evil.example", "https://ok.example/\nx", "ftp://files.example/"]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_only_http_urls_are_links(url):
    assert not is_http_url(url)


@pytest.mark.parametrize("url", ["http://example.org", "https://example.org/a?b=c#d",
                                 "HTTPS://Example.org:8443/x"])
def test_http_urls_are_links(url):
    assert is_http_url(url)


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example",
                                    "/\n/evil.example",
                                    "https://evil.example", "evil.example", "", " /x",
                                    "/\x00/evil", "javascript:alert(1)"])
def test_next_must_be_a_path_on_this_site(target):
    assert local_path(target) == "/"


@pytest.mark.parametrize("target", ["/", "/filters/12", "/objects/ZTF21abc?x=1#top",
                                    "/%09/evil.example"])
def test_local_paths_are_kept(target):
    # "/%09/..." stays encoded in the path: the browser does not strip it
    assert local_path(target) == target


def test_annotation_and_annotator_urls_refuse_other_schemes():
    item = {"objectId": 1, "topic": "finder", "classification": "SN",
            "url": "javascript:alert(1)"}
    with pytest.raises(forms.BadRequest, match="url: must be an http"):
        _annotation("lsst", item, -1)
    assert _annotation("lsst", {**item, "url": "https://x.example/1"}, -1)["url"] == \
        "https://x.example/1"
    assert _annotation("lsst", {**item, "url": ""}, -1)["url"] == ""
    with pytest.raises(forms.BadRequest, match="url: must be an http"):
        annotator_fields({"topic": "finder", "url": "javascript:alert(1)"})


def test_stored_links_of_other_schemes_are_not_rendered(tmp_path):
    env = jinja2.Environment(autoescape=True)
    setup_filters(env)
    template = env.from_string('{% if u|http_link %}<a href="{{ u|http_link }}">x</a>{% endif %}')
    assert template.render(u="javascript:alert(1)") == ""
    assert template.render(u="https://a.example/?q=<b>") == \
        '<a href="https://a.example/?q=&lt;b&gt;">x</a>'


def test_the_csp_allows_only_the_portal_itself():
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"


def test_templates_have_no_inline_script_handler_or_style():
    """What the CSP would block: inline event handlers, scripts and style attributes."""
    import re
    from pathlib import Path

    import web
    folder = Path(web.__file__).resolve().parent / "templates"
    for path in folder.glob("*.html"):
        html = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", html), path.name
        assert not re.search(r"\sstyle\s*=|<style", html), path.name
        for script in re.findall(r"<script[^>]*>", html):
            assert "src=" in script or 'type="application/json"' in script, path.name

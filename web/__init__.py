"""Solas web: the portal (aiohttp + jinja2), the Lasair-compatible REST API and the live
WebSocket feed of filter matches.

:func:`web.main.create_app` builds the application (pools opened in ``cleanup_ctx``),
:func:`web.main.run_web` serves it; :func:`web.accounts.add_user` creates accounts from
the command line.
"""

"""The web portal (issue 8): where units answer their reminders.

:mod:`~engine.web.tokens` signs links and sessions, :mod:`~engine.web.links` builds the
links a digest carries, :mod:`~engine.web.app` is the ASGI application (Starlette,
Jinja2 templates in ``templates/``). Every change goes through
:mod:`engine.store.portal_ops` or :mod:`engine.store.ops`, the functions the CLI uses.
"""

"""The alert console: a store of alerts (SQLite or PostgreSQL), a small JSON API over it and a static page.

It runs inside the agent (``webui.enabled``: the store is fed by an output channel, the page is mounted on
the webserver) or standalone (``lanner console``: alerts arrive as Falco's ``http_output`` JSON POSTs from
any number of agents). Nothing is served without an access token or basic-auth credentials.
"""

"""The dashboard's pages: each module has PATH, TITLE, `layout()` (no data read) and `register(app, ctx)`."""

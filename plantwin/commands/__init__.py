"""One module per command (or group); each defines `register(app: typer.Typer)`."""

"""``python -m microexpr`` runs the CLI."""

from microexpr.cli import app

app(prog_name="microexpr")

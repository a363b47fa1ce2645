"""`edge central ...`: central PostgreSQL schema commands."""

import typer

central_app = typer.Typer(help="Central PostgreSQL: migrate, maintain partitions, refresh summaries.", no_args_is_help=True)

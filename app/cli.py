"""`vivant serve | worker | animate | import | createuser | setpassword | backup | restore | check | models |
metrics | bench`.

Imports are made inside each command: `vivant animate` must start fast and never load torch or the
web framework it does not need.
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.defaults import DEFAULT_DEPTH, DEFAULT_MAX_PIXELS
from worker.choices import AMBIENTS, DEPTH_MODES, ENGINE_NAMES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.config import Settings
    from worker.choices import Ambient, Camera, DepthMode, Strength

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the database, media and embedded broker live (VIVANT_DATA_DIR; default ./vivant-data).",
)


def _settings(data_dir: Path | None = None) -> Settings:
    from pydantic import ValidationError

    from app.config import Settings

    try:
        return Settings(data_dir=data_dir) if data_dir else Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings: {exc.errors()[0]['msg']}") from None


class ProgressLine:
    """A one-line progress bar on stderr (stdout stays clean for the result)."""

    def __init__(self, label: str, width: int = 30):
        self.label, self.width = label, width
        self.started = time.monotonic()
        self.interactive = sys.stderr.isatty()
        self._last_shown = -1

    def __call__(self, fraction: float) -> None:
        percent = int(fraction * 100)
        if percent == self._last_shown or (not self.interactive and percent % 25 and percent != 100):
            return
        self._last_shown = percent
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\r" if self.interactive and percent < 100 else "\n"
        click.echo(
            f"{self.label} [{bar}] {percent:3d}% {time.monotonic() - self.started:5.1f}s", err=True, nl=False
        )
        click.echo(end, err=True, nl=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Vivant: a family's photos, gently brought to life."""


def _exit_normally(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for the LAN)."
)
@click.option("--port", default=8000, show_default=True, type=int)
@DATA_DIR_OPTION
@click.option(
    "--no-worker", is_flag=True, help="Do not start a worker (use separate `vivant worker` processes)."
)
def serve(host: str, port: int, data_dir: Path | None, no_worker: bool) -> None:
    """Apply migrations, start the web app and a supervised worker; print the URL to open."""
    import uvicorn

    from app.main import create_app
    from app.migrate import upgrade
    from app.supervisor import WorkerSupervisor
    from app.watchdog import Watchdog

    settings = _settings(data_dir)
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url, settings.media_dir)
    # The port is taken before anything else starts, so "running" is only printed when it is true and
    # a port already in use ends here with a reason, not after a worker was started for nothing.
    listener = _listening_socket(host, port)
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again, which would end this
    # process before the `finally` below stops the worker, leaving it orphaned: exit normally instead.
    signal.signal(signal.SIGTERM, _exit_normally)
    app = create_app(settings)
    supervisor = (
        None
        if no_worker
        else WorkerSupervisor(settings, watchdog=Watchdog(app.state.services.database, settings.watchdog_s))
    )
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"  # an IPv6 address in a URL
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    try:
        if supervisor:
            supervisor.start()
        click.echo(
            f"Vivant is running: open http://{shown_host}:{port}/  (data in {settings.data_dir.resolve()})"
        )
        if host in ("0.0.0.0", "::"):
            click.echo(_home_network_line(port, settings.public_url))
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        if supervisor:
            supervisor.stop()


def _home_network_line(port: int, public_url: str) -> str:
    from app.lan import lan_address

    address = lan_address()
    if address is None:
        return "No home network address found: other devices cannot reach this computer yet."
    line = f"On your home network: http://{address}:{port}/"
    if not public_url:
        line += f"  (set VIVANT_PUBLIC_URL=http://{address}:{port} so share links use it)"
    return line


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or a ClickException that says why not."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host}: {exc.strerror}") from None
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restarted Vivant take the port back while the old connections linger in TIME_WAIT.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        in_use = exc.errno == errno.EADDRINUSE
        hint = " (is Vivant already running? choose another with --port)" if in_use else ""
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    # Listening now, not when uvicorn starts: a browser opened at once is queued, not refused.
    listener.listen(2048)
    return listener


@main.command()
@click.option("--queues", default="cpu,gpu", show_default=True, help="Comma-separated queues to consume.")
@click.option(
    "--concurrency", type=int, default=None, help="Clips rendered at once (VIVANT_WORKER_CONCURRENCY)."
)
@click.option(
    "--quiet", is_flag=True, help="No banner; warnings and errors only (as `vivant serve` runs it)."
)
@DATA_DIR_OPTION
def worker(queues: str, concurrency: int | None, quiet: bool, data_dir: Path | None) -> None:
    """Run a worker alone, for scale-out (GPU machines: --queues gpu)."""
    import warnings

    from celery.exceptions import SecurityWarning

    from worker.celery_app import QUEUES, create_celery

    # Celery warns root about pickle; Vivant's workers accept JSON only, which is what makes root safe.
    warnings.filterwarnings("ignore", category=SecurityWarning)

    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [q for q in wanted if q not in QUEUES]
    if unknown or not wanted:
        raise click.BadParameter(f"queues must be among {', '.join(QUEUES)}", param_hint="--queues")
    settings = _settings(data_dir)
    celery = create_celery(settings)
    # Through Celery's own command line, whose global --quiet drops the banner.
    celery.start(
        [
            *(["--quiet"] if quiet else []),
            "worker",
            "--queues",
            ",".join(wanted),
            "--concurrency",
            str(concurrency or settings.worker_concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING" if quiet else "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"vivant-{'-'.join(wanted)}@%h",
        ]
    )


@main.command()
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output MP4 (default: PHOTO's name with .mp4 next to it).",
)
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="parallax", show_default=True)
@click.option(
    "--preset", default=None, help="Model preset of the diffusers engine (see `vivant models list`)."
)
@click.option(
    "--strength", type=click.Choice(["whisper", "gentle", "lively"]), default="gentle", show_default=True
)
@click.option(
    "--camera",
    type=click.Choice(["auto", "still", "push", "drift", "orbit"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--ambient",
    type=click.Choice(AMBIENTS),
    default="auto",
    show_default=True,
    help="Motion in the scene itself where the photo has it: a drifting sky, shimmering water, stirring "
    "leaves, breathing light (auto), or none (off).",
)
@click.option("--seconds", type=float, default=4.0, show_default=True)
@click.option("--fps", type=int, default=24, show_default=True)
@click.option(
    "--long-side", type=int, default=1280, show_default=True, help="Long side of the clip in pixels."
)
@click.option("--loop", is_flag=True, help="Make the last frame flow back into the first.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--keep-still",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PNG mask the size of the photo: white areas stay exactly still.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    envvar="VIVANT_MAX_PIXELS",
    help="Refuse a photo with more pixels than this (also read from VIVANT_MAX_PIXELS).",
)
@click.option(
    "--depth",
    type=click.Choice(DEPTH_MODES),
    default=DEFAULT_DEPTH,
    show_default=True,
    envvar="VIVANT_DEPTH",
    help="The parallax engine's depth: the learned model where `vivant models pull depth` fetched it (auto), "
    "or always the weight-free estimate (also read from VIVANT_DEPTH).",
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="VIVANT_MODEL_DIR",
    help="Where model weights are looked for before the Hugging Face cache (also read from "
    "VIVANT_MODEL_DIR).",
)
@click.option(
    "--metrics",
    "all_metrics",
    is_flag=True,
    help="Measure everything the clip page shows (fidelity, flicker, smoothness, edges, parallax, loop "
    "seam) and print it as JSON before the path. By default only the motion is measured.",
)
def animate(
    photo: Path,
    output: Path | None,
    engine: str,
    preset: str | None,
    strength: Strength,
    camera: Camera,
    ambient: Ambient,
    seconds: float,
    fps: int,
    long_side: int,
    loop: bool,
    seed: int,
    keep_still: Path | None,
    max_pixels: int,
    depth: DepthMode,
    model_dir: Path | None,
    all_metrics: bool,
) -> None:
    """Make one clip from PHOTO, with no server; prints the output path last."""
    from worker.standalone import animate_file

    output = output or photo.with_suffix(".mp4")
    try:
        result = animate_file(
            photo,
            output,
            engine=engine,
            preset=preset,
            strength=strength,
            camera=camera,
            ambient=ambient,
            seconds=seconds,
            fps=fps,
            long_side=long_side,
            loop=loop,
            seed=seed,
            keep_still=keep_still,
            all_metrics=all_metrics,
            progress=ProgressLine(photo.name),
            # The settings this command needs, as options reading the same variables: the settings
            # machinery would take a tenth of a second of the few this command runs.
            max_pixels=max_pixels,
            depth=depth,
            model_dir=model_dir,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    low, high = result.metrics["band"]
    click.echo(
        f"{result.width}x{result.height}, {result.frames} frames; motion {result.metrics['flow_mean']:.2f} "
        f"px/frame at 720 px ({strength}: {low}-{high}, {result.metrics['gate'].replace('_', ' ')}); "
        f"ambient: {', '.join(result.metrics['ambient']) or 'none'}",
        err=True,
    )
    if all_metrics:
        import json

        click.echo(json.dumps(result.metrics, indent=2))
    click.echo(str(output))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@contextmanager
def _accounts(data_dir: Path | None) -> Iterator[Session]:
    """A database session on migrated settings; an AuthError ends the command with its reason."""
    from app.auth import AuthError
    from app.db import Database
    from app.migrate import upgrade

    settings = _settings(data_dir)
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url, settings.media_dir)
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            yield session
    except AuthError as exc:
        raise click.ClickException(exc.detail) from None
    finally:
        database.dispose()


@main.command()
@click.argument("email")
@click.option("--admin", is_flag=True, help="May add members.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@DATA_DIR_OPTION
def createuser(email: str, admin: bool, password_stdin: bool, data_dir: Path | None) -> None:
    """Add an account."""
    from app.auth import create_user

    password = _read_password(password_stdin)
    with _accounts(data_dir) as session:
        user = create_user(session=session, email=email, password=password, is_admin=admin)
        click.echo(f"created {'administrator' if user.is_admin else 'member'} {user.email}")


@main.command()
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@DATA_DIR_OPTION
def setpassword(email: str, password_stdin: bool, data_dir: Path | None) -> None:
    """Give an account a new password (e.g. an admin who forgot theirs); it is signed out everywhere."""
    from app.auth import normalise_email, set_password, user_by_email

    password = _read_password(password_stdin)
    with _accounts(data_dir) as session:
        user = user_by_email(session, email)
        if user is None:
            raise click.ClickException(f"no account {normalise_email(email)}")
        set_password(session=session, user=user, new=password)
        click.echo(f"new password set for {user.email}")


@main.command(name="import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--animate", "make_clips", is_flag=True, help="Queue a clip for every new photo.")
@click.option(
    "--owner", default=None, help="E-mail of the account the photos belong to (default: first admin)."
)
@DATA_DIR_OPTION
def import_(directory: Path, make_clips: bool, owner: str | None, data_dir: Path | None) -> None:
    """Add every photo in DIRECTORY (recursively), with a progress bar."""
    from app.diskspace import DiskFull
    from app.importer import import_directory

    settings = _settings(data_dir)
    try:
        report = import_directory(
            directory,
            settings=settings,
            owner_email=owner,
            animate=make_clips,
            progress=ProgressLine("import"),
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except DiskFull as exc:
        # The photos added before it stay; running the import again skips them as already there.
        raise click.ClickException(f"import stopped: {exc.detail}") from None
    for name, reason in report.refused:
        click.echo(f"refused {name}: {reason}", err=True)
    click.echo(
        f"{report.added} added, {report.duplicates} already there, {len(report.refused)} refused, "
        f"{report.queued} clips queued"
    )


def _say(line: str) -> None:
    click.echo(line, err=True)


@main.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@DATA_DIR_OPTION
def backup(dest: Path, data_dir: Path | None) -> None:
    """Back up the database, media and secret key into DEST, while Vivant runs.

    Again into the same DEST, only what changed is copied. Exits 1 when files were missing."""
    from app.backup import run_backup
    from app.errors import CommandError

    try:
        report = run_backup(_settings(data_dir), dest, say=_say, progress=ProgressLine)
    except CommandError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    if report.manifest.missing:
        sys.exit(1)


@main.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new, empty folder to restore into (and VIVANT_DATABASE_URL an empty database, for PostgreSQL).",
)
def restore(source: Path, data_dir: Path) -> None:
    """Restore a backup made by `vivant backup`, checking every file against its sha256."""
    from app.errors import CommandError
    from app.restore import run_restore

    try:
        report = run_restore(source, _settings(data_dir), say=_say, progress=ProgressLine)
    except CommandError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    if report.bad:
        sys.exit(1)


@main.command()
@click.option(
    "--repair", is_flag=True, help="Make again what can be: display copies, thumbnails, lost clips."
)
@DATA_DIR_OPTION
def check(repair: bool, data_dir: Path | None) -> None:
    """Check every original against its sha256, and find rows without files and files without rows.

    Exits 1 while problems remain. --repair never deletes anything."""
    from app.check import run_check
    from app.errors import CommandError

    try:
        report = run_check(_settings(data_dir), repair=repair, progress=ProgressLine("originals"))
    except CommandError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


@main.group()
def models() -> None:
    """Model weights: the diffusers engine's presets and the parallax engine's optional depth model."""


@models.command(name="list")
def models_list() -> None:
    """Each model, its licence, where its weights are expected and whether they are there."""
    from worker.engines.presets import models_list_text

    click.echo(models_list_text(_settings()))


@models.command(name="pull")
@click.argument("name")
def models_pull(name: str) -> None:
    """Download a preset's weights, or the depth model's with NAME `depth` (needs internet and
    `pip install .[gpu]`)."""
    from worker.engines.base import EngineError
    from worker.engines.presets import pull_model

    try:
        path = pull_model(name, _settings())
    except EngineError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(path))


@main.command()
@click.argument("clip", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--photo",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The photo the clip was made from (for first-frame fidelity).",
)
def metrics(clip: Path, photo: Path | None) -> None:
    """Measure a clip's motion and fidelity; prints JSON."""
    from worker.metrics import metrics_command

    click.echo(metrics_command(clip, photo, max_pixels=_settings().max_pixels))


@main.command()
@click.argument("photos", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("vivant-bench"),
    show_default=True,
    help="where the clips and their contact sheets go",
)
@click.option(
    "--repeat", type=click.IntRange(1), default=3, show_default=True, help="runs timed; the best is kept"
)
def bench(photos: tuple[Path, ...], out: Path, repeat: int) -> None:
    """Render photos (files or folders; in a checkout, its test photos and scenes by default), print the
    table of motion targets beside ffmpeg's zoompan, and write a contact sheet per clip."""
    from worker.bench import CHECKOUT_PHOTOS, CHECKOUT_SCENES, photos_in, run

    if not photos and not CHECKOUT_PHOTOS.is_dir():
        raise click.UsageError(
            "name the photos to bench, or a folder of them: vivant bench PHOTO_OR_FOLDER ..."
        )
    found = photos_in(list(photos) or [d for d in (CHECKOUT_PHOTOS, CHECKOUT_SCENES) if d.is_dir()])
    if not found:
        raise click.UsageError(f"no photos in {', '.join(map(str, photos))}")
    run(found, out, repeat)


if __name__ == "__main__":
    main()

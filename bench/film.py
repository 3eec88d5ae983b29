"""Composing album films: seconds per film-second and peak memory, by album length.

`python -m bench.film [--items 10 30 100] [--long-side 1280] [--clip-seconds 4]` encodes a few clips at
the film's size with the project's encoder (a colour field with a sweeping bar: every frame differs),
then composes films of N items from them (every third photo without a clip, shown still), each in a
fresh process so that its peak memory is its own. Prints one row per N.

`python -m bench.film --compose LIST.json OUT.mp4 --long-side N` composes one film from a JSON list of
[still, clip or null] and prints one JSON line of its figures (tests/test_film.py uses it too).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.film_clips import make_entry
from worker.film_plan import FilmEntry, FilmTiming

COLOURS = [(190, 60, 50), (40, 150, 90), (50, 80, 170), (200, 170, 60), (120, 60, 140)]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compose_one(listing: Path, output: Path, long_side: int) -> dict[str, float]:
    from worker.film import compose_film

    entries = [
        FilmEntry(Path(still), Path(clip) if clip else None)
        for still, clip in json.loads(listing.read_text())
    ]
    before = _peak_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    result = compose_film(entries, output, long_side=long_side)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    frame_mib = result.width * result.height * 3 / 2**20
    return {
        "items": len(entries),
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "duration_s": result.duration_s,
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_mib": _peak_mib(),
        "peak_before_mib": before,
        "decoded_mib": result.frames * frame_mib,
        "size_mib": output.stat().st_size / 2**20,
    }


def run_compose(entries: list[FilmEntry], folder: Path, long_side: int) -> dict[str, float]:
    """Compose in a fresh interpreter and return its figures."""
    listing = folder / f"film-{len(entries)}.json"
    listing.write_text(json.dumps([[str(e.still), str(e.clip) if e.clip else None] for e in entries]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.film",
            "--compose",
            str(listing),
            str(folder / f"film-{len(entries)}.mp4"),
            "--long-side",
            str(long_side),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


def sources(folder: Path, long_side: int, clip_seconds: float) -> list[FilmEntry]:
    """Three landscape clips, a portrait one, and a photo without a clip (last)."""
    short = round(long_side * 9 / 16 / 2) * 2
    frames = round(clip_seconds * FilmTiming().fps)
    made = [
        make_entry(folder, f"c{i}", size=(long_side, short), colour=colour, frames=frames)
        for i, colour in enumerate(COLOURS[:3])
    ]
    made.append(make_entry(folder, "portrait", size=(short, long_side), colour=COLOURS[3], frames=frames))
    made.append(make_entry(folder, "still", size=(long_side, short), colour=COLOURS[4], with_clip=False))
    return made


def album(made: list[FilmEntry], items: int) -> list[FilmEntry]:
    """`items` entries cycling through the clips, every third one the still."""
    clips = made[:-1]
    return [made[-1] if i % 3 == 2 else clips[i % len(clips)] for i in range(items)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--long-side", type=int, default=1280)
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--compose", nargs=2, type=Path, metavar=("LIST", "OUT"))
    args = parser.parse_args()
    if args.compose:
        print(json.dumps(compose_one(*args.compose, args.long_side)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"film {args.long_side} px long side, clips of {args.clip_seconds} s, every third item a still")
        print(
            "| items | film | film length | wall | CPU | wall per film-second | peak RSS "
            "| RSS before composing | all its frames decoded |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        made = sources(folder, args.long_side, args.clip_seconds)
        for items in args.items:
            f = run_compose(album(made, items), folder, args.long_side)
            print(
                f"| {items} | {f['width']}x{f['height']} | {f['duration_s']:.1f} s | {f['seconds']:.1f} s "
                f"| {f['cpu_seconds']:.1f} s | {f['seconds'] / f['duration_s']:.3f} s "
                f"| {f['peak_mib']:.0f} MiB | {f['peak_before_mib']:.0f} MiB | {f['decoded_mib']:.0f} MiB |"
            )


if __name__ == "__main__":
    main()

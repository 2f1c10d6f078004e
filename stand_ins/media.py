"""Makes the test inputs with the real ffmpeg command: ``python -m stand_ins.media DIR``.

Each file is what a Telegram user could send: an OGG/Opus voice note, an MP3, an M4A, a
video note (MP4 with AAC), a WAV, a silent note, a note with a pause in the middle, a corrupt
file, a PDF-like document and an MP4 without sound.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TONE_HZ = 440


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def make(out: Path) -> dict[str, Path]:
    """Create every input in ``out`` (skipping those already there); returns them by name."""
    out.mkdir(parents=True, exist_ok=True)
    sine = f"sine=frequency={TONE_HZ}:sample_rate=48000"
    files = {
        "voice.ogg": ["-f", "lavfi", "-i", f"{sine}:duration=3", "-ac", "1",
                      "-c:a", "libopus", "-b:a", "32k", "-application", "voip"],
        "voice_30s.ogg": ["-f", "lavfi", "-i", f"{sine}:duration=30", "-ac", "1",
                          "-c:a", "libopus", "-b:a", "32k"],
        "song.mp3": ["-f", "lavfi", "-i", f"{sine}:duration=2", "-ac", "2", "-c:a", "libmp3lame"],
        "memo.m4a": ["-f", "lavfi", "-i", f"{sine}:duration=2", "-ac", "1", "-c:a", "aac"],
        "plain.wav": ["-f", "lavfi", "-i", f"{sine}:duration=2", "-ac", "1", "-c:a", "pcm_s16le"],
        "circle.mp4": ["-f", "lavfi", "-i", "color=c=blue:s=240x240:d=2:r=15",
                       "-f", "lavfi", "-i", f"{sine}:duration=2",
                       "-c:v", "mpeg4", "-c:a", "aac", "-shortest"],
        "mute.mp4": ["-f", "lavfi", "-i", "color=c=red:s=64x64:d=1:r=10", "-c:v", "mpeg4"],
        "silent.ogg": ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono:d=3",
                       "-c:a", "libopus"],
        "pause.ogg": ["-f", "lavfi", "-i",
                      f"{sine}:duration=4,volume='if(between(t,1.5,2.5),0,1)':eval=frame",
                      "-ac", "1", "-c:a", "libopus"],
        "long.ogg": ["-f", "lavfi", "-i", f"{sine}:duration=130", "-ac", "1",
                     "-c:a", "libopus", "-b:a", "16k"],
    }  # fmt: skip
    made: dict[str, Path] = {}
    for name, args in files.items():
        path = out / name
        if not path.exists():
            _ffmpeg(*args, str(path))
        made[name] = path
    corrupt = out / "corrupt.ogg"
    if not corrupt.exists():
        good = made["voice.ogg"].read_bytes()
        corrupt.write_bytes(b"OggS" + bytes(range(256)) * 8 + good[-200:])
    made["corrupt.ogg"] = corrupt
    doc = out / "notes.pdf"
    if not doc.exists():
        doc.write_bytes(b"%PDF-1.4\n% not audio\n" + b"0" * 500)
    made["notes.pdf"] = doc
    return made


if __name__ == "__main__":
    for name, path in make(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/out")).items():
        print(f"{name}: {path.stat().st_size} bytes")

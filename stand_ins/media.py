"""Makes the test inputs with the real ffmpeg command: ``python -m stand_ins.media DIR``.

Each file is what a Telegram user could send: an OGG/Opus voice note, an MP3, an M4A, a
video note (MP4 with AAC), a WAV, a silent note, a note with a pause in the middle, a corrupt
file, a PDF-like document and an MP4 without sound. ``make_containers`` makes one second of
the same tone in each container people send (and in AIFF, one the bot does not take), and
MP3 and AAC files of two parts with different rates and channels back to back.
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


def make_containers(out: Path) -> dict[str, Path]:
    """One second of the tone, mono, in each container, and the two chained files of two seconds
    (skipping those already there); returns them by name."""
    out.mkdir(parents=True, exist_ok=True)
    tone = ["-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate=48000:duration=1"]
    files = {
        "opus.ogg": ["-c:a", "libopus", "-b:a", "32k", "-application", "voip"],
        "vorbis.ogg": ["-c:a", "libvorbis"],
        "tone.mp3": ["-c:a", "libmp3lame"],
        "tone.m4a": ["-c:a", "aac"],
        "tone.3gp": ["-c:a", "aac", "-ar", "16000"],
        "tone.wav": ["-c:a", "pcm_s16le"],
        "tone.webm": ["-c:a", "libopus"],
        "tone.mka": ["-c:a", "aac"],
        "tone.flac": ["-c:a", "flac"],
        "tone.aac": ["-c:a", "aac", "-f", "adts"],
        "tone.aiff": ["-c:a", "pcm_s16be"],
    }  # fmt: skip
    made: dict[str, Path] = {}
    for name, args in files.items():
        path = out / name
        if not path.exists():
            _ffmpeg(*tone, "-ac", "1", *args, str(path))
        made[name] = path
    # What joining two streams byte by byte gives (no tags in between): the second part has
    # another sample rate and two channels.
    for name, codec, muxer in (
        ("chained.mp3", "libmp3lame", ["-f", "mp3", "-id3v2_version", "0", "-write_xing", "0"]),
        ("chained.aac", "aac", ["-f", "adts"]),
    ):
        path = out / name
        if not path.exists():
            parts = []
            for part, (hz, channels) in enumerate(((44_100, 1), (22_050, 2))):
                part_path = out / f"part{part}.{name}"
                sine = f"sine=frequency={TONE_HZ}:sample_rate={hz}:duration=1"
                _ffmpeg("-f", "lavfi", "-i", sine, "-ac", str(channels), "-c:a", codec, *muxer,
                        str(part_path))  # fmt: skip
                parts.append(part_path.read_bytes())
                part_path.unlink()
            path.write_bytes(b"".join(parts))
        made[name] = path
    return made


if __name__ == "__main__":
    for name, path in make(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/out")).items():
        print(f"{name}: {path.stat().st_size} bytes")

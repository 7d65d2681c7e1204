"""Audio in: checked, decoded and brought to what the recogniser hears (16 kHz mono, padded, never digital silence).

Every way a request's audio can be unusable is refused before any recognition, with one error that says what was
wrong and what to send instead; the serving API answers each with its own 4xx (`status`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd

import numpy as np

from pinsandbox.errors import InvalidInput

RATE = 16_000  # the en-us acoustic model's sample rate
MAX_SECONDS = 10.0  # a shopping request takes 2–5 s; longer is a stuck recorder, not a request
MAX_BYTES = 4 * 1024 * 1024  # 10 s of 48 kHz stereo float32 is 3.8 MB
FORMATS = {"WAV": (b"RIFF", 8, b"WAVE"), "FLAC": (b"fLaC", 0, b""), "OGG": (b"OggS", 0, b"")}
# Audio the recogniser cannot read, recognised by its first bytes so the answer can say what it was.
OTHER_AUDIO = {b"ID3": "MP3", b"\xff\xfb": "MP3", b"\xff\xf3": "MP3", b"\xff\xf2": "MP3", b"\x1aE\xdf\xa3": "WebM",
               b"FORM": "AIFF", b"#!AMR": "AMR", b"MThd": "MIDI"}
SPEECH_DBFS = -45.0  # a 30 ms frame this loud somewhere, or it is silence (a quiet room's microphone is ~-60 dBFS)
PAD_S = 0.5  # the decoder needs silence around the words to find where they start and end
NOISE_DBFS = -66.0  # floor laid under everything: purely digital silence confuses the decoder


class BadAudio(InvalidInput):
    """Audio the recogniser cannot use; `status` is the HTTP status the serving API answers with."""

    status = 422


class EmptyAudio(BadAudio):
    status = 400


class UnsupportedAudio(BadAudio):
    status = 415


class AudioTooLong(BadAudio):
    status = 413


class NothingHeard(BadAudio):
    """Silence, or sound in which no word was recognised."""


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono at `rate`
    rate: int
    format: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def sniff(data: bytes) -> str:
    """The container the bytes are in (WAV, FLAC, OGG), or the error that says why they cannot be read."""
    if not data:
        raise EmptyAudio("the audio is empty: send a WAV, FLAC or OGG recording of the request")
    for name, (magic, at, tag) in FORMATS.items():
        if data.startswith(magic) and data[at:at + len(tag)] == tag:
            return name
    for magic, name in OTHER_AUDIO.items():
        if data.startswith(magic):
            raise UnsupportedAudio(f"{name} audio is not supported: send WAV, FLAC or OGG (e.g. `sox in.{name.lower()} "
                                   "-r 16000 -c 1 out.wav`)")
    if data[4:8] == b"ftyp":
        raise UnsupportedAudio("MP4/M4A audio is not supported: send WAV, FLAC or OGG")
    raise BadAudio("the upload is not audio (no WAV, FLAC or OGG header): send a recording of the request")


def decode(data: bytes, max_seconds: float = MAX_SECONDS) -> Audio:
    """Check and decode a recording to float32 mono at its own rate. Refuses empty, non-audio, unsupported,
    over-long, unreadable and silent audio, each with its own `BadAudio`."""
    import soundfile as sf

    kind = sniff(data)
    if len(data) > MAX_BYTES:
        raise AudioTooLong(f"the audio is {len(data) / 2**20:.1f} MiB, over the {MAX_BYTES // 2**20} MiB limit: "
                           f"send at most {max_seconds:g} s of speech")
    try:
        info = sf.info(io.BytesIO(data))
        if info.frames / info.samplerate > max_seconds:
            raise AudioTooLong(f"the audio is {info.frames / info.samplerate:.1f} s long, over the {max_seconds:g} s "
                               "limit: ask for one thing at a time")
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise BadAudio(f"the {kind} audio could not be decoded ({e}): send an unbroken recording") from None
    if len(samples) == 0:
        raise EmptyAudio(f"the {kind} audio holds no samples: record the request again")
    mono = samples.mean(axis=1)
    if _peak_dbfs(mono, rate) < SPEECH_DBFS:
        raise NothingHeard("didn't catch that: the recording is silent. Speak closer to the microphone and try again")
    return Audio(mono.astype(np.float32), int(rate), kind)


def _peak_dbfs(x: np.ndarray, rate: int) -> float:
    """The loudest 30 ms frame's RMS level, in dB below full scale."""
    n = max(1, int(0.03 * rate))
    frames = x[: len(x) // n * n].reshape(-1, n) if len(x) >= n else x.reshape(1, -1)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).max()
    return 20 * np.log10(max(rms, 1e-10))


def for_recogniser(audio: Audio, seed: int = 0) -> bytes:
    """16 kHz mono 16-bit PCM, padded with `PAD_S` of silence each side and a seeded noise floor under all of it
    (the same audio always gives the same bytes, so the same transcript)."""
    from scipy.signal import resample_poly

    x = audio.samples
    if audio.rate != RATE:
        g = gcd(RATE, audio.rate)
        x = resample_poly(x, RATE // g, audio.rate // g).astype(np.float32)
    pad = np.zeros(int(PAD_S * RATE), np.float32)
    x = np.concatenate([pad, x, pad])
    x = x + np.random.default_rng(seed).normal(0, 10 ** (NOISE_DBFS / 20), len(x)).astype(np.float32)
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def to_wav(samples: np.ndarray, rate: int) -> bytes:
    """float32 mono samples as a 16-bit PCM WAV file."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1, 1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()

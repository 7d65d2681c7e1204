"""Speaking text with espeak-ng (Debian's `espeak-ng`): Navigator's spoken replies and the spoken gold set.

espeak-ng is a formant synthesiser: no model file, about a millisecond of CPU per word, the same samples for the
same text and voice every time.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np

from pinsandbox.errors import InvalidInput
from pinsandbox.voice.lexicon import espeak_binary

# The spoken gold set's voices: espeak-ng's American English, a second male variant and a female one.
VOICES = ("en-us", "en-us+m1", "en-us+f1")
MAX_CHARS = 600  # a reply is a sentence or two


def synthesize(text: str, voice: str = "en-us", speed: int = 165) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) of `text` spoken by espeak-ng in `voice` at `speed` words a minute."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    if not text:
        raise InvalidInput("nothing to say: the text is empty")
    if len(text) > MAX_CHARS:
        raise InvalidInput(f"the text is {len(text)} characters, over the {MAX_CHARS} a spoken reply may have")
    wav = subprocess.run([espeak_binary(), "-v", voice, "-s", str(speed), "--stdout", text],
                         capture_output=True, check=True, timeout=30).stdout
    # espeak-ng streams its WAV with the sizes left at 0x7fffffff, which libsndfile refuses: read it by hand
    # (16-bit mono PCM, the rate in the format chunk, samples after the "data" tag)
    rate = int.from_bytes(wav[24:28], "little")
    data = wav.index(b"data") + 8
    pcm = wav[data:len(wav) - (len(wav) - data) % 2]
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768, rate


def speak(text: str, voice: str = "en-us") -> bytes:
    """`text` spoken by espeak-ng, as a WAV file."""
    from pinsandbox.voice.audio import to_wav

    return to_wav(*synthesize(text, voice))

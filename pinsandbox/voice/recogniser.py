"""Offline speech recognition behind one small interface.

    rec = PocketsphinxRecogniser(for_sandbox("alice"))
    rec.transcribe(wav_bytes)   # -> Transcript(text="any boho rugs under one hundred twenty dollars", ...)

The chosen engine is pocketsphinx: its wheel ships the en-us acoustic model and dictionary, it decodes a 4 s
request in well under half a second on one core, and with the sandbox's domain language model it gets the
catalog's words right (`benchmarks/bench_voice.py` measures both). Nothing is downloaded and nothing touches the
network: the model files are read from site-packages and the sandbox.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Protocol

from pinsandbox.voice.audio import NothingHeard, decode, for_recogniser
from pinsandbox.voice.language_model import LanguageModel

# Measured on the spoken held-out requests (benchmarks/bench_voice.py): pocketsphinx's own language weight (6.5)
# beat 8 and 10; a narrower phone beam and no second "flat" pass were as accurate or better, and faster.
DECODER = {"lw": 6.5, "pbeam": 1e-40, "fwdflat": False}


@dataclass
class Transcript:
    text: str  # the words heard, lower case, numbers as words ("under one hundred dollars")
    seconds: float  # length of the audio
    decode_s: float  # time spent recognising it
    format: str  # WAV, FLAC or OGG


class Recogniser(Protocol):
    name: str

    def transcribe(self, audio: bytes) -> Transcript:
        """Recognise one request; raises `BadAudio` (and `NothingHeard` when no word was recognised)."""
        ...


class PocketsphinxRecogniser:
    """pocketsphinx 5 with the shipped en-us acoustic model and a domain language model."""

    name = "pocketsphinx"

    def __init__(self, model: LanguageModel, **decoder):
        from pocketsphinx import Config, Decoder

        from pinsandbox.voice.lexicon import model_dir

        config = Config(hmm=str(model_dir() / "en-us"), lm=str(model.lm), dict=str(model.dict), loglevel="FATAL",
                        **(DECODER | decoder))
        self.decoder, self.model = Decoder(config), model

    def transcribe(self, audio: bytes) -> Transcript:
        clip = decode(audio)
        pcm = for_recogniser(clip)
        started = time.perf_counter()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        took = time.perf_counter() - started
        text = _plain(hyp.hypstr) if hyp is not None else ""
        if not text:
            raise NothingHeard("didn't catch that: no words were recognised. Say the request again, a little slower")
        return Transcript(text, clip.seconds, took, clip.format)


def _plain(hypstr: str) -> str:
    """Drop pronunciation-variant markers ("glass(2)") and fillers from a hypothesis."""
    return " ".join(re.sub(r"\(\d+\)$", "", w) for w in hypstr.split() if not w.startswith(("<", "[")))

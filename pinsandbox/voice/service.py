"""Voice for Navigator: a spoken request in, what was heard and a spoken reply out.

    voice = Voice.load("alice")                  # the sandbox's domain language model + pocketsphinx
    heard = voice.hear(wav_bytes)                # {"transcript": "any boho rugs under one hundred dollars",
                                                 #  "request": "any boho rugs under $100", "max_price": 100.0, …}
    answer = navigator.ask(heard["request"], 8, heard["max_price"])
    voice.speak(answer["answer"])                # WAV bytes
    answer_spoken(voice, navigator, wav_bytes)   # all three: what POST /navigator/voice answers

The server runs it in a `VoiceWorker` process: recognising a request costs a few hundred milliseconds of CPU,
which inside the server would hold the GIL its event loop needs.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

from pinsandbox.voice.numbers import budget, spoken_to_written
from pinsandbox.voice.recogniser import PocketsphinxRecogniser, Recogniser
from pinsandbox.voice.synthesis import speak


class Voice:
    def __init__(self, recogniser: Recogniser, reply_voice: str = "en-us"):
        self.recogniser, self.reply_voice = recogniser, reply_voice

    @classmethod
    def load(cls, sandbox=None) -> Voice:
        from pinsandbox.voice.language_model import for_sandbox

        return cls(PocketsphinxRecogniser(for_sandbox(sandbox)))

    def hear(self, audio: bytes) -> dict:
        """Recognise a spoken request; raises `BadAudio` (a 4xx in the API) when it cannot."""
        heard = self.recogniser.transcribe(audio)
        request = spoken_to_written(heard.text)
        return {"transcript": heard.text, "request": request, "max_price": budget(request),
                "audio_seconds": round(heard.seconds, 2), "recognise_ms": round(heard.decode_s * 1000, 1),
                "format": heard.format, "recogniser": self.recogniser.name}

    def speak(self, text: str) -> bytes:
        return speak(text, self.reply_voice)


def answer_spoken(voice: Voice, navigator, audio: bytes, k: int = 8, spoken_reply: bool = True) -> dict:
    """What POST /navigator/voice answers, computed in this process (a notebook or a script without a server):
    what was heard, Navigator's pins and answer for it, and the answer spoken (base64 WAV)."""
    heard = voice.hear(audio)
    out = {**heard, **navigator.ask(heard["request"], k, heard["max_price"])}
    if spoken_reply:
        out |= {"reply_audio": base64.b64encode(voice.speak(out["answer"])).decode(), "reply_audio_type": "audio/wav"}
    return out


_WORKER: Voice | None = None  # the worker process's own Voice, loaded once


def _load_in_worker(sandbox_root: str) -> None:
    from pathlib import Path

    from pinsandbox.sandbox import Sandbox
    from pinsandbox.serving.navigator import _exit_with_parent

    global _WORKER
    _exit_with_parent(os.getppid())
    _WORKER = Voice.load(Sandbox(Path(sandbox_root)))


def _hear(audio: bytes) -> dict:
    return _WORKER.hear(audio)


def _speak(text: str) -> tuple[bytes, float]:
    started = time.perf_counter()
    return _WORKER.speak(text), time.perf_counter() - started


class VoiceWorker:
    """`Voice` in its own spawned process, loaded on start (the language model is built or read from the cache)."""

    def __init__(self, sandbox):
        from pinsandbox.sandbox import resolve

        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_load_in_worker, initargs=(str(resolve(sandbox).root),))

    async def hear(self, audio: bytes) -> dict:
        return await asyncio.wrap_future(self._pool.submit(_hear, audio))

    async def speak(self, text: str) -> tuple[bytes, float]:
        """(WAV bytes, seconds it took to synthesise)."""
        return await asyncio.wrap_future(self._pool.submit(_speak, text))

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

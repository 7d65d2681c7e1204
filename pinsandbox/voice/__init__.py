"""Voice-first Navigator, fully offline: spoken requests in (pocketsphinx with a language model built from the
sandbox's own catalog), spoken replies out (espeak-ng), spoken numbers and prices read as typed ones.

    from pinsandbox.voice import Voice
    voice = Voice.load("alice")
    heard = voice.hear(open("request.wav", "rb").read())   # transcript, request ("under $100"), max_price
    wav = voice.speak("5 pins, mostly lamps, from 34 to 118 dollars.")

Guide: docs/guide/voice.md. Benchmark: benchmarks/bench_voice.py.
"""

from pinsandbox.voice.audio import MAX_SECONDS, AudioTooLong, BadAudio, EmptyAudio, NothingHeard, UnsupportedAudio
from pinsandbox.voice.gold import spoken_gold_set
from pinsandbox.voice.language_model import LanguageModel, corpus, for_sandbox
from pinsandbox.voice.numbers import budget, say_number, say_prices, spoken_to_written
from pinsandbox.voice.recogniser import PocketsphinxRecogniser, Recogniser, Transcript
from pinsandbox.voice.service import Voice, VoiceWorker, answer_spoken
from pinsandbox.voice.synthesis import VOICES, speak, synthesize

__all__ = ["MAX_SECONDS", "VOICES", "AudioTooLong", "BadAudio", "EmptyAudio", "LanguageModel", "NothingHeard",
           "PocketsphinxRecogniser", "Recogniser", "Transcript", "UnsupportedAudio", "Voice", "VoiceWorker", "answer_spoken",
           "budget",
           "corpus", "for_sandbox", "say_number", "say_prices", "speak", "spoken_gold_set",
           "spoken_to_written", "synthesize"]

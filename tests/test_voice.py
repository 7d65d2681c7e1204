"""Voice-first Navigator: spoken numbers, the catalog's own language model, real pocketsphinx on real espeak-ng
speech (also with every socket blocked), every kind of unusable audio, the spoken gold set's determinism, and
POST /navigator/voice on the real server."""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import shutil
import socket

import numpy as np
import pandas as pd
import pytest

from pinsandbox.voice import AudioTooLong, BadAudio, EmptyAudio, NothingHeard, UnsupportedAudio, Voice, budget, speak
from pinsandbox.voice.audio import to_wav
from pinsandbox.voice.numbers import say_number, spoken_to_written

REQUEST = "show me boho planters under one hundred dollars"  # spoken by espeak-ng's en-us voice in these tests


@pytest.fixture(scope="module")
def pinworld_voice(tmp_path_factory):
    """A tiny Pinworld catalog (the session world's) and its Voice, built once for the module."""
    import pinsandbox
    from pinsandbox.catalog import CatalogConfig, run_catalog

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINSANDBOX_ROOT", str(tmp_path_factory.mktemp("voice")))
        sb = pinsandbox.create("talker")
        run_catalog(sb, CatalogConfig(n_pins=300, n_pinners=80, seed=0, render_images=False, n_navigator_requests=60),
                    progress=False)
        yield sb, Voice.load(sb)


def test_spoken_numbers_and_prices_read_as_typed():
    assert spoken_to_written("under one hundred dollars") == "under $100"
    assert spoken_to_written("a lamp and a rug for a hundred and five bucks") == "a lamp and a rug for $105"
    assert spoken_to_written("sofas two thousand three hundred fifty dollars or less") == "sofas $2350 or less"
    assert spoken_to_written("three chairs") == "3 chairs"
    for n in [0, 7, 19, 20, 45, 100, 101, 120, 999, 1000, 1200, 2350, 40_000, 999_999]:
        assert spoken_to_written(f"{say_number(n)} dollars") == f"${n}"
    assert budget("any boho rugs that cost no more than one hundred twenty dollars") == 120
    assert budget("under one hundred dollars") == budget("under $100") == 100
    assert budget("lamps, sixty dollars or less please") == budget("lamps, $60 or less please") == 60
    assert budget("sofas under $1,500") == 1500
    assert budget("a lamp for the bedroom") is None and budget("about $100") is None


def test_recognises_a_spoken_request_in_wav_flac_and_ogg(pinworld_voice):
    import soundfile as sf

    _, voice = pinworld_voice
    wav = speak(REQUEST)
    heard = voice.hear(wav)
    assert heard["transcript"] == REQUEST
    assert heard["request"] == "show me boho planters under $100" and heard["max_price"] == 100
    assert heard["format"] == "WAV" and 2 < heard["audio_seconds"] < 4
    samples, rate = sf.read(io.BytesIO(wav))
    for fmt in ("FLAC", "OGG"):
        buf = io.BytesIO()
        sf.write(buf, samples, rate, format=fmt)
        other = voice.hear(buf.getvalue())
        assert other["format"] == fmt and other["transcript"] == REQUEST
    assert voice.hear(wav)["transcript"] == heard["transcript"]  # same audio, same words: the noise floor is seeded


def test_every_kind_of_unusable_audio_gets_its_own_clear_error(pinworld_voice):
    _, voice = pinworld_voice
    rate = 16_000
    rng = np.random.default_rng(0)
    cases = {
        "empty": (b"", EmptyAudio, "empty"),
        "not audio": (b'{"text": "a lamp"}', BadAudio, "not audio"),
        "mp3": (b"ID3\x03\x00" + bytes(200), UnsupportedAudio, "MP3 audio is not supported: send WAV, FLAC or OGG"),
        "webm": (b"\x1aE\xdf\xa3" + bytes(200), UnsupportedAudio, "WebM"),
        "too long": (to_wav(rng.normal(0, 0.1, 11 * rate).astype(np.float32), rate), AudioTooLong,
                     "11.0 s long, over the 10 s limit"),
        "truncated": (speak(REQUEST)[:30], BadAudio, "could not be decoded"),
        "no samples": (to_wav(np.zeros(0, np.float32), rate), EmptyAudio, "no samples"),
        "digital silence": (to_wav(np.zeros(2 * rate, np.float32), rate), NothingHeard, "didn't catch that"),
        "room hiss": (to_wav(rng.normal(0, 10 ** (-70 / 20), 2 * rate).astype(np.float32), rate), NothingHeard,
                      "didn't catch that"),
    }
    statuses = {}
    for name, (data, error, message) in cases.items():
        with pytest.raises(error, match=message) as caught:
            voice.hear(data)
        statuses[name] = caught.value.status
    assert statuses == {"empty": 400, "not audio": 422, "mp3": 415, "webm": 415, "too long": 413, "truncated": 422,
                        "no samples": 400, "digital silence": 422, "room hiss": 422}


def test_recognition_makes_no_network_access(pinworld_voice, monkeypatch):
    """Building the recogniser and recognising run with every socket refused (a model download would fail)."""
    sb, _ = pinworld_voice
    wav = speak(REQUEST)
    shutil.rmtree(sb.path("serving/cache/voice"))  # the language model is rebuilt under the block too

    def refuse(*_args, **_kwargs):
        raise OSError("network access attempted during recognition")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    with pytest.raises(OSError, match="network access attempted"):
        socket.create_connection(("example.com", 80))  # the block is in force
    assert Voice.load(sb).hear(wav)["transcript"] == REQUEST


def test_an_imported_catalogs_own_words_are_recognised(sandbox, tmp_path):
    """Words no English dictionary has — a merchant, a style, a category of the user's own — are in the language
    model, pronounced by espeak-ng, and recognised."""
    from pinsandbox.catalog import CatalogConfig, run_catalog
    from pinsandbox.voice import for_sandbox
    from pinsandbox.voice.lexicon import cmudict

    titles = ["zellige tile mirror", "boucle credenza", "japandi credenza", "zellige side table", "terrazzo lamp",
              "boucle armchair", "rattan credenza", "terrazzo planter"]
    pd.DataFrame({"pin_id": [f"q{i}" for i in range(8)], "title": titles, "description": "",
                  "category": ["mirror", "credenza", "credenza", "table", "lamp", "chair", "credenza", "planter"],
                  "merchant": ["Quoddy Weavers", "Kelim Haus"] * 4, "price": [120, 900, 1100, 300, 80, 450, 700, 60]}
                 ).to_csv(tmp_path / "pins.csv", index=False)
    pd.DataFrame({"pinner_id": ["u1", "u2"] * 4, "pin_id": [f"q{i}" for i in range(8)], "action": "save",
                  "ts": pd.date_range("2025-01-01", periods=8, freq="D").strftime("%Y-%m-%dT%H:%M:%SZ")}
                 ).to_csv(tmp_path / "events.csv", index=False)
    run_catalog(sandbox, CatalogConfig(source="import", pins=str(tmp_path / "pins.csv"),
                                       events=str(tmp_path / "events.csv")), progress=False)
    model = for_sandbox(sandbox)
    entries = dict(line.split(" ", 1) for line in model.dict.read_text().splitlines())
    assert {"zellige", "credenza", "credenzas", "quoddy", "kelim"} <= set(entries)
    assert "zellige" not in cmudict() and model.spelled >= 3  # pronounced by espeak-ng's letter-to-sound rules
    voice = Voice.load(sandbox)
    heard = voice.hear(speak("any zellige side tables under three hundred dollars"))
    assert heard["transcript"] == "any zellige side tables under three hundred dollars" and heard["max_price"] == 300
    assert "terrazzo lamp from quoddy weavers" in voice.hear(speak("a terrazzo lamp from quoddy weavers"))["transcript"]


def test_spoken_gold_set_is_deterministic_and_speaks_prices(pinworld_voice, tmp_path):
    from pinsandbox.voice import spoken_gold_set

    sb, _ = pinworld_voice
    first = spoken_gold_set(sb, tmp_path / "a", voices=("en-us", "en-us+m1"), limit=2, seed=3)
    again = spoken_gold_set(sb, tmp_path / "b", voices=("en-us", "en-us+m1"), limit=2, seed=3)
    other = spoken_gold_set(sb, tmp_path / "c", voices=("en-us",), limit=1, seed=4)

    def digest(path):
        return hashlib.sha256(open(path, "rb").read()).hexdigest()

    assert len(first) == 4 and set(first["voice"]) == {"en-us", "en-us+m1"}
    assert [digest(p) for p in first["path"]] == [digest(p) for p in again["path"]]
    assert digest(other["path"][0]) != digest(first["path"][0])  # the seed moves the noise
    assert all("$" in t for t in first["text"]) and all("dollars" in r and "$" not in r for r in first["reference"])
    assert first["request_id"].str.startswith("r").all()


@pytest.mark.slow
def test_voice_endpoint_answers_a_spoken_request_and_refuses_bad_audio(world_root, tmp_path):
    """POST /navigator/voice on the real server: transcript, pins within the spoken budget (the same as the typed
    request's), the answer as a WAV; every bad upload a 4xx with its reason, and no event logged for any of them."""
    import httpx
    import soundfile as sf

    from pinsandbox.sandbox import Sandbox
    from pinsandbox.serving import start

    shutil.copytree(world_root, tmp_path / "world", symlinks=True)
    with start(Sandbox(tmp_path / "world")) as server:
        c = server.client()
        c.timeout = 120  # the first spoken request starts the voice worker (the language model is built then)
        logged = c.get("/healthz").json()["events_logged"]
        r = c.post("/navigator/voice", params={"k": 5}, content=speak(REQUEST), headers={"content-type": "audio/wav"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["transcript"] == REQUEST and out["request"] == "show me boho planters under $100"
        assert out["max_price"] == 100 and 0 < len(out["pins"]) <= 5
        assert all(p["price"] <= 100 for p in out["pins"]) and out["answer"] and out["ranker"] == "swapped-vlm"
        reply, rate = sf.read(io.BytesIO(base64.b64decode(out["reply_audio"])))
        assert out["reply_audio_type"] == "audio/wav" and len(reply) / rate > 1
        typed = c.post("/navigator", json={"text": "show me boho planters under $100", "k": 5}).json()
        assert typed["max_price"] == 100 and typed["pins"] == out["pins"]  # spoken and typed budgets alike

        rate = 16_000
        bad = {
            b"": (400, "empty"),
            b"hello, not a recording": (422, "not audio"),
            b"ID3\x03\x00" + bytes(100): (415, "MP3 audio is not supported"),
            to_wav(np.full(11 * rate, 0.1, np.float32), rate): (413, "over the 10 s limit"),
            bytes(5 * 2**20): (413, "audio over 4 MiB: send at most 10 s"),
            to_wav(np.zeros(2 * rate, np.float32), rate): (422, "didn't catch that"),
        }
        for body, (status, message) in bad.items():
            r = c.post("/navigator/voice", content=body, headers={"content-type": "application/octet-stream"})
            assert r.status_code == status and message in r.json()["detail"], (status, r.status_code, r.text)
        health = c.get("/healthz").json()
        assert health["events_logged"] == logged  # recognition, failed or not, writes nothing to the event log
        assert httpx.post(f"{server.url}/navigator/voice", content=speak(REQUEST), timeout=30).status_code == 401


def test_navigator_chat_takes_a_spoken_request_recorded_or_uploaded(world):
    """The chat's voice path with the real Navigator and recogniser in this process: a recording from the 🎤 button
    and an uploaded file each become a turn with the transcript, the pins and the spoken answer in the player."""
    from pinsandbox.catalog import load_catalog
    from pinsandbox.errors import InvalidInput
    from pinsandbox.serving import Navigator
    from pinsandbox.voice import answer_spoken
    from pinsandbox.widgets import NavigatorChat

    catalog = load_catalog(world)
    navigator, voice = Navigator.load(world, catalog), Voice.load(world)
    chat = NavigatorChat(catalog, ask=navigator.ask, voice=lambda wav: answer_spoken(voice, navigator, wav, k=4))
    turn = chat.say(speak(REQUEST))
    assert turn["text"] == REQUEST and turn["spoken"] and 0 < len(turn["pin_ids"]) <= 4
    assert turn["reply_audio"][:4] == b"RIFF" and "you (spoken): " + REQUEST in chat.summary()
    assert "🎤 " + REQUEST in chat.html() and chat.html().count("pin-card") == len(turn["pin_ids"])

    assert chat.widget.children  # the live UI: the recorder hands over a WAV, the upload a file
    chat._recorder.wav = speak(REQUEST, "en-us+m1")
    assert len(chat.turns) == 2 and chat._recorder.wav == b"" and chat._player.value == chat.turns[-1]["reply_audio"]
    silence = to_wav(np.zeros(16_000, np.float32), 16_000)
    chat._upload.value = ({"name": "silence.wav", "type": "audio/wav", "size": len(silence),
                           "last_modified": datetime.datetime.now(datetime.UTC),
                           "content": memoryview(silence)},)
    assert len(chat.turns) == 2 and "didn&#x27;t catch that" in chat._status.value  # escaped HTML
    with pytest.raises(InvalidInput, match="has no voice"):
        NavigatorChat(catalog, ask=navigator.ask).say(speak(REQUEST))
    with pytest.raises(InvalidInput, match="MP3 audio is not supported"):
        chat.say(b"ID3" + bytes(100))

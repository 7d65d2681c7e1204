"""NavigatorChat: a chat box for the shopping assistant; each answer shows the pins it picked, as images. With a
`voice` function it also takes spoken requests — recorded from the browser's microphone or uploaded — shows what
it heard and plays the spoken answer."""

from __future__ import annotations

import base64

from pinsandbox.errors import InvalidInput
from pinsandbox.widgets.base import Explorer, cards, esc, pin_list, pins_and_images, titles


def _answer(result) -> tuple[str, list[str]]:
    """An assistant answer as (reply text, picked pin ids): pin ids, a (reply, ids) pair, or a dict with the
    pins under "pin_ids" or "pins" and the text under "reply" or "answer" (the serving API's shape)."""
    if isinstance(result, dict):
        reply = str(result.get("reply", result.get("answer", "")))
        return reply, pin_list(result.get("pin_ids", result.get("pins", [])))[0]
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str):
        return result[0], pin_list(result[1])[0]
    if isinstance(result, (list, tuple)) or hasattr(result, "tolist"):
        return "", pin_list(list(result))[0]
    raise InvalidInput("an ask function must return pin ids, (reply, pin ids) or {'reply': …, 'pin_ids': […]}")


def _spoken(result) -> dict:
    """A spoken answer in the serving API's shape (POST /navigator/voice): transcript, answer, pins, reply_audio
    (base64 WAV). An error answer ({"detail": …}, a 4xx) becomes InvalidInput with its message."""
    if not isinstance(result, dict):
        raise InvalidInput("a voice function must return the /navigator/voice answer: a dict with transcript and pins")
    if "transcript" not in result:
        raise InvalidInput(str(result.get("detail", "the voice answer has no transcript")))
    audio = result.get("reply_audio") or b""
    return {"transcript": result["transcript"], "audio": base64.b64decode(audio) if isinstance(audio, str) else audio}


class NavigatorChat(Explorer):
    """Ask in words or aloud, get pins back.

        chat = NavigatorChat(catalog, ask=state.navigator)  # ask(text) -> [pin_id] | (reply, [pin_id]) | dict
        chat.send("a mid-century lamp under $80")
        chat = NavigatorChat(catalog, ask=…, voice=lambda wav: client.post("/navigator/voice", content=wav).json())
        chat.say(open("request.wav", "rb").read())         # or the 🎤 button / the upload in the live UI
        chat.show()
    """

    def __init__(self, catalog, ask, images_dir=None, *, voice=None, display_mode: str = "auto", image_size: int = 110):
        super().__init__(display_mode)
        if not callable(ask):
            raise InvalidInput("ask must be a callable: text -> picked pin ids")
        if voice is not None and not callable(voice):
            raise InvalidInput("voice must be a callable: WAV/FLAC/OGG bytes -> the /navigator/voice answer")
        self.pins, self.images_dir = pins_and_images(catalog, images_dir)
        self.ask, self.voice, self.image_size = ask, voice, image_size
        self.turns: list[dict] = []

    def send(self, text: str) -> dict:
        """Ask one request; the turn (text, reply, pin_ids) is kept in the conversation."""
        text = (text or "").strip()
        if not text:
            raise InvalidInput("the request is empty: describe what you are looking for")
        return self._turn(text, self.ask(text))

    def say(self, audio: bytes) -> dict:
        """Ask one spoken request (WAV, FLAC or OGG bytes); the turn also keeps what was heard and the spoken reply
        (`reply_audio`, WAV bytes). Audio the recogniser cannot use raises InvalidInput with the reason."""
        if self.voice is None:
            raise InvalidInput("this chat has no voice: pass voice=… (e.g. a POST to /navigator/voice)")
        result = self.voice(audio)
        heard = _spoken(result)
        return self._turn(heard["transcript"], result, spoken=True, reply_audio=heard["audio"])

    def _turn(self, text: str, result, **extra) -> dict:
        reply, pin_ids = _answer(result)
        unknown = [p for p in pin_ids if p not in self.pins.index]
        turn = {"text": text, "reply": reply, "pin_ids": [p for p in pin_ids if p in self.pins.index], "unknown": unknown,
                **extra}
        self.turns.append(turn)
        if self._widget is not None:
            self._view.value = self.html()
            if turn.get("reply_audio"):
                self._player.value, self._player.layout.display = turn["reply_audio"], None
        return turn

    def summary(self) -> str:
        if not self.turns:
            return "NavigatorChat: no requests yet"
        return "\n".join(f"you{' (spoken)' if t.get('spoken') else ''}: {t['text']}\nnavigator: {t['reply'] + ' ' if t['reply'] else ''}{titles(self.pins, t['pin_ids'])}"
                         for t in self.turns)

    def html(self) -> str:
        rows = []
        for t in self.turns:
            heard = "🎤 " if t.get("spoken") else ""
            rows.append(f"<div style='text-align:right;margin:6px'><span class='navigator-request' style='background:#e60023;"
                        f"color:white;padding:6px 10px;border-radius:14px'>{heard}{esc(t['text'])}</span></div>")
            note = f"<div style='color:#b00'>(unknown pins dropped: {esc(', '.join(t['unknown']))})</div>" if t["unknown"] else ""
            rows.append(f"<div style='margin:6px;background:#f1f1f1;padding:6px;border-radius:14px'>{esc(t['reply'])}"
                        f"{cards(self.pins, t['pin_ids'], self.images_dir, self.image_size)}{note}</div>")
        return f"<div class='navigator-chat'>{''.join(rows) or '<i>ask for something, e.g. a cosy boho pillow under $40</i>'}</div>"

    def _build_widget(self):
        import ipywidgets as w

        self._text = w.Text(placeholder="what are you looking for?", layout=w.Layout(width="60%"), continuous_update=False)
        self._ask = w.Button(description="ask", button_style="danger")
        self._status = w.HTML()
        self._view = w.HTML(self.html())

        def on_ask(_=None):
            try:
                self.send(self._text.value)
                self._text.value, self._status.value = "", ""
            except InvalidInput as e:
                self._status.value = f"<span style='color:#b00'>{esc(e)}</span>"

        self._ask.on_click(on_ask)
        if self.voice is None:
            return w.VBox([self._view, w.HBox([self._text, self._ask]), self._status])
        return w.VBox([self._view, w.HBox([self._text, self._ask]), self._voice_controls(), self._status])

    def _voice_controls(self):
        """The 🎤 button (browser microphone), a file upload and the player for the spoken answer."""
        import ipywidgets as w

        from pinsandbox.voice.recorder import Recorder

        self._recorder = Recorder()
        self._upload = w.FileUpload(accept=".wav,.flac,.ogg,audio/wav,audio/flac,audio/ogg", description="upload")
        self._player = w.Audio(format="wav", autoplay=True, controls=True, layout=w.Layout(display="none"))

        def heard(audio: bytes):
            self._status.value = "<i>recognising…</i>"
            try:
                self.say(audio)
                self._status.value = ""
            except InvalidInput as e:
                self._status.value = f"<span class='voice-error' style='color:#b00'>{esc(e)}</span>"
            except Exception as e:  # shown, not raised: an exception in a widget callback only reaches the kernel log
                self._status.value = f"<span class='voice-error' style='color:#b00'>{esc(type(e).__name__)}: {esc(e)}</span>"

        def on_recording(change):
            if change["new"]:
                heard(bytes(change["new"]))
                self._recorder.wav = b""  # taken: the next recording is a change even if it is identical

        def on_upload(change):
            if change["new"]:
                heard(bytes(change["new"][0]["content"]))
                self._upload.value = ()

        self._recorder.observe(on_recording, "wav")
        self._upload.observe(on_upload, "value")
        return w.HBox([self._recorder, self._upload, self._player])

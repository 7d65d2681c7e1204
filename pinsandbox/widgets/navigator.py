"""NavigatorChat: a chat box for the shopping assistant; each answer shows the pins it picked, as images."""

from __future__ import annotations

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


class NavigatorChat(Explorer):
    """Ask in words, get pins back.

        chat = NavigatorChat(catalog, ask=state.navigator)  # ask(text) -> [pin_id] | (reply, [pin_id]) | dict
        chat.send("a mid-century lamp under $80")
        chat.show()
    """

    def __init__(self, catalog, ask, images_dir=None, *, display_mode: str = "auto", image_size: int = 110):
        super().__init__(display_mode)
        if not callable(ask):
            raise InvalidInput("ask must be a callable: text -> picked pin ids")
        self.pins, self.images_dir = pins_and_images(catalog, images_dir)
        self.ask, self.image_size = ask, image_size
        self.turns: list[dict] = []

    def send(self, text: str) -> dict:
        """Ask one request; the turn (text, reply, pin_ids) is kept in the conversation."""
        text = (text or "").strip()
        if not text:
            raise InvalidInput("the request is empty: describe what you are looking for")
        reply, pin_ids = _answer(self.ask(text))
        unknown = [p for p in pin_ids if p not in self.pins.index]
        turn = {"text": text, "reply": reply, "pin_ids": [p for p in pin_ids if p in self.pins.index], "unknown": unknown}
        self.turns.append(turn)
        if self._widget is not None:
            self._view.value = self.html()
        return turn

    def summary(self) -> str:
        if not self.turns:
            return "NavigatorChat: no requests yet"
        return "\n".join(f"you: {t['text']}\nnavigator: {t['reply'] + ' ' if t['reply'] else ''}{titles(self.pins, t['pin_ids'])}"
                         for t in self.turns)

    def html(self) -> str:
        rows = []
        for t in self.turns:
            rows.append(f"<div style='text-align:right;margin:6px'><span style='background:#e60023;color:white;padding:6px 10px;"
                        f"border-radius:14px'>{esc(t['text'])}</span></div>")
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
        return w.VBox([self._view, w.HBox([self._text, self._ask]), self._status])

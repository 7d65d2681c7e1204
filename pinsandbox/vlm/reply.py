"""Navigator's reply in words, written by the pretrained language model and grounded in the pins it picked.

    writer = ReplyWriter()                      # SmolLM2-135M-Instruct, all 30 layers (pretrained.py)
    writer.reply("coastal lamps under $100", picked, catalog_titles)
    # 'These lamps bring a breezy seaside feel to any room. My picks: Coastal-inspired linen light ($89.99), …'

How grounding is kept: the model writes only the opening sentence (greedy, so the same request and picks give
the same words), prompted with the request and the picked pins' titles and told to name no product and no price.
The pins themselves — titles and prices — are then written from the picked pins' own fields, never by the model.
An opening that still names a price, a number or any catalog title that was not picked is dropped for a plain
one, so a reply can only name pins that were picked (`named_pins` is the check the tests and the measurement use).

The opening depends on the request text alone (greedy decoding), so it is generated once per text and kept
(`cache_size` texts, least recently used dropped): a request asked again costs no generation.
"""

from __future__ import annotations

import functools
import re

from pinsandbox.vlm.pretrained import SMOLLM2

SYSTEM = "You are a friendly shopping assistant for a home and fashion store."
# The assistant's turn starts with these words: SmolLM2-135M otherwise often apologises or repeats a title.
LEAD = "Great choice!"


def named_pins(reply: str, titles: dict) -> set:
    """pin_id of every catalog title (pin_id -> title) that appears in `reply`, case-insensitively."""
    lowered = reply.lower()
    return {pin for pin, title in titles.items() if title and str(title).lower() in lowered}


def _pin_list(pins: list[dict]) -> str:
    named = [f"{p['title']} (${p['price']:.2f})" if p.get("price") is not None else str(p["title"]) for p in pins]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


class ReplyWriter:
    """The reply writer of one pretrained causal LM (a pretrained preset name or a GGUF path: its full model)."""

    def __init__(self, source: str = SMOLLM2, max_new_tokens: int = 24, named: int = 3, cache_size: int = 4096):
        from transformers import LlamaForCausalLM

        from pinsandbox.vlm import pretrained

        path, _ = pretrained.resolve(source)
        config, state = pretrained.read_gguf(path)
        model = LlamaForCausalLM(config)
        model.load_state_dict(state, assign=True)  # shares the cached tensors: no second copy
        model.tie_weights()
        self.model = model.eval()
        self.tokenizer = pretrained.load_tokenizer(source)
        self.max_new_tokens, self.named = max_new_tokens, named
        self.opening = functools.lru_cache(maxsize=cache_size)(self._generate)  # thread-safe

    def _generate(self, text: str) -> str:
        """The model's one opening sentence for `text` (greedy decoding), before any grounding check."""
        import torch

        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"{text}\nAnswer with one short friendly sentence."}]
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + LEAD
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = self.model.generate(ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.eos_token_id)
        words = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
        sentence = re.split(r"(?<=[.!?])\s", words, maxsplit=1)[0].strip()
        # cut off mid-sentence: no opening
        return f"{LEAD} {sentence}" if sentence.endswith((".", "!", "?")) else ""

    def reply(self, text: str, pins: list[dict], titles: dict) -> str:
        """One or two sentences: the model's opening, then up to `named` picked pins with their titles and prices.
        `titles` is the whole catalog's (pin_id -> title), to refuse an opening that names an unpicked pin."""
        if not pins:
            return f"Nothing in the catalog fits “{text}”."
        picked = {p["pin_id"] for p in pins}
        opening = self.opening(text)
        if not opening or re.search(r"[\d$€£]", opening) or named_pins(opening, titles) - picked:
            opening = f"Here is what I found for “{text}”."
        shown = pins[: self.named]
        return f"{opening} My pick{'s' if len(shown) > 1 else ''}: {_pin_list(shown)}."

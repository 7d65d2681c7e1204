"""The recogniser's language model, built from the sandbox's own catalog.

pocketsphinx's bundled general English model gets nine words in ten wrong on shopping requests ("japandi planter
under forty five dollars"); a small trigram model over the catalog's own words gets them right. Its corpus:

- every pin's title and description, and each short text metadata value (category, style, merchant, colour…);
- board names;
- Navigator's *training* requests when the sandbox has Pinworld's ground truth (never its held-out ones);
- hand-written request frames ("i'm looking for a {cat}", "my budget is {price}") filled with the catalog's
  categories and price phrases spoken the way people say them ("under one hundred twenty dollars"), priced
  across the catalog's own price range.

An imported catalog brings its own words (its titles, categories, merchants), so they are recognised too. The
model and its pronunciation dictionary are cached in the sandbox, keyed by the corpus, and rebuilt only when the
catalog changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pinsandbox.voice.numbers import say_number, say_prices

VERSION = 1  # bump when the corpus recipe changes, so cached models are rebuilt
SHORT_VALUE_WORDS = 4  # metadata values up to this many words are names (a category, a merchant), not prose
MAX_VALUES_PER_COLUMN = 200
DISCOUNT = 0.5  # probability mass kept for unseen word sequences: 0.3 and 0.7 did no better on held-out requests  # a column with more distinct short values is an id or free text: skip it

FRAMES = [  # generic ways to ask for something; {cat}/{cats} a category, {price} a spoken price
    "show me {cats}", "show me some {cats} under {price}", "i'm looking for a {cat}", "i am looking for {cats}",
    "i need a new {cat}", "do you have any {cats}", "can you find me a {cat} under {price}",
    "find me {cats} below {price}", "what {cats} cost less than {price}", "help me find a {cat} for my living room",
    "i would like a {cat} for the bedroom", "a {cat} that costs at most {price}", "the {cat} should be under {price}",
    "my budget is {price}", "i can spend up to {price}", "{cats} for less than {price}", "{price} or less",
    "no more than {price}", "max {price}", "a {cat} with a modern look", "something in a classic style",
    "recommend some {cats} please", "which {cats} would you suggest", "i want a {cat} with a cozy feel",
    "{cats} with a minimal vibe", "give me ideas for a {cat}", "any good {cats} for a small apartment",
    "please pick a {cat} for my office", "i like this aesthetic", "cheap {cats} under {price}",
    "do you have anything from this brand", "a {cat} from my favorite shop",
]
PRICE_BEFORE = ["under", "below", "less than", "no more than", "at most", "up to", "max", "budget"]  # a price limit
ROOMS = ["living room", "bedroom", "kitchen", "office", "dining room", "patio", "bathroom", "entryway"]


def words(text: str) -> list[str]:
    """A text as the recogniser's words: prices and numbers spoken, lower case, punctuation and hyphens as spaces."""
    text = re.sub(r"\b(\d{2,4})s\b", lambda m: _decade(int(m.group(1))), str(text))
    text = say_prices(text.replace("&", " and ")).lower()
    return [w.strip("'") for w in re.split(r"[^a-z']+", text) if w.strip("'")]


def _decade(n: int) -> str:
    """1920s → "nineteen twenties", 60s → "sixties"."""
    said = (say_number(n // 100) + " " + say_number(n % 100)) if 1100 <= n < 2000 and n % 100 else say_number(n)
    head, _, last = said.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


def plural(word: str) -> str:
    if word.endswith(("s", "sh", "ch", "x", "z")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def price_points(prices: np.ndarray) -> list[int]:
    """Round prices a shopper would say, across the catalog's price range (about 60 of them; none without prices)."""
    prices = prices[np.isfinite(prices) & (prices > 0)]
    if len(prices) == 0:
        return []
    points = set()
    for q in np.linspace(0, 1, 60):
        x = float(np.quantile(prices, q))
        step = 5 if x < 60 else 10 if x < 200 else 50 if x < 1000 else 100
        points.add(int(np.ceil(x / step) * step))
    return sorted(points)


def corpus(catalog, train_requests: pd.DataFrame | None = None) -> list[str]:
    """The sentences the language model is estimated on (see the module's docstring)."""
    pins = catalog.pins
    sentences = [t for col in ("title", "description") if col in pins for t in pins[col].dropna().astype(str) if t]
    categories: list[str] = []
    for col in pins.columns:
        if col in ("pin_id", "title", "description", "image") or not pd.api.types.is_string_dtype(pins[col]):
            continue
        values = pins[col].dropna().astype(str).unique()
        short = [v for v in values if 0 < len(v.split()) <= SHORT_VALUE_WORDS]
        if 0 < len(short) <= MAX_VALUES_PER_COLUMN:
            sentences += short
            if col == "category":
                categories = sorted(short)
    if "name" in catalog.boards:
        sentences += catalog.boards["name"].dropna().astype(str).tolist()
    if train_requests is not None:
        sentences += train_requests["text"].astype(str).tolist()
    # category words: the column's values, else the most common last word of titles (what a title is about)
    if not categories and "title" in pins:
        last = pins["title"].dropna().astype(str).map(lambda t: (words(t) or [""])[-1])
        categories = [w for w in last.value_counts().index[:20] if w]
    prices = price_points(pd.to_numeric(pins["price"], errors="coerce").to_numpy(float)) if "price" in pins else []
    prices = prices or [20, 50, 100, 200, 500]
    spoken = [f"{say_number(p)} dollars" for p in prices]
    title_nouns = {ws[-1] for ws in (words(t) for t in pins.get("title", pd.Series(dtype=str)).dropna()) if ws}
    for i, frame in enumerate(FRAMES):  # every frame with every category, each with another price (not all of them)
        for j, cat in enumerate(categories or ["thing"]):
            sentences.append(frame.format(cat=cat, cats=plural(cat), price=spoken[(i * 7 + j * 3) % len(spoken)]))
    sentences += [f"{before} {p}" for p in spoken for before in PRICE_BEFORE] + [f"{p} or less" for p in spoken]
    sentences += [f"for the {r}" for r in ROOMS]
    sentences += [plural(w) for w in sorted(title_nouns)]  # "looking glasses": plurals of what titles name
    return list(dict.fromkeys(sentences))  # each distinct sentence once: 3,000 templated titles must not drown requests


@dataclass
class LanguageModel:
    """The files the recogniser loads: a trigram ARPA model and its pronunciation dictionary."""

    lm: Path
    dict: Path
    vocabulary: int
    spelled: int  # words pronounced by espeak-ng because the CMU dictionary lacks them

    @classmethod
    def build(cls, sentences: list[str], folder: Path, discount: float = DISCOUNT) -> LanguageModel:
        """Estimate the model on `sentences` into `folder` (reused when it already holds this exact corpus)."""
        from pocketsphinx.lm import ArpaBoLM

        from pinsandbox.sandbox.artifacts import atomic_file
        from pinsandbox.voice.lexicon import cmudict, pronunciations

        lines = [" ".join(ws) for ws in map(words, sentences) if ws]
        vocab = {w for line in lines for w in line.split()}
        key = hashlib.sha256(f"v{VERSION} d{discount}\n".encode() + "\n".join(lines).encode()).hexdigest()[:16]
        folder = Path(folder) / f"lm-{key}"
        lm_path, dict_path = folder / "domain.lm", folder / "domain.dict"
        if lm_path.exists() and dict_path.exists():
            return cls(lm_path, dict_path, len(vocab), len(vocab - set(cmudict())))
        prons = pronunciations(vocab)
        lines = [line for line in lines if all(w in prons for w in line.split())]  # a word with no phones: drop it
        model = ArpaBoLM(text="\n".join(lines), add_start=True, discount_mass=discount)
        model.compute()
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(dict_path) as tmp:
            tmp.write_text("".join(f"{w}{'' if i == 0 else f'({i + 1})'} {p}\n"
                                   for w in sorted(prons) for i, p in enumerate(prons[w])))
        with atomic_file(lm_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            model.write(f)
        return cls(lm_path, dict_path, len(prons), len(vocab - set(cmudict())))


def for_sandbox(sandbox=None, discount: float = DISCOUNT) -> LanguageModel:
    """The sandbox's domain language model, built from its current catalog (cached under serving/cache/voice)."""
    from pinsandbox.catalog import load_catalog
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    catalog = load_catalog(sb)
    return LanguageModel.build(corpus(catalog, training_requests(sb)), sb.path("serving/cache/voice"), discount)


def training_requests(sb) -> pd.DataFrame | None:
    """Navigator's training requests when the sandbox has Pinworld's ground truth; None for an imported catalog."""
    from pinsandbox.catalog import load_ground_truth
    from pinsandbox.errors import NotFound

    try:
        gold = load_ground_truth(sb).gold_navigator
    except NotFound:
        return None
    return gold[gold["split"] == "train"]

"""Numbers and prices between their spoken and their written forms.

A recogniser writes what it heard in words ("under one hundred twenty dollars"); Navigator, like a person typing,
reads digits ("under $120"). `spoken_to_written` turns the first into the second, so a spoken budget behaves
exactly like a typed one, and `budget` reads the price limit a request states, whichever way it was entered.
`say_number` goes the other way, for the language model's price phrases and for the spoken gold set.
"""

from __future__ import annotations

import re

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = {"hundred": 100, "thousand": 1000}
CURRENCY = ("dollars", "dollar", "bucks")
_WORD_VALUE = {w: i for i, w in enumerate(ONES)} | {w: 10 * i for i, w in enumerate(TENS) if w}
NUMBER_WORDS = set(_WORD_VALUE) | set(SCALES) | {"a", "and"}

# Words that put a ceiling on the price: "under $100", "no more than $80", "max $50", "budget $200", "$90 or less".
_BEFORE = r"(?:under|below|less than|cheaper than|no more than|not more than|at most|up to|max(?:imum)?|budget(?: of| is)?|within)"
_BUDGET = re.compile(rf"\b{_BEFORE}\s*\$\s*(\d+(?:\.\d+)?)|\$\s*(\d+(?:\.\d+)?)\s*(?:or less|or under|max(?:imum)?)\b",
                     re.IGNORECASE)


def say_number(n: int) -> str:
    """0 ≤ n < 1,000,000 in words as American English says prices: 120 → "one hundred twenty"."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"say_number handles 0 to 999999, got {n}")
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + say_number(n % 100))
    return say_number(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + say_number(n % 1000))


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")  # "$1,500" is 1500


def say_prices(text: str) -> str:
    """Written prices and numbers in words, as a person would read them: "under $120" → "under one hundred twenty
    dollars". What the spoken gold set says, and the reference its word error rate is measured against."""
    text = re.sub(r"\$\s*(\d+)", lambda m: say_number(int(m.group(1))) + " dollars", _THOUSANDS.sub("", text))
    return re.sub(r"\b(\d+)\b", lambda m: say_number(int(m.group(1))), text)


def _value(words: list[str]) -> int | None:
    """The number a run of number words says ("one hundred and twenty" → 120), or None if it says none."""
    total, current, seen = 0, 0, False
    for w in words:
        if w in _WORD_VALUE:
            current += _WORD_VALUE[w]
            seen = True
        elif w == "a":  # "a hundred"
            current = current or 1
        elif w == "hundred":
            current = (current or 1) * 100
            seen = True
        elif w == "thousand":
            total += (current or 1) * 1000
            current, seen = 0, True
    return total + current if seen else None


def spoken_to_written(text: str) -> str:
    """Spoken numbers to digits and spoken prices to "$N": "under one hundred dollars" → "under $100".

    A run of number words is one number ("one hundred and twenty"); "a" and "and" belong to it only between number
    words ("a hundred", "hundred and five"), so "a lamp and a rug" stays as it is.
    """
    tokens = text.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _is_number_word(tokens, j, i):
            j += 1
        while j > i and tokens[j - 1].lower() in ("a", "and"):  # a trailing "and" / "a" is not part of the number
            j -= 1
        value = _value([t.lower() for t in tokens[i:j]]) if j > i else None
        if value is None:
            out.append(tokens[i])
            i += 1
            continue
        if j < len(tokens) and tokens[j].lower().strip(".,?!") in CURRENCY:
            out.append(f"${value}" + tokens[j][len(tokens[j].rstrip('.,?!')):])
            j += 1
        else:
            out.append(str(value))
        i = j
    text = _DIGITS_CURRENCY.sub(r"$\1", " ".join(out))  # "100 dollars", "80 bucks" (typed digits, spoken currency)
    for heard, meant in _BEFORE_PRICE:
        text = heard.sub(meant, text)
    return text


_DIGITS_CURRENCY = re.compile(rf"(?<![$\d])(\d+(?:\.\d+)?)\s*(?:{'|'.join(CURRENCY)}|usd)\b", re.IGNORECASE)

# Words a recogniser hears for another right before a price: "max one hundred" comes out "maxi one hundred" (the
# glide into "one"), and a maxi dress is never followed by a price. Corrected once the price is written.
_BEFORE_PRICE = [(re.compile(r"\bmaxi(?= \$\d)", re.IGNORECASE), "max")]


def _is_number_word(tokens: list[str], j: int, start: int) -> bool:
    w = tokens[j].lower()
    if w == "a":  # only as "a hundred" / "a thousand"
        return j + 1 < len(tokens) and tokens[j + 1].lower() in SCALES
    if w == "and":  # only inside a number: "one hundred and twenty"
        return j > start and tokens[j - 1].lower() in SCALES and j + 1 < len(tokens) and tokens[j + 1].lower() in _WORD_VALUE
    return w in _WORD_VALUE or w in SCALES


def budget(text: str) -> float | None:
    """The price ceiling a request states ("under $100", "no more than $80", "$90 or less"), spoken or typed;
    None when it states none."""
    m = _BUDGET.search(_THOUSANDS.sub("", spoken_to_written(text)))
    if m is None:
        return None
    return float(m.group(1) or m.group(2))

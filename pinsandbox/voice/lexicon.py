"""How each word of the vocabulary sounds, in the acoustic model's phones (ARPAbet).

Words in the CMU dictionary that ships with pocketsphinx take their pronunciations from it (with its variants).
A catalog's own words that it lacks — "japandi", "hygge", a merchant's name — are spelled into phones by
espeak-ng (`--ipa`), mapped from IPA to ARPAbet, so a user's vocabulary is recognised too.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from pinsandbox.errors import PinsandboxError

# IPA → ARPAbet. Longest first when matching, so diphthongs and r-coloured vowels win over their parts.
IPA = {
    "eɪ": "EY", "aɪ": "AY", "ɔɪ": "OY", "aʊ": "AW", "oʊ": "OW", "əʊ": "OW", "tʃ": "CH", "dʒ": "JH",
    "ɑːɹ": "AA R", "ɔːɹ": "AO R", "ɛɹ": "EH R", "ɪɹ": "IH R", "ʊɹ": "UH R", "ɜːɹ": "ER", "ɚ": "ER", "ɝ": "ER",
    "ɜː": "ER", "əl": "AH L", "n̩": "AH N", "l̩": "AH L",
    "æ": "AE", "ɑː": "AA", "ɑ": "AA", "ɒ": "AA", "ɔː": "AO", "ɔ": "AO", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ᵻ": "IH",
    "ɛ": "EH", "e": "EH", "ɪ": "IH", "iː": "IY", "i": "IY", "ʊ": "UH", "uː": "UW", "u": "UW", "o": "OW", "a": "AA",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "g": "G", "f": "F", "v": "V", "θ": "TH", "ð": "DH",
    "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "x": "HH", "m": "M", "n": "N", "ŋ": "NG", "l": "L",
    "ɫ": "L", "ɹ": "R", "r": "R", "w": "W", "j": "Y", "ɾ": "D", "ʔ": "T",
}
_IPA_KEYS = sorted(IPA, key=len, reverse=True)
_IGNORED = set("ˈˌː‖|.-_ ̃ʲʰ") | {"\u0303", "\u02de"}


def model_dir() -> Path:
    """The en-us model shipped inside the pocketsphinx wheel (acoustic model, CMU dictionary)."""
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us"


@functools.lru_cache(maxsize=1)
def cmudict() -> dict[str, list[str]]:
    """word → its pronunciations in the shipped CMU dictionary."""
    out: dict[str, list[str]] = {}
    with open(model_dir() / "cmudict-en-us.dict", encoding="utf-8") as f:
        for line in f:
            word, _, phones = line.strip().partition(" ")
            out.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(phones.strip())
    return out


def ipa_to_arpabet(ipa: str) -> str:
    """One word's IPA (espeak-ng's spelling) as ARPAbet phones; stress and length marks dropped."""
    phones, i = [], 0
    while i < len(ipa):
        if ipa[i] in _IGNORED:
            i += 1
            continue
        key = next((k for k in _IPA_KEYS if ipa.startswith(k, i)), None)
        if key is None:  # a symbol with no English phone: skip it rather than fail on one foreign sound
            i += 1
            continue
        phones.append(IPA[key])
        i += len(key)
    return " ".join(phones)


def espeak_binary() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise PinsandboxError("espeak-ng is missing: install it with `apt-get install espeak-ng` (make test does)")
    return found


def spell(words: list[str]) -> dict[str, str]:
    """Pronunciations for words the CMU dictionary lacks, from espeak-ng's letter-to-sound rules (one call)."""
    if not words:
        return {}
    out = subprocess.run([espeak_binary(), "-q", "-v", "en-us", "--ipa"], input="\n".join(words) + "\n",
                         capture_output=True, text=True, check=True, timeout=60).stdout
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if len(lines) != len(words):  # espeak-ng joins or splits a line now and then: fall back to one call a word
        lines = [subprocess.run([espeak_binary(), "-q", "-v", "en-us", "--ipa", w], capture_output=True, text=True,
                                check=True, timeout=30).stdout.strip() for w in words]
    spelled = {w: ipa_to_arpabet(ipa.replace(" ", "")) for w, ipa in zip(words, lines, strict=True)}
    return {w: p for w, p in spelled.items() if p}


def pronunciations(words: set[str]) -> dict[str, list[str]]:
    """word → pronunciations for every word (the CMU dictionary first, espeak-ng for the rest)."""
    cmu = cmudict()
    out = {w: cmu[w] for w in words if w in cmu}
    for w, phones in spell(sorted(w for w in words if w not in cmu)).items():
        out[w] = [phones]
    return out

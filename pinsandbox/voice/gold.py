"""The spoken gold set: Navigator's held-out requests, spoken by espeak-ng in several voices over seeded noise.

Generated, never committed: the same sandbox, voices, noise level and seed give byte-identical WAV files.

    python -m pinsandbox.voice.gold --sandbox alice --out /tmp/spoken [--limit 40] [--snr-db 25] [--seed 0]
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from pinsandbox.voice.audio import to_wav
from pinsandbox.voice.language_model import words
from pinsandbox.voice.synthesis import VOICES, synthesize

SNR_DB = 25.0  # a quiet room with a laptop microphone


def spoken(text: str) -> str:
    """A typed request as a person says it: "max $120" → "max one hundred twenty dollars"."""
    return " ".join(words(text))  # words() reads prices and numbers aloud


def noisy(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`samples` with white noise at `snr_db` below the speech's own power."""
    power = float(np.mean(samples.astype(np.float64) ** 2)) or 1e-12
    noise = rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(samples))
    return (samples + noise).astype(np.float32)


def held_out_requests(sandbox=None, limit: int | None = None) -> pd.DataFrame:
    """Navigator's held-out requests (phrasings the training requests never use), first `limit` of them."""
    from pinsandbox.catalog import load_ground_truth

    gold = load_ground_truth(sandbox).gold_navigator
    test = gold[gold["split"] == "test"].sort_values("request_id").reset_index(drop=True)
    return test if limit is None else test.head(limit)


def spoken_gold_set(sandbox, out: Path, voices=VOICES, snr_db: float = SNR_DB, seed: int = 0,
                    limit: int | None = None) -> pd.DataFrame:
    """Write one WAV per held-out request and voice into `out`; returns the table: request_id, voice, text (as
    typed), reference (the words spoken), path, seconds, max_price, answer_pin_ids."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for req in held_out_requests(sandbox, limit).itertuples(index=False):
        reference = spoken(req.text)
        for voice in voices:
            samples, rate = synthesize(reference, voice)
            # one stream per (seed, request, voice): a file does not change when others are added
            rng = np.random.default_rng([seed, zlib.crc32(f"{req.request_id}/{voice}".encode())])
            path = out / f"{req.request_id}-{voice.replace('+', '_')}.wav"
            path.write_bytes(to_wav(noisy(samples, snr_db, rng), rate))
            rows.append({"request_id": req.request_id, "voice": voice, "text": req.text, "reference": reference,
                         "path": str(path), "seconds": len(samples) / rate, "max_price": req.max_price,
                         "answer_pin_ids": list(req.answer_pin_ids)})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--snr-db", type=float, default=SNR_DB)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = spoken_gold_set(args.sandbox, args.out, snr_db=args.snr_db, seed=args.seed, limit=args.limit)
    table.drop(columns="answer_pin_ids").to_csv(args.out / "index.csv", index=False)
    print(f"{len(table)} spoken requests in {args.out} (index.csv lists them)")


if __name__ == "__main__":
    main()

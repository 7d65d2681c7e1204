"""Voice benchmark: the voice-first Navigator on Navigator's held-out requests, spoken.

    python benchmarks/bench_voice.py                  # demo-size Pinworld (3,000 pins), 60 held-out requests × 3 voices
    python benchmarks/bench_voice.py --quick          # 20 requests
    python benchmarks/bench_voice.py --sandbox demo   # an existing sandbox (its fine-tuned ranker, if it has one)

The spoken gold set (`pinsandbox.voice.gold`): each held-out request — phrasings the training requests never use —
spoken by espeak-ng in three voices with seeded noise 25 dB below the speech. Measured on the same recordings:

- recognition: word error rate per voice and overall, with the domain language model built from the catalog,
  and with pocketsphinx's bundled general English model (the candidate it replaces, on the first recordings);
  latency p50/p95 for utterances of up to 4 s on one thread;
- reply synthesis: espeak-ng time per sentence of Navigator's answers;
- voice → pins against text → pins: Navigator's recall@10 given the recognised request (its spoken budget read
  as a price limit) and given the typed one (its typed budget read the same way).

Goals (the issue's): recognition p95 ≤ 500 ms, synthesis ≤ 200 ms per sentence, WER ≤ 10 %, voice recall@10
within 5 % (relative) of text. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + insertions + deletions, reference words): word-level Levenshtein distance."""
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row = row, [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1], len(ref)


def wer(pairs) -> float:
    errors = [word_errors(r, h) for r, h in pairs]
    return round(sum(e for e, _ in errors) / max(1, sum(n for _, n in errors)), 4)


def ms(values) -> dict:
    a = np.asarray(values) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 1), "p95_ms": round(float(np.percentile(a, 95)), 1),
            "mean_ms": round(float(a.mean()), 1), "n": len(a)}


def sandbox_for(args, root: str):
    import pinsandbox
    from pinsandbox.catalog import CatalogConfig, run_catalog

    if args.sandbox:
        return pinsandbox.open_sandbox(args.sandbox)
    os.environ["PINSANDBOX_ROOT"] = root
    sb = pinsandbox.create("voicebench")
    run_catalog(sb, CatalogConfig(n_pins=args.pins, seed=args.seed, render_images=False), progress=False)
    return sb


def general_model_wer(gold, n: int) -> dict:
    """WER of pocketsphinx with its bundled general English language model, on the first `n` recordings."""
    from pocketsphinx import Decoder

    from pinsandbox.voice.audio import decode, for_recogniser

    decoder = Decoder(loglevel="FATAL")  # the wheel's defaults: en-us acoustic model, general LM, CMU dictionary
    pairs, took = [], []
    for row in gold.head(n).itertuples():
        pcm = for_recogniser(decode(open(row.path, "rb").read()))
        started = time.perf_counter()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        took.append(time.perf_counter() - started)
        pairs.append((row.reference, decoder.hyp().hypstr if decoder.hyp() else ""))
    return {"wer": wer(pairs), "recognise": ms(took)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 held-out requests instead of 60")
    parser.add_argument("--requests", type=int, help="held-out requests to speak (default 60, --quick 20)")
    parser.add_argument("--sandbox", help="an existing sandbox (default: a fresh Pinworld in a temporary folder)")
    parser.add_argument("--pins", type=int, default=3000)
    parser.add_argument("--snr-db", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_requests = args.requests or (20 if args.quick else 60)

    from threadpoolctl import threadpool_limits

    from pinsandbox.metrics import ranking_metrics
    from pinsandbox.serving import Navigator
    from pinsandbox.voice import VOICES, Voice, budget, for_sandbox, spoken_gold_set
    from pinsandbox.voice.gold import held_out_requests

    threadpool_limits(1)  # the server's voice worker runs on one thread; so does this
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        sb = sandbox_for(args, tmp)
        started = time.perf_counter()
        model = for_sandbox(sb)
        lm_build_s = time.perf_counter() - started
        voice = Voice.load(sb)
        gold = spoken_gold_set(sb, os.path.join(tmp, "spoken"), VOICES, args.snr_db, args.seed, n_requests)

        heard, took = [], []
        for row in gold.itertuples():
            h = voice.hear(open(row.path, "rb").read())
            heard.append(h)
            took.append((row.seconds, h["recognise_ms"] / 1000))
        gold["transcript"] = [h["transcript"] for h in heard]
        short = [t for s, t in took if s <= 4.0]

        synthesis = []
        navigator = Navigator.load(sb)
        requests = held_out_requests(sb, n_requests)
        targets = {r.request_id: set(r.answer_pin_ids) for r in requests.itertuples()}
        text_top, budgets_match = {}, 0
        for r in requests.itertuples():
            typed_budget = budget(r.text)
            budgets_match += typed_budget == r.max_price
            answer = navigator.ask(r.text, 10, typed_budget)
            text_top[r.request_id] = [p["pin_id"] for p in answer["pins"]]
            for sentence in filter(None, answer["answer"].split(". ")):
                started = time.perf_counter()
                voice.speak(sentence)
                synthesis.append(time.perf_counter() - started)
        recall = {"text": ranking_metrics(text_top, targets, 10)["recall@10"]}
        for v in VOICES:
            top = {}
            for row, h in zip(gold.itertuples(), heard, strict=True):
                if row.voice == v:
                    top[row.request_id] = [p["pin_id"] for p in navigator.ask(h["request"], 10, h["max_price"])["pins"]]
            recall[v] = ranking_metrics(top, targets, 10)["recall@10"]
        spoken_budgets = float(np.mean([h["max_price"] == m for h, m in zip(heard, gold["max_price"], strict=True)]))
        voice_recall = float(np.mean([recall[v] for v in VOICES]))
        general = general_model_wer(gold, min(len(gold), 20))

    rec, syn = ms(short), ms(synthesis)
    overall = wer(zip(gold["reference"], gold["transcript"], strict=True))
    result = {
        "voice": {
            "recogniser": "pocketsphinx 5 + catalog language model",
            "pins": args.pins if not args.sandbox else None, "requests": n_requests, "voices": list(VOICES),
            "snr_db": args.snr_db, "utterances": len(gold),
            "vocabulary": model.vocabulary, "words_spelled_by_espeak": model.spelled,
            "lm_build_s": round(lm_build_s, 2),
            "wer": overall,
            "wer_per_voice": {v: wer(zip(g["reference"], g["transcript"], strict=True)) for v, g in gold.groupby("voice")},
            "recognise_up_to_4s": rec,
            "recognise_all": ms([t for _, t in took]),
            "utterance_seconds_max": round(float(gold["seconds"].max()), 2),
            "synthesis_per_sentence": syn,
            "recall@10_text": round(recall["text"], 4),
            "recall@10_voice": round(voice_recall, 4),
            "recall@10_per_voice": {v: round(recall[v], 4) for v in VOICES},
            "recall_ratio_voice_over_text": round(voice_recall / recall["text"], 4) if recall["text"] else None,
            "typed_budget_parsed_share": round(budgets_match / len(requests), 4),
            "spoken_budget_parsed_share": round(spoken_budgets, 4),
            "ranker": navigator.name,
            "general_lm": general,
        },
        "goals": {
            "recognise_p95_ms<=500": rec["p95_ms"] <= 500,
            "synthesis_p95_ms_per_sentence<=200": syn["p95_ms"] <= 200,
            "wer<=0.10": overall <= 0.10,
            "voice_recall_within_5pct_of_text": bool(recall["text"]) and voice_recall >= 0.95 * recall["text"],
        },
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

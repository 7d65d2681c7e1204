"""`pinsandbox embeddings fit|show` and `pinsandbox similar`: train/precompute pin vectors, look up similar pins."""

from __future__ import annotations

from pinsandbox.cli import print_json


def register(sub) -> None:
    p = sub.add_parser("embeddings", help="train the pin encoder, precompute and index pin vectors")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    f = verbs.add_parser("fit", help="train on the sandbox's catalog, precompute both vector sets, index, evaluate")
    f.add_argument("--sandbox", required=True)
    f.add_argument("--engine", choices=["local", "ray"], default="local", help="precompute engine (default local)")
    f.add_argument("--steps", type=int, default=None, help="engagement-alignment steps (default 200)")
    f.add_argument("--clip-steps", type=int, default=None, help="CLIP image↔text steps (default 30)")
    f.add_argument("--dim", type=int, default=256)
    f.add_argument("--ann", choices=["hnsw", "ivf"], default="hnsw",
                   help="ANN index: hnsw (default, any size) or ivf (large catalogs, ~100 k pins and up)")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(handler=_fit)

    s = sub.add_parser("similar", help="the pins most similar to a pin (FAISS over precomputed vectors)")
    s.add_argument("--sandbox", required=True)
    s.add_argument("--pin", required=True, metavar="PIN_ID")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--kind", choices=["proprietary", "off-the-shelf"], default="proprietary")
    s.add_argument("--exact", action="store_true", help="exact search (IndexFlatIP) instead of the ANN index")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_similar)


def _fit(args):
    from pinsandbox.embeddings import EmbeddingsConfig, TrainConfig, run_embeddings

    train = TrainConfig(seed=args.seed)
    if args.steps is not None:
        train.steps = args.steps
    if args.clip_steps is not None:
        train.clip_steps = args.clip_steps
    config = EmbeddingsConfig(dim=args.dim, engine=args.engine, ann=args.ann, seed=args.seed, train=train)
    r = run_embeddings(args.sandbox, config)
    print_json({"encoder": r.encoder_id, "vectors": r.vector_ids, "precompute": r.precompute,
                f"ann_recall@{config.k}": r.ann_recall, "item_to_item": r.evaluation, "taste": r.taste,
                "metrics": r.metrics})


def _similar(args):
    from pinsandbox.embeddings import similar_pins

    table = similar_pins(args.pin, k=args.k, kind=args.kind, sandbox=args.sandbox, exact=args.exact)
    if args.json:
        print_json(table.to_dict(orient="records"))
    else:
        print(table.to_string(index=False))

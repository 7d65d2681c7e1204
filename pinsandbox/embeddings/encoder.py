"""The PinCLIP-style pin encoder: image tower + text tower + metadata embeddings, fused to one vector.

- image tower: a small CNN from torch.nn, trained from scratch (pins without an image skip it);
- text tower: frozen all-MiniLM-L6-v2 features (precomputed) + a trainable projection;
- metadata: learned embeddings of category, price bucket and merchant;
- graph: PinSage-style one-hop aggregation (mean MiniLM features of the pin's co-engaged pins) through its
  own projection, and a learned embedding per pin that had engagement before the cutoff (0 = none: new pins
  rely on content alone);
- fusion: an MLP over all of them, L2-normalised to `dim` (default 256).
`image_z` and `text_z` are the per-modality vectors the CLIP objective aligns.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pinsandbox.embeddings.features import TEXT_DIM, MetadataVocab
from pinsandbox.errors import InvalidInput, NotFound

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PIN_TABLE_NAME = "pin_table.json"


@dataclass
class EncoderConfig:
    dim: int = 256  # pin vector size
    hidden: int = 256  # width inside the towers
    image_size: int = 32  # images are resized to image_size × image_size
    use_images: bool = True  # False for text-only catalogs
    meta_dim: int = 32
    n_pin_table: int = 0  # pins with a learned id embedding (the table itself is saved as pin_table.json)
    vocab: MetadataVocab = field(default_factory=MetadataVocab)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        d = dict(d)
        d["vocab"] = MetadataVocab(**d.get("vocab", {}))
        return cls(**d)


def feature_tensors(features, rows) -> tuple:
    """The encoder's inputs for `rows` of a PinFeatures, as tensors, in forward's order."""
    return tuple(torch.from_numpy(np.ascontiguousarray(getattr(features, name)[rows]))
                 for name in ("text", "pixels", "has_image", "meta", "neighbours", "pin_index"))


class ImageTower(nn.Module):
    """Three strided conv blocks (torch.nn) and global mean+max pooling: S×S×3 → hidden."""

    def __init__(self, hidden: int):
        super().__init__()
        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.GELU())
        self.convs = nn.Sequential(block(3, 16), block(16, 32), block(32, 64))  # small: it trains on 2 CPU cores
        self.head = nn.Linear(64 * 2, hidden)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        h = self.convs(pixels)
        # mean (what is there) and max (what stands out) pooling
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))


class PinEncoder(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.pin_table: list[str] = []  # pin ids with a learned embedding, row i+1 of pin_embedding
        c = config
        self.text_tower = nn.Sequential(nn.Linear(TEXT_DIM, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden))
        self.image_tower = ImageTower(c.hidden) if c.use_images else None
        n_cat, n_price, n_merchant = c.vocab.sizes()
        self.category = nn.Embedding(n_cat, c.meta_dim)
        self.price = nn.Embedding(n_price, c.meta_dim)
        self.merchant = nn.Embedding(n_merchant, c.meta_dim)
        self.graph_tower = nn.Sequential(nn.Linear(TEXT_DIM, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden))
        self.pin_embedding = nn.Embedding(c.n_pin_table + 1, c.hidden, padding_idx=0)
        nn.init.normal_(self.pin_embedding.weight, std=0.02)
        with torch.no_grad():
            self.pin_embedding.weight[0].zero_()
        fused_in = c.hidden * (4 if c.use_images else 3) + 3 * c.meta_dim
        self.fusion = nn.Sequential(nn.Linear(fused_in, c.hidden * 2), nn.GELU(), nn.Linear(c.hidden * 2, c.dim))
        self.text_proj = nn.Linear(c.hidden, c.dim)  # per-modality vectors for the CLIP objective
        self.image_proj = nn.Linear(c.hidden, c.dim) if c.use_images else None
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1/0.07), CLIP's initial temperature

    def image_hidden(self, pixels: torch.Tensor, has_image: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return self.image_tower(x) * has_image.unsqueeze(1).float()  # a pin without an image contributes zeros

    def forward(self, text, pixels, has_image, meta, neighbours, pin_index, image_hidden=None) -> dict:
        """text float N×384, pixels uint8 N×S×S×3, has_image bool N, meta int64 N×3, neighbours float N×384,
        pin_index int64 N. `image_hidden` (the image tower's output) may be passed instead of running it."""
        t = self.text_tower(text)
        parts = [t]
        out = {"text_z": F.normalize(self.text_proj(t), dim=-1)}
        if self.image_tower is not None:
            img = self.image_hidden(pixels, has_image) if image_hidden is None else image_hidden
            parts.append(img)
            out["image_z"] = F.normalize(self.image_proj(img), dim=-1)
        parts += [self.graph_tower(neighbours), self.pin_embedding(pin_index)]
        parts += [self.category(meta[:, 0]), self.price(meta[:, 1]), self.merchant(meta[:, 2])]
        out["pin"] = F.normalize(self.fusion(torch.cat(parts, 1)), dim=-1)
        return out

    @torch.inference_mode()
    def embed(self, features, rows: slice = slice(None), batch_size: int = 512):
        """Pin vectors (numpy float32 n×dim) of `features` (a PinFeatures) rows, in eval mode."""
        import numpy as np

        self.eval()
        idx = np.arange(len(features))[rows]
        out = np.zeros((len(idx), self.config.dim), dtype=np.float32)
        for s in range(0, len(idx), batch_size):
            r = idx[s:s + batch_size]
            out[s:s + len(r)] = self(*feature_tensors(features, r))["pin"].numpy()
        return out

    # -- checkpoints, save_pretrained-style ---------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.config.to_dict(), indent=1))
        (directory / PIN_TABLE_NAME).write_text(json.dumps(self.pin_table))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_NAME)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> PinEncoder:
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
            raise NotFound(f"{directory} is not a pin-encoder checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME}); "
                           "train one with `pinsandbox embeddings fit`")
        model = cls(EncoderConfig.from_dict(json.loads((directory / CONFIG_NAME).read_text())))
        try:
            model.load_state_dict(load_file(directory / WEIGHTS_NAME))
        except RuntimeError as e:
            raise InvalidInput(f"checkpoint {directory} does not match its config: {e}") from None
        if (directory / PIN_TABLE_NAME).is_file():
            model.pin_table = json.loads((directory / PIN_TABLE_NAME).read_text())
        return model.eval()

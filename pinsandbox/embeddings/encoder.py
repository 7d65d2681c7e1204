"""The pin encoder, PinSage's way with PinCLIP's towers: a pin's content and its graph neighbourhood, fused.

- image tower: a small CNN from torch.nn, trained from scratch, beside classic descriptors (colour histogram and
  HOG, the off-the-shelf baseline's) that a 32-pixel CNN trained for seconds cannot yet beat (pins without an
  image skip it);
- text tower: frozen all-MiniLM-L6-v2 features (precomputed) + a trainable projection;
- metadata: learned embeddings of category, price bucket and merchant;
- graph tower: the pin's random-walk neighbourhood (`embeddings.graph`): its neighbours' text, pooled by visit
  count (PinSage's importance pooling), and the co-visit factors of its walks. Inductive, as PinSage is: no
  per-pin parameters, so a catalog of any size fits, and a pin published after training (no engagement yet,
  zeros here) gets its vector from content alone;
- fusion: an MLP over all of them, L2-normalised to `dim` (default 256);
- cold pins (no engagement before the cutoff: no neighbourhood): a linear map from their content (text,
  image descriptors, metadata) to where warm pins with that content landed, fitted in closed form (ridge) after
  training — CB2CF's idea (Barkan et al., 2019): content predicts the collaborative vector, so a new pin starts
  among the pins of its taste.
`image_z` and `text_z` are the per-modality vectors the CLIP objective aligns; `text_z` also lives in the pin
space (trained against the pin vectors), so a text request can be embedded next to pins (`embed_text`).
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


@dataclass
class EncoderConfig:
    dim: int = 256  # pin vector size
    hidden: int = 256  # width inside the towers
    image_size: int = 32  # images are resized to image_size × image_size
    use_images: bool = True  # False for text-only catalogs
    meta_dim: int = 32
    graph_dim: int = 64  # co-visit factors per pin (embeddings.graph)
    descriptor_dim: int = 0  # classic image descriptors per pin (features.generic_image_features; 0: no images)
    vocab: MetadataVocab = field(default_factory=MetadataVocab)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        d = dict(d)
        d["vocab"] = MetadataVocab(**d.get("vocab", {}))
        return cls(**d)


FEATURE_NAMES = ("text", "pixels", "descriptors", "has_image", "meta", "neighbours", "graph", "warm")  # forward's order


def feature_tensors(features, rows) -> tuple:
    """The encoder's inputs for `rows` of a PinFeatures, as tensors, in forward's order."""
    return tuple(torch.from_numpy(np.ascontiguousarray(getattr(features, name)[rows])) for name in FEATURE_NAMES)


class ImageTower(nn.Module):
    """Three strided conv blocks (torch.nn), global mean+max pooling, and the classic descriptors: → hidden."""

    def __init__(self, hidden: int, descriptor_dim: int = 0):
        super().__init__()
        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.GELU())
        self.convs = nn.Sequential(block(3, 16), block(16, 32), block(32, 64))  # small: it trains on 2 CPU cores
        self.head = nn.Linear(64 * 2 + descriptor_dim, hidden)

    def forward(self, pixels: torch.Tensor, descriptors: torch.Tensor) -> torch.Tensor:
        h = self.convs(pixels)
        # mean (what is there) and max (what stands out) pooling
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3)), descriptors], 1))


class PinEncoder(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        c = config
        self.text_tower = nn.Sequential(nn.Linear(TEXT_DIM, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden))
        self.image_tower = ImageTower(c.hidden, c.descriptor_dim) if c.use_images else None
        n_cat, n_price, n_merchant = c.vocab.sizes()
        self.category = nn.Embedding(n_cat, c.meta_dim)
        self.price = nn.Embedding(n_price, c.meta_dim)
        self.merchant = nn.Embedding(n_merchant, c.meta_dim)
        self.graph_tower = nn.Sequential(nn.Linear(TEXT_DIM + c.graph_dim + 1, c.hidden), nn.GELU(),
                                         nn.Linear(c.hidden, c.hidden))
        fused_in = c.hidden * (3 if c.use_images else 2) + 3 * c.meta_dim
        self.fusion = nn.Sequential(nn.Linear(fused_in, c.hidden * 2), nn.GELU(), nn.Linear(c.hidden * 2, c.dim))
        # the co-visit factors also reach the output linearly: what co-engagement says about taste stays readable
        self.graph_skip = nn.Linear(c.graph_dim, c.dim, bias=False)
        self.text_proj = nn.Linear(c.hidden, c.dim)  # per-modality vectors for the CLIP objective
        self.image_proj = nn.Linear(c.hidden, c.dim) if c.use_images else None
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1/0.07), CLIP's initial temperature
        self.cold_map = nn.Linear(TEXT_DIM + c.descriptor_dim + sum(c.vocab.sizes()), c.dim)  # fit_cold_map sets it

    def image_hidden(self, pixels: torch.Tensor, descriptors: torch.Tensor, has_image: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return self.image_tower(x, descriptors) * has_image.unsqueeze(1).float()  # no image: zeros

    def forward(self, text, pixels, descriptors, has_image, meta, neighbours, graph, warm, image_hidden=None) -> dict:
        """text float N×384, pixels uint8 N×S×S×3, descriptors float N×D, has_image bool N, meta int64 N×3,
        neighbours float N×384, graph float N×G, warm bool N. `image_hidden` (the image tower's output) may be
        passed instead of running it."""
        t = self.text_tower(text)
        parts = [t]
        out = {"text_z": F.normalize(self.text_proj(t), dim=-1)}
        if self.image_tower is not None:
            img = self.image_hidden(pixels, descriptors, has_image) if image_hidden is None else image_hidden
            parts.append(img)
            out["image_z"] = F.normalize(self.image_proj(img), dim=-1)
        w = warm.unsqueeze(1).float()
        parts.append(self.graph_tower(torch.cat([neighbours, graph, w], 1)) * w)
        parts += [self.category(meta[:, 0]), self.price(meta[:, 1]), self.merchant(meta[:, 2])]
        out["pin"] = F.normalize(self.fusion(torch.cat(parts, 1)) + self.graph_skip(graph) * w, dim=-1)
        if not self.training:  # cold pins: where their content says pins of their taste are
            cold = F.normalize(self.cold_map(self.content(text, descriptors, meta)), dim=-1)
            out["pin"] = torch.where(warm.unsqueeze(1), out["pin"], cold)
        return out

    def content(self, text, descriptors, meta) -> torch.Tensor:
        """What any pin has, engaged or not: its text, image descriptors and metadata (one-hot)."""
        onehots = [F.one_hot(meta[:, j], n).float() for j, n in enumerate(self.config.vocab.sizes())]
        return torch.cat([text, descriptors, *onehots], 1)

    @torch.inference_mode()
    def fit_cold_map(self, features, l2: float = 1.0, batch_size: int = 4096) -> None:
        """Ridge regression, in closed form, from warm pins' content to their pin vectors: the cold pins' map."""
        rows = np.flatnonzero(features.warm)
        if len(rows) == 0:  # nothing engaged yet: every pin is cold, and the fused content vector is all there is
            return
        self.eval()
        d_in = self.cold_map.in_features + 1  # + the bias column
        xtx, xty = torch.zeros(d_in, d_in, dtype=torch.float64), torch.zeros(d_in, self.config.dim, dtype=torch.float64)
        for s in range(0, len(rows), batch_size):
            inputs = feature_tensors(features, rows[s:s + batch_size])
            text, _, descriptors, _, meta, *_ = inputs
            x = torch.cat([self.content(text, descriptors, meta), torch.ones(len(text), 1)], 1).double()
            y = self(*inputs)["pin"].double()
            xtx += x.T @ x
            xty += x.T @ y
        penalty = torch.eye(d_in, dtype=torch.float64) * l2
        penalty[-1, -1] = 0  # the bias is not shrunk
        solution = torch.linalg.solve(xtx + penalty, xty)
        self.cold_map.weight.copy_(solution[:-1].T.float())
        self.cold_map.bias.copy_(solution[-1].float())

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

    @torch.inference_mode()
    def embed_text(self, text: np.ndarray) -> np.ndarray:
        """Text (MiniLM sentence vectors, N×384) into the pin space: unit vectors comparable with pin vectors."""
        self.eval()
        return F.normalize(self.text_proj(self.text_tower(torch.from_numpy(np.asarray(text, np.float32)))), dim=-1).numpy()

    # -- checkpoints, save_pretrained-style ---------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.config.to_dict(), indent=1))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_NAME)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> PinEncoder:
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
            raise NotFound(f"{directory} is not a pin-encoder checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME}); "
                           "train one with `pinsandbox embeddings fit`")
        try:
            config = EncoderConfig.from_dict(json.loads((directory / CONFIG_NAME).read_text()))
        except TypeError as e:
            raise InvalidInput(f"{directory} holds an encoder config this version cannot read ({e}): "
                               "re-run the embeddings stage") from None
        model = cls(config)
        try:
            model.load_state_dict(load_file(directory / WEIGHTS_NAME))
        except RuntimeError as e:
            raise InvalidInput(f"checkpoint {directory} does not match its config: {e}") from None
        return model.eval()

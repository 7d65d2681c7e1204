"""The vision-layer swap: Qwen3-VL without its vision encoder, fed precomputed pin vectors instead.

`swap_vision_layer(model, pin_dim, tokens_per_pin)` takes a `Qwen3VLForConditionalGeneration`, deletes
`model.visual` (the ViT, its merger and the DeepStack mergers: the parameters are gone, not frozen) and returns a
`PinQwen3VLForConditionalGeneration` that shares the same language model and adds a `PinProjector`:
one pin vector (d floats) -> `tokens_per_pin` soft tokens in the language model's embedding space.

How a request looks to the language model (same layout as an image prompt, so chat templates carry over)::

    <request text> <vision_start> <pin>×tokens_per_pin <vision_end> <vision_start> <pin>… <vision_end> …

- The `<pin>` placeholders are Qwen's image pad token (`config.image_token_id`); their embeddings are replaced
  by the projector's soft tokens (masked_scatter, as Qwen3-VL does for the merger's output).
- Positions: each pin is laid out as an image grid of tokens_per_pin = h×w merged tokens, and the 3-D M-RoPE
  positions (temporal, height, width) come from Qwen's own `get_rope_index` with `mm_token_type_ids` = 1 on
  the placeholders — the same positions an h×w-token image would get, so a checkpoint's rotary geometry
  is respected and text after the pins continues from the right offset.
- **DeepStack is disabled.** In Qwen3-VL it adds features taken from intermediate ViT blocks (e.g. 5, 11, 17)
  to the hidden states of the first LM layers at visual positions. Without a ViT there are no intermediate
  features, and a pin vector is one precomputed summary with no multi-level structure: re-injecting the
  projector's output would only add the input tokens to the residual stream a second time, with parameters
  that a LoRA run cannot learn better than the projector itself. So the language model runs without
  `deepstack_visual_embeds`, exactly as for text-only input.

The same swap takes a Qwen2.5-VL (`Qwen2_5_VLForConditionalGeneration`, the pretrained SmolLM2 presets of
pretrained.py) and returns a `PinQwen2_5_VLForConditionalGeneration`: Qwen2.5-VL has no DeepStack, and its
`compute_3d_position_ids` takes the same placeholders and grids, so everything above holds as written.

The swapped model saves and loads with `save_pretrained` / `from_pretrained` (projector and the Navigator
`score_head` included; `model_type` "pin_qwen3_vl" or "pin_qwen2_5_vl") and never sees a pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import slice_logits_to_keep
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
    Qwen2_5_VLModel,
    Qwen2_5_VLPreTrainedModel,
    Qwen2_5_VLTextModel,
)
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLModel, Qwen3VLPreTrainedModel, Qwen3VLTextModel

from pinsandbox.errors import InvalidInput
from pinsandbox.vlm.scoring import NavigatorHead, init_head


@strict
class PinQwen3VLConfig(Qwen3VLConfig):
    """Qwen3VLConfig plus the projector's shape. `vision_config` is kept (merge size, token ids), unbuilt."""

    model_type = "pin_qwen3_vl"
    pin_dim: int = 64
    tokens_per_pin: int = 4


@strict
class PinQwen2_5_VLConfig(Qwen2_5_VLConfig):
    """The same for Qwen2.5-VL (the pretrained presets, see pretrained.py)."""

    model_type = "pin_qwen2_5_vl"
    pin_dim: int = 64
    tokens_per_pin: int = 4


def pin_grid(tokens_per_pin: int) -> tuple[int, int]:
    """The (h, w) merged-token grid a pin occupies: the most square factorisation of tokens_per_pin."""
    h = max(d for d in range(1, int(math.isqrt(tokens_per_pin)) + 1) if tokens_per_pin % d == 0)
    return h, tokens_per_pin // h


class PinProjector(nn.Module):
    """pin vector (d) -> tokens_per_pin × hidden soft tokens. Shaped like Qwen3-VL's patch merger (LN, MLP).

    Trained embeddings are often anisotropic (every pin close to one common direction: the Pinworld
    proprietary vectors have a mean cosine of ~0.8), which leaves the differences between pins too small for
    a freshly initialised MLP to pick up. `fit_normalization(table)` stores the table's per-dimension mean and
    std as buffers (saved with the model) and the projector standardises its input with them.
    """

    def __init__(self, pin_dim: int, hidden_size: int, tokens_per_pin: int):
        super().__init__()
        self.pin_dim, self.hidden_size, self.tokens_per_pin = pin_dim, hidden_size, tokens_per_pin
        self.register_buffer("pin_mean", torch.zeros(pin_dim))
        self.register_buffer("pin_std", torch.ones(pin_dim))
        self.norm = nn.LayerNorm(pin_dim, eps=1e-6)
        self.linear_fc1 = nn.Linear(pin_dim, hidden_size)
        self.act_fn = nn.GELU()
        self.linear_fc2 = nn.Linear(hidden_size, tokens_per_pin * hidden_size)

    @torch.no_grad()
    def fit_normalization(self, table) -> PinProjector:
        t = check_pin_vectors(table, self.pin_dim).to(self.pin_mean.device, torch.float64)
        self.pin_mean.copy_(t.mean(0).to(self.pin_mean.dtype))
        self.pin_std.copy_(t.std(0).clamp(min=1e-6).to(self.pin_std.dtype))
        return self

    def forward(self, pin_vectors: torch.Tensor) -> torch.Tensor:
        x = (pin_vectors - self.pin_mean) / self.pin_std
        x = self.linear_fc2(self.act_fn(self.linear_fc1(self.norm(x))))
        return x.view(-1, self.tokens_per_pin, self.hidden_size)


def check_pin_vectors(vectors, pin_dim: int) -> torch.Tensor:
    """(N, pin_dim) float tensor from array-like input, or one clear error (wrong dimension, NaN/inf)."""
    t = torch.as_tensor(np.asarray(vectors) if not isinstance(vectors, torch.Tensor) else vectors)
    if t.ndim == 3:
        t = t.reshape(-1, t.shape[-1])
    if t.ndim != 2 or t.shape[-1] != pin_dim:
        raise InvalidInput(f"pin vectors have shape {tuple(t.shape)} but this model's projector takes {pin_dim}-d "
                           f"vectors: use the embeddings the model was swapped for (pin_dim={pin_dim}), "
                           "or swap again with the right pin_dim")
    if not t.is_floating_point():
        raise InvalidInput(f"pin vectors must be floats, got {t.dtype}")
    bad = ~torch.isfinite(t).all(dim=-1)
    if bad.any():
        rows = torch.nonzero(bad).flatten()[:5].tolist()
        raise InvalidInput(f"{int(bad.sum())} pin vector(s) contain NaN or inf (rows {rows}…): "
                           "recompute those pins' embeddings before sending them to the model")
    return t


class _PinModel:
    """The Qwen-VL model with `visual` replaced by `pin_projector`: no vision parameters are ever built.
    Mixed into Qwen3VLModel and Qwen2_5_VLModel (same prompt layout, same `compute_3d_position_ids`)."""

    pretrained_class: type
    text_model_class: type

    def __init__(self, config):
        self.pretrained_class.__init__(self, config)  # skip the VL model's __init__: it would build the ViT
        self.language_model = self.text_model_class._from_config(config.text_config)
        self.pin_projector = PinProjector(config.pin_dim, config.text_config.hidden_size, config.tokens_per_pin)
        self.rope_deltas = None
        self.post_init()

    def pin_grid_thw(self, n_pins: int, device=None) -> torch.Tensor:
        """Per-pin grid in pre-merge units, as `get_rope_index` expects for an image."""
        h, w = pin_grid(self.config.tokens_per_pin)
        m = self.config.vision_config.spatial_merge_size
        return torch.tensor([[1, h * m, w * m]], device=device).repeat(n_pins, 1)

    def embed_with_pins(self, input_ids: torch.Tensor, pin_vectors) -> torch.Tensor:
        embeds = self.get_input_embeddings()(input_ids)
        placeholders = input_ids == self.config.image_token_id
        n_slots = int(placeholders.sum())
        if pin_vectors is None:
            if n_slots:
                raise InvalidInput(f"the prompt has {n_slots} pin placeholder tokens but no pin vectors were given")
            return embeds
        vectors = check_pin_vectors(pin_vectors, self.config.pin_dim).to(embeds.device, embeds.dtype)
        soft = self.pin_projector(vectors)
        if soft.shape[0] * soft.shape[1] != n_slots:
            raise InvalidInput(f"{soft.shape[0]} pin vectors make {soft.shape[0] * soft.shape[1]} soft tokens but the "
                               f"prompt has {n_slots} placeholders: build the prompt with one pin slot per vector")
        return embeds.masked_scatter(placeholders.unsqueeze(-1), soft.reshape(-1, soft.shape[-1]))

    def forward(self, input_ids=None, pin_vectors=None, attention_mask=None, position_ids=None,
                past_key_values=None, inputs_embeds=None, use_cache=None, **kwargs) -> BaseModelOutputWithPast:
        # transformers renames past_key_values to `cache` (generation already passes `cache`): accept both
        cache = kwargs.pop("cache", None) or past_key_values
        if inputs_embeds is None:
            if input_ids is None:
                raise InvalidInput("give input_ids (with pin placeholders) or inputs_embeds")
            inputs_embeds = self.embed_with_pins(input_ids, pin_vectors)
        if position_ids is None:
            has_pins = input_ids is not None and bool((input_ids == self.config.image_token_id).any())
            n_pins = int((input_ids == self.config.image_token_id).sum()) // self.config.tokens_per_pin if has_pins else 0
            position_ids = self.compute_3d_position_ids(
                input_ids=input_ids, inputs_embeds=inputs_embeds,
                image_grid_thw=self.pin_grid_thw(n_pins, inputs_embeds.device) if has_pins else None,
                video_grid_thw=None, attention_mask=attention_mask, cache=cache,
                mm_token_type_ids=(input_ids == self.config.image_token_id).int() if input_ids is not None else None,
            )
        # DeepStack disabled (see module docstring): no visual_pos_masks / deepstack_visual_embeds.
        return self.language_model(input_ids=None, inputs_embeds=inputs_embeds, position_ids=position_ids,
                                   attention_mask=attention_mask, cache=cache,
                                   use_cache=use_cache, **kwargs)


class PinQwen3VLModel(_PinModel, Qwen3VLModel):
    config_class = PinQwen3VLConfig
    pretrained_class, text_model_class = Qwen3VLPreTrainedModel, Qwen3VLTextModel


class PinQwen2_5_VLModel(_PinModel, Qwen2_5_VLModel):
    config_class = PinQwen2_5_VLConfig
    pretrained_class, text_model_class = Qwen2_5_VLPreTrainedModel, Qwen2_5_VLTextModel


class _PinForConditionalGeneration:
    """Qwen-VL language model + pin projector (+ `score_head`, the Navigator ranking head)."""

    pretrained_class: type
    model_class: type

    def __init__(self, config):
        self.pretrained_class.__init__(self, config)
        self.model = self.model_class(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.score_head = NavigatorHead(config.text_config.hidden_size)
        self.post_init()

    def forward(self, input_ids=None, pin_vectors=None, attention_mask=None, position_ids=None, past_key_values=None,
                inputs_embeds=None, labels=None, logits_to_keep=0, use_cache=None, **kwargs) -> CausalLMOutputWithPast:
        out = self.model(input_ids=input_ids, pin_vectors=pin_vectors, attention_mask=attention_mask,
                         position_ids=position_ids, past_key_values=past_key_values, inputs_embeds=inputs_embeds,
                         use_cache=use_cache, **kwargs)
        logits = self.lm_head(slice_logits_to_keep(out.last_hidden_state, logits_to_keep))
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size)
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                      hidden_states=(out.last_hidden_state,))

    def prepare_inputs_for_generation(self, input_ids, pin_vectors=None, **kwargs):
        inputs = super().prepare_inputs_for_generation(input_ids, **kwargs)
        # Only the step whose tokens hold the pin placeholders (the prefill) gets the pins; decode steps are text.
        # Decided from the tokens, not the cache, whose keyword transformers renames (past_key_values → cache).
        step_ids = inputs.get("input_ids")
        if step_ids is not None and bool((step_ids == self.config.image_token_id).any()):
            inputs["pin_vectors"] = pin_vectors
        return inputs

    def _prepare_position_ids_for_generation(self, inputs_tensor, model_kwargs):
        return None  # positions come from forward (3-D M-RoPE at prefill, rope_deltas afterwards)


class PinQwen3VLForConditionalGeneration(_PinForConditionalGeneration, Qwen3VLForConditionalGeneration):
    config_class = PinQwen3VLConfig
    pretrained_class, model_class = Qwen3VLPreTrainedModel, PinQwen3VLModel


class PinQwen2_5_VLForConditionalGeneration(_PinForConditionalGeneration, Qwen2_5_VLForConditionalGeneration):
    config_class = PinQwen2_5_VLConfig
    pretrained_class, model_class = Qwen2_5_VLPreTrainedModel, PinQwen2_5_VLModel


# the VL model a swap takes -> (config, swapped model) it returns
SWAPS = {Qwen3VLForConditionalGeneration: (PinQwen3VLConfig, PinQwen3VLForConditionalGeneration),
         Qwen2_5_VLForConditionalGeneration: (PinQwen2_5_VLConfig, PinQwen2_5_VLForConditionalGeneration)}
PIN_MODELS = {"pin_qwen3_vl": PinQwen3VLForConditionalGeneration,
              "pin_qwen2_5_vl": PinQwen2_5_VLForConditionalGeneration}


def swap_vision_layer(model, pin_dim: int, tokens_per_pin: int = 4, *, seed: int = 0, fit_on=None):
    """Remove `model.visual` and return a `PinQwen3VLForConditionalGeneration` (or, for a Qwen2.5-VL,
    `PinQwen2_5_VLForConditionalGeneration`) sharing its language model.

    The projector and score head are freshly initialised from `seed` (they are what fine-tuning trains);
    `fit_on` (the N×pin_dim vector table the model will serve) sets the projector's input standardisation.
    `model` is consumed: its vision tower is deleted, its language model moves to the returned model.
    """
    if type(model) not in SWAPS:
        raise InvalidInput(f"swap_vision_layer needs a Qwen3VLForConditionalGeneration or "
                           f"Qwen2_5_VLForConditionalGeneration with its vision tower, got {type(model).__name__}")
    if getattr(model.model, "visual", None) is None:
        raise InvalidInput("this model has no vision tower left to swap (was it swapped already?)")
    if not isinstance(pin_dim, (int, np.integer)) or pin_dim < 1:
        raise InvalidInput(f"pin_dim must be a positive integer (the length of a pin vector), got {pin_dim!r}")
    if not isinstance(tokens_per_pin, (int, np.integer)) or tokens_per_pin < 1:
        raise InvalidInput(f"tokens_per_pin must be a positive integer, got {tokens_per_pin!r}")
    old = model.config
    config_class, swapped_class = SWAPS[type(model)]
    config = config_class(
        text_config=old.text_config.to_dict(), vision_config=old.vision_config.to_dict(),
        image_token_id=old.image_token_id, video_token_id=old.video_token_id,
        vision_start_token_id=old.vision_start_token_id, vision_end_token_id=old.vision_end_token_id,
        tie_word_embeddings=old.tie_word_embeddings, pin_dim=int(pin_dim), tokens_per_pin=int(tokens_per_pin))
    config._attn_implementation = old._attn_implementation or "sdpa"
    config.text_config._attn_implementation = config._attn_implementation
    lm = model.model.language_model
    dtype, device = lm.embed_tokens.weight.dtype, lm.embed_tokens.weight.device
    with torch.device("meta"):
        swapped = swapped_class(config)
    swapped.model.language_model = lm
    swapped.lm_head = model.lm_head
    gen = torch.Generator().manual_seed(seed)
    hidden = config.text_config.hidden_size
    projector = PinProjector(config.pin_dim, hidden, config.tokens_per_pin)
    for module in (projector.linear_fc1, projector.linear_fc2):
        # Qwen's initializer (normal, std = initializer_range), seeded so a swap is reproducible
        module.weight.data = torch.randn(module.weight.shape, generator=gen) * config.text_config.initializer_range
        module.bias.data.zero_()
    if fit_on is not None:
        projector.fit_normalization(fit_on)
    swapped.model.pin_projector = projector.to(device, dtype)
    swapped.score_head = init_head(NavigatorHead(hidden), seed, 1 / 16).to(device, dtype)
    del model.model.visual  # the ViT's parameters are released here, not frozen
    leftover = [n for n, p in swapped.named_parameters() if p.is_meta] if device.type != "meta" else []
    assert not leftover, f"swap left parameters unset: {leftover}"
    return swapped.eval()


def has_vision_parameters(model) -> bool:
    return any(n.startswith("model.visual.") or ".visual." in n for n, _ in model.named_parameters())

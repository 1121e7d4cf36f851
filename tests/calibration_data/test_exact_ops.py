"""kiln.calibration.exclusion and the mark-shape-ops pass on models as exporters write them:
a BERT-style attention block imported from ONNX, and small IR cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kiln.calibration.exclusion import (
    EXACT_ATTR,
    REASON_ATTR,
    analyze_exact,
    exact_inputs,
    find_exact_ops,
    mark_exact,
    marked_ops,
)
from kiln.compiler.interpreter import run_module
from kiln.compiler.text.parser import parse_module
from kiln.compiler.text.printer import print_module
from kiln.compiler.verifier import verify_module
from kiln.compiler.weights import WeightStore
from kiln.frontend.onnx.importer import ImportOptions, import_model
from kiln.passes.registry import build_pass_manager
from onnx import TensorProto, helper, numpy_helper

L, H, HEADS, VOCAB = 5, 8, 2, 30
F32_MIN = float(np.finfo(np.float32).min)


def _init(rng, name, *shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)


def bert_attention(mask_style: str, positions_from_ids: bool = False):
    """Embeddings and one self-attention block as torch.onnx.export writes a BERT: token ids
    and attention mask are int64 inputs; the mask becomes an additive bias on the scores."""
    rng = np.random.default_rng(0)
    hd = H // HEADS
    inits = [_init(rng, "word_emb", VOCAB, H), _init(rng, "pos_emb", L + 2, H),
             _init(rng, "ln_g", H), _init(rng, "ln_b", H),
             *(_init(rng, f"w{k}", H, H) for k in "qkvo"), *(_init(rng, f"b{k}", H) for k in "qkv"),
             numpy_helper.from_array(np.array([1, L, HEADS, hd], np.int64), "heads_shape"),
             numpy_helper.from_array(np.array([1, L, H], np.int64), "merged_shape"),
             numpy_helper.from_array(np.array([1, 2], np.int64), "mask_axes"),
             numpy_helper.from_array(np.array(np.sqrt(hd), np.float32), "sqrt_d"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array(F32_MIN, np.float32), "f32_min"),
             numpy_helper.from_array(np.array(-np.inf, np.float32), "neg_inf"),
             numpy_helper.from_array(np.array(0, np.int64), "zero_i"),
             numpy_helper.from_array(np.array(1, np.int64), "pad_id"),
             numpy_helper.from_array(np.array(1, np.int64), "axis1"),
             numpy_helper.from_array(np.arange(L, dtype=np.int64)[None], "static_positions")]
    n = helper.make_node
    nodes = [n("Gather", ["word_emb", "input_ids"], ["/embeddings/word"])]
    if positions_from_ids:  # RoBERTa: positions count the non-padding tokens
        nodes += [n("Equal", ["input_ids", "pad_id"], ["/pos/is_pad"]),
                  n("Not", ["/pos/is_pad"], ["/pos/not_pad"]),
                  n("Cast", ["/pos/not_pad"], ["/pos/mask_i"], to=TensorProto.INT64),
                  n("CumSum", ["/pos/mask_i", "axis1"], ["/pos/cumsum"]),
                  n("Mul", ["/pos/cumsum", "/pos/mask_i"], ["/pos/incremental"]),
                  n("Add", ["/pos/incremental", "pad_id"], ["/pos/position_ids"])]
        positions = "/pos/position_ids"
    else:
        positions = "static_positions"
    nodes += [
        n("Gather", ["pos_emb", positions], ["/embeddings/position"]),
        n("Add", ["/embeddings/word", "/embeddings/position"], ["/embeddings/sum"]),
        n("LayerNormalization", ["/embeddings/sum", "ln_g", "ln_b"], ["/embeddings/ln"],
          axis=-1),
    ]
    for k in "qkv":
        nodes += [n("MatMul", ["/embeddings/ln", f"w{k}"], [f"/attn/{k}_mm"]),
                  n("Add", [f"/attn/{k}_mm", f"b{k}"], [f"/attn/{k}"]),
                  n("Reshape", [f"/attn/{k}", "heads_shape"], [f"/attn/{k}_heads"])]
    nodes += [
        n("Transpose", ["/attn/q_heads"], ["/attn/q_t"], perm=[0, 2, 1, 3]),
        n("Transpose", ["/attn/k_heads"], ["/attn/k_t"], perm=[0, 2, 3, 1]),
        n("Transpose", ["/attn/v_heads"], ["/attn/v_t"], perm=[0, 2, 1, 3]),
        n("MatMul", ["/attn/q_t", "/attn/k_t"], ["/attn/scores"]),
        n("Div", ["/attn/scores", "sqrt_d"], ["/attn/scaled"]),
    ]
    if mask_style == "finfo_min":  # (1.0 - mask[:, None, None, :].float()) * finfo.min
        nodes += [n("Unsqueeze", ["attention_mask", "mask_axes"], ["/mask/unsqueezed"]),
                  n("Cast", ["/mask/unsqueezed"], ["/mask/float"], to=TensorProto.FLOAT),
                  n("Sub", ["one", "/mask/float"], ["/mask/inverted"]),
                  n("Mul", ["/mask/inverted", "f32_min"], ["/mask/bias"]),
                  n("Add", ["/attn/scaled", "/mask/bias"], ["/attn/masked"])]
    else:  # scores.masked_fill(mask[:, None, None, :] == 0, -inf)
        nodes += [n("Equal", ["attention_mask", "zero_i"], ["/mask/is_pad"]),
                  n("Unsqueeze", ["/mask/is_pad", "mask_axes"], ["/mask/cond"]),
                  n("Where", ["/mask/cond", "neg_inf", "/attn/scaled"], ["/attn/masked"])]
    nodes += [
        n("Softmax", ["/attn/masked"], ["/attn/probs"], axis=-1),
        n("MatMul", ["/attn/probs", "/attn/v_t"], ["/attn/context"]),
        n("Transpose", ["/attn/context"], ["/attn/context_t"], perm=[0, 2, 1, 3]),
        n("Reshape", ["/attn/context_t", "merged_shape"], ["/attn/merged"]),
        n("MatMul", ["/attn/merged", "wo"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "bert_attention",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, L]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, L])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, L, H])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


FEEDS = {"input_ids": np.array([[3, 7, 2, 1, 1]], np.int64),
         "attention_mask": np.array([[1, 1, 1, 0, 0]], np.int64)}
ACTIVATIONS = ["/embeddings/word", "/embeddings/position", "/embeddings/sum", "/embeddings/ln",
               "/attn/q", "/attn/k_t", "/attn/scores", "/attn/scaled", "/attn/probs",
               "/attn/context", "/attn/merged", "output"]


def _import(model):
    module = import_model(model, ImportOptions(example_inputs=FEEDS))
    verify_module(module)
    return module


def _by_loc(module) -> dict[str, str]:
    return {op.loc: reason for op, reason in find_exact_ops(module.main).items()}


@pytest.mark.parametrize("style", ["finfo_min", "where_neg_inf"])
def test_bert_attention_mask_chain_is_exact_and_activations_are_not(style):
    module = _import(bert_attention(style))
    found = _by_loc(module)
    if style == "finfo_min":
        assert found["/mask/float"] == found["/mask/inverted"] == found["/mask/bias"] == "mask"
        assert found["f32_min"] == "mask"  # the sentinel constant itself
    else:
        assert found["/mask/is_pad"] == found["/mask/cond"] == "mask"
        assert found["neg_inf"] == "mask"
    assert found["/attn/masked"] == "mask"  # scores + sentinels, up to the softmax
    for name in ACTIVATIONS:
        assert name not in found, f"{name} is an activation but was marked {found[name]}"
    analysis = analyze_exact(module.main)
    unranged = analysis.tensors_without_range()
    assert unranged == {"input_ids": "integer", "attention_mask": "integer", **found}
    assert exact_inputs(module.main) == ["input_ids", "attention_mask"]
    assert analysis.shape_layers() == list(found)  # program order


def test_position_ids_computed_from_token_ids_are_a_shape_chain():
    module = _import(bert_attention("finfo_min", positions_from_ids=True))
    found = _by_loc(module)
    for name in ("/pos/is_pad", "/pos/not_pad", "/pos/mask_i", "/pos/cumsum",
                 "/pos/incremental", "/pos/position_ids"):
        assert found[name] == "shape", name
    assert "/embeddings/position" not in found  # a lookup in a learned table: an activation


def test_pass_marks_the_ir_and_keeps_the_numbers():
    """After model_transform's pipeline, as run_calibration sees the module."""
    module = _import(bert_attention("finfo_min", positions_from_ids=True))
    before = run_module(module, FEEDS)
    build_pass_manager("transform").run(module)
    expected = _by_loc(module)
    assert expected["/mask/bias"] == "mask" and expected["/pos/position_ids"] == "shape"
    build_pass_manager("mark-shape-ops").run(module)
    verify_module(module)
    text = print_module(module)
    assert print_module(parse_module(text)) == text
    assert 'kiln.exact = true, kiln.exact_reason = "mask"' in text
    marked = {op.loc: r for op, r in marked_ops(module.main).items()}
    assert marked == expected == _by_loc(module)  # and a second analysis agrees
    after = run_module(module, FEEDS)
    np.testing.assert_array_equal(before["output"], after["output"])
    assert np.isfinite(after["output"]).all()


CASES = Path(__file__).with_name("exact_cases.mlir")


@pytest.fixture(scope="module")
def cases():
    return parse_module(CASES.read_text(), str(CASES))


def _found(func) -> dict[str, str]:
    return {op.loc: r for op, r in find_exact_ops(func).items()}


def test_sentinel_cases(cases):
    # max(x, finfo.min) clamps: the constant is a bound, not a sentinel put into the data
    assert _found(cases.lookup("clamp")) == {"fmin": "mask"}
    # -inf padding, consumed by max_pool
    assert _found(cases.lookup("pad_neg_inf")) == {"padded": "mask"}
    # f16's finfo.min is a sentinel for f16 data; the bool input feeds the where's condition
    assert _found(cases.lookup("f16_mask")) == {"f16_min": "mask", "masked": "mask"}


def test_a_table_lookup_is_an_activation_even_from_an_inline_table(cases):
    assert _found(cases.lookup("table_lookup")) == {"ids_f": "integer", "halved": "integer"}


def test_exact_values_read_by_activation_ops_keep_a_range(cases):
    analysis = analyze_exact(cases.lookup("boundaries"))
    found = {op.loc: r for op, r in analysis.ops.items()}
    # computed only from integer inputs and inline constants: exact; the conv's filter is a
    # learned parameter, so the conv makes an activation
    assert found == {"img_f": "integer", "normalized": "integer", "mask_f": "integer",
                     "mask_3d": "integer"}
    # the values an activation op reads keep their range; the ones only exact ops read do not
    assert analysis.tensors_without_range() == {"img": "integer", "mask": "integer",
                                                "img_f": "integer", "mask_f": "integer"}


def test_a_where_condition_that_computes_an_index_is_a_shape_op(cases):
    assert _found(cases.lookup("where_index")) == {
        "negative": "shape", "wrapped": "shape", "index": "shape"}


def test_stored_sentinel_mask_and_only_mask_weights_are_read(cases):
    causal = np.triu(np.full((4, 4), -np.inf, np.float32), 1)[None, None]
    store = WeightStore()
    store.add("filter", np.ones((2, 1, 1, 1), np.float32))
    store.add("causal", causal)
    read = []
    get = store.get
    store.get = lambda name: read.append(name) or get(name)
    found = {op.loc: r for op, r in find_exact_ops(cases.lookup("stored_masks"),
                                                   weights=store).items()}
    assert found == {"causal": "mask", "masked": "mask"}
    assert read == ["causal"]  # the conv's filter is never looked at


def test_mark_exact_counts_changes_and_rejects_unknown_reasons(cases):
    ops = find_exact_ops(cases.lookup("pad_neg_inf"))
    assert mark_exact(ops) == 1 and mark_exact(ops) == 0
    (op,) = ops
    assert op.attributes[EXACT_ATTR] is True and op.attributes[REASON_ATTR] == "mask"
    with pytest.raises(ValueError, match="unknown exact reason"):
        mark_exact({op: "weird"})

"""The JSON quant config (calibration/quant_config.py) on the example CNN: reading and its
errors (each naming the file and the JSON path), model_deploy --quant_config (bits, float
layers, skipped op types, min/max over the table, merged with a qtable) and
--save_quant_config (loading it back gives the same device model bytes), and the
weights-only / activations-only fake quantization of the simulator and run_calibration."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from kiln.calibration.quant_config import (
    QuantConfigError,
    config_of_modes,
    format_quant_config,
    parse_quant_config,
    read_quant_config,
    resolve,
)
from kiln.calibration.simulate import QuantSimulator, output_cosine
from kiln.calibration.table import read_table
from kiln.compiler.interpreter import run_function
from kiln.compiler.module_io import read_module
from kiln.compiler.target import load_target
from kiln.compiler.types import UniformType
from kiln.data.dataset import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from kiln.tools import model_deploy, model_transform, run_calibration
from tool_case import TINY_CNN, assert_usage_error, cli, files_bytes, make_png, snapshot

CONVS = ("stem_relu", "block1_relu", "block2_bn", "head_relu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("qcfg")
    mlir = root / "tiny.mlir"
    assert model_transform.run([
        "--model_name", "tiny_cnn", "--model_def", str(TINY_CNN), "--input_shapes",
        "[[1,3,32,32]]", "--mean", "123.675,116.28,103.53", "--scale", "0.0171,0.0175,0.0174",
        "--pixel_format", "rgb", "--mlir", str(mlir)]) == 0
    images = root / "images"
    for i in range(6):
        make_png(images / f"img_{i}.png", 32, 32, seed=i)
    table = root / "tiny_cali_table"
    assert run_calibration.run([str(mlir), "--dataset", str(images), "-o", str(table)]) == 0
    return {"root": root, "mlir": mlir, "table": table, "images": images}


def write(path: Path, config) -> Path:
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


def deploy(tiny, out: Path, capsys, *flags) -> tuple[int, str]:
    code, _, err = cli(model_deploy.run, [
        "--mlir", tiny["mlir"], "--quantize", "INT8", "--calibration_table", tiny["table"],
        "--model", out / "tiny.kmodel", *flags], capsys)
    return code, err


def lowered(out: Path) -> dict:
    return {op.loc: op for op in read_module(out / "tiny_npu.mlir").walk() if op.loc}


# -- reading -------------------------------------------------------------------------------
def test_text_round_trip_and_defaults():
    text = json.dumps({"version": 1, "layers": {"a": {"bits": 16}, "b": {"mode": "f16"},
                                                "c": {"min": -1, "max": 2.5}},
                       "skip_layers": ["d"], "skip_op_types": ["top.softmax"],
                       "fake_quant": "weights"})
    config = parse_quant_config(text, "c.json")
    assert config.layers["b"].mode == "F16" and config.layers["c"].min == -1.0
    again = parse_quant_config(format_quant_config(config), "c.json")
    assert again == config
    assert format_quant_config(again) == format_quant_config(config)
    empty = parse_quant_config("{}")
    assert not empty.layers and empty.fake_quant is None and not empty.skip_layers


PARSE_ERRORS = {  # id: (text, fragments of the message)
    "not_json": ('{"layers": ', ["c.json:1:", "not valid JSON"]),
    "not_object": ("[1, 2]", ["c.json: expected a JSON object"]),
    "unknown_top_key": ('{"layer": {}}', ["c.json: layer: unknown key", "layers"]),
    "newer_version": ('{"version": 2}', ["c.json: version: 2"]),
    "layers_not_object": ('{"layers": []}', ["c.json: layers: expected an object"]),
    "entry_not_object": ('{"layers": {"conv1": 8}}', ['c.json: layers."conv1": expected']),
    "unknown_layer_key": ('{"layers": {"conv1": {"bit": 8}}}',
                          ['c.json: layers."conv1".bit: unknown key']),
    "bits_string": ('{"layers": {"conv1": {"bits": "8"}}}',
                    ['c.json: layers."conv1".bits: expected an integer, got "8"']),
    "bits_bool": ('{"layers": {"conv1": {"bits": true}}}', ['layers."conv1".bits']),
    "bad_mode": ('{"layers": {"conv1": {"mode": "F8"}}}', ['layers."conv1".mode: "F8"']),
    "bits_and_mode": ('{"layers": {"conv1": {"bits": 8, "mode": "F32"}}}',
                      ['layers."conv1": give bits or mode']),
    "min_string": ('{"layers": {"conv1": {"min": "0"}}}', ['layers."conv1".min: expected a']),
    "min_above_max": ('{"layers": {"conv1": {"min": 3, "max": 1}}}',
                      ['layers."conv1": min 3.0 > max 1.0']),
    "nan": ('{"layers": {"conv1": {"max": NaN}}}', ["c.json: not valid JSON", "NaN"]),
    "duplicate_key": ('{"layers": {"a": {}, "a": {}}}', ["c.json", '"a" is given twice']),
    "skip_not_list": ('{"skip_layers": "conv1"}', ["c.json: skip_layers: expected a list"]),
    "skip_not_name": ('{"skip_op_types": ["top.add", 3]}', ["c.json: skip_op_types[1]"]),
    "skip_twice": ('{"skip_layers": ["a", "a"]}', ["c.json: skip_layers[1]", "twice"]),
    "fake_quant": ('{"fake_quant": "weight"}', ["c.json: fake_quant: \"weight\"", "weights"]),
}


@pytest.mark.parametrize("case", sorted(PARSE_ERRORS))
def test_parse_errors_name_the_json_path(case):
    text, fragments = PARSE_ERRORS[case]
    with pytest.raises(QuantConfigError) as info:
        parse_quant_config(text, "c.json")
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


RESOLVE_ERRORS = {  # id: (config, target, fragments)
    "unknown_layer": ({"layers": {"blok1_relu": {"bits": 8}}}, "int8-sym",
                      ['layers."blok1_relu": the model has no layer', "'block1_relu'"]),
    "bits_not_allowed": ({"layers": {"block1_relu": {"bits": 7}}}, "int8-sym",
                         ['c.json: layers."block1_relu".bits: 7 is not allowed by target '
                          "int8-sym (8, 16)"]),
    "bits_16_on_feature12": ({"layers": {"block1_relu": {"bits": 16}}}, "feature12",
                             ["16 is not allowed by target feature12 (8, 9, 10, 11, 12)"]),
    "mode_not_allowed": ({"layers": {"gap": {"mode": "BF16"}}}, "uint8-affine",
                         ['layers."gap".mode: BF16 is not allowed by target uint8-affine']),
    "skip_unknown": ({"skip_layers": ["pool", "gapp"]}, "int8-sym",
                     ["c.json: skip_layers[1]", "'gap'"]),
    "skip_and_bits": ({"layers": {"pool": {"bits": 16}}, "skip_layers": ["pool"]}, "int8-sym",
                      ["c.json: skip_layers[0]", 'layers."pool"']),
    "unknown_op_type": ({"skip_op_types": ["top.glob_avg_pool"]}, "int8-sym",
                        ["c.json: skip_op_types[0]", "top.glob_avg_pool"]),
    "bits_on_input": ({"layers": {"input": {"bits": 16}}}, "int8-sym",
                      ['layers."input"', "model input"]),
}


@pytest.mark.parametrize("case", sorted(RESOLVE_ERRORS))
def test_resolve_errors_name_the_json_path(case, tiny):
    config, target, fragments = RESOLVE_ERRORS[case]
    parsed = parse_quant_config(json.dumps(config), "c.json")
    with pytest.raises(QuantConfigError) as info:
        resolve(parsed, read_module(tiny["mlir"]), load_target(target))
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_precedence_layer_over_skip_op_types(tiny):
    config = parse_quant_config(json.dumps({
        "layers": {"block1_relu": {"bits": 16}, "input": {"max": 3.0}},
        "skip_layers": ["gap"], "skip_op_types": ["top.conv"]}))
    resolved = resolve(config, read_module(tiny["mlir"]), load_target("int8-sym"))
    assert resolved.modes == {"stem_relu": "F16", "block1_relu": "INT16", "block2_bn": "F16",
                              "head_relu": "F16", "gap": "F16"}
    assert resolved.ranges == {"input": (None, 3.0)}
    feature12 = resolve(parse_quant_config('{"skip_layers": ["gap"]}'), read_module(tiny["mlir"]),
                        load_target("feature12"))
    assert feature12.modes == {"gap": "F32"}  # its best float mode


# -- model_deploy --------------------------------------------------------------------------------
def test_save_and_load_give_the_same_model_bytes(tiny, tmp_path, capsys):
    qtable = tmp_path / "qtable"
    qtable.write_text("block1_relu F16\nres_add INT16\n")
    saved = tmp_path / "saved.json"
    code, err = deploy(tiny, tmp_path / "a", capsys, "--quantize_table", qtable,
                       "--save_quant_config", saved)
    assert code == 0, err
    config = read_quant_config(saved)
    assert list(config.layers)[:4] == ["stem_relu", "block1_relu", "block2_bn", "res_add"]
    assert config.layers["block1_relu"].mode == "F16"
    assert config.layers["res_add"].bits == 16 and config.layers["pool"].bits == 8
    before = snapshot(tmp_path)
    code, err = deploy(tiny, tmp_path / "b", capsys, "--quant_config", saved,
                       "--save_quant_config", tmp_path / "b" / "again.json")
    assert code == 0, err
    a, b = files_bytes(tmp_path / "a"), files_bytes(tmp_path / "b")
    assert a["tiny.kmodel"] == b["tiny.kmodel"]
    assert a["tiny_npu.mlir"] == b["tiny_npu.mlir"]
    assert b["again.json"] == saved.read_bytes()  # the same choice saves the same config
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("b/")} == before


def test_edited_config_bits_16_gives_i16(tiny, tmp_path, capsys):
    saved = tmp_path / "saved.json"
    code, err = deploy(tiny, tmp_path / "a", capsys, "--save_quant_config", saved)
    assert code == 0, err
    text = saved.read_text()
    assert '"block2_bn": {"bits": 8}' in text
    write(saved, text.replace('"block2_bn": {"bits": 8}', '"block2_bn": {"bits": 16}'))
    code, err = deploy(tiny, tmp_path / "b", capsys, "--quant_config", saved)
    assert code == 0, err
    plain, ops = lowered(tmp_path / "a"), lowered(tmp_path / "b")
    assert plain["block2_bn"].results[0].type.scalar.name == "i8"
    assert ops["block2_bn"].name == "npu.conv2d"
    assert ops["block2_bn"].results[0].type.scalar.name == "i16"
    for loc in ("stem_relu", "block1_relu", "head_relu"):  # the others as they were
        assert ops[loc].results[0].type == plain[loc].results[0].type, loc


def test_min_max_override_changes_that_layers_scale(tiny, tmp_path, capsys):
    config = write(tmp_path / "c.json", {"layers": {"block1_relu": {"min": 0.0, "max": 2.54}}})
    table_before = tiny["table"].read_bytes()
    code, err = deploy(tiny, tmp_path / "plain", capsys)
    assert code == 0, err
    code, err = deploy(tiny, tmp_path / "cfg", capsys, "--quant_config", config)
    assert code == 0, err
    assert "1 range override(s)" in err
    assert tiny["table"].read_bytes() == table_before  # the user's table is untouched
    plain, cfg = lowered(tmp_path / "plain"), lowered(tmp_path / "cfg")
    scale = cfg["block1_relu"].results[0].type.element.scale
    # a relu (never negative) is u8: 255 steps over the range, else 127
    assert scale == pytest.approx(2.54 / 255, rel=1e-6) or \
        scale == pytest.approx(2.54 / 127, rel=1e-6)
    threshold = read_table(tiny["table"])["block1_relu"].threshold
    assert plain["block1_relu"].results[0].type.element.scale == pytest.approx(threshold / 255,
                                                                               rel=1e-6)
    for loc in ("stem_relu", "head_relu"):  # the others keep the table's
        assert cfg[loc].results[0].type == plain[loc].results[0].type, loc
    saved = tmp_path / "saved.json"
    code, err = deploy(tiny, tmp_path / "again", capsys, "--quant_config", config,
                       "--save_quant_config", saved)
    assert code == 0, err
    kept = read_quant_config(saved).layers["block1_relu"]
    assert (kept.bits, kept.min, kept.max) == (8, 0.0, 2.54)


def test_skip_op_types_and_merge_with_a_qtable(tiny, tmp_path, capsys):
    qtable = tmp_path / "qtable"
    qtable.write_text("# op_name quantize_mode\nhead_relu F32\nblock1_relu F16\n")
    config = write(tmp_path / "c.json", {"layers": {"head_relu": {"bits": 16}},
                                         "skip_op_types": ["top.global_average_pool"],
                                         "skip_layers": ["block2_bn"]})
    code, err = deploy(tiny, tmp_path, capsys, "--quantize_table", qtable, "--quant_config",
                       config)
    assert code == 0, err
    assert "overrides --quantize_table" in err and "head_relu (F32 -> INT16)" in err
    ops = lowered(tmp_path)
    for loc in ("gap", "block2_bn", "block1_relu"):  # skipped, and the qtable's F16 row
        assert ops[loc].name.startswith("top."), loc
        assert ops[loc].attributes.get("kiln.mode") == "F16", loc
    assert ops["head_relu"].results[0].type.scalar.name in ("i16", "u16")
    assert isinstance(ops["stem_relu"].results[0].type.element, UniformType)
    assert qtable.read_text().startswith("# op_name quantize_mode\nhead_relu F32\n")


DEPLOY_ERRORS = {  # id: (config text, extra flags, fragments)
    "bits_not_allowed": ('{"layers": {"block1_relu": {"bits": 7}}}', [],
                         ['cfg.json: layers."block1_relu".bits: 7 is not allowed by target '
                          "int8-sym (8, 16)"]),
    "unknown_layer": ('{"layers": {"conv1": {"bits": 8}}}', [],
                      ['cfg.json: layers."conv1": the model has no layer']),
    "min_above_max": ('{"layers": {"gap": {"min": 1.0, "max": 0.5}}}', [],
                                  ['cfg.json: layers."gap": min 1.0 > max 0.5']),
    "range_empty_with_the_table": ('{"layers": {"stem_relu": {"max": -1.0}}}', [],
                                   ['cfg.json: layers."stem_relu": the range is empty']),
    "typo_key": ('{"layers": {"pool": {"bitz": 8}}}', [], ['cfg.json: layers."pool".bitz']),
    "save_over_config": ('{}', ["--save_quant_config", "@cfg"], ["cfg.json", "overwrite"]),
    "missing": (None, [], ["cfg.json", "no such file"]),
}


@pytest.mark.parametrize("case", sorted(DEPLOY_ERRORS))
def test_deploy_errors_are_one_message(case, tiny, tmp_path, capsys):
    text, extra, fragments = DEPLOY_ERRORS[case]
    config = tmp_path / "cfg.json"
    if text is not None:
        config.write_text(text)
    flags = [config if f == "@cfg" else f for f in extra]
    before = snapshot(tmp_path)
    code, err = deploy(tiny, tmp_path, capsys, "--quant_config", config, "--quiet", *flags)
    assert_usage_error(code, err, "model_deploy", *fragments)
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("config,fragments", [
    ('{"layers": {"pool": {"bits": 8}}}', ["--quant_config", "cfg.json", "--calibration_table"]),
    ('{"layers": {"pool": {"min": 0, "max": 1}}}', ["cfg.json", "--calibration_table"]),
])
def test_integer_layers_and_ranges_need_a_table(config, fragments, tiny, tmp_path, capsys):
    path = write(tmp_path / "cfg.json", config)
    code, _, err = cli(model_deploy.run, ["--mlir", tiny["mlir"], "--quantize", "F32",
                                          "--quant_config", path, "--model",
                                          tmp_path / "m.kmodel", "--quiet"], capsys)
    assert_usage_error(code, err, "model_deploy", *fragments)
    assert not (tmp_path / "m.kmodel").exists()


# -- fake quantization -----------------------------------------------------------------------------
def test_weights_only_and_activations_only_are_each_closer_than_both(tiny):
    module = read_module(tiny["mlir"])
    table = read_table(tiny["table"])
    thresholds = {n: table[n].threshold for n in table.names()}
    samples = list(load_dataset(module.main, dataset=str(tiny["images"])).take(6))
    reference = [run_function(module.main, s, weights=module.weights)[0] for s in samples]
    cos = {}
    for side in ("both", "weights", "activations"):
        sim = QuantSimulator(module, thresholds, fake_quant=side)
        cos[side] = output_cosine(reference, [sim.run(s) for s in samples])
    print(f"\ntiny_cnn fake-quant output cosines: {cos}")
    assert cos["weights"] != cos["activations"]
    assert cos["weights"] > cos["both"] and cos["activations"] > cos["both"]
    # the default is both sides, as before the switch existed
    default = QuantSimulator(module, thresholds)
    assert output_cosine(reference, [default.run(s) for s in samples]) == cos["both"]
    with pytest.raises(ValueError, match="fake_quant"):
        QuantSimulator(module, thresholds, fake_quant="neither")


def test_float_layers_and_layer_bits_of_the_simulator(tiny):
    module = read_module(tiny["mlir"])
    table = read_table(tiny["table"])
    thresholds = {n: table[n].threshold for n in table.names()}
    wide = {n: max(abs(table[n].min), abs(table[n].max)) for n in table.names()}
    samples = list(load_dataset(module.main, dataset=str(tiny["images"])).take(3))
    reference = [run_function(module.main, s, weights=module.weights)[0] for s in samples]

    def outputs(sim):
        return [sim.run(s) for s in samples]

    # every layer and the input float: the float model exactly (weights included)
    every = ["input", *(op.loc for op in module.walk() if op.loc and op.name != "top.weight")]
    for side in ("weights", "both"):
        got = outputs(QuantSimulator(module, thresholds, fake_quant=side, float_layers=every))
        for r, g in zip(reference, got):
            np.testing.assert_array_equal(r["logits"], g["logits"])
    # the convs float: only the activations left, so the same as activations-only
    convs = QuantSimulator(module, thresholds, float_layers=["logits", *CONVS])
    acts = QuantSimulator(module, {k: v for k, v in thresholds.items()
                                   if k not in ("logits", *CONVS)}, fake_quant="activations")
    for a, b in zip(outputs(convs), outputs(acts)):
        np.testing.assert_array_equal(a["logits"], b["logits"])
    # 16-bit activations at their observed range are closer to float than 8-bit ones
    eight = output_cosine(reference, outputs(QuantSimulator(module, thresholds,
                                                            fake_quant="activations")))
    sixteen = output_cosine(reference, outputs(QuantSimulator(
        module, wide, fake_quant="activations", layer_bits=dict.fromkeys(wide, 16))))
    assert sixteen > eight


@pytest.mark.parametrize("side", ["weights", "activations"])
def test_run_calibration_logs_the_fake_quant_cosine(side, tiny, tmp_path, capsys):
    config = write(tmp_path / "c.json", {"fake_quant": side})
    code, _, err = cli(run_calibration.run, [tiny["mlir"], "--dataset", tiny["images"],
                                             "--inference_num", "4", "-o",
                                             tmp_path / "tiny_cali_table", "--quant_config",
                                             config], capsys)
    assert code == 0, err
    line = next(x for x in err.splitlines() if "fake quant" in x)
    assert f"fake quant {side} only" in line and "on 4 sample(s)" in line
    one = float(line.split("output cosine ")[1].split()[0])
    both = float(line.split("both sides: ")[1].split(")")[0])
    assert 0.99 < both < one <= 1.0
    # the table (which names the IR of the rounded weights beside it) and those weights do
    # not depend on the config
    assert (tmp_path / "tiny_cali_table").read_bytes() == tiny["table"].read_bytes()
    for name in ("tiny_cali_table.mlir", "tiny_cali_table_weights.npz"):
        assert (tmp_path / name).read_bytes() == (tiny["root"] / name).read_bytes()


def test_run_calibration_checks_the_config(tiny, tmp_path, capsys):
    config = write(tmp_path / "c.json", {"skip_layers": ["gapp"]})
    code, _, err = cli(run_calibration.run, [tiny["mlir"], "--dataset", tiny["images"], "-o",
                                             tmp_path / "t", "--quant_config", config], capsys)
    assert_usage_error(code, err, "run_calibration", "c.json: skip_layers[0]", "'gap'")
    assert not (tmp_path / "t").exists()


def test_config_of_modes_orders_inputs_first():
    loaded = parse_quant_config('{"layers": {"input": {"min": -1, "max": 1}}}')
    config = config_of_modes({"a": "INT8", "b": "F16"}, loaded)
    assert list(config.layers) == ["input", "a", "b"]
    assert format_quant_config(config).count("\n") == 11


def test_simulation_with_the_lowered_types_is_the_device_model(tiny):
    # activations rounded to the types the lowering gives them: the simulation agrees with
    # the lowered integer model far more closely than the threshold simulation does
    from kiln.calibration.mixed import Evaluator
    from kiln.calibration.simulate import lowered_activation_types
    from kiln.compiler.similarity import cosine_similarity
    from kiln.compiler.target import load_target

    module = read_module(tiny["mlir"])
    table = read_table(tiny["table"])
    low = Evaluator(tiny["mlir"], load_target("int8-sym"), []).lower(table, {})
    types = lowered_activation_types(low)
    assert "input" in types  # the input, by its quantize cast
    samples = list(load_dataset(module.main, dataset=str(tiny["images"])).take(4))
    thresholds = {n: table[n].threshold for n in table.names()}
    typed = QuantSimulator(module, thresholds, activation_types=types)
    plain = QuantSimulator(module, thresholds)
    for s in samples:
        device = next(iter(run_function(low.main, s, weights=low.weights)[0].values()))
        a = next(iter(typed.run(s).values()))
        b = next(iter(plain.run(s).values()))
        assert 1 - cosine_similarity(device, a) < 0.2 * (1 - cosine_similarity(device, b))

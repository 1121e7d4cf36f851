"""Target descriptions: every built-in TOML loads; bad files give file + key messages."""

import pytest
from kiln.compiler.target import TargetError, known_targets, load_target


def test_builtin_targets_load():
    assert known_targets() == ["dfp-int16", "feature12", "int8-sym", "uint8-affine"]
    t = load_target()
    assert t.name == "int8-sym" and t.activation_symmetric and t.per_channel_weights
    qnn = load_target("uint8-affine")
    assert not qnn.activation_signed and qnn.min_range == 0.01
    assert load_target("dfp-int16").power_of_two_scales
    assert max(load_target("feature12").activation_bits) == 12


def test_unknown_target_suggests_a_name():
    with pytest.raises(TargetError, match=r"unknown target 'int8_sym' \(did you mean "
                                          r"'int8-sym'\?\); known targets: dfp-int16"):
        load_target("int8_sym")


@pytest.mark.parametrize("change, message", [
    (("default_bits = 8", "default_bits = 7"), "activations.default_bits 7 is not one of"),
    (("min_range = 0.0", "min_range = \"x\""), "'activations.min_range' must be int or float"),
    (("per_channel = true", "per_channel = 1"), "'weights.per_channel' must be bool"),
    (('modes = ["INT8"', 'modes = ["INT3"'), "mixed.modes: 'INT3' is not"),
    (("[scales]", "[scales]\nextra = 1"), r"unknown key\(s\) scales.extra"),
    (("power_of_two = false\n", ""), "missing key 'scales.power_of_two'"),
    (("bits = [8]", "bits = []"), "'weights.bits' must be a list of bit widths"),
    (("name = ", "name = = "), "not valid TOML"),
])
def test_bad_target_file(tmp_path, change, message):
    from kiln.compiler.target import TARGETS_DIR

    text = (TARGETS_DIR / "int8-sym.toml").read_text()
    assert change[0] in text
    path = tmp_path / "chip.toml"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(TargetError, match=message) as e:
        load_target(str(path))
    assert str(e.value).startswith(str(path))

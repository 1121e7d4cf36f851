"""The `npu` dialect: target ops with exact integer semantics (see kernels/integer.py).

Operands and results are tensors of `!quant.uniform` types or plain integer types; every
integer parameter of the arithmetic (zero points, fixed-point multipliers and shifts) is an
explicit attribute, so the interpreter runs no float math on the requantization path.
"""

from .arith import *  # noqa: F403
from .common import *  # noqa: F403
from .nn import *  # noqa: F403

"""The `top` dialect: float ops with ONNX semantics and normalized attributes.

One module per family of ops; importing this package registers them all. Every top op has a
single result, named by its loc (the ONNX tensor name), and a `compute(*arrays)` that uses
only its operands' arrays and its attributes (never its result type), which is what both the
reference interpreter and the ONNX importer run.
"""

from .activation import *  # noqa: F403
from .base import *  # noqa: F403
from .math import *  # noqa: F403
from .nn import *  # noqa: F403
from .normalization import *  # noqa: F403
from .reduce import *  # noqa: F403
from .resize import *  # noqa: F403
from .tensor import *  # noqa: F403

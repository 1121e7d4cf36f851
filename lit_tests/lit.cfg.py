# lit configuration for kiln's text-in, text-out tests.
#
# Tools run as `python -m kiln.tools.<tool>` with the interpreter running lit, and import the
# working tree through a `kiln` link in build/pyshim (on PYTHONPATH), so the tests check this
# checkout even where another kiln is installed.
import os
import sys

import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.excludes = ["Inputs"]
config.excludes = ["Inputs", "lit.cfg.py"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(config.test_source_root)
config.test_exec_root = os.path.join(repo, "build", "lit")

shim = os.path.join(repo, "build", "pyshim")
os.makedirs(shim, exist_ok=True)
link = os.path.join(shim, "kiln")
if not os.path.islink(link):
    os.symlink(repo, link)

python = f'"{sys.executable}"'
config.environment["PYTHONPATH"] = shim
config.environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"
config.substitutions.append(("%kiln-opt", f"{python} -m kiln.tools.kiln_opt"))
config.substitutions.append(("%python", python))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
# `filecheck` is the PyPI port of LLVM FileCheck, run by the same interpreter.
config.substitutions.append(("filecheck", f"{python} -m filecheck"))

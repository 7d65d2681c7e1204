"""Package namespaces whose names load from their submodules on first use.

Keeps `import pinsandbox.<stage>` (and the CLI, which imports every stage's commands) fast: pandas, torch,
faiss and friends load only when a name that needs them is touched.
"""

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """`__getattr__` and `__dir__` for `package`, where `exports` maps each public name to its submodule."""

    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(exports)

    return __getattr__, __dir__

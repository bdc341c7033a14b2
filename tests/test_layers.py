"""The layers of docs/design.md: each module imports only from its own layer or below."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "minidl"

# lower numbers are lower layers (docs/design.md draws the same picture)
LAYERS = {
    "backend": 0, "tensor": 1, "autograd": 2, "creation": 2, "functional": 3,
    "tensor_methods": 4, "gradcheck": 4, "autograd_functional": 4, "profiler": 4, "nn": 5, "optim": 5, "data": 6, "metrics": 6,
    "io": 6, "viz": 6, "classic": 6, "train": 7, "keras": 8, "__init__": 9,
}


def layer_of(module):
    """'minidl.nn.linear' -> the layer of 'nn'; kernels sit at the bottom with backend."""
    first = module.split(".")[1] if "." in module else "__init__"
    return 0 if first == "kernels" else LAYERS[first]


def imports_of(path):
    """The minidl modules a file imports, as dotted names."""
    package = ".".join(("minidl",) + path.relative_to(ROOT).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import x, y
                found.update(f"{module}.{alias.name}" for alias in node.names)
            else:
                found.add(module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("minidl.")}


def test_no_import_runs_up_a_layer():
    wrong = []
    for path in ROOT.rglob("*.py"):
        name = ".".join(("minidl",) + path.relative_to(ROOT).with_suffix("").parts)
        for imported in imports_of(path):
            if layer_of(imported) > layer_of(name):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(sorted(wrong))


def test_tensor_and_backend_import_nothing_above_them():
    assert imports_of(ROOT / "tensor.py") <= {"minidl.backend"}
    assert imports_of(ROOT / "backend.py") <= {"minidl.kernels"}  # the kernel table, lazily

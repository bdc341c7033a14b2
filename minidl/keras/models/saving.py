"""save_weights / load_weights: a model's weights in one .npz file, in Keras's layouts.

The file holds, for each layer that has weights, in model.layers order, its name and its
weights as get_weights() gives them (a Dense kernel (in, units)). It is written by
minidl.save (atomically, no pickle); there is no HDF5 here, so the path must end in .npz.
load_weights matches layers by position, as Keras does, checks every count and shape
first, and changes nothing when one does not fit.
"""
import os

from ... import io

FORMAT = "minidl.keras weights"


def _check_path(path, where):
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"{where}: minidl.keras stores weights in .npz files (no HDF5, no "
                         f"pickle); give a path ending in .npz, got {path!r}")
    return path


def _layers_with_weights(model):
    return [layer for layer in model.layers if layer.weights]


def save_weights(model, filepath, overwrite=True):
    """Write the weights of every layer to `filepath` (.npz)."""
    path = _check_path(filepath, "save_weights")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
    layers = [{"name": layer.name, "weights": layer.get_weights()}
              for layer in _layers_with_weights(model)]
    io.save({"format": FORMAT, "layers": layers}, path)


def load_weights(model, filepath):
    """Read weights written by save_weights into this model's layers, by position."""
    path = _check_path(filepath, "load_weights")
    state = io.load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"load_weights: {path} is not a file written by save_weights")
    saved, layers = state["layers"], _layers_with_weights(model)
    if len(saved) != len(layers):
        raise ValueError(f"Layer count mismatch when loading weights from file. Model "
                         f"expected {len(layers)} layers, found {len(saved)} saved layers.")
    for entry, layer in zip(saved, layers):
        arrays = [w.numpy() if hasattr(w, "numpy") else w for w in entry["weights"]]
        shapes = [tuple(a.shape) for a in arrays]
        expected = [w.shape for w in layer.weights]
        if shapes != expected:
            raise ValueError(f'load_weights: layer "{layer.name}" has weights of shapes '
                             f"{expected}, but the file's layer \"{entry['name']}\" has "
                             f"{shapes}")
        entry["arrays"] = arrays
    for entry, layer in zip(saved, layers):
        layer.set_weights(entry["arrays"])

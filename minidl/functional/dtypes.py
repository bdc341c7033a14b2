"""The dtype policy of the layer ops, in one place.

A layer's weights have one floating dtype (float32 unless asked otherwise), and its
input must have the same one: a float64 input to a float32 layer, or an integer one,
is an error that names both dtypes, as in PyTorch. Nothing is converted behind the
user's back, so a result never silently changes precision; `x.float()`,
`x.double()` or `model.double()` make the two agree. Embedding takes integer
indices, and fit/evaluate/predict convert the data they are given to the model's
dtype as they batch it.
"""


def check_input_dtype(op, x, *params):
    """Raise a TypeError naming op and both dtypes unless x has the floating dtype of the
    (non-None) tensors in params."""
    params = [p for p in params if p is not None]
    if not params:
        return
    want = params[0].dtype
    for p in params[1:]:
        if p.dtype != want:
            raise TypeError(f"{op}: its parameters have different dtypes, {want} and {p.dtype}")
    if x.dtype.kind not in "fc":
        raise TypeError(f"{op}: expected a floating-point input of dtype {want}, got {x.dtype}; "
                        f"convert it with x.to(np.{want.name}) (integer indices go to an Embedding)")
    if x.dtype != want:
        raise TypeError(f"{op}: input dtype {x.dtype} does not match the weight dtype {want}; "
                        f"convert the input (x.to(np.{want.name})) or the module "
                        f"(model.to(dtype=np.{x.dtype.name}))")

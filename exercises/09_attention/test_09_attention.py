"""Grader for exercise 09: attention with masks, the head split, multi-head attention."""
import numpy as np
import pytest

import grading
import minidl as mdl
import minidl.functional as F
from minidl import nn

student = grading.load(__file__, "attention")


def randn(*shape, seed=0):
    return mdl.tensor(np.random.default_rng(seed).standard_normal(shape))


def qkv(batch=(2,), length=4, keys=5, e=6, seed=0):
    return (randn(*batch, length, e, seed=seed), randn(*batch, keys, e, seed=seed + 1),
            randn(*batch, keys, 3, seed=seed + 2))


def assert_close(a, b):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_attention_without_a_mask():
    q, k, v = qkv(batch=(2, 3))
    out, weights = student.attention(q, k, v)
    assert_close(out, F.scaled_dot_product_attention(q, k, v))
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0)


def test_a_boolean_mask_says_where_a_query_may_look():
    q, k, v = qkv()
    mask = np.random.default_rng(1).random((4, 5)) < 0.6
    mask[:, 0] = True                               # every query may see at least one key
    out, weights = student.attention(q, k, v, attn_mask=mask)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mdl.tensor(mask)))
    assert not weights.numpy()[..., ~mask].any()


def test_a_float_mask_is_added_to_the_scores():
    q, k, v = qkv(seed=3)
    bias = np.random.default_rng(2).standard_normal((4, 5))
    bias[1, 2] = -np.inf
    out, _ = student.attention(q, k, v, attn_mask=bias)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mdl.tensor(bias)))


def test_the_causal_mask_hides_the_future():
    q, k, v = qkv(length=5, keys=5, seed=4)
    out, weights = student.attention(q, k, v, is_causal=True)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert not np.triu(weights.numpy()[0], k=1).any()


def test_a_query_that_may_see_nothing_gets_zero_weights():
    q, k, v = qkv(seed=5)
    mask = np.ones((4, 5), dtype=bool)
    mask[2] = False
    out, weights = student.attention(q, k, v, attn_mask=mask)
    assert np.isfinite(out.numpy()).all()
    assert not weights.numpy()[:, 2].any() and not out.numpy()[:, 2].any()


def test_split_and_merge_heads():
    x = randn(2, 3, 8)
    heads = student.split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(heads.numpy()[1, 2, 0], x.numpy()[1, 0, 4:6])
    np.testing.assert_array_equal(student.merge_heads(heads).numpy(), x.numpy())
    with pytest.raises(ValueError, match="split_heads"):
        student.split_heads(x, 3)


def _both(num_heads=2, e=8, seed=0):
    layer = nn.MultiheadAttention(e, num_heads, batch_first=True, dtype=np.float64)
    with mdl.no_grad():
        for p in (layer.in_proj_bias, layer.out_proj.bias):
            p.copy_(randn(*p.shape, seed=seed + 9) * 0.1)
    weights = (layer.in_proj_weight, layer.in_proj_bias, layer.out_proj.weight,
               layer.out_proj.bias)
    return layer, weights


def test_multi_head_attention_equals_nn_multiheadattention():
    mdl.manual_seed(0)
    layer, weights = _both()
    query, memory = randn(2, 4, 8, seed=1), randn(2, 6, 8, seed=2)
    ours = student.multi_head_attention(query, memory, memory, 2, *weights)
    theirs, _ = layer(query, memory, memory, need_weights=False)
    assert_close(ours, theirs)


def test_multi_head_attention_with_padding_and_a_causal_mask():
    mdl.manual_seed(1)
    layer, weights = _both(num_heads=4)
    x = randn(2, 5, 8, seed=3)
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 3:] = True                       # the second sequence is 3 long
    ours = student.multi_head_attention(x, x, x, 4, *weights, key_padding_mask=padding,
                                        is_causal=True)
    theirs, _ = layer(x, x, x, key_padding_mask=mdl.tensor(padding), need_weights=False,
                      attn_mask=nn.generate_square_subsequent_mask(5, dtype=np.float64),
                      is_causal=True)
    assert_close(ours, theirs)


def test_gradients_through_attention_pass_the_gradient_check():
    q, k, v = (t.requires_grad_() for t in qkv(batch=(1,), length=3, keys=4, e=4, seed=6))
    mask = np.array([[True, True, False, True]] * 3)
    assert mdl.gradcheck(lambda q, k, v: student.attention(q, k, v, attn_mask=mask)[0],
                         [q, k, v])


def test_gradients_through_multi_head_attention_pass_the_gradient_check():
    mdl.manual_seed(2)
    _, weights = _both(num_heads=2, e=4)
    x = randn(1, 3, 4, seed=7).requires_grad_()
    w_in = weights[0].detach().requires_grad_()
    assert mdl.gradcheck(
        lambda x, w_in: student.multi_head_attention(x, x, x, 2, w_in, *weights[1:],
                                                     is_causal=True), [x, w_in])

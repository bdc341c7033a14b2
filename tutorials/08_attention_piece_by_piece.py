# %% [markdown]
# # 08 · What is attention, built one piece at a time?
#
# A transformer is made of a few simple operations. This tutorial writes each of them
# out with plain tensor operations and checks, every time, that the result is exactly
# what minidl's layer computes with the same weights:
#
# 1. self-attention: queries, keys and values, scaled scores, softmax, weighted sum;
# 2. the causal mask, which stops a position from looking at later ones;
# 3. several heads, which turn out to be a reshape;
# 4. positional encodings, because attention by itself ignores order;
# 5. residual connections and layer norm, which make a `TransformerEncoderLayer`.
#
# Then we put the pieces together into a small character-level language model, train it
# on Moby-Dick, and compare it with the classic way of predicting the next character:
# counting which characters follow each group of n - 1 characters (an n-gram model).

# %%
import os

# The matrices here are small: one BLAS thread does them fastest, and several threads on
# a busy machine wait on each other. BLAS reads its thread count when NumPy first loads
# it: set it first.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
import minidl.functional as F  # noqa: E402
from minidl import nn, optim, viz  # noqa: E402
from minidl.data import CharVocab, load_char_corpus  # noqa: E402
from _common import expected_run_time, pick, report, save, timed  # noqa: E402

expected_run_time("08")

RESULTS = {}


def largest_difference(a, b):
    return float(np.abs(a.numpy() - b.numpy()).max())


# %% [markdown]
# ## 1. Characters as vectors
#
# The text is Moby-Dick, about 1.2 million characters. `CharVocab` numbers its distinct
# characters (83 of them: letters, digits, punctuation, newline; the run prints both
# counts). An `Embedding` turns
# each number into a vector of E numbers; here E = 16 and the vectors are still random,
# which is all we need to check the arithmetic. The book's first 64 characters after
# the chapter title, cut into four windows of 16, make a batch x of shape (4, 16, 16):
# (windows, positions, features).

# %%
text = load_char_corpus()
vocab = CharVocab(text)
V = vocab.size
start = text.index("Call me Ishmael.")
snippets = [text[start + 16 * i:start + 16 * (i + 1)] for i in range(4)]
print(f"{len(text):,} characters, {V} distinct; the windows: {snippets}")
RESULTS["characters"], RESULTS["vocabulary"] = len(text), V

mdl.manual_seed(0)
E = 16
embed = nn.Embedding(V, E)
x = embed(mdl.tensor(np.stack([vocab.encode(s) for s in snippets])))
print("x:", x.shape)

# %% [markdown]
# ## 2. Self-attention by hand
#
# Every position asks a question and every position offers an answer. Three linear
# maps of the same input x give, at each position,
#
# - a **query** q = W_q x + b_q: what this position is looking for,
# - a **key** k = W_k x + b_k: what it offers to be found by,
# - a **value** v = W_v x + b_v: what it hands over when it is found.
#
# The score of position i for position j is the dot product q_i · k_j, divided by √d
# (d = the number of features of q and k) so that the scores do not grow with d and
# push the softmax into a corner. A softmax over j turns each row of scores into weights
# that are positive and sum to 1, and position i's output is the weighted sum of the
# values: out_i = Σ_j w_ij v_j. In matrix form, for all positions at once:
#
#   out = softmax(Q Kᵀ / √d) V
#
# We borrow the weights of an `nn.MultiheadAttention` with one head, so that we can
# compare. As in PyTorch, it keeps W_Q, W_K and W_V stacked in one matrix,
# `in_proj_weight` (3E, E), and the biases in `in_proj_bias`; its last step is one more
# linear map, `out_proj`. (`batch_first=True`: our sequences are (N, T, E).)

# %%
attention = nn.MultiheadAttention(E, num_heads=1, batch_first=True)


def project(inputs, weight, bias):
    """x Wᵀ + b: what nn.Linear computes, written out."""
    return inputs @ weight.transpose(0, 1) + bias


def qkv(layer, inputs):
    """The queries, keys and values of `inputs`, from the layer's stacked weights."""
    weights, biases = layer.in_proj_weight.chunk(3), layer.in_proj_bias.chunk(3)
    return [project(inputs, w, b) for w, b in zip(weights, biases)]


queries, keys, values = qkv(attention, x)                # Q, K, V: (4, 16, 16) each
scores = queries @ keys.transpose(-1, -2) / math.sqrt(E)  # (4, 16, 16): query i, key j
weights = F.softmax(scores, dim=-1)                      # each row sums to 1
by_hand = weights @ values                               # (4, 16, 16)

by_function = F.scaled_dot_product_attention(queries, keys, values)
by_layer, _ = attention(x, x, x)
out_proj = attention.out_proj
RESULTS["by_hand_vs_sdpa"] = largest_difference(by_hand, by_function)
RESULTS["by_hand_vs_multihead_1"] = largest_difference(
    project(by_hand, out_proj.weight, out_proj.bias), by_layer)
print(f"rows of the weights sum to 1: {np.allclose(weights.numpy().sum(-1), 1, atol=1e-6)}")
print(f"by hand vs F.scaled_dot_product_attention: {RESULTS['by_hand_vs_sdpa']:.1e}")
print(f"by hand + out_proj vs nn.MultiheadAttention: {RESULTS['by_hand_vs_multihead_1']:.1e}")

# %% [markdown]
# (All in float32, so "equal" means equal up to float32 rounding: the differences printed
# are tiny, and the tests hold every one of them below 10⁻⁵.)
#
# ## 3. The causal mask
#
# A language model predicts each character from the ones before it. If position i could
# attend to position i + 1, it could read the answer. The *causal mask* forbids every
# key after the query: the scores above the diagonal are set to -∞ before the softmax,
# so their weights come out exactly 0 and each row shares its weight among positions
# 0..i only.

# %%
length = x.shape[1]
future = np.triu(np.ones((length, length), dtype=bool), k=1)   # True above the diagonal
causal_weights = F.softmax(mdl.where(future, -np.inf, scores), dim=-1)
causal_by_hand = causal_weights @ values

causal_function = F.scaled_dot_product_attention(queries, keys, values, is_causal=True)
causal_layer, _ = attention(x, x, x, attn_mask=future)     # the layer's mask: True = forbidden
RESULTS["causal_by_hand_vs_sdpa"] = largest_difference(causal_by_hand, causal_function)
RESULTS["causal_by_hand_vs_multihead"] = largest_difference(
    project(causal_by_hand, out_proj.weight, out_proj.bias), causal_layer)
print(f"causal, by hand vs F.scaled_dot_product_attention(is_causal=True): "
      f"{RESULTS['causal_by_hand_vs_sdpa']:.1e}; vs nn.MultiheadAttention(attn_mask): "
      f"{RESULTS['causal_by_hand_vs_multihead']:.1e}")

# %% [markdown]
# The test of a causal model: change the last character of the first window and run it
# again. The outputs at the earlier positions must not move at all; without the mask,
# all of them do.

# %%
changed = x.numpy().copy()
changed[0, -1] = embed.weight.numpy()[vocab.stoi["!"]]
changed = mdl.tensor(changed)
for masked in (False, True):
    mask = future if masked else None
    before, _ = attention(x, x, x, attn_mask=mask)
    after, _ = attention(changed, changed, changed, attn_mask=mask)
    moved = float(np.abs(after.numpy()[0, :-1] - before.numpy()[0, :-1]).max())
    RESULTS[f"earlier_outputs_moved_{'causal' if masked else 'full'}"] = moved
    print(f"{'causal' if masked else 'no mask':>8}: earlier outputs moved by at most {moved:.1e}")

fig, axes = plt.subplots(1, 2, figsize=(13, 6))
characters = list(snippets[0])
viz.plot_attention(weights[0], characters, characters, title="no mask", ax=axes[0])
viz.plot_attention(causal_weights[0], characters, characters, title="causal mask", ax=axes[1])
fig.suptitle("Attention weights of one (untrained) head on the first window")
fig.tight_layout()
save(fig, "08_causal_mask.png")

# %% [markdown]
# The weights are untrained, so the pattern means nothing yet; what matters is the
# empty triangle on the right.
#
# ## 4. Many heads are one reshape
#
# One head computes one set of weights: one way of deciding what to look at. Multi-head
# attention runs h heads side by side, each on its own slice of d = E / h features of
# Q, K and V, and glues their outputs back together before `out_proj`. Cutting E = 16
# features into 4 heads of 4 is a reshape (N, T, E) → (N, T, h, d), and moving the head
# axis forward, (N, h, T, d), makes the heads a batch dimension: one batched matmul
# then runs all heads at once.

# %%
heads = 4
d = E // heads
multihead = nn.MultiheadAttention(E, num_heads=heads, batch_first=True)


def split_heads(t):
    """(N, T, E) -> (N, heads, T, d): head k gets features k*d .. (k+1)*d - 1."""
    n, steps, _ = t.shape
    return t.reshape(n, steps, heads, d).transpose(1, 2)


def merge_heads(t):
    """(N, heads, T, d) -> (N, T, E): the heads' outputs side by side."""
    n, _, steps, _ = t.shape
    return t.transpose(1, 2).reshape(n, steps, heads * d)


all_queries, all_keys, all_values = qkv(multihead, x)
q, k, v = split_heads(all_queries), split_heads(all_keys), split_heads(all_values)
head_weights = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)   # (4, 4, 16, 16)
multi_by_hand = project(merge_heads(head_weights @ v), multihead.out_proj.weight,
                        multihead.out_proj.bias)

multi_layer, multi_layer_weights = multihead(x, x, x, average_attn_weights=False)
RESULTS["multihead_by_hand_vs_layer"] = largest_difference(multi_by_hand, multi_layer)
RESULTS["multihead_weights_by_hand_vs_layer"] = largest_difference(head_weights,
                                                                   multi_layer_weights)

# head 1 alone, from plain slices of the features: the reshape did nothing more than this
cut = slice(d, 2 * d)
head_1 = F.softmax(all_queries[..., cut] @ all_keys[..., cut].transpose(-1, -2) / math.sqrt(d),
                   dim=-1)
RESULTS["head_1_by_slicing_vs_reshape"] = largest_difference(head_1, head_weights[:, 1])
print(f"4 heads by reshape vs nn.MultiheadAttention: output "
      f"{RESULTS['multihead_by_hand_vs_layer']:.1e}, weights "
      f"{RESULTS['multihead_weights_by_hand_vs_layer']:.1e}; head 1 by slicing vs reshape "
      f"{RESULTS['head_1_by_slicing_vs_reshape']:.1e}")
print(f"parameters: {multihead.num_parameters()} for 4 heads, "
      f"{attention.num_parameters()} for 1 head")
RESULTS["attention_parameters"] = {"1 head": attention.num_parameters(),
                                   "4 heads": multihead.num_parameters()}

# %% [markdown]
# Four heads cost no more parameters than one: the same four E × E matrices, only cut
# differently.
#
# ## 5. Where am I? Positional encodings
#
# Attention compares every position with every other by content alone. Shuffle the
# input positions and the outputs are shuffled the same way, nothing else changes: to
# attention, "dog bites man" and "man bites dog" are the same bag of characters.

# %%
order = np.random.default_rng(0).permutation(length)
shuffled_out, _ = multihead(x[:, order], x[:, order], x[:, order])
RESULTS["shuffle_equivariance_error"] = largest_difference(shuffled_out, multi_layer[:, order])
print(f"attention(shuffled x) vs shuffled attention(x): "
      f"{RESULTS['shuffle_equivariance_error']:.1e}")

# %% [markdown]
# The fix of "Attention Is All You Need" is to add to each position's vector a vector
# that depends only on the position:
#
#   PE[p, 2i] = sin(ω_i p),   PE[p, 2i+1] = cos(ω_i p),   ω_i = 1 / 10000^(2i/D)
#
# for D features (64 here, the size of the language model below).
# Each pair of features is a clock hand turning at its own speed ω_i, from one turn
# every 2π positions (i = 0) to ever slower ones, so every position gets its own pattern, and
# nearby positions get similar ones. We write the table in NumPy and check it against
# `nn.PositionalEncoding`, which adds it to its input.

# %%
def sinusoids(positions, features):
    p = np.arange(positions)[:, None]
    angle = p / 10000 ** (np.arange(0, features, 2) / features)
    table = np.zeros((positions, features))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


CONTEXT = 64
D_MODEL = 64
table = sinusoids(CONTEXT, D_MODEL)
encoding = nn.PositionalEncoding(D_MODEL, max_len=CONTEXT)
added = encoding(mdl.zeros(1, CONTEXT, D_MODEL))[0].numpy()
RESULTS["positional_encoding_error"] = float(np.abs(added - table).max())
print(f"nn.PositionalEncoding vs the formula: {RESULTS['positional_encoding_error']:.1e}")

similarity = table @ table.T
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
image = axes[0].imshow(table, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
fig.colorbar(image, ax=axes[0])
axes[0].set_xlabel("feature (pairs: sin, cos)")
axes[0].set_ylabel("position")
axes[0].set_title("sinusoidal positional encoding")
image = axes[1].imshow(similarity, cmap="viridis")
fig.colorbar(image, ax=axes[1])
axes[1].set_xlabel("position")
axes[1].set_ylabel("position")
axes[1].set_title("dot products PE[p] · PE[q]")
fig.tight_layout()
save(fig, "08_positional_encoding.png")
band = [float(np.mean(np.diag(similarity, k))) for k in range(4)]
RESULTS["pe_similarity_by_distance"] = band
print("mean PE[p]·PE[p+k] for k = 0..3:", np.round(band, 2))

# %% [markdown]
# Left, the fast clocks (the first features) change a lot from one position to the
# next, the slow ones on the right barely move over 64 positions. Right, the dot
# product of two positions' encodings. Since sin a sin b + cos a cos b = cos(a - b),
#
#   PE[p] · PE[q] = Σ_i cos(ω_i (p - q))
#
# depends on the distance p - q only: it is 32 (= D/2) on the diagonal, falls off for
# nearby positions and then ripples, the same way all along the diagonal. So "two
# characters back" looks the same wherever it occurs, and can be learned once.
#
# ## 6. Residual connections and layer norm: the encoder layer
#
# A transformer layer wraps two blocks, attention and a small two-layer network applied
# at each position on its own (the *feed-forward* block), each in the same way:
#
#   x ← LayerNorm(x + Block(x))
#
# The `x +` is the *residual connection*: the block only has to learn a correction to
# its input, and the gradient has a direct path through the stack. Layer norm rescales
# each position's vector to mean 0 and variance 1 over its features, then multiplies by
# a learned weight and adds a learned bias: (x - mean) / √(var + ε) · w + b. It keeps
# the numbers in a steady range however many layers are stacked.
#
# We compose the layer ourselves from the submodules of an `nn.TransformerEncoderLayer`
# (`self_attn`, `linear1`, `linear2`, `norm1`, `norm2`, as in PyTorch), with layer norm
# written out, and compare with the layer's own forward (dropout off, causal mask on).

# %%
def causal_mask(length):
    """-inf above the diagonal, 0 elsewhere: PyTorch's causal mask for the layers."""
    return nn.generate_square_subsequent_mask(length)


def layer_norm(t, norm):
    mean = t.mean(dim=-1, keepdim=True)
    variance = ((t - mean) ** 2).mean(dim=-1, keepdim=True)
    return (t - mean) / (variance + norm.eps).sqrt() * norm.weight + norm.bias


def encoder_layer_by_hand(layer, t):
    attended, _ = layer.self_attn(t, t, t, attn_mask=causal_mask(t.shape[1]))
    t = layer_norm(t + attended, layer.norm1)                                  # block 1
    feed_forward = layer.linear2(F.relu(layer.linear1(t)))
    return layer_norm(t + feed_forward, layer.norm2)                          # block 2


encoder_layer = nn.TransformerEncoderLayer(E, nhead=heads, dim_feedforward=4 * E, dropout=0.0,
                                           batch_first=True)
RESULTS["encoder_layer_by_hand_vs_layer"] = largest_difference(
    encoder_layer_by_hand(encoder_layer, x),
    encoder_layer(x, src_mask=causal_mask(x.shape[1]), is_causal=True))
RESULTS["layer_norm_by_hand_vs_layer"] = largest_difference(
    layer_norm(x, encoder_layer.norm1), encoder_layer.norm1(x))
print(f"layer norm by hand vs nn.LayerNorm: {RESULTS['layer_norm_by_hand_vs_layer']:.1e}; "
      f"encoder layer by hand vs nn.TransformerEncoderLayer: "
      f"{RESULTS['encoder_layer_by_hand_vs_layer']:.1e}")

# %% [markdown]
# ## 7. A character-level language model
#
# Now the pieces make a model that reads 64 characters and, at every position, predicts
# the next one:
#
#   characters → Embedding(83, 64) → + positional encoding → 2 encoder layers
#   (4 heads, feed-forward 256, causal) → Linear(64, 83): scores for the next character
#
# Training minimizes the cross-entropy of the next character at all 64 positions of
# random windows from the first 90% of the book (AdamW, learning rate warmed up over
# the first steps and then lowered along a cosine, gradients clipped to norm 1), for
# 2,000 steps of 32 windows (30 in fast mode). We
# report the loss in **bits per character**: cross-entropy / ln 2, the number of bits
# an ideal compressor using the model would spend per character. Guessing uniformly
# among 83 characters costs log₂ 83 = 6.4 bits. *Perplexity* is 2^bits: the number of
# equally likely characters the model is, on average, as unsure as.

# %%
class CharTransformer(nn.Module):
    """Character indices (N, T) -> scores for the next character at each position (N, T, V)."""

    def __init__(self, vocabulary, d_model=D_MODEL, heads=4, layers=2, context=CONTEXT):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, d_model)
        self.position = nn.PositionalEncoding(d_model, max_len=context)
        self.encoder = nn.TransformerEncoder(
            lambda: nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0,
                                               batch_first=True),
            num_layers=layers)
        self.head = nn.Linear(d_model, vocabulary)

    def forward(self, characters):
        mask = causal_mask(characters.shape[1])
        return self.head(self.encoder(self.position(self.embed(characters)), mask=mask,
                                      is_causal=True))


codes = vocab.encode(text)
split = int(0.9 * len(codes))
train_codes, val_codes = codes[:split], codes[split:]
mdl.manual_seed(0)
model = CharTransformer(V)
nn.summary(model, (1, CONTEXT), dtype=np.int64)
RESULTS["transformer_parameters"] = model.num_parameters()

# %%
STEPS = pick(30, 2000)
WARMUP = pick(10, 50)
BATCH = 32
BITS = 1 / math.log(2)


def batch_of_windows(source, rng, count=BATCH):
    starts = rng.integers(0, len(source) - CONTEXT - 1, count)
    return source[starts[:, None] + np.arange(CONTEXT + 1)]


def transformer_bits(model, source):
    """Bits per character on `source`, and which characters were scored.

    Windows of CONTEXT + 1 characters start every CONTEXT / 2 characters; only the second
    half of each window is scored, so every scored character is predicted from at least
    CONTEXT / 2 characters before it, and each is scored once.
    """
    half = CONTEXT // 2
    starts = np.arange(0, len(source) - CONTEXT, half)
    windows = source[starts[:, None] + np.arange(CONTEXT + 1)]
    total = 0.0
    model.eval()
    with mdl.no_grad():
        for chunk in np.array_split(windows, max(1, len(windows) // 128)):
            log_p = F.log_softmax(model(mdl.tensor(chunk[:, :-1])), axis=-1).numpy()
            scored = np.take_along_axis(log_p[:, half:], chunk[:, half + 1:, None], axis=-1)
            total -= scored.sum()
    model.train()
    scored_positions = (starts[:, None] + np.arange(half + 1, CONTEXT + 1)).ravel()
    return total * BITS / scored_positions.size, scored_positions


def train_transformer(model, steps, seed=0):
    rng = np.random.default_rng(seed)
    optimizer = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    schedule = optim.lr_scheduler.SequentialLR(optimizer, [
        optim.lr_scheduler.LinearLR(optimizer, start_factor=0.02, total_iters=WARMUP),
        optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - WARMUP)],
        milestones=[WARMUP])
    losses = []
    for _ in range(steps):
        batch = batch_of_windows(train_codes, rng)
        scores = model(mdl.tensor(batch[:, :-1]))
        loss = F.cross_entropy(scores.reshape(-1, V), mdl.tensor(batch[:, 1:].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item() * BITS)
    return losses


train_losses, train_seconds = timed(train_transformer, model, STEPS)
RESULTS["training_passes"] = STEPS * BATCH * CONTEXT / len(train_codes)
VALIDATION = val_codes[:pick(4096, 65536)]
val_bits, scored = transformer_bits(model, VALIDATION)
print(f"{STEPS} steps of {BATCH} windows (each training character seen "
      f"{RESULTS['training_passes']:.2g} times on average) in {train_seconds:.0f} s; training loss "
      f"{np.mean(train_losses[:10]):.2f} -> {np.mean(train_losses[-20:]):.2f} bits/char; "
      f"validation {val_bits:.3f} bits/char (perplexity {2 ** val_bits:.1f}) on "
      f"{scored.size:,} characters")
RESULTS["transformer_steps"] = STEPS
RESULTS["transformer_train_seconds"] = train_seconds
RESULTS["transformer_first_loss_bits"] = float(np.mean(train_losses[:10]))
RESULTS["transformer_last_loss_bits"] = float(np.mean(train_losses[-20:]))
RESULTS["transformer_val_bits"] = val_bits

# %% [markdown]
# ## 8. The counting baseline: n-grams
#
# An n-gram model predicts the next character from the previous n - 1 only, by
# counting: P(c | h) ≈ count(h c) / count(h) over the training text. Counts of long
# contexts are sparse (most 4-character contexts are seen only a few times, many never),
# so the estimate is mixed with the one from the context one character shorter, down to
# single-character frequencies. We use Witten-Bell interpolation, which needs no tuning:
#
#   P_n(c | h) = (count(h c) + T(h) · P_{n-1}(c | h')) / (count(h) + T(h))
#
# where h' is h without its oldest character and T(h) the number of different characters
# seen after h: a context followed by many different characters trusts the shorter
# context more. An unseen context falls back to P_{n-1}. The base case is the
# frequency of each character (plus one, so none has probability zero).
#
# A context of n - 1 characters becomes one integer (base 83), and the counts are
# sorted arrays searched with `np.searchsorted`: a few NumPy calls per order.

# %%
def context_numbers(contexts):
    """(M, n) arrays of character indices -> (M,) integers: the digits of a base-V number."""
    number = np.zeros(len(contexts), dtype=np.int64)
    for column in contexts.T:
        number = number * V + column
    return number


def count_lookup(keys, counts, query):
    """counts[i] where keys[i] == query, 0 where the query is not among the (sorted) keys."""
    i = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[i] == query, counts[i], 0)


class NGram:
    """Witten-Bell interpolated character n-gram model, counted with NumPy."""

    def __init__(self, order):
        self.order = order

    def fit(self, codes):
        self.unigram = (np.bincount(codes, minlength=V) + 1.0) / (len(codes) + V)
        self.tables = []  # one per context length n = 1 .. order-1
        for n in range(1, self.order):
            windows = np.lib.stride_tricks.sliding_window_view(codes, n + 1)
            context = context_numbers(windows[:, :n])
            pairs, pair_counts = np.unique(context * V + windows[:, n], return_counts=True)
            contexts, context_counts = np.unique(context, return_counts=True)
            followers = np.bincount(np.searchsorted(contexts, pairs // V),
                                    minlength=len(contexts))
            self.tables.append((pairs, pair_counts, contexts, context_counts, followers))
        return self

    def probability(self, histories, nexts):
        """P(nexts[m] | histories[m]) for (M, order-1) histories and (M,) next characters."""
        p = self.unigram[nexts]
        for n, (pairs, pair_counts, contexts, context_counts, followers) in enumerate(
                self.tables, start=1):
            context = context_numbers(histories[:, -n:])
            seen = count_lookup(contexts, context_counts, context)
            types = count_lookup(contexts, followers, context)
            together = count_lookup(pairs, pair_counts, context * V + nexts)
            p = np.where(seen > 0, (together + types * p) / np.maximum(seen + types, 1), p)
        return p

    def bits(self, source, positions):
        """Bits per character of source[positions], each from the order-1 characters before."""
        histories = source[positions[:, None] + np.arange(1 - self.order, 0)]
        return float(-np.log2(self.probability(histories, source[positions])).mean())

    def stored_numbers(self):
        return V + sum(len(t[0]) + 2 * len(t[2]) for t in self.tables)


ngram_bits, ngrams = {}, {}
for order in (1, 2, 3, 4, 5):
    ngrams[order], seconds = timed(NGram(order).fit, train_codes)
    ngram_bits[order] = ngrams[order].bits(VALIDATION, scored)
    print(f"{order}-gram: {ngram_bits[order]:.3f} bits/char (perplexity "
          f"{2 ** ngram_bits[order]:.1f}); counted in {seconds:.2f} s, "
          f"{ngrams[order].stored_numbers():,} numbers stored")
RESULTS["ngram_val_bits"] = {str(order): bits for order, bits in ngram_bits.items()}
RESULTS["ngram_4_stored_numbers"] = ngrams[4].stored_numbers()

# %% [markdown]
# ## 9. Side by side
#
# Both models are scored on the very same validation characters. Then each writes 300
# characters after the same prompt, sampling each next character from its predicted
# distribution sharpened a little (probabilities raised to the power 1/0.8 and
# renormalized, a *temperature* of 0.8).

# %%
print(f"{'model':<28}{'bits/char':>10}{'perplexity':>12}{'numbers stored':>16}")
for name, bits, size in [(f"{order}-gram", ngram_bits[order], ngrams[order].stored_numbers())
                         for order in ngram_bits] + [("transformer", val_bits,
                                                      model.num_parameters())]:
    print(f"{name:<28}{bits:>10.3f}{2 ** bits:>12.2f}{size:>16,}")
beaten = [order for order, bits in ngram_bits.items() if val_bits < bits]
ahead = [order for order, bits in ngram_bits.items() if bits <= val_bits]
print(f"after {STEPS} steps the transformer beats the n-grams of order {beaten or 'none'}"
      f" and not those of order {ahead or 'none'}")

fig, ax = plt.subplots(figsize=(7, 4.2))
smoothed = np.convolve(train_losses, np.ones(10) / 10, mode="valid")
ax.plot(np.arange(10, len(train_losses) + 1), smoothed, label="transformer, training loss")
ax.plot(len(train_losses), val_bits, "o", color="C0", label="transformer, validation")
for order, color in ((3, "C2"), (4, "C3"), (5, "C4")):
    ax.axhline(ngram_bits[order], color=color, linestyle="--",
               label=f"{order}-gram, validation")
ax.set_xlabel("training step (32 windows of 64 characters)")
ax.set_ylabel("bits per character")
ax.set_title("Character-level language models on Moby-Dick")
ax.legend(fontsize=8, loc="upper right")
save(fig, "08_language_model_loss.png")

# %%
PROMPT = "The whale "
TEMPERATURE = 0.8
SAMPLE_LENGTH = pick(100, 300)


def sample_index(probabilities, rng):
    sharpened = probabilities ** (1 / TEMPERATURE)
    return int(rng.choice(V, p=sharpened / sharpened.sum()))


def transformer_writes(model, prompt, length, seed=0):
    rng = np.random.default_rng(seed)
    written = list(vocab.encode(prompt))
    model.eval()
    with mdl.no_grad():
        for _ in range(length):
            scores = model(mdl.tensor(np.array(written[-CONTEXT:])[None]))
            written.append(sample_index(F.softmax(scores[0, -1], axis=-1).numpy(), rng))
    return vocab.decode(written)


def ngram_writes(ngram, prompt, length, seed=0):
    rng = np.random.default_rng(seed)
    written = list(vocab.encode(prompt))
    everything = np.arange(V)
    for _ in range(length):
        history = np.tile(written[len(written) - ngram.order + 1:], (V, 1))
        written.append(sample_index(ngram.probability(history, everything), rng))
    return vocab.decode(written)


RESULTS["longest_line"] = max(len(line) for line in text.splitlines())
print(f"the book's longest line: {RESULTS['longest_line']} characters")
samples = {"4-gram": ngram_writes(ngrams[4], PROMPT, SAMPLE_LENGTH),
           "transformer": transformer_writes(model, PROMPT, SAMPLE_LENGTH)}
for name, sample in samples.items():
    print(f"--- {name} ---\n{sample}\n")
RESULTS["samples"] = samples

# %% [markdown]
# The table puts the two kinds of model side by side, with how many numbers each keeps:
# the 4-gram stores about as many counts as the transformer has parameters. The last
# line says which n-grams the transformer beat. With the full run's 2,000 steps (a few
# passes over the training text, minutes on one core) it should get past the trigram
# and the 4-gram but not yet the 5-gram, which stores several times more numbers; with
# fewer steps it falls behind the 4-gram, and fast mode's 30 steps leave it near the
# bottom of the table, past the single-character frequencies only.
#
# So at this budget counting is a strong baseline: the n-grams get their numbers from
# one pass over the text (timed above), the transformer from minutes of gradient
# descent. What the transformer has that the counts have not is visible in the samples:
# it conditions on all 64 previous characters (the 4-gram on 3), and it can treat
# similar contexts alike instead of counting each one separately. Look, for instance,
# at where each sample breaks its lines: the book's lines are short (the run prints the
# longest), and only a model that can see the last line break can keep to that.
#
# ## 10. Where does the trained model look?
#
# To see the attention weights of the trained layers we run the encoder one layer at a
# time, as in section 6, and ask each layer's `self_attn` for its weights (averaged over
# the 4 heads) on a validation sentence. Row i shows which earlier characters position
# i used to predict character i + 1.

# %%
def attention_maps(model, characters):
    """The head-averaged attention weights of each encoder layer for one window."""
    maps = []
    with mdl.no_grad():
        h = model.position(model.embed(mdl.tensor(characters[None])))
        mask = causal_mask(len(characters))
        for layer in model.encoder.layers:
            _, weights = layer.self_attn(h, h, h, attn_mask=mask)
            maps.append(weights[0])
            h = layer(h, src_mask=mask, is_causal=True)
    return maps


sentence_start = int(np.flatnonzero(val_codes[:5000] == vocab.stoi["."])[3]) + 2
sentence = val_codes[sentence_start:sentence_start + 40]
labels = [repr(c)[1:-1] for c in vocab.decode(sentence)]
maps = attention_maps(model, sentence)
fig, axes = plt.subplots(1, 2, figsize=(17, 8))
for number, (ax, weights) in enumerate(zip(axes, maps), start=1):
    viz.plot_attention(weights, labels, labels, title=f"layer {number}", ax=ax)
fig.suptitle(f"Trained transformer, attention on {vocab.decode(sentence)!r}")
fig.tight_layout()
save(fig, "08_attention_map.png")

steps_back = np.subtract.outer(np.arange(len(sentence)), np.arange(len(sentence)))  # i - j
RESULTS["mean_attention_distance"] = [float((m.numpy() * steps_back).sum(axis=1).mean())
                                      for m in maps]
print("how far back each layer looks, on average (characters):",
      np.round(RESULTS["mean_attention_distance"], 1))

# %% [markdown]
# In the full run the first layer puts most of its weight on the last few characters:
# the bright band just left of the diagonal, much the context a 4-gram uses. The second
# layer, which reads what the first one gathered, spreads its weight further back, over
# the current word and the one before; the printed averages say how far each layer
# looks. Fast mode's 30 steps are too few for such patterns to form.
#
# ## What to remember
#
# - Attention is softmax(Q Kᵀ / √d) V: each position takes a weighted average of the
#   values, weighted by how well its query matches each key. Written out with tensor ops
#   it equals `F.scaled_dot_product_attention` and `nn.MultiheadAttention`.
# - The causal mask sets future scores to -∞, so a position's output cannot depend on
#   later characters: checked by changing the last one.
# - Multi-head attention is a reshape of the features into heads, and costs no extra
#   parameters.
# - Attention ignores order; sinusoidal positional encodings add it back, with a
#   similarity that depends only on the distance between positions.
# - An encoder layer is x ← LayerNorm(x + Attention(x)), x ← LayerNorm(x + FFN(x)).
# - A small transformer trained for a few CPU minutes competes with n-gram counts of
#   about its size on Moby-Dick (the table above), but not yet with the larger 5-gram:
#   counting is a strong, cheap baseline for characters.

# %%
report("08", RESULTS)

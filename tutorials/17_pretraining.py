# %% [markdown]
# # 17 · Pretrain, then fine-tune: does reading a book help with a little data?
#
# Big language models are made in two steps. First they are **pretrained** on a huge amount
# of text, with no labels, to do one thing: predict the next token. Then the same weights
# are **fine-tuned** on the small amount of data of the task that matters. The bet is that
# what was learned from the big text (spelling, words, grammar) carries over, so that the
# task needs far less data than training from scratch would.
#
# This tutorial makes that bet at laptop size and measures it. The "huge text" is
# Moby-Dick (1.2 million characters); the task is to model text of quite another kind:
# SMS messages, short, informal, full of abbreviations and phone numbers. The question:
#
# *With only a little SMS text, does a character model pretrained on the book predict
# new messages better than the same model trained on the messages alone? And how much SMS
# text does it take before pretraining stops mattering?*
#
# Both data sets ship with minidl (`load_char_corpus`, `load_sms_spam`).

# %%
import copy
import math
import string

import matplotlib.pyplot as plt
import numpy as np

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.data import load_char_corpus, load_sms_spam
from _common import expected_run_time, pick, report, save, timed

expected_run_time("17")

RESULTS = {}
BITS = 1 / math.log(2)

# %% [markdown]
# ## 1. Two texts, one alphabet
#
# A model can only be fine-tuned on text it can read, so both texts are written in one
# alphabet: newline and the 95 printable ASCII characters. The book's curly quotes and
# dashes become straight ones; the few other characters of the messages (£, ü, emoji...)
# all become "?". The messages are shuffled and split: some for validation (to choose
# when to stop training), some for the test, the rest a pool of training messages, of
# which each experiment uses only the first few thousand characters. (Fast mode scores
# validation on the first 10,000 characters of its messages only.)

# %%
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))
INDEX = {char: i for i, char in enumerate(ALPHABET)}
V = len(ALPHABET)
STRAIGHTEN = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-"})


def encode(text):
    text = text.translate(STRAIGHTEN)
    return np.array([INDEX.get(char, INDEX["?"]) for char in text], dtype=np.int64)


book = encode(load_char_corpus())
messages, _, _ = load_sms_spam()
order = np.random.default_rng(0).permutation(len(messages))
n_val, n_test = 400, 800
val_sms = encode("\n".join(messages[i] for i in order[:n_val]))[:pick(10_000, None)]
test_sms = encode("\n".join(messages[i] for i in order[n_val:n_val + n_test]))
pool_sms = encode("\n".join(messages[i] for i in order[n_val + n_test:]))
book_train, book_val = book[:-50_000], book[-50_000:]
print(f"alphabet of {V} characters; the book: {len(book):,} characters; SMS: "
      f"{len(pool_sms):,} for training, {len(val_sms):,} for validation, {len(test_sms):,} "
      f"for the test")
print("a few messages:", [messages[i] for i in order[n_val + n_test:n_val + n_test + 3]])

# %% [markdown]
# ## 2. The model and how it is scored
#
# A character-level language model: an `Embedding` of each character, a GRU of 128 units
# reading them in order, and a `Linear` layer giving scores for the next character. It
# is trained on windows of 64 characters cut at random places, to predict each next
# character (the cross-entropy at every position), with Adam and gradients clipped to
# norm 1.
#
# It is scored in **bits per character** (tutorial 08): the cross-entropy in bits, on
# held-out text cut into windows of 64. Guessing uniformly among the 96 characters costs
# log₂ 96 ≈ 6.6 bits; a good model of English text gets well under 3.
#
# Training stops at the best point: every few dozen steps the model is scored on the
# validation text, and the weights of the best score are kept (*early stopping*). With
# little data a model soon starts to memorize it, and its validation score then gets
# worse; keeping the best weights is fair to every model, whatever its number of steps.

# %%
EMBED, HIDDEN, CONTEXT, BATCH = 32, 128, 64, 32


class CharModel(nn.Module):
    """Character codes (N, T) -> scores for the next character (N, T, V)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, EMBED)
        self.gru = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, V)

    def forward(self, codes, state=None):
        outputs, state = self.gru(self.embed(codes), state)
        return self.head(outputs), state


def bits_per_character(model, codes):
    windows = codes[:len(codes) // (CONTEXT + 1) * (CONTEXT + 1)].reshape(-1, CONTEXT + 1)
    model.eval()
    with mdl.no_grad():
        scores, _ = model(mdl.tensor(windows[:, :-1]))
        loss = F.cross_entropy(scores.reshape(-1, V), mdl.tensor(windows[:, 1:].reshape(-1)))
    model.train()
    return loss.item() * BITS


def train(model, codes, steps, lr, val_codes, eval_every, seed=0):
    """Train on random windows of `codes`; keep the weights of the best validation score.

    Returns the validation curve [(step, bits)], starting at step 0.
    """
    rng = np.random.default_rng(seed)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    curve = [(0, bits_per_character(model, val_codes))]
    best = copy.deepcopy(model.state_dict())
    for step in range(1, steps + 1):
        starts = rng.integers(0, len(codes) - CONTEXT - 1, BATCH)
        batch = codes[starts[:, None] + np.arange(CONTEXT + 1)]
        scores, _ = model(mdl.tensor(batch[:, :-1]))
        loss = F.cross_entropy(scores.reshape(-1, V), mdl.tensor(batch[:, 1:].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            curve.append((step, bits_per_character(model, val_codes)))
            if curve[-1][1] < min(bits for _, bits in curve[:-1]):
                best = copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    return curve


mdl.manual_seed(0)
print(f"{CharModel().num_parameters():,} parameters")
RESULTS["parameters"] = CharModel().num_parameters()
RESULTS["uniform_bits"] = math.log2(V)

# %% [markdown]
# ## 3. Pretraining on the book
#
# The model reads random windows of Moby-Dick (all but its last 50,000 characters, kept
# to score it) and learns to predict the next character. This is the expensive step,
# done once; in a real system it is the one that costs millions.

# %%
PRETRAIN_STEPS = pick(300, 3000)
mdl.manual_seed(0)
pretrained = CharModel()
pretrain_curve, pretrain_seconds = timed(train, pretrained, book_train, PRETRAIN_STEPS, 3e-3,
                                         book_val, eval_every=pick(50, 250))
zero_shot_test = bits_per_character(pretrained, test_sms)
print(f"{PRETRAIN_STEPS} steps in {pretrain_seconds:.0f} s: on the book's held-out end "
      f"{pretrain_curve[0][1]:.2f} -> {min(b for _, b in pretrain_curve):.2f} bits/char; "
      f"on the SMS test messages, without having seen one: {zero_shot_test:.2f} bits/char")
RESULTS["pretrain_steps"] = PRETRAIN_STEPS
RESULTS["pretrain_book_val_bits"] = min(b for _, b in pretrain_curve)
RESULTS["pretrained_only_test_bits"] = zero_shot_test

# %% [markdown]
# The pretrained model already does much better than guessing on messages it has never
# seen: letters, spaces and common words are the same in a novel and a text message.
# But not everything is: the messages have digits, capitals and abbreviations that the
# book rarely or never has.
#
# ## 4. Fine-tuning against training from scratch
#
# For each amount of SMS text, from a few messages to a few hundred, two models are
# trained on the same characters with the same number of steps and early stopping:
#
# - **from scratch**: new random weights, Adam at 3·10⁻³ (the rate used for pretraining);
# - **fine-tuned**: a copy of the pretrained model, Adam at 10⁻³: a smaller rate, as is
#   usual for fine-tuning, so as not to wreck in the first steps what pretraining built.
#
# Both are then scored on the same test messages.

# %%
SIZES = pick([2_000, 20_000], [1_000, 3_000, 10_000, 30_000, 100_000])
STEPS = pick(150, 600)
EVAL_EVERY = pick(25, 50)
results = {"from scratch": [], "fine-tuned": []}
curves, smallest_models = {}, {}
for size in SIZES:
    codes = pool_sms[:size]
    for name in results:
        mdl.manual_seed(1)
        model = copy.deepcopy(pretrained) if name == "fine-tuned" else CharModel()
        lr = 1e-3 if name == "fine-tuned" else 3e-3
        curve, seconds = timed(train, model, codes, STEPS, lr, val_sms, EVAL_EVERY)
        test_bits = bits_per_character(model, test_sms)
        results[name].append(test_bits)
        if size == SIZES[0]:
            smallest_models[name] = model
        curves[f"{name}, {size}"] = curve
        best_step = min(curve, key=lambda point: point[1])[0]
        print(f"{size:>7,} SMS characters, {name:<12}: test {test_bits:.3f} bits/char "
              f"(best validation at step {best_step} of {STEPS}, {seconds:.0f} s)")
RESULTS["sizes"], RESULTS["steps"] = SIZES, STEPS
RESULTS["test_bits"] = results
RESULTS["validation_curves"] = curves

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
for name, marker in (("from scratch", "o"), ("fine-tuned", "s")):
    left.plot(SIZES, results[name], marker=marker, label=name)
left.axhline(zero_shot_test, color="0.4", linestyle="--", label="pretrained only (no SMS)")
left.axhline(math.log2(V), color="0.7", linestyle=":", label=f"guessing (log₂ {V})")
left.set_xscale("log")
left.set_xlabel("characters of SMS text to train on")
left.set_ylabel("test bits per character (lower is better)")
left.set_title("Pretrained on Moby-Dick, then fine-tuned, vs from scratch")
left.legend(fontsize=8)
smallest = SIZES[0]
for name in results:
    steps, bits = zip(*curves[f"{name}, {smallest}"])
    right.plot(steps, bits, marker=".", label=name)
right.set_xlabel("training step")
right.set_ylabel("validation bits per character")
right.set_title(f"Training on {smallest:,} SMS characters")
right.legend(fontsize=8)
fig.tight_layout()
save(fig, "17_pretraining.png")

# %% [markdown]
# ## 5. What the model writes
#
# A language model can write: give it a newline (a message starts), take a character at
# random from its predicted distribution, feed it back, and so on. Below, the models
# trained on the fewest SMS characters, from scratch and fine-tuned, each write a few
# messages from the same random numbers.

# %%
def write(model, length=200, seed=0):
    rng = np.random.default_rng(seed)
    model.eval()
    codes, state = [INDEX["\n"]], None
    with mdl.no_grad():
        for _ in range(length):
            scores, state = model(mdl.tensor([[codes[-1]]]), state)
            p = F.softmax(scores[0, -1], dim=-1).numpy().astype(np.float64)
            codes.append(int(rng.choice(V, p=p / p.sum())))
    model.train()
    return "".join(ALPHABET[c] for c in codes[1:])


samples = {}
for name, model in smallest_models.items():
    samples[name] = write(model, pick(120, 300))
    print(f"--- {name}, {smallest:,} SMS characters:\n{samples[name]}\n")
RESULTS["samples"] = samples

# %% [markdown]
# ## 6. What the run shows
#
# The lines below put this run's numbers on it. What to look for:
#
# - With little SMS text, the fine-tuned model is far better than the one trained from
#   scratch: the scratch model has to learn spelling and words from a few messages and
#   soon memorizes them instead (its validation curve turns up), while the pretrained one
#   only has to adapt what it knows.
# - Fine-tuning also beats the pretrained model left as it is: the messages are another
#   kind of English, and a little of it teaches the model their digits, capitals and
#   abbreviations.
# - The more SMS text there is, the smaller the gap: pretraining is worth most when the
#   data of the task are few, which is why it changed the field: most tasks have few
#   labelled examples, and text without labels is plentiful.

# %%
gaps = [s - f for s, f in zip(results["from scratch"], results["fine-tuned"])]
for size, scratch, tuned, gap in zip(SIZES, results["from scratch"], results["fine-tuned"], gaps):
    print(f"{size:>7,} SMS characters: from scratch {scratch:.2f}, fine-tuned {tuned:.2f} "
          f"bits/char: pretraining saves {gap:.2f} bits per character ({gap / scratch:.0%})")
print(f"pretrained only: {zero_shot_test:.2f} bits/char; fine-tuning on {smallest:,} "
      f"characters brings it to {results['fine-tuned'][0]:.2f}")
matched = next((size for size, scratch in zip(SIZES, results["from scratch"])
                if scratch <= results["fine-tuned"][0]), None)
print("from scratch, the model needs "
      + (f"{matched:,} characters" if matched else f"more than {SIZES[-1]:,} characters")
      + f" of SMS text to match the fine-tuned model trained on {smallest:,}")
RESULTS["bits_saved_by_pretraining"] = gaps

# %% [markdown]
# ## What to remember
#
# - Pretraining learns from text without labels, by predicting the next character (or
#   token); what it learns (spelling, words, grammar) carries over to other text.
# - Fine-tuning starts from the pretrained weights, with a smaller learning rate, on the
#   small data of the task; stop it on a validation set.
# - The less task data there is, the more pretraining is worth. This, at the scale of
#   the web and of billions of weights, is how today's large language models are made.

# %%
report("17", RESULTS)

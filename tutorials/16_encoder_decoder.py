# %% [markdown]
# # 16 · How does a network turn one sequence into another? Encoder, decoder, attention
#
# The networks so far read a sequence and gave *one* answer: a class, the next character.
# A translation is different: the answer is itself a sequence, of its own length, and
# its words come in their own order. The classic design for it (Sutskever et al. 2014,
# Cho et al. 2014) is an **encoder-decoder**: one recurrent network reads the input, a
# second one writes the output, one symbol at a time. Bahdanau et al. (2015) then added
# **attention**, and it is attention, grown into the transformer, that machine
# translation and language models run on today.
#
# The question here: *can a decoder write the output from the single vector the encoder
# ends with, or does it need to look back at the input while it writes?* We answer it on
# a translation task small enough for a laptop: reading dates the way people write them,
#
#     "Saturday, 3rd of May 1997"   "MAY 03 1997"   "03.05.1997"   "May 3, 1997"
#
# and writing them in the ISO 8601 format, "1997-05-03". Like a real translation, the
# output is shorter or longer than the input, and its parts come in another order (the
# day is read first and written last).
#
# The data are **synthetic**, made by this tutorial from Python's calendar: none of the
# data sets bundled with minidl pairs a sentence with its translation, and generated dates
# give an exact right answer for every input and as many examples as we like.

# %%
import datetime
import re

import matplotlib.pyplot as plt
import numpy as np

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from _common import expected_run_time, pick, report, save, timed

expected_run_time("16")

RESULTS = {}

# %% [markdown]
# ## 1. The data: dates in six formats
#
# Each example is a day between 1 January 1900 and 31 December 2099, written in one of
# six formats, chosen at random. The days are split before anything is written: the
# test dates are days that never occur in training, in any format, so the test measures
# whether the network learned to *read* dates rather than remember them.

# %%
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def ordinal(day):
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


FORMATS = {
    "3 May 1997": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "May 3, 1997": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "Saturday, 3rd of May 1997": lambda d: (f"{WEEKDAYS[d.weekday()]}, {ordinal(d.day)} of "
                                           f"{MONTHS[d.month - 1]} {d.year}"),
    "03.05.1997": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "MAY 03 1997": lambda d: f"{MONTHS[d.month - 1][:3].upper()} {d.day:02d} {d.year}",
    "Sat 3 May 1997": lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",
}
FORMAT_NAMES = list(FORMATS)
FIRST, LAST = datetime.date(1900, 1, 1).toordinal(), datetime.date(2099, 12, 31).toordinal()


def write_dates(days, rng):
    """For each day (a proleptic Gregorian ordinal): the input text, its format, the ISO text."""
    formats = rng.integers(len(FORMATS), size=len(days))
    dates = [datetime.date.fromordinal(int(day)) for day in days]
    inputs = [FORMATS[FORMAT_NAMES[f]](date) for f, date in zip(formats, dates)]
    return inputs, formats, [date.isoformat() for date in dates]


N_TRAIN, N_TEST = pick(4000, 20000), 1000
rng = np.random.default_rng(0)
days = rng.permutation(np.arange(FIRST, LAST + 1))
train_days, test_days = days[:N_TRAIN], days[-N_TEST:]  # disjoint: no test day in training
train_text, train_format, train_iso = write_dates(train_days, rng)
test_text, test_format, test_iso = write_dates(test_days, rng)
for text, iso in list(zip(train_text, train_iso))[:6]:
    print(f"{text:>32}  ->  {iso}")
print(f"{N_TRAIN} training dates, {N_TEST} test dates, of {LAST - FIRST + 1:,} days")

# %% [markdown]
# The network reads characters. The input characters (letters, digits, spaces and
# punctuation) get numbers from 1 up; 0 is *padding*: the inputs have different lengths,
# and to stack them into one array the shorter ones are padded on the left, so that
# every input ends at the last position. The output alphabet is the ten digits and "-",
# plus a *start* symbol that the decoder is given before it writes the first character.
# Every output has exactly 10 characters, so the decoder writes 10 and stops; a real
# translator also learns to write an *end* symbol, because its outputs vary in length.

# %%
PAD = 0
IN_CHARS = sorted(set("".join(train_text + test_text)))
IN_INDEX = {char: i + 1 for i, char in enumerate(IN_CHARS)}
OUT_CHARS = list("0123456789-")
START = len(OUT_CHARS)  # the start symbol: one past the output characters
IN_LENGTH = max(len(text) for text in train_text + test_text)
OUT_LENGTH = 10


def encode_inputs(texts):
    codes = np.full((len(texts), IN_LENGTH), PAD, dtype=np.int64)
    for row, text in zip(codes, texts):
        row[IN_LENGTH - len(text):] = [IN_INDEX[char] for char in text]
    return codes


def encode_outputs(texts):
    return np.array([[OUT_CHARS.index(char) for char in text] for text in texts], dtype=np.int64)


def decode_outputs(codes):
    return ["".join(OUT_CHARS[c] for c in row) for row in codes]


X_train, Y_train = encode_inputs(train_text), encode_outputs(train_iso)
X_test, Y_test = encode_inputs(test_text), encode_outputs(test_iso)
RESULTS["input_characters"] = len(IN_CHARS)
print(f"inputs {X_train.shape} ({len(IN_CHARS)} characters + padding), outputs {Y_train.shape} "
      f"({len(OUT_CHARS)} characters)")

# %% [markdown]
# ## 2. Encoder and decoder
#
# - The **encoder** is a GRU (tutorial 07 met its cousin, the LSTM) that reads the input
#   characters, each turned into a vector by an `Embedding`. It leaves a state h_t after
#   every character: 64 numbers that sum up what it has read so far.
# - The **decoder** is a second GRU, started from the encoder's *last* state. At each
#   step it takes the previous output character (the start symbol at the first step),
#   updates its own state, and a `Linear` layer turns that state into scores for the 11
#   output characters.
#
# Without attention, the encoder's last state is the decoder's only view of the input:
# the whole date, whatever its format, must fit in those 64 numbers, and the decoder must
# pull the year, month and day back out of them in the right order.
#
# **With attention**, the decoder also looks back at *every* encoder state while it
# writes. At output step i its state s_i is the query; each encoder state h_t is a key
# and a value (tutorial 08 built attention this way):
#
#   score_it = s_i · h_t / √64,   w_it = softmax over t of score_it,   c_i = Σ_t w_it h_t
#
# The weights w_it say where in the input the decoder looks; the padding gets weight 0
# (its scores are set to -10⁹ before the softmax). The context c_i, a weighted mixture of
# encoder states, goes beside s_i into the output layer. This is the dot-product
# attention of Luong et al. (2015).
#
# The two networks are the same but for this: the one with attention has one output
# layer twice as wide.

# %%
EMBED, HIDDEN = 32, 64


class DateTranslator(nn.Module):
    """Input codes (N, IN_LENGTH) and the previous outputs (N, steps) -> scores (N, steps, 11)."""

    def __init__(self, attention):
        super().__init__()
        self.attention = attention
        self.embed_input = nn.Embedding(len(IN_CHARS) + 1, EMBED)
        self.encoder = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.embed_output = nn.Embedding(len(OUT_CHARS) + 1, EMBED)
        self.decoder = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.out = nn.Linear(2 * HIDDEN if attention else HIDDEN, len(OUT_CHARS))

    def encode(self, inputs):
        """Every encoder state (N, T, H), the last one (1, N, H), and where the padding is."""
        states, last = self.encoder(self.embed_input(mdl.tensor(inputs)))
        return states, last, mdl.tensor(inputs == PAD)

    def decode(self, previous, memory, state):
        """Decoder steps from `state`: scores, the new state, the attention weights (or None)."""
        states, last, padding = memory
        s, state = self.decoder(self.embed_output(mdl.tensor(previous)), state)
        if not self.attention:
            return self.out(s), state, None
        scores = s @ F.swapaxes(states, 1, 2) / HIDDEN ** 0.5           # (N, steps, T)
        weights = F.softmax(F.masked_fill(scores, padding[:, None, :], -1e9), dim=-1)
        context = weights @ states                                       # (N, steps, H)
        return self.out(mdl.cat([s, context], dim=-1)), state, weights

    def forward(self, inputs, previous):
        memory = self.encode(inputs)
        return self.decode(previous, memory, memory[1])[0]


for attention in (False, True):
    model = DateTranslator(attention)
    print(f"attention={attention}: {model.num_parameters():,} parameters")
    RESULTS.setdefault("parameters", {})["with attention" if attention else "without"] = (
        model.num_parameters())

# %% [markdown]
# ## 3. Training with teacher forcing, testing by greedy decoding
#
# In training the decoder is fed the *right* previous character, not its own guess
# (*teacher forcing*): the start symbol and the first 9 characters of the answer go in,
# the 10 characters of the answer are the targets, and all 10 steps run at once, as one
# GRU call over the sequence. The loss is the cross-entropy of the 10 predictions.
#
# At test time there is no answer to feed: the decoder writes one character, takes the
# most likely one (*greedy* decoding), feeds it back in, and so on for 10 steps. A
# mistake early on can then lead the rest astray, which teacher forcing never shows; so
# we measure on the test dates the way they will be used, greedily, and count a date as
# right only if all 10 characters are (*exact match*).
#
# Both networks get the same recipe: Adam at a learning rate of 3·10⁻³, batches of 64,
# gradients clipped to norm 1 (recurrent networks have cliffs, tutorial 07), the same
# seed and the same epochs.

# %%
EPOCHS = pick(3, 10)
BATCH = 64


def teacher_inputs(targets):
    """The start symbol and all but the last target: what the decoder reads in training."""
    return np.concatenate([np.full((len(targets), 1), START), targets[:, :-1]], axis=1)


def translate(model, inputs):
    """Greedy decoding: the written codes (N, 10) and the attention weights (N, 10, T) or None."""
    model.eval()
    with mdl.no_grad():
        memory = model.encode(inputs)
        state, previous = memory[1], np.full((len(inputs), 1), START)
        written, weights = [], []
        for _ in range(OUT_LENGTH):
            scores, state, w = model.decode(previous, memory, state)
            previous = scores.numpy().argmax(axis=-1)
            written.append(previous[:, 0])
            weights.append(None if w is None else w.numpy()[:, 0])
    model.train()
    return np.stack(written, axis=1), (None if weights[0] is None else np.stack(weights, axis=1))


def right_per_position(model):
    """The share of the test dates whose character at each of the 10 positions is right."""
    written, _ = translate(model, X_test)
    return np.mean(written == Y_test, axis=0), float(np.mean(np.all(written == Y_test, axis=1)))


def train(attention):
    mdl.manual_seed(0)
    model = DateTranslator(attention)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    order_rng = np.random.default_rng(0)
    losses, accuracies, positions = [], [], []
    for _ in range(EPOCHS):
        total = 0.0
        for batch in np.array_split(order_rng.permutation(N_TRAIN), N_TRAIN // BATCH):
            scores = model(X_train[batch], teacher_inputs(Y_train[batch]))
            loss = F.cross_entropy(scores.reshape(-1, len(OUT_CHARS)),
                                   mdl.tensor(Y_train[batch].reshape(-1)))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / N_TRAIN)
        by_position, exact = right_per_position(model)
        accuracies.append(exact)
        positions.append(by_position)
        print(f"  epoch {len(losses):2d}: training loss {losses[-1]:.4f}, "
              f"test exact match {accuracies[-1]:.3f}")
    return model, losses, accuracies, positions


models, curves = {}, {}
for name, attention in (("without attention", False), ("with attention", True)):
    print(name)
    (model, losses, accuracies, positions), seconds = timed(train, attention)
    models[name], curves[name] = model, dict(losses=losses, test_exact_match=accuracies,
                                             right_per_position=positions,
                                             train_seconds=seconds)
RESULTS["epochs"], RESULTS["train_dates"], RESULTS["test_dates"] = EPOCHS, N_TRAIN, N_TEST
RESULTS["training"] = curves

# %% [markdown]
# ## 4. Where the errors are
#
# Exact match is strict: one wrong digit and the date is wrong. To see *what* each
# network gets wrong we score every output position on its own (is the 3rd character of
# the year right? the last digit of the day?), after every epoch and at the end, and
# every input format on its own.

# %%
written = {name: translate(model, X_test) for name, model in models.items()}
per_position, per_format, exact = {}, {}, {}
for name, (codes, _) in written.items():
    right = codes == Y_test
    exact[name] = float(np.mean(right.all(axis=1)))
    per_position[name] = right.mean(axis=0)
    per_format[name] = {f: float(np.mean(right[test_format == i].all(axis=1)))
                        for i, f in enumerate(FORMAT_NAMES)}
    wrong = np.flatnonzero(~right.all(axis=1))[:3]
    print(f"{name}: test exact match {exact[name]:.3f}; characters right "
          f"{right.mean():.3f}; examples of mistakes:",
          "; ".join(f"{test_text[i]!r} -> {decode_outputs(codes[i:i + 1])[0]}" for i in wrong)
          or "none")
print(f"\ncharacters right at each output position (the answer is YYYY-MM-DD)")
print(f"{'':<20}" + "".join(f"{c:>6}" for c in "YYYY-MM-DD"))
for name in models:
    print(f"{name:<20}" + "".join(f"{a:>6.2f}" for a in per_position[name]))
for name in models:
    print(f"\n{name}: characters right at each output position, epoch by epoch")
    for epoch, by_position in enumerate(curves[name]["right_per_position"], start=1):
        print(f"{'epoch ' + str(epoch):<20}" + "".join(f"{a:>6.2f}" for a in by_position))
print(f"\nexact match per input format")
for f in FORMAT_NAMES:
    print(f"{f:>28}" + "".join(f"{per_format[name][f]:>8.3f}" for name in models))
RESULTS["test_exact_match"] = exact
RESULTS["accuracy_per_position"] = per_position
RESULTS["exact_match_per_format"] = per_format

# %% [markdown]
# ## 5. Where attention looks
#
# The attention weights w_it are a map of the alignment the network found by itself:
# nothing in the loss says which input characters belong to the year. For three test
# dates, each row below is one output character and shows where the decoder looked when
# it wrote it. A measure over the whole test set: when writing the four digits of the
# year, what share of the attention falls on the year in the input (its four digits, and
# the position just after them, whose encoder state has read all four)?

# %%
_, attention_weights = written["with attention"]
year_share = []
for i, text in enumerate(test_text):
    year = re.search(r"\d{4}", text)
    offset = IN_LENGTH - len(text)  # the left padding
    span = slice(offset + year.start(), offset + year.end() + 1)
    year_share.append(attention_weights[i, :4, span].sum(axis=-1).mean())
year_fraction = np.mean([5 / len(text) for text in test_text])  # the span's share of a date
RESULTS["attention_share_on_the_year"] = float(np.mean(year_share))
RESULTS["year_share_of_the_input"] = float(year_fraction)
print(f"writing the year, the decoder puts {np.mean(year_share):.0%} of its attention on "
      f"the year's characters (which, with the position after them, are "
      f"{year_fraction:.0%} of an input, on average)")

shown = [next(i for i in range(N_TEST) if test_format[i] == FORMAT_NAMES.index(f))
         for f in ("Saturday, 3rd of May 1997", "03.05.1997", "MAY 03 1997")]
fig, axes = plt.subplots(1, len(shown), figsize=(15, 3.6))
for ax, i in zip(axes, shown):
    text = test_text[i]
    cols = slice(IN_LENGTH - len(text), IN_LENGTH)
    ax.imshow(attention_weights[i, :, cols], cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(text)), list(text), fontsize=8)
    ax.set_yticks(range(OUT_LENGTH), list(decode_outputs(written["with attention"][0][i:i + 1])[0]))
    ax.set_xlabel("input")
    ax.set_title(f"{text!r}", fontsize=9)
axes[0].set_ylabel("output, written top to bottom")
fig.suptitle("Attention weights: where the decoder looks when it writes each character")
fig.tight_layout()
save(fig, "16_attention_maps.png")

# %%
fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
epochs = np.arange(1, EPOCHS + 1)
for name in models:
    left.plot(epochs, curves[name]["losses"], marker="o", label=name)
    middle.plot(epochs, curves[name]["test_exact_match"], marker="o", label=name)
    right.plot(range(OUT_LENGTH), per_position[name], marker="o", label=name)
left.set_yscale("log")
left.set_xlabel("epoch")
left.set_ylabel("training loss (cross-entropy per character)")
middle.set_xlabel("epoch")
middle.set_ylabel("test dates written exactly right")
middle.set_ylim(0, 1.02)
right.set_xticks(range(OUT_LENGTH), list("YYYY-MM-DD"))
right.set_ylabel("test characters right")
right.set_ylim(0, 1.02)
right.set_title("by output position")
for ax in (left, middle, right):
    ax.legend(fontsize=8)
fig.tight_layout()
save(fig, "16_training.png")

# %% [markdown]
# ## 6. What the run shows
#
# The printout below puts this run's numbers on the comparison. What to look for:
#
# - The two networks differ only in attention, yet the one that can look back learns
#   the task much faster: its curve of exact matches climbs within the first epochs.
# - Look at *which* characters the network without attention gets right first. Every
#   format ends with the year, so the year is the last thing the encoder reads, and its
#   last state holds it well: those four digits (and the "-"s, the same in every
#   answer) come out right early. The month and the day were read earlier, and what the
#   state kept of them has been overwritten by what came after: they take longer, and
#   while the network is still learning most of its errors are there. A fixed-size state
#   remembers the recent past best, which is the bottleneck attention removes. Given
#   enough epochs and dates (the full run), it does learn to carry the whole date.
# - The attention maps are an alignment, learned with no one saying which input
#   characters belong together: to write the year the decoder looks at the year, to
#   write the month at the month's name or number, to write the day at the day.
#   This is the step from these models to the transformer (tutorial 08), which keeps
#   the attention and drops the recurrence.

# %%
exact_without, exact_with = exact["without attention"], exact["with attention"]
hardest = {name: "YYYY-MM-DD"[int(np.argmin(per_position[name]))] + f" (position "
           f"{int(np.argmin(per_position[name])) + 1}, {per_position[name].min():.0%} right)"
           for name in models}
print(f"after {EPOCHS} epochs on {N_TRAIN:,} dates: exact match {exact_with:.1%} with attention, "
      f"{exact_without:.1%} without")


def first_epoch_all_right(positions, at_least=0.9):
    """The first epoch after which every one of `positions` is right on 90% of the dates."""
    return next((epoch for epoch, by_position in
                 enumerate(curves["without attention"]["right_per_position"], start=1)
                 if min(by_position[positions]) >= at_least), None)


YEAR, MONTH_AND_DAY = [0, 1, 2, 3], [5, 6, 8, 9]
learned = {"year": first_epoch_all_right(YEAR), "month and day": first_epoch_all_right(MONTH_AND_DAY)}
RESULTS["without_attention_first_epoch_90_percent_right"] = learned
print("without attention, each of the year's digits is 90% right "
      + (f"from epoch {learned['year']}" if learned["year"] else "in no epoch")
      + ", each of the month's and the day's "
      + (f"from epoch {learned['month and day']}" if learned["month and day"] else "in no epoch"))
for name in models:
    first = next((e + 1 for e, a in enumerate(curves[name]["test_exact_match"]) if a >= 0.5), None)
    print(f"{name}: hardest output character {hardest[name]}; half the test dates right "
          + (f"after epoch {first}" if first else "in no epoch")
          + f"; {curves[name]['train_seconds']:.0f} s of training")

# %% [markdown]
# ## What to remember
#
# - An encoder-decoder maps a sequence to a sequence of another length and order: one
#   network reads, another writes, one symbol at a time, each fed the symbol before.
# - Train with teacher forcing (the right previous symbol); test by decoding, feeding
#   back the model's own guesses, and measure what the user sees (here, exact dates).
# - Squeezing the input into one vector is a bottleneck. Attention lets the decoder look
#   back at every encoder state; the weights it learns are an alignment, and they are
#   the seed of the transformer.

# %%
report("16", RESULTS)

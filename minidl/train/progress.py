"""What fit() shows while it trains: a progress bar on a terminal, one line per epoch elsewhere.

On a terminal (sys.stderr.isatty()) each epoch gets a tqdm bar that counts its batches
and shows the running loss, then the epoch's numbers. Where the output goes to a file, a
pipe or a notebook, a bar's redraws would pile up as text, so each epoch writes one plain
line to sys.stderr instead, once its numbers are known:

    Epoch 3/10: loss=0.2113, accuracy=0.9375, val_loss=0.252, val_accuracy=0.9167
"""
import sys

from tqdm import tqdm


def epoch_progress(description, n_batches, verbose):
    """What to show of one epoch (a context manager): a bar on a terminal, else a line,
    and nothing if not verbose."""
    if not verbose:
        return _Silent()
    stream = sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return _Bar(description, n_batches, stream)
    return _Line(description, stream)


def format_logs(logs):
    """{"loss": 0.21128, "val_loss": 0.25} -> "loss=0.2113, val_loss=0.25"."""
    return ", ".join(f"{name}={value:.4g}" for name, value in logs.items())


class _Silent:
    """Shows nothing; the others override what they show."""

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        return False

    def batch_done(self, mean_loss):
        pass

    def epoch_done(self, logs):
        pass


class _Line(_Silent):
    """One line per epoch, written when its numbers are known."""

    def __init__(self, description, stream):
        self.description, self.stream = description, stream

    def epoch_done(self, logs):
        print(f"{self.description}: {format_logs(logs)}", file=self.stream, flush=True)


class _Bar(_Silent):
    """A tqdm bar advanced by hand: one that wrapped the loader would close itself when the
    batches end, before the epoch's validation numbers could be shown on it."""

    def __init__(self, description, n_batches, stream):
        self.bar = tqdm(total=n_batches, desc=description, unit="batch", file=stream)

    def __exit__(self, *exception):
        self.bar.close()
        return False

    def batch_done(self, mean_loss):
        self.bar.set_postfix(loss=f"{mean_loss:.4f}", refresh=False)
        self.bar.update()

    def epoch_done(self, logs):
        self.bar.set_postfix_str(format_logs(logs))

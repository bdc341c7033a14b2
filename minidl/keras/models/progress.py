"""What fit(), evaluate() and predict() print, in Keras's format.

verbose=1 (and "auto"): a progress bar per epoch, redrawn on a terminal, written once at
the end of the epoch elsewhere (a file, a notebook, a pipe):

    Epoch 1/3
    113/113 [==============================] - {T}s {S}ms/step - loss: 0.4021 - accuracy: 0.8711

verbose=2: one line per epoch, without the bar:

    Epoch 1/3
    113/113 - {T}s - loss: 0.4021 - accuracy: 0.8711 - {T}s/epoch - {S}ms/step

verbose=0: nothing. {T} and {S} stand for the epoch and step times measured when it runs.
"""
import sys
import time

BAR_WIDTH = 30


def format_logs(logs):
    """' - loss: 0.4021 - accuracy: 0.8711' (small numbers in exponent form, as Keras)."""
    return "".join(f" - {name}: {value:.4f}" if abs(value) >= 1e-3 or value == 0
                   else f" - {name}: {value:.4e}" for name, value in logs.items())


def _duration(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


class Progress:
    """Reports one pass over the batches (an epoch, an evaluation, a prediction)."""

    def __init__(self, steps, verbose, stream=None):
        self.steps, self.verbose = steps, 1 if verbose == "auto" else verbose
        self.stream = stream or sys.stdout
        self.live = self.verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.start = time.perf_counter()

    def update(self, step, logs):
        """After batch `step` (counting from 1): redraw the bar on a terminal."""
        if self.live:
            self.stream.write("\r" + self._bar_line(step, logs))
            self.stream.flush()

    def done(self, logs):
        """The pass is over: write its final line."""
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        per_step = _duration(elapsed / max(self.steps, 1))
        if self.verbose == 1:
            line = self._bar_line(self.steps, logs, f" - {elapsed:.0f}s {per_step}/step")
            self.stream.write(("\r" if self.live else "") + line + "\n")
        else:
            self.stream.write(f"{self.steps}/{self.steps} - {elapsed:.0f}s"
                              f"{format_logs(logs)} - {_duration(elapsed)}/epoch - "
                              f"{per_step}/step\n")
        self.stream.flush()

    def _bar_line(self, step, logs, timing=""):
        filled = BAR_WIDTH * step // max(self.steps, 1)
        bar = "=" * filled if step >= self.steps else "=" * max(filled - 1, 0) + ">"
        width = len(str(self.steps))
        return (f"{step:>{width}}/{self.steps} [{bar:<{BAR_WIDTH}}]{timing}"
                f"{format_logs(logs)}")


def epoch_header(epoch, epochs, verbose, stream=None):
    if verbose:
        print(f"Epoch {epoch + 1}/{epochs}", file=stream or sys.stdout)

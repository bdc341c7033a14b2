"""Where the time goes, op by op: a profiler with torch.profiler's names.

    from minidl.profiler import profile, record_function

    with profile(with_flops=True) as prof:
        with record_function("training step"):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")   # open it in ui.perfetto.dev or chrome://tracing

While a profile records, minidl.autograd hands every op's forward (Function.__call__)
and every op's backward (in the graph walk) to it, and it times them; when none records,
the engine only checks that none does. Each timed call is an *event*: an op's forward
("MatMul"), an op's backward ("MatMul.backward"), or a range the user names with
`record_function`. Events nest: a backward is written with ops, so the ops it runs are
its children, and the ops of a step are the children of the step's range.

For every event the profile knows
- its total time, start to end, and its *self* time: the total minus its children's
  totals. Every moment inside the outermost events belongs to exactly one event's self
  time, so the self times add up to the outermost totals;
- for an op's forward, how much of it was the *kernel* (the op's `forward` method on the
  arrays: the arithmetic) and how much the Python around it (turning the arguments into
  Tensors, wrapping the results, recording the graph). A backward's own time is all
  Python: the arithmetic of a backward happens in the ops it runs;
- with `with_flops=True`, the floating-point operations of the ops that can count them
  (`flops(inputs, outputs)` on the op: matrix products, linear, the convolutions; two
  per multiply-add, as PyTorch counts them), and so the kernel's GFLOP/s;
- with `record_shapes=True`, the shapes of its inputs.

`key_averages()` adds the events up by name (`.table()` prints them the way PyTorch
does, with a "Python %" column added), `events()` lists them one by one, and
`export_chrome_trace` writes them as a timeline. Times are in microseconds, as in PyTorch.
"""
import enum
import functools
import json
import os
import threading
import time

from . import autograd, backend

_clock = time.perf_counter_ns  # integer nanoseconds: the events keep these, reports use us


class ProfilerActivity(enum.Enum):
    """What to record, as in PyTorch: CPU, and CUDA for GPU kernels (see `profile`)."""
    CPU = "cpu"
    CUDA = "cuda"


# ----------------------------------------------------------------------------
# What is recorded: one event per timed call
# ----------------------------------------------------------------------------
class FunctionEvent:
    """One timed call: an op's forward or backward, or a record_function range.

    `kind` is "forward", "backward" or "user_annotation"; `cpu_parent` is the event it
    ran inside (None at the top level). `start` and `end` count nanoseconds from the start
    of the profile; the times it reports (cpu_time_total, ...) are in microseconds.
    """
    __slots__ = ("name", "kind", "thread", "start", "end", "children", "kernel", "flops",
                 "input_shapes", "cpu_parent", "_run", "_op")

    def __init__(self, name, kind, thread, start, cpu_parent):
        self.name, self.kind, self.thread, self.start = name, kind, thread, start
        self.cpu_parent = cpu_parent
        self.end = None
        self.children = self.kernel = self.flops = 0     # nanoseconds, except flops
        self.input_shapes = None
        self._run = self._op = None   # while a forward runs: its kernel, and the op

    key = property(lambda self: self.name, doc="PyTorch's name for the name")
    is_user_annotation = property(lambda self: self.kind == "user_annotation")
    cpu_time_total = property(lambda self: (self.end - self.start) / 1e3,
                              doc="Start to end, in microseconds.")
    self_cpu_time_total = property(lambda self: (self.end - self.start - self.children) / 1e3,
                                   doc="The total minus the children's totals, in microseconds.")
    kernel_time_total = property(lambda self: self.kernel / 1e3,
                                 doc="The forward kernel's time, in microseconds (0 for others).")

    @property
    def python_time_total(self):
        """An op's self time outside its kernel, in microseconds: the engine's Python (0
        for a record_function range, whose self time is the user's code between ops)."""
        if self.kind == "user_annotation":
            return 0.0
        return self.self_cpu_time_total - self.kernel_time_total

    # what a row of a table needs, as for the averages
    count = 1
    cpu_time = cpu_time_total
    is_top_level = property(lambda self: self.cpu_parent is None)

    def __repr__(self):
        return (f"<FunctionEvent {self.name} ({self.kind}) total "
                f"{_format_time(self.cpu_time_total)}, self {_format_time(self.self_cpu_time_total)}>")


class FunctionEventAvg:
    """The events of one name (and input shapes, if grouped by them) added up."""

    def __init__(self, key, input_shapes=None):
        self.key, self.input_shapes = key, input_shapes
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.kernel_time_total = self.python_time_total = 0.0
        self.flops = 0
        self.is_top_level = True         # every event of it ran outside any other event
        self.is_user_annotation = True   # every event of it is a record_function range

    def add(self, event):
        self.count += 1
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.kernel_time_total += event.kernel_time_total
        self.python_time_total += event.python_time_total
        self.flops += event.flops
        self.is_top_level &= event.cpu_parent is None
        self.is_user_annotation &= event.is_user_annotation
        return self

    @property
    def cpu_time(self):
        """The average total time of one call, in microseconds."""
        return self.cpu_time_total / max(self.count, 1)

    def __repr__(self):
        return (f"<FunctionEventAvg {self.key}: {self.count} calls, total "
                f"{_format_time(self.cpu_time_total)}, self "
                f"{_format_time(self.self_cpu_time_total)}>")


SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "kernel_time_total",
             "python_time_total", "count", "flops")


class EventList(list):
    """A list of events (`profile.events()`) or of their averages (`key_averages()`)."""

    def key_averages(self, group_by_input_shape=False):
        """The events added up by name (and by input shapes, if asked), in the order in
        which each name first appears."""
        averages = {}
        for event in self:
            shapes = _shapes_key(event.input_shapes) if group_by_input_shape else None
            key = (event.name, shapes)
            if key not in averages:
                averages[key] = FunctionEventAvg(event.name, event.input_shapes
                                                 if group_by_input_shape else None)
            averages[key].add(event)
        return EventList(averages.values())

    @property
    def self_cpu_time_total(self):
        """The self times added up, in microseconds: the time inside the outermost events."""
        return sum(event.self_cpu_time_total for event in self)

    def time_split(self):
        """(in the ops' kernels, in the ops' Python around them, outside any op: the self
        time of the record_function ranges), in microseconds; they add up to
        self_cpu_time_total."""
        kernels = sum(event.kernel_time_total for event in self)
        python = sum(event.python_time_total for event in self)
        return kernels, python, self.self_cpu_time_total - kernels - python

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """The events as a text table, PyTorch's columns plus minidl's "Python %".

        sort_by: a column to sort by, largest first (one of SORT_KEYS; None keeps the
        order of first appearance); row_limit: how many rows (-1: all); time_unit: "s",
        "ms" or "us" for every time (None: each its own). "Python %" is the share of an
        op's self time spent outside its kernel. (max_src_column_width is PyTorch's, for
        stacks, which minidl does not record.)
        """
        return _table(self, sort_by, row_limit, max_name_column_width, max_shapes_column_width,
                      header, top_level_events_only, time_unit)


def _shapes_key(shapes):
    return None if shapes is None else tuple(tuple(s) for s in shapes)


# ----------------------------------------------------------------------------
# Recording: the engine's two calls, and the user's ranges
# ----------------------------------------------------------------------------
class profile:
    """Record the ops run inside `with profile() as prof:` (or between start() and stop()).

    PyTorch's arguments: record_shapes keeps each event's input shapes; with_flops counts
    the floating-point operations of matrix products and convolutions; on_trace_ready(prof)
    is called when the recording stops; activities lists what to time: with
    ProfilerActivity.CUDA (the default includes it) an op on GPU arrays waits for the GPU
    before and after its kernel, so that the kernel's time is the GPU's and not the time
    to launch it. profile_memory, with_stack, with_modules and schedule are not
    supported: they raise if set.
    """

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_modules=False):
        for name, value in (("schedule", schedule), ("profile_memory", profile_memory),
                            ("with_stack", with_stack), ("with_modules", with_modules)):
            if value:
                raise NotImplementedError(f"profile: {name} is not supported by minidl's "
                                          "profiler; leave it at its default")
        activities = set(ProfilerActivity) if activities is None else set(activities)
        unknown = [a for a in activities if not isinstance(a, ProfilerActivity)]
        if unknown:
            raise ValueError(f"profile: activities must be ProfilerActivity values, got {unknown}")
        self.activities, self.on_trace_ready = activities, on_trace_ready
        self.record_shapes, self.with_flops = bool(record_shapes), bool(with_flops)
        self._wait_for_gpu = ProfilerActivity.CUDA in activities
        self._events, self._threads = [], {}
        self._local = threading.local()
        self._start = self._stop = None
        self._timed_kernel = self._kernel   # made once: a bound method is a new object each time
        self.step_num = 0

    # -------------------------------------------------------------- start and stop
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self._start is not None:
            raise RuntimeError("profile: this profile has already recorded; make a new one")
        if autograd._profiler is not None:
            raise RuntimeError("profile: another profile is already recording")
        self._start = _clock()
        autograd._profiler = self

    def stop(self):
        if autograd._profiler is self:
            autograd._profiler = None
            self._stop = _clock()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)

    def step(self):
        """Mark the end of a training step (PyTorch's schedules count them; here it only
        counts, in step_num)."""
        self.step_num += 1

    # -------------------------------------------------------------- what the engine calls
    def should_time(self, op):
        """False when op is the op this thread is timing right now: forward() below calls
        it again, and that call must run it."""
        stack = getattr(self._local, "stack", None)
        return not stack or stack[-1]._op is not op

    def forward(self, op, inputs):
        """Run op(*inputs) as one event, its kernel (op.forward) timed inside it."""
        event = self._open(op.name, "forward")
        event._run, event._op = op.forward, op
        op.forward = self._timed_kernel   # an instance attribute, hiding the class's method
        try:
            return op(*inputs)
        finally:
            vars(op).pop("forward", None)
            event._run = event._op = None
            self._close(event)

    def backward(self, op, grad_outputs):
        """Run op's backward on grad_outputs (autograd._call_backward) as one event."""
        event = self._open(f"{op.name}.backward", "backward")
        if self.record_shapes:
            event.input_shapes = [list(g.shape) for g in grad_outputs if g is not None]
        try:
            return autograd._call_backward(op, grad_outputs)
        finally:
            self._close(event)

    def _kernel(self, *arrays):
        """Stands in for op.forward while the op runs: times it, counts its FLOPs."""
        event = self._local.stack[-1]
        wait = self._wait_for_gpu and backend.device_of(arrays[0]) == "cuda"
        if wait:
            _synchronize(arrays[0])
        start = _clock()
        children = event.children   # (a forward that runs ops: theirs is not the kernel's)
        outputs = event._run(*arrays)
        if wait:
            _synchronize(arrays[0])
        event.kernel += _clock() - start - (event.children - children)
        if self.record_shapes:
            event.input_shapes = [list(a.shape) for a in arrays]
        if self.with_flops:
            event.flops = _flops(event._op, arrays, outputs)
        return outputs

    def _open(self, name, kind):
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        thread = self._threads.setdefault(threading.get_ident(), len(self._threads))
        event = FunctionEvent(name, kind, thread, _clock() - self._start,
                              stack[-1] if stack else None)
        stack.append(event)
        self._events.append(event)
        return event

    def _close(self, event):
        event.end = _clock() - self._start
        stack = self._local.stack
        stack.pop()
        if stack:
            stack[-1].children += event.end - event.start

    # -------------------------------------------------------------- the results
    def events(self):
        """Every event, in the order they started."""
        self._check_stopped("events")
        return EventList(self._events)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """The events added up by name (and input shapes, with group_by_input_shape=True,
        which needs record_shapes=True). minidl records no stacks and no overloads: the
        other two groupings are PyTorch's, accepted at their defaults."""
        if group_by_stack_n:
            raise NotImplementedError("key_averages: minidl records no stacks "
                                      "(group_by_stack_n must be 0)")
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("key_averages: group_by_input_shape=True needs a profile made "
                               "with record_shapes=True")
        return self.events().key_averages(group_by_input_shape)

    @property
    def self_cpu_time_total(self):
        """The self times of all the events added up, in microseconds."""
        return self.events().self_cpu_time_total

    @property
    def wall_time_total(self):
        """From start() to stop(), in microseconds (also the time outside any event)."""
        self._check_stopped("wall_time_total")
        return (self._stop - self._start) / 1e3

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace (JSON), which ui.perfetto.dev and
        chrome://tracing open as a timeline: one row per thread, events nested as they ran.
        The file is written whole under a temporary name, then renamed."""
        self._check_stopped("export_chrome_trace")
        _write_atomically(os.fspath(path), json.dumps(_chrome_trace(self._events)))

    def _check_stopped(self, what):
        if self._start is None or self._stop is None:
            raise RuntimeError(f"profile.{what}: the profile is still recording, or never "
                               "started; use it after the `with profile()` block")


class record_function:
    """Name a range of code: it becomes an event of the profile that is recording (and
    costs nothing when none is). A context manager, or a decorator."""

    def __init__(self, name, args=None):
        self.name, self.args = str(name), args
        self._event = self._profile = None

    def __enter__(self):
        self._profile = autograd._profiler
        if self._profile is not None:
            self._event = self._profile._open(self.name, "user_annotation")
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._profile._close(self._event)
            self._event = self._profile = None

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapped


def _synchronize(array):
    backend.get_array_module(array).cuda.Device().synchronize()


def _flops(op, arrays, outputs):
    """The op's count of floating-point operations, 0 for an op that does not count them."""
    count = getattr(op, "flops", None)
    if count is None:
        return 0
    return int(count(arrays, outputs if type(outputs) is tuple else (outputs,)))


# ----------------------------------------------------------------------------
# Reports: the table, and the Chrome trace
# ----------------------------------------------------------------------------
def _format_time(us, unit=None):
    if unit is None:
        unit = "s" if us >= 1e6 else "ms" if us >= 1e3 else "us"
    scale = {"s": 1e6, "ms": 1e3, "us": 1.0}
    if unit not in scale:
        raise ValueError(f"table: time_unit must be 's', 'ms' or 'us', got {unit!r}")
    return f"{us / scale[unit]:.3f}{unit}"


def _flops_unit(largest):
    """(unit name, divisor) that shows the largest count with a few digits, as PyTorch."""
    for name, divisor in (("PFLOPs", 1e15), ("TFLOPs", 1e12), ("GFLOPs", 1e9),
                          ("MFLOPs", 1e6), ("KFLOPs", 1e3)):
        if largest >= divisor:
            return name, divisor
    return "FLOPs", 1.0


def _table(events, sort_by, row_limit, name_width, shapes_width, header, top_level_only,
           time_unit):
    rows = list(events)   # averages (key_averages()), or single events (events())
    total_self = sum(row.self_cpu_time_total for row in rows)
    kernels, python, outside = EventList(rows).time_split()
    if top_level_only:
        rows = [row for row in rows if row.is_top_level]
    if sort_by is not None:
        if sort_by not in SORT_KEYS:
            raise ValueError(f"table: cannot sort by {sort_by!r}; minidl's profiler times the "
                             f"CPU (and the GPU inside the kernels): sort by one of {SORT_KEYS}")
        rows.sort(key=lambda row: getattr(row, sort_by), reverse=True)
    if row_limit is not None and row_limit >= 0:
        rows = rows[:row_limit]

    def percent(part, whole):
        return f"{100 * part / whole:.2f}%" if whole > 0 else "--"

    def time(us):
        return _format_time(us, time_unit)

    name_width = min(max([len(row.key) for row in rows] + [4]) + 2, name_width)
    shapes_width = min(max([len(str(row.input_shapes)) for row in rows] + [12]), shapes_width)
    columns = [("Name", name_width, lambda r: r.key[:name_width]),
               ("Self CPU %", 12, lambda r: percent(r.self_cpu_time_total, total_self)),
               ("Self CPU", 12, lambda r: time(r.self_cpu_time_total)),
               ("CPU total %", 12, lambda r: percent(r.cpu_time_total, total_self)),
               ("CPU total", 12, lambda r: time(r.cpu_time_total)),
               ("CPU time avg", 12, lambda r: time(r.cpu_time)),
               ("In kernels", 12, lambda r: time(r.kernel_time_total)),
               ("Python %", 10, lambda r: "--" if r.is_user_annotation
                else percent(r.python_time_total, r.self_cpu_time_total)),
               ("# of Calls", 11, lambda r: str(r.count))]
    if any(row.input_shapes is not None for row in rows):
        columns.append(("Input Shapes", shapes_width,
                        lambda r: str(r.input_shapes)[:shapes_width]))
    if any(row.flops for row in rows):
        unit, divisor = _flops_unit(max(row.flops for row in rows))
        columns.append((f"Total {unit}", 13,
                        lambda r: f"{r.flops / divisor:.3f}" if r.flops else "--"))
        columns.append(("GFLOP/s", 10, lambda r: f"{r.flops / r.kernel_time_total / 1e3:.2f}"
                        if r.flops and r.kernel_time_total > 0 else "--"))

    widths = [max(width, len(title)) for title, width, _ in columns]
    line = "  ".join("-" * w for w in widths)
    lines = [] if header is None else [header]
    lines += [line, "  ".join(title.rjust(w) for (title, _, _), w in zip(columns, widths)), line]
    for row in rows:
        lines.append("  ".join(cell(row).rjust(w) for (_, _, cell), w in zip(columns, widths)))
    lines.append(line)
    lines.append(f"Self CPU time total: {time(total_self)}")
    lines.append(f"In the ops' kernels: {time(kernels)} ({percent(kernels, total_self)}); "
                 f"in their Python around the kernels: {time(python)} "
                 f"({percent(python, total_self)}); outside any op: {time(outside)} "
                 f"({percent(outside, total_self)})")
    return "\n".join(lines) + "\n"


def _chrome_trace(events):
    """The Chrome trace format: complete ("X") events with start and duration in
    microseconds, on one row per thread, and metadata events naming the rows."""
    pid = os.getpid()
    threads = sorted({event.thread for event in events})
    trace = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
              "args": {"name": "minidl"}}]
    trace += [{"name": "thread_name", "ph": "M", "pid": pid, "tid": thread,
               "args": {"name": f"thread {thread}"}} for thread in threads]
    for event in events:
        args = {"self (us)": round(event.self_cpu_time_total, 3)}
        if event.kernel:
            args["kernel (us)"] = round(event.kernel_time_total, 3)
        if event.flops:
            args["FLOPs"] = event.flops
        if event.input_shapes is not None:
            args["Input Dims"] = event.input_shapes
        trace.append({"name": event.name, "cat": event.kind, "ph": "X", "pid": pid,
                      "tid": event.thread, "ts": round(event.start / 1e3, 3),
                      "dur": round((event.end - event.start) / 1e3, 3), "args": args})
    return {"traceEvents": trace, "displayTimeUnit": "ms"}


def _write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

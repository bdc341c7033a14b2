"""minidl.profiler: exact counts, times that add up, FLOPs of known shapes, the table, the
Chrome trace, and an engine that runs the same with and without a profile."""
import json
import os
import re
import threading

import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from minidl import autograd, nn
from minidl.profiler import ProfilerActivity, profile, record_function


def averages(prof):
    return {row.key: row for row in prof.key_averages()}


def matmul_tanh_sum(x, w):
    loss = (x @ w).tanh().sum()
    loss.backward()
    return loss


# ----------------------------------------------------------------------------
# what is recorded
# ----------------------------------------------------------------------------
def test_counts_are_exact_forward_and_backward():
    x = mdl.randn(8, 16, requires_grad=True)
    w = mdl.randn(16, 4, requires_grad=True)
    with profile() as prof:
        for _ in range(3):
            matmul_tanh_sum(x, w)
    rows = averages(prof)
    # per step: one MatMul forward, and two in its backward (dx = gy wᵀ, dw = xᵀ gy)
    assert rows["MatMul"].count == 3 * 3
    assert rows["MatMul.backward"].count == 3
    assert rows["Tanh"].count == rows["Tanh.backward"].count == 3
    assert rows["Sum.backward"].count == 3
    assert sum(row.count for row in rows.values()) == len(prof.events())


def test_a_backward_is_the_parent_of_the_ops_it_runs():
    x = mdl.randn(8, 16, requires_grad=True)
    w = mdl.randn(16, 4, requires_grad=True)
    with profile() as prof:
        matmul_tanh_sum(x, w)
    matmuls = [e for e in prof.events() if e.name == "MatMul"]
    assert matmuls[0].cpu_parent is None                        # the forward: top level
    assert {e.cpu_parent.name for e in matmuls[1:]} == {"MatMul.backward"}
    for event in prof.events():
        assert event.kind in ("forward", "backward")
        assert 0 <= event.self_cpu_time_total <= event.cpu_time_total
        assert 0 <= event.kernel_time_total <= event.self_cpu_time_total
        if event.kind == "backward":
            assert event.kernel_time_total == 0   # a backward's arithmetic is in its ops


def test_self_times_add_up_to_the_total():
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3))
    x, y = mdl.randn(64, 10), mdl.tensor(np.arange(64) % 3)
    with profile() as prof:
        with record_function("step"):
            F.cross_entropy(model(x), y).backward()
    rows = averages(prof)
    step = rows["step"]
    assert step.count == 1 and step.is_top_level
    total_self = prof.key_averages().self_cpu_time_total
    # every moment inside the step is the self time of exactly one event
    assert total_self == pytest.approx(step.cpu_time_total, rel=1e-9)
    assert total_self == pytest.approx(sum(row.self_cpu_time_total for row in rows.values()))
    assert step.cpu_time_total <= prof.wall_time_total
    kernels, python, outside = prof.key_averages().time_split()
    assert kernels == pytest.approx(sum(row.kernel_time_total for row in rows.values()))
    assert kernels > 0 and python > 0
    assert kernels + python + outside == pytest.approx(total_self)
    assert outside == pytest.approx(step.self_cpu_time_total)   # our code between the ops
    assert step.python_time_total == 0 and step.is_user_annotation
    assert all(0 <= row.python_time_total <= row.self_cpu_time_total + 1e-9
               for row in rows.values())


def test_top_level_totals_add_up_without_a_named_range():
    x = mdl.randn(5, 5, requires_grad=True)
    with profile() as prof:
        (x * x).exp().sum().backward()
    events = prof.events()
    top = sum(e.cpu_time_total for e in events if e.cpu_parent is None)
    assert events.self_cpu_time_total == pytest.approx(top, rel=1e-9)


def test_record_function_nests_and_decorates():
    @record_function("helper")
    def helper(t):
        return t * 2

    x = mdl.randn(3)
    with profile() as prof:
        with record_function("outer"):
            helper(x)
            helper(x)
    events = prof.events()
    names = [e.name for e in events]
    assert names == ["outer", "helper", "Mul", "helper", "Mul"]
    assert [e.cpu_parent.name if e.cpu_parent else None for e in events] == [
        None, "outer", "helper", "outer", "helper"]
    assert all(e.is_user_annotation == (e.kind == "user_annotation") for e in events)
    with record_function("nothing records"):   # no profile: does nothing
        helper(x)


def test_input_shapes_and_grouping_by_them():
    a, b = mdl.randn(2, 3), mdl.randn(3, 4)
    with profile(record_shapes=True) as prof:
        a @ b
        a @ b
        b.T @ a.T
    by_shape = {tuple(map(tuple, row.input_shapes)): row.count
                for row in prof.key_averages(group_by_input_shape=True) if row.key == "MatMul"}
    assert by_shape == {((2, 3), (3, 4)): 2, ((4, 3), (3, 2)): 1}
    with profile() as plain:
        a @ b
    with pytest.raises(RuntimeError, match="record_shapes"):
        plain.key_averages(group_by_input_shape=True)


def test_ops_run_the_same_with_and_without_a_profile():
    mdl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 5 * 5, 4))
    x = mdl.randn(3, 2, 5, 5, dtype=np.float64, requires_grad=True)
    model.double()

    def gradients():
        for p in [x, *model.parameters()]:
            p.grad = None
        out = model(x)
        (out * out).sum().backward()
        return out.numpy().copy(), [p.grad.numpy().copy() for p in [x, *model.parameters()]]

    plain_out, plain_grads = gradients()
    with profile(with_flops=True, record_shapes=True) as prof:
        profiled_out, profiled_grads = gradients()
    np.testing.assert_array_equal(plain_out, profiled_out)
    for g, h in zip(plain_grads, profiled_grads):
        np.testing.assert_array_equal(g, h)
    assert autograd._profiler is None
    assert len(prof.events()) > 10


def test_second_order_gradients_under_a_profile():
    x = mdl.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    with profile() as prof:
        g, = mdl.grad((x ** 3).sum(), [x], create_graph=True)
        g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())
    assert averages(prof)["Pow.backward"].count >= 1


class Failing(autograd.Function):
    def forward(self, a):
        raise ValueError("no")


def test_an_error_inside_an_op_leaves_the_profile_consistent():
    a = mdl.randn(2, 3)
    op = Failing()
    with profile() as prof:
        with pytest.raises(ValueError, match="Failing: no"):
            op(a)
        a * 2
    events = prof.events()
    assert [e.name for e in events] == ["Failing", "Mul"]
    assert events[1].cpu_parent is None   # the failed op's event was closed
    assert "forward" not in vars(op)      # its kernel is its own again


def test_ops_from_another_thread_are_recorded_on_their_own_row():
    x = mdl.randn(3)
    with profile() as prof:
        x * 2
        worker = threading.Thread(target=lambda: x + 1)
        worker.start()
        worker.join()
    threads = {e.name: e.thread for e in prof.events()}
    assert threads["Mul"] != threads["Add"]


# ----------------------------------------------------------------------------
# FLOPs
# ----------------------------------------------------------------------------
def flops_of(prof):
    return {row.key: row.flops for row in prof.key_averages() if row.flops}


def test_matmul_flops_are_two_per_multiply_add():
    a, b = mdl.randn(8, 16), mdl.randn(16, 4)
    batched, other = mdl.randn(2, 1, 3, 4), mdl.randn(5, 4, 6)   # broadcast to (2, 5, 3, 6)
    with profile(with_flops=True) as prof:
        a @ b
        batched @ other
    assert flops_of(prof) == {"MatMul": 2 * 8 * 16 * 4 + 2 * (2 * 5 * 3 * 6) * 4}


def test_the_flops_of_a_backward_are_its_matmuls():
    # PyTorch counts 2048 for the same: 1024 forward, 1024 for dw (x needs no gradient)
    x, w = mdl.randn(8, 16), mdl.randn(16, 4, requires_grad=True)
    with profile(with_flops=True) as prof:
        (x @ w).sum().backward()
    assert sum(row.flops for row in prof.key_averages()) == 2048


def test_linear_flops_leave_out_the_bias():
    x, w, b = mdl.randn(7, 3, 5), mdl.randn(6, 5), mdl.randn(6)
    with profile(with_flops=True) as prof:
        F.linear(x, w, b)
    assert flops_of(prof) == {"Linear": 2 * 7 * 3 * 6 * 5}


@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 0, 1), (1, 2, 2)])
def test_conv_flops_for_the_three_conv_ops(stride, padding, groups):
    n, c, h, w, o, k = 2, 4, 9, 7, 6, 3
    x = mdl.randn(n, c, h, w, requires_grad=True)
    weight = mdl.randn(o, c // groups, k, k, requires_grad=True)
    with profile(with_flops=True) as prof:
        y = F.conv2d(x, weight, stride=stride, padding=padding, groups=groups)
        y.sum().backward()
    oh, ow = y.shape[2:]
    assert (oh, ow) == ((h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1)
    each = 2 * n * o * oh * ow * (c // groups) * k * k
    assert flops_of(prof) == {"Conv2d": each, "Conv2dGradInput": each, "Conv2dGradWeight": each}


def test_no_flops_unless_asked():
    with profile() as prof:
        mdl.randn(4, 4) @ mdl.randn(4, 4)
    assert all(row.flops == 0 for row in prof.key_averages())
    assert "FLOPs" not in prof.key_averages().table()


# ----------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------
def profiled_step():
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    with profile(with_flops=True) as prof:
        F.cross_entropy(model(mdl.randn(16, 10)), mdl.tensor(np.arange(16) % 3)).backward()
    return prof


def table_rows(text):
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("-")]
    return [line.split()[0] for line in lines[rules[1] + 1:rules[2]]]


def test_table_sorts_limits_and_has_pytorch_columns():
    prof = profiled_step()
    averages_ = prof.key_averages()
    everything = averages_.table(sort_by="self_cpu_time_total", row_limit=-1)
    for column in ("Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                   "# of Calls", "Python %", "GFLOP/s"):
        assert column in everything
    # the FLOPs columns appear when a row shown has FLOPs, in the unit its largest count
    # calls for (PyTorch's rule); the 4 slowest rows need not include a product
    assert re.search(r"Total [KMGTP]?FLOPs", everything)
    text = averages_.table(sort_by="self_cpu_time_total", row_limit=4)
    names = table_rows(text)
    largest = sorted(averages_, key=lambda r: r.self_cpu_time_total, reverse=True)[:4]
    assert names == [row.key for row in largest]
    assert "Self CPU time total:" in text
    by_count = table_rows(averages_.table(sort_by="count", row_limit=-1))
    assert len(by_count) == len(averages_)
    counts = {row.key: row.count for row in averages_}
    assert [counts[name] for name in by_count] == sorted(counts.values(), reverse=True)


def test_table_options():
    prof = profiled_step()
    averages_ = prof.key_averages()
    assert averages_.table(header="STEP").startswith("STEP\n")
    assert "ms" not in averages_.table(time_unit="us").replace("Python", "")
    top = table_rows(prof.events().table(top_level_events_only=True, row_limit=-1))
    assert len(top) == sum(1 for e in prof.events() if e.cpu_parent is None)
    with pytest.raises(ValueError, match="sort by one of"):
        averages_.table(sort_by="cuda_time_total")
    with pytest.raises(ValueError, match="time_unit"):
        averages_.table(time_unit="minutes")


# ----------------------------------------------------------------------------
# the Chrome trace
# ----------------------------------------------------------------------------
def test_chrome_trace_is_json_with_nested_complete_events(tmp_path):
    prof = profiled_step()
    path = tmp_path / "trace.json"
    path.write_text("old")
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    assert os.listdir(tmp_path) == ["trace.json"]   # no temporary file left behind
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(prof.events())
    for event in complete:
        assert {"name", "cat", "ts", "dur", "pid", "tid", "args"} <= set(event)
        assert event["dur"] >= 0
    # on one thread, two events are either nested or apart (what a timeline needs)
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in complete)
    for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
        assert s1 >= e0 - 1e-3 or e1 <= e0 + 1e-3
    named = [e for e in trace["traceEvents"] if e["ph"] == "M"]
    assert {e["name"] for e in named} == {"process_name", "thread_name"}


def test_chrome_trace_refuses_while_recording(tmp_path):
    with profile() as prof:
        with pytest.raises(RuntimeError, match="still recording"):
            prof.export_chrome_trace(tmp_path / "t.json")
    assert not os.listdir(tmp_path)


# ----------------------------------------------------------------------------
# starting, stopping, and what is not supported
# ----------------------------------------------------------------------------
def test_profile_start_stop_and_on_trace_ready():
    ready = []
    prof = profile(on_trace_ready=ready.append)
    prof.start()
    assert autograd._profiler is prof
    mdl.randn(2) * 2
    prof.step()
    prof.stop()
    assert autograd._profiler is None and ready == [prof] and prof.step_num == 1
    with pytest.raises(RuntimeError, match="already recorded"):
        prof.start()


def test_an_error_in_the_block_stops_the_profile():
    with pytest.raises(KeyError):
        with profile():
            raise KeyError("x")
    assert autograd._profiler is None


def test_one_profile_at_a_time():
    with profile():
        with pytest.raises(RuntimeError, match="already recording"):
            profile().start()


@pytest.mark.parametrize("option", ["profile_memory", "with_stack", "with_modules"])
def test_unsupported_options_raise(option):
    with pytest.raises(NotImplementedError, match=option):
        profile(**{option: True})


def test_activities_are_profiler_activities():
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        mdl.randn(2) + 1
    assert len(prof.events()) == 1
    with pytest.raises(ValueError, match="ProfilerActivity"):
        profile(activities=["cpu"])


def test_nothing_is_left_on_the_ops():
    x = mdl.randn(3, requires_grad=True)
    with profile():
        y = x * 2
    assert "forward" not in vars(y.creator)

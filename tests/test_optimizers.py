"""Library-backed optimizers: each one lowers the training loss on the digits smoke data.

A small MLP (64-32-10), 256 digits, full-batch steps keep this fast; optimizers that
hold weights still during a warm-up (SPAM's and Stable-SPAM's momentum reset
warm-up, Adafactor's relative step) get enough steps to leave it.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from regsuite import Budget  # noqa: E402
from regsuite.plugins import optimizers, optimizers_own  # noqa: E402

STEPS = 40
BUDGET = Budget(steps=STEPS)


@pytest.fixture(scope="module")
def digits():
    from regsuite.suites.vision import data

    x, y = data.digits_splits()["train"]
    return torch.from_numpy(x).flatten(1)[:256], torch.from_numpy(y)[:256]


def mlp(conv: bool = False):
    torch.manual_seed(0)
    if conv:  # a conv kernel exercises the optimizers' handling of 4-D weights
        return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), torch.nn.Conv2d(1, 4, 3, padding=1),
                                   torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(256, 32), torch.nn.ReLU(),
                                   torch.nn.Linear(32, 10))
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def train(method, x, y, conv=False, steps=STEPS):
    import torch.nn.functional as F

    model = mlp(conv)
    opt = method.regsuite_configure_optimizer(model, Budget(steps=steps))
    with torch.no_grad():
        start = F.cross_entropy(model(x), y).item()
    for _ in range(steps):  # full batch: the loss moves for the optimizer's reasons only
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    if hasattr(opt, "eval"):  # schedule-free: evaluate at the averaged point
        opt.eval()
    with torch.no_grad():
        return start, F.cross_entropy(model(x), y).item()


LIBRARY_BACKED = [m for m in optimizers.OPTIMIZERS if m.name not in ("sgd", "adamw")] + [optimizers_own.Muon]


@pytest.mark.parametrize("cls", LIBRARY_BACKED, ids=lambda c: c.name)
def test_library_optimizer_lowers_the_loss(cls, digits):
    start, end = train(cls(), *digits, steps=20 if cls.name == "kron" else STEPS)  # Kron: slow einsums on CPU
    assert end < start - 0.05, f"{cls.name}: loss {start:.3f} -> {end:.3f}"


@pytest.mark.parametrize("cls", [optimizers_own.AdaGO, optimizers.Fira, optimizers_own.Muon, optimizers_own.DropMuon,
                                 optimizers_own.Spectra], ids=lambda c: c.name)
def test_structure_aware_optimizers_handle_conv_kernels(cls, digits):
    start, end = train(cls(), *digits, conv=True, steps=10)
    assert end < start


@pytest.mark.parametrize("cls", [optimizers_own.DropMuon, optimizers_own.NAGGS, optimizers_own.AdaGO, optimizers_own.Spectra],
                         ids=lambda c: c.name)
def test_own_optimizers_lower_the_loss(cls, digits):
    start, end = train(cls(), *digits)
    assert end < start - 0.05, f"{cls.name}: loss {start:.3f} -> {end:.3f}"


@pytest.mark.parametrize("base", ["sgd", "nadamw"])
def test_lookahead_wraps_any_base(base, digits):
    method = optimizers.Lookahead({"base": base})
    opt = method.regsuite_configure_optimizer(mlp(), BUDGET)
    assert type(opt.optimizer).__name__ == ("SGD" if base == "sgd" else "NAdam")
    start, end = train(method, *digits)
    assert end < start - 0.05


def test_hidden_matrix_split_keeps_embeddings_head_and_vectors_out():
    model = torch.nn.Sequential(torch.nn.Embedding(7, 4), torch.nn.Linear(4, 6), torch.nn.LayerNorm(6),
                                torch.nn.Conv1d(6, 6, 1), torch.nn.Linear(6, 7))
    model[4].weight = model[0].weight  # tied output layer: listed once, with the embedding
    hidden, other = optimizers.hidden_matrix_split(model)
    assert [id(p) for p in hidden] == [id(model[1].weight)]
    hidden_nd, _ = optimizers.hidden_matrix_split(model, allow_nd=True)
    assert [id(p) for p in hidden_nd] == [id(model[1].weight), id(model[3].weight)]
    assert len(hidden) + len(other) == len(list(model.parameters()))


def test_schedule_free_evaluates_at_the_average_and_trains_at_y():
    from types import SimpleNamespace

    method = optimizers.ScheduleFreeAdamW()
    model = mlp()
    budget = Budget(steps=4, eval_every=2)
    opt = method.regsuite_configure_optimizer(model, budget)
    state = SimpleNamespace(optimizer=opt, step=0)
    modes = []
    for step in range(4):
        method.regsuite_transform_batch({}, state)
        assert opt.param_groups[0]["train_mode"]  # gradients are always taken at y
        model(torch.randn(3, 64)).sum().backward()
        opt.step()
        state.step = step
        method.regsuite_after_step(model, state)
        modes.append(opt.param_groups[0]["train_mode"])
    assert modes == [True, False, True, False]  # switched to x before each evaluation (steps 2 and 4)


def test_every_optimizer_declares_a_valid_method():
    for cls in [*optimizers.OPTIMIZERS, *optimizers_own.regsuite_methods()]:
        assert cls.metadata_problems() == [], cls.name
        assert cls.family == "optimizer" and cls.citation is not None
        assert cls.fidelity is not None, f"{cls.name} has no fidelity label"


@pytest.mark.parametrize("name", ["schedule-free-adamw", "adafactor"])
def test_self_scheduling_optimizers_get_no_schedule_on_llm_standard(name, registry):
    from regsuite.plan import resolve_components
    from regsuite.suites.llm.tasks import StdlibSmall

    assert StdlibSmall.default_schedule == "cosine"  # what a plain optimizer gets on this task
    assert resolve_components(registry, name, StdlibSmall()) == (name,)
    assert resolve_components(registry, "adamw", StdlibSmall()) == ("adamw", "cosine")


def test_adafactor_has_no_dead_lr_and_the_papers_uncapped_beta2():
    assert "lr" not in optimizers.Adafactor.defaults and "lr" not in optimizers.Adafactor.space
    w = torch.nn.Parameter(torch.zeros(4))
    holder = torch.nn.ParameterList([w])
    opt = optimizers.Adafactor({"decay_rate": -1.0}).regsuite_configure_optimizer(holder, BUDGET)
    # beta2_t = 1 - t^-1, uncapped: with g = 1 for 1999 steps, v = 1 + eps1; at t = 2000, g = 10:
    # v = (1 - 1/2000) * 1 + (1/2000) * 100 = 1.0495 (a 0.999 cap would give 0.999 + 0.1 = 1.099).
    for t in range(1, 2001):
        w.grad = torch.full((4,), 10.0 if t == 2000 else 1.0)
        opt.step()
    v = opt.state[w]["exp_avg_sq"]
    assert v.tolist() == pytest.approx([1.0495] * 4, rel=1e-5)

"""Domain-generalization suite: embedded domains, DomainBed folders on generated images, checkpoint
selection, the DomainBed table, and short end-to-end runs through the runner and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from regsuite import Budget, DataMissing
from regsuite.cli import cli
from regsuite.suites.domain_generalization import data, folders, models, report, tasks
from regsuite.suites.vision.data import digits_arrays


def test_rotated_digits_are_six_disjoint_rotated_parts_of_the_digits():
    domains = data.rotated_digits()
    assert [name for name, _, _ in domains] == ["0", "15", "30", "45", "60", "75"]
    x, y = digits_arrays()
    assert sum(len(d[1]) for d in domains) == len(x)
    order = np.random.RandomState(0).permutation(len(x))
    name, x0, y0 = domains[0]
    # Domain "0" is every 6th digit of the shuffle, padded by 2 pixels and not rotated.
    assert x0.shape[1:] == (1, 12, 12) and np.array_equal(x0[:, 0, 2:10, 2:10], x[order[0::6], 0])
    assert np.array_equal(y0, y[order[0::6]]) and x0[:, :, :2].sum() == 0
    _, x45, _ = domains[3]
    # Rotating by 45 degrees moves ink into the padding and keeps values in [0, 1].
    assert x45[:, :, :2].sum() > 0 and 0 <= x45.min() and x45.max() <= 1
    assert np.array_equal(data.rotated_digits()[3][1], x45)  # deterministic


def test_colored_digits_correlate_colour_with_the_noisy_label_per_domain():
    x, digit = digits_arrays()
    order = np.random.RandomState(0).permutation(len(x))
    for (name, imgs, label), agree, part in zip(data.colored_digits(), (0.9, 0.8, 0.1), range(3)):
        clean = (digit[order[part::3]] < 5).astype(int)
        assert abs((label != clean).mean() - 0.25) < 0.05  # 25% label noise
        red, green = imgs[:, 0].sum((1, 2)), imgs[:, 1].sum((1, 2))
        assert np.all((red == 0) | (green == 0))  # one colour channel per image
        colour = (green > 0).astype(int)  # colour c keeps channel c and zeroes channel 1 - c
        assert abs((colour == label).mean() - agree) < 0.05, name
        assert np.array_equal(imgs[:, 0] + imgs[:, 1], x[order[part::3], 0])


def test_split_domain_holds_out_a_seeded_fifth():
    ins, outs = data.split_domain(50, seed=3)
    assert len(outs) == 10 and len(ins) == 40 and sorted(np.concatenate([ins, outs]).tolist()) == list(range(50))
    assert not np.array_equal(outs, data.split_domain(50, seed=4)[1])
    assert np.array_equal(outs, data.split_domain(50, seed=3)[1])


def write_pacs(root, size=6):
    """A DomainBed-layout PACS tree of solid-colour PNG images: colour encodes (domain, class, index)."""
    from PIL import Image

    expected = {}
    for d, domain in enumerate(folders.DATASETS["pacs"][1]):
        for c, cls in enumerate(["dog", "horse"]):
            folder = root / "PACS" / domain / cls
            folder.mkdir(parents=True)
            for i in range(3 + d):
                colour = (40 * d, 100 * c, 20 * i)
                Image.new("RGB", (size + i, size), colour).save(folder / f"img{i}.png")
                expected.setdefault(domain, []).append((colour, c))
    (root / "PACS" / "photo" / "dog" / "notes.txt").write_text("not an image")
    return expected


def test_folder_loader_reads_domainbed_layout(tmp_path):
    expected = write_pacs(tmp_path)
    classes, domains = folders.load_domains(folders.dataset_dir(tmp_path, "pacs"), size=4)
    assert classes == ["dog", "horse"]
    assert [d[0] for d in domains] == ["art_painting", "cartoon", "photo", "sketch"]
    for name, x, y in domains:
        assert x.dtype == np.uint8 and x.shape == (len(expected[name]), 3, 4, 4)
        assert [tuple(img[:, 0, 0]) for img in x] == [col for col, _ in expected[name]]
        assert y.tolist() == [c for _, c in expected[name]]
    folders.check_dataset(tmp_path, "pacs")
    with pytest.raises(DataMissing, match="VLCS not found"):
        folders.check_dataset(tmp_path, "vlcs")
    (tmp_path / "PACS" / "sketch").rename(tmp_path / "PACS" / "sketches")
    with pytest.raises(DataMissing, match="sketch"):
        folders.check_dataset(tmp_path, "pacs")


def test_resnet_without_torchvision_or_weights_is_a_clear_data_error(tmp_path):
    pytest.importorskip("torch")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(DataMissing, match="torchvision"):
            models.resnet(18, 7)
    else:
        with pytest.raises(DataMissing, match="weights not found"):
            models.resnet(18, 7, tmp_path / "missing.pth")


def records(*rows):
    """Checkpoint records from {(split, domain): accuracy} rows, steps 1, 2, ..."""
    return [(i + 1, row) for i, row in enumerate(rows)]


def test_selection_picks_a_checkpoint_per_criterion():
    names = ["a", "b", "c"]
    singles = {
        # Held out a: checkpoint 1 best on the other domains' out splits, 2 on a's own out split.
        0: records({("out", 1): .9, ("out", 2): .9, ("in", 0): .50, ("out", 0): .1},
                   {("out", 1): .5, ("out", 2): .5, ("in", 0): .70, ("out", 0): .9},
                   {("out", 1): .6, ("out", 2): .6, ("in", 0): .60, ("out", 0): .5}),
        1: records({("out", 0): .5, ("out", 2): .5, ("in", 1): .40, ("out", 1): .5},
                   {("out", 0): .5, ("out", 2): .5, ("in", 1): .80, ("out", 1): .5},  # ties: the later one
                   {("out", 0): .1, ("out", 2): .1, ("in", 1): .30, ("out", 1): .1}),
        2: records({("out", 0): .2, ("out", 1): .2, ("in", 2): .20, ("out", 2): .2},
                   {("out", 0): .3, ("out", 1): .3, ("in", 2): .30, ("out", 2): .3},
                   {("out", 0): .4, ("out", 1): .4, ("in", 2): .90, ("out", 2): .9}),
    }
    pairs = {
        # Leave-one-out for a: mean of b's "in" accuracy (model without a, b) and c's (without a, c).
        (0, 1): records({("in", 0): .1, ("in", 1): .2}, {("in", 0): .1, ("in", 1): .2}, {("in", 0): .1, ("in", 1): .9}),
        (0, 2): records({("in", 0): .1, ("in", 2): .2}, {("in", 0): .1, ("in", 2): .2}, {("in", 0): .1, ("in", 2): .3}),
        (1, 2): records({("in", 1): .9, ("in", 2): .2}, {("in", 1): .1, ("in", 2): .2}, {("in", 1): .1, ("in", 2): .3}),
    }
    m = tasks.select(singles, pairs, names)
    assert (m["acc_trainval@a"], m["acc_oracle@a"], m["acc_lodo@a"]) == (.50, .70, .60)
    assert m["acc_trainval@b"] == .80 and m["acc_oracle@b"] == .80
    # b's LODO: mean(a's in from (a,b), c's in from (b,c)) = .15, .15, .2 -> checkpoint 3.
    assert m["acc_lodo@b"] == .30
    assert m["test_accuracy"] == pytest.approx((.5 + .8 + .9) / 3)
    assert m["test_accuracy_oracle"] == pytest.approx((.7 + .8 + .9) / 3)
    # c's LODO: mean(a's in from (a,c), b's in from (b,c)) = .5, .1, .1 -> checkpoint 1.
    assert m["acc_lodo@c"] == .20
    assert m["worst_domain_accuracy"] == .5 and m["worst_domain_accuracy_lodo"] == .20
    assert m["val_accuracy"] == pytest.approx((.9 + .5 + .4) / 3)
    # Oracle validation scores of the chosen checkpoints: a .9 (checkpoint 2), b .5 (tie: 2), c .9 (3).
    assert m["val_accuracy_oracle"] == pytest.approx((.9 + .5 + .9) / 3)
    assert m["val_accuracy_lodo"] == pytest.approx((.6 + .2 + .5) / 3)
    # Only c held out: its numbers as above, nothing for a and b, and the means are c's alone.
    only_c = tasks.select(singles, pairs, names, held_out=[2])
    assert (only_c["acc_trainval@c"], only_c["acc_oracle@c"], only_c["acc_lodo@c"]) == (.90, .90, .20)
    assert not [k for k in only_c if k.endswith(("@a", "@b"))]
    assert only_c["test_accuracy"] == .90 and only_c["test_accuracy_lodo"] == .20
    assert only_c["val_accuracy_oracle"] == .9 and only_c["worst_domain_accuracy_oracle"] == .9


def fake_runs():
    rows = []
    for method, accs in (("erm", ((.9, .5), (.7, .3))), ("irm", ((.8, .8), (.8, .6)))):
        for seed, (a, b) in enumerate(accs):
            m = {"acc_trainval@+90%": a, "acc_trainval@+80%": b, "acc_trainval@-90%": 0.1,
                 "test_accuracy_trainval": (a + b + .1) / 3, "worst_domain_accuracy_trainval": 0.1}
            rows.append({"task": "domain-generalization/colored-digits", "protocol": "default", "method": method,
                         "seed": seed, "status": "ok", "metrics": json.dumps(m)})
    return pd.DataFrame(rows)


def test_domainbed_table_reports_mean_and_standard_error_per_held_out_domain():
    text = report.domainbed_tables(fake_runs(), "table")
    assert "model selection: training-domain validation" in text and "leave-one" not in text
    header = [line for line in text.splitlines() if line.strip().startswith("method")][0].split()
    assert header == ["method", "n", "+90%", "+80%", "-90%", "Avg", "Worst"]
    erm = [line for line in text.splitlines() if line.strip().startswith("erm")][0]
    # +90%: mean(.9, .7) = 80.0, SE = sd / sqrt(2) = 0.1414 / 1.414 = 10.0 (percent).
    assert "80.0 ± 10.0" in erm and "40.0 ± 10.0" in erm and "10.0 ± 0.0" in erm
    irm = [line for line in text.splitlines() if line.strip().startswith("irm")][0]
    assert text.index(irm) < text.index(erm)  # sorted by the average
    parsed = json.loads(report.domainbed_tables(fake_runs(), "json"))
    assert parsed[0]["rows"][0]["method"] == "irm"
    assert "| method | n | +90%" in report.domainbed_tables(fake_runs(), "markdown")


def test_domainbed_table_has_a_column_per_held_out_domain_only():
    m = {"acc_oracle@-90%": .7, "test_accuracy_oracle": .7, "worst_domain_accuracy_oracle": .7}
    runs = pd.DataFrame([{"task": "domain-generalization/colored-digits-standard", "protocol": "default",
                          "method": "irm", "seed": 0, "status": "ok", "metrics": json.dumps(m)}])
    header = [line for line in report.domainbed_tables(runs, "table").splitlines()
              if line.strip().startswith("method")][0].split()
    assert header == ["method", "n", "-90%", "Avg", "Worst"]


class TinyColored(tasks.ColoredDigits):
    """Colored digits with a short budget, for tests."""

    budget = Budget(steps=12, eval_every=6, log_every=6)


def run_tiny(method, seed=0, task=None, data_dir=None):
    from regsuite.context import RunContext
    from regsuite.registry import build_registry
    from regsuite.runner import build_hooks, resolve_device, seed_everything
    from regsuite.plan import resolve_components, resolve_hparams, RunSpec

    reg = build_registry(())
    task = task or TinyColored()
    components = resolve_components(reg, method, task)
    hp = resolve_hparams(reg, components, task, [])
    spec = RunSpec(task.suite, "1", task.key(), task.tier, method, components, hp, seed)
    seed_everything(seed)
    ctx = RunContext(seed=seed, device=resolve_device("cpu"), tier=task.tier, hooks=build_hooks(reg, spec), hparams=hp,
                     data_dir=data_dir)
    return task.run(ctx), ctx


def test_a_run_trains_every_held_out_domain_and_its_pairs_deterministically():
    metrics, ctx = run_tiny("erm")
    # 3 single hold-outs + 3 pairs, 12 steps each, 2 training domains (1 for a pair) of 32 examples.
    assert ctx.counters["steps"] == 6 * 12 and ctx.counters["samples"] == 3 * 12 * 64 + 3 * 12 * 32
    for sel in tasks.SELECTIONS:
        assert {f"acc_{sel}@{d}" for d in tasks.ColoredDigits.domains} <= set(metrics)
        assert 0 <= metrics[f"test_accuracy_{sel}"] <= 1
    assert metrics["test_accuracy"] == metrics["test_accuracy_trainval"]
    assert {split for _, _, split, _, _ in ctx.curves} >= {"holdout=+90%", "holdout=+90%,-90%"}
    again, _ = run_tiny("erm")
    assert again == metrics


@pytest.mark.parametrize("method", ["irm+sam", "coral+cutout", "fishr+l2", "inter-domain-mixup+sgd", "groupdro+adamw",
                                    "vrex", "mmd", "dsp-reg", "hessian-alignment", "ridg", "irm-gramian"])
def test_methods_and_general_methods_run_on_the_suite(method):
    metrics, ctx = run_tiny(method)
    assert all(np.isfinite(v) for v in metrics.values())


def test_folder_task_runs_the_protocol_on_generated_images(tmp_path):
    write_pacs(tmp_path, size=8)

    class TinyPACS(tasks.PACS):
        budget = Budget(steps=4, eval_every=2, log_every=2)
        image_size = 8
        batch_size = 2
        classes = 2
        lodo = False

        def make_model(self):
            return models.digits_mlp(3 * 8 * 8, 2, hidden=8)

    metrics, ctx = run_tiny("erm", task=TinyPACS(), data_dir=tmp_path)
    assert "acc_trainval@photo" in metrics and "test_accuracy_lodo" not in metrics
    assert ctx.notes["pretrained"].startswith("none")


def test_bench_and_results_print_the_domainbed_table(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks.ColoredDigits, "budget", Budget(steps=10, eval_every=5, log_every=5))
    runner = CliRunner()
    out = tmp_path / "res"
    result = runner.invoke(cli, ["bench", "--suite", "domain-generalization", "--task", "colored-digits",
                                 "--method", "erm", "--method", "vrex", "--seeds", "2", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["results", "--results", str(out), "--suite", "domain-generalization"])
    assert result.exit_code == 0, result.output
    for sel in ("training-domain validation", "leave-one-domain-out", "test-domain oracle"):
        assert f"colored-digits: held-out domain accuracy (%), model selection: {sel}" in result.output
    assert "+90%" in result.output and "Avg" in result.output and "vrex" in result.output
    result = runner.invoke(cli, ["bench", "--suite", "vision", "--task", "digits-mlp", "--method", "irm", "--out",
                                 str(out), "--quiet"])
    assert result.exit_code == 2 and "domain_labels" in result.output


def test_standard_colored_digits_holds_out_only_the_reversed_domain():
    class Short(tasks.ColoredDigitsStandard):
        budget = Budget(steps=4, eval_every=2, log_every=2)

    assert Short.tier == "standard" and Short.primary.name == "test_accuracy_oracle"
    assert Short.validation.name == "val_accuracy_oracle"
    assert Short.leaderboard_families == frozenset({"regularizer", "loss", "procedure"})
    metrics, ctx = run_tiny("irm", task=Short())
    # One model on +90% and +80% (2 x 32 a step) for -90%, and the two leave-one-domain-out models
    # without {+90%, -90%} and {+80%, -90%} (one training domain each).
    assert ctx.counters["steps"] == 3 * 4 and ctx.counters["samples"] == 4 * 64 + 2 * 4 * 32
    assert {split for _, _, split, _, _ in ctx.curves} == {"holdout=-90%", "holdout=+90%,-90%", "holdout=+80%,-90%"}
    assert {"acc_trainval@-90%", "acc_oracle@-90%", "acc_lodo@-90%"} <= set(metrics)
    assert not [k for k in metrics if k.endswith(("@+90%", "@+80%"))]
    assert metrics["test_accuracy_oracle"] == metrics["acc_oracle@-90%"]
    assert all(np.isfinite(v) for v in metrics.values())


def test_standard_colored_digits_colour_predicts_the_clean_class_only_in_the_training_domains():
    # Label = clean class (digit < 5) flipped with p = .25; colour = label flipped with p = e.
    # P(colour = clean class) = (1 - e)(.75) + e(.25): e = .1 -> .70, e = .2 -> .65, e = .9 -> .30,
    # so colour beats the shape's .75 on the label only where it is trained on (.9, .8 vs .75).
    x, digit = digits_arrays()
    order = np.random.RandomState(0).permutation(len(x))
    domains = tasks.ColoredDigitsStandard().load(None)
    assert [name for name, _, _ in domains] == ["+90%", "+80%", "-90%"]
    for (name, imgs, label), part, expected in zip(domains, range(3), (.70, .65, .30)):
        clean = (digit[order[part::3]] < 5).astype(int)
        colour = (imgs[:, 1].sum((1, 2)) > 0).astype(int)
        assert abs((colour == clean).mean() - expected) < 0.05, name
        assert abs((label == clean).mean() - .75) < 0.05, name


@pytest.mark.parametrize("task_cls", [tasks.RotatedDigits, tasks.ColoredDigits])
def test_digits_tasks_run_irm_at_a_penalty_weight_that_does_not_collapse_them(task_cls):
    from regsuite.plan import resolve_components, resolve_hparams
    from regsuite.registry import build_registry

    reg = build_registry(())
    task = task_cls()
    hp = resolve_hparams(reg, resolve_components(reg, "irm", task), task, [])
    # DomainBed's lam = 100 took rotated digits from 83% (erm) to 55%; lam = 1 kept 82%.
    assert hp["irm"]["lam"] == 1.0 and hp["irm"]["anneal_steps"] == task.budget.steps // 4


def test_standard_colored_digits_separates_irm_from_erm_on_the_reversed_domain():
    class NoPairs(tasks.ColoredDigitsStandard):  # the task's budget, without the two leave-one-out models
        lodo = False

    from regsuite.plan import resolve_components, resolve_hparams
    from regsuite.registry import build_registry

    reg = build_registry(())
    task = tasks.ColoredDigitsStandard()
    hp = resolve_hparams(reg, resolve_components(reg, "irm", task), task, [])
    assert hp["irm"]["lam"] == 100.0 and hp["irm"]["anneal_steps"] == task.budget.steps // 4
    erm, _ = run_tiny("erm", task=NoPairs())
    irm, _ = run_tiny("irm", task=NoPairs())
    # ERM follows the colour (a colour-only model scores .10 on -90%, a shape-only one about .70);
    # IRM's penalty, once on, drops it. Training-domain validation picks a colour checkpoint for both.
    assert erm["test_accuracy_oracle"] < 0.35 < 0.55 < irm["test_accuracy_oracle"]
    assert max(erm["test_accuracy_trainval"], irm["test_accuracy_trainval"]) < 0.2

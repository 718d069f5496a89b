"""Long-tail losses (family ``loss``): losses that read the training set's class counts.

n_j is the number of training examples of class j, pi_j = n_j / sum_k n_k its prior; both come
from :mod:`regsuite.class_prior` (``requires = {"class-prior"}``), so these run only on tasks whose
training classes are imbalanced by design (vision/mnist1d-lt-mlp). Like the other losses, each is
written per class (``L[i, k]`` = the loss of example i if its label were k) and reduced against
soft targets when a transform added them, so mixup and label smoothing compose with them.
Balanced softmax (Ren et al. 2020) is logit adjustment at tau = 1 and has no row of its own.
"""

from __future__ import annotations

from regsuite import Choice, Citation, Fidelity, LogUniform, Method, Uniform, hookimpl

from regsuite.class_prior import CAPABILITY, class_counts, log_prior
from regsuite.soft_targets import expected_loss, other_classes, weighted_expected_loss

LONG_TAIL = frozenset({"classification", CAPABILITY})


class LongTailLoss(Method):
    """Base: ``per_class(logits, counts, state)`` and the reduction (the plain expected loss)."""

    family = "loss"
    requires = LONG_TAIL

    def per_class(self, logits, counts, state):
        raise NotImplementedError

    def reduce(self, per_class, batch, counts, state):
        return expected_loss(per_class, batch)

    @hookimpl
    def regsuite_loss(self, outputs, batch, state):
        counts = class_counts(state, outputs.shape[-1], like=outputs)
        return self.reduce(self.per_class(outputs, counts, state), batch, counts, state)


def effective_number_weights(counts, beta: float):
    """w_j = (1 - beta) / (1 - beta^n_j), normalised so that sum_j w_j = C (Cui et al. 2019, eq. 7)."""
    w = (1.0 - beta) / (1.0 - beta ** counts)
    return w / w.sum() * len(counts)


class LogitAdjustment(LongTailLoss):
    """Logit-adjusted softmax cross-entropy (Menon et al. 2021, eq. 10).

    L(y, z) = -log( exp(z_y + tau log pi_y) / sum_j exp(z_j + tau log pi_j) );
    predictions stay argmax_j z_j, so the adjustment acts in training only.
    """

    name = "logit-adjustment"
    citation = Citation(
        "Long-tail learning via logit adjustment",
        "Aditya Krishna Menon, Sadeep Jayasumana, Ankit Singh Rawat, Himanshu Jain, Andreas Veit, Sanjiv Kumar",
        2021,
        "https://arxiv.org/abs/2007.07314",
    )
    fidelity = Fidelity.faithful("paper", "the logit-adjusted loss of eq. 10 with tau = 1, the paper's default")
    defaults = {"tau": 1.0}
    space = {"tau": Uniform(0.0, 3.0)}
    version = "1"

    def per_class(self, logits, counts, state):
        return -(logits + self.hp["tau"] * log_prior(counts)).log_softmax(-1)


class VectorScaling(LongTailLoss):
    """Vector-scaling (VS) loss (Kini et al. 2021, eq. 3): multiplicative and additive logit adjustment.

    L(y, z) = -log( exp(Delta_y z_y + iota_y) / sum_j exp(Delta_j z_j + iota_j) ),
    Delta_j = (n_j / n_max)^gamma,  iota_j = tau log pi_j.
    gamma = 0 is logit adjustment; tau = 0 the CDT loss of Ye et al. 2020.
    """

    name = "vs-loss"
    citation = Citation(
        "Label-Imbalanced and Group-Sensitive Classification under Overparameterization",
        "Ganesh Ramachandra Kini, Orestis Paraskevas, Samet Oymak, Christos Thrampoulidis",
        2021,
        "https://arxiv.org/abs/2103.01550",
    )
    fidelity = Fidelity.faithful(
        "authors' code", "the multi-class VS loss without class weights (omega), gamma 0.3 and tau 1.0 as the "
        "authors' CIFAR script defaults"
    )
    defaults = {"gamma": 0.3, "tau": 1.0}
    space = {"gamma": Uniform(0.0, 1.0), "tau": Uniform(0.0, 3.0)}
    version = "1"

    def per_class(self, logits, counts, state):
        scale = (counts / counts.max()) ** self.hp["gamma"]
        return -(logits * scale + self.hp["tau"] * log_prior(counts)).log_softmax(-1)


class LDAMDRW(LongTailLoss):
    """Label-distribution-aware margin loss with deferred re-weighting (Cao et al. 2019, eq. 13, Alg. 1).

    L(y, z) = -log( exp(s (z_y - Delta_y)) / (exp(s (z_y - Delta_y)) + sum_{j != y} exp(s z_j)) ),
    Delta_j = C / n_j^(1/4), C such that max_j Delta_j = max_m.
    DRW: from ``drw_start`` of the budget on, examples are weighted by the class-balanced weights
    w_y = (1 - beta) / (1 - beta^n_y) (beta = 0.9999, sum_j w_j = C) in a weighted mean.
    """

    name = "ldam-drw"
    citation = Citation(
        "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
        "Kaidi Cao, Colin Wei, Adrien Gaidon, Nikos Arechiga, Tengyu Ma",
        2019,
        "https://arxiv.org/abs/1906.07413",
    )
    fidelity = Fidelity.adapted(
        "margins on the task's own logits (s = 1): the paper normalises the last layer's features and weights "
        "and scales the cosine logits by s = 30, which would change the task's model; max_m is therefore tuned "
        "in logit units. DRW as in the authors' code: beta 0.9999 from 80% of training (epoch 160 of 200)",
        source="authors' code",
    )
    defaults = {"max_m": 0.5, "s": 1.0, "drw_start": 0.8}
    space = {"max_m": LogUniform(0.05, 5.0)}
    version = "1"
    beta = 0.9999

    def per_class(self, logits, counts, state):
        import torch

        margin = counts ** -0.25
        margin = margin * (self.hp["max_m"] / margin.max())
        s = self.hp["s"]
        # log sum_{j != k} exp(s z_j) for every k, without forming exp(s z): stable at large s.
        others = other_classes(s * logits).logsumexp(-1)
        target = s * (logits - margin)
        return torch.nn.functional.softplus(others - target)  # log(1 + exp(others) / exp(target))

    def reduce(self, per_class, batch, counts, state):
        if state.step < round(self.hp["drw_start"] * state.budget.steps):
            return expected_loss(per_class, batch)
        return weighted_expected_loss(per_class, batch, effective_number_weights(counts, self.beta))


class ClassBalanced(LongTailLoss):
    """Class-balanced softmax cross-entropy (Cui et al. 2019, eqs. 7 and 8 with the softmax loss).

    CB(z, y) = (1 - beta) / (1 - beta^n_y) * (-log softmax(z)_y), weights normalised to sum to C,
    averaged over the batch; (1 - beta^n) / (1 - beta) is the effective number of samples of a class.
    """

    name = "class-balanced"
    citation = Citation(
        "Class-Balanced Loss Based on Effective Number of Samples",
        "Yin Cui, Menglin Jia, Tsung-Yi Lin, Yang Song, Serge Belongie",
        2019,
        "https://arxiv.org/abs/1901.05555",
    )
    fidelity = Fidelity.faithful(
        "paper", "the class-balanced softmax cross-entropy; beta from the paper's grid, 0.9999 its best on "
        "long-tailed CIFAR-10; the sigmoid and focal variants are not included"
    )
    defaults = {"beta": 0.9999}
    space = {"beta": Choice((0.9, 0.99, 0.999, 0.9999))}
    version = "1"

    def per_class(self, logits, counts, state):
        weights = effective_number_weights(counts, self.hp["beta"])
        return -logits.log_softmax(-1) * weights


ALL = [LogitAdjustment, VectorScaling, LDAMDRW, ClassBalanced]


@hookimpl
def regsuite_methods():
    return ALL

"""A penalty whose hook lacks @hookimpl (pluggy never calls it), for the conformance tests."""

from regsuite import Citation, Method, hookimpl

CITE = Citation("t", "a", 2024, "https://example.org")


class UnmarkedPenalty(Method):
    """Meant to add lam * sum(w^2); without the marker it silently does nothing."""

    name = "unmarked-penalty"
    family = "regularizer"
    citation = CITE
    defaults = {"lam": 100.0}

    def regsuite_penalty(self, model, outputs, batch, state):
        return self.hp["lam"] * sum(p.pow(2).sum() for p in model.parameters())

    def regsuite_after_stepp(self, model, state):  # misspelled and unmarked
        pass

    def regsuite_helper_table(self):  # a helper with the prefix, named like no hook: fine
        return {}


@hookimpl
def regsuite_methods():
    return [UnmarkedPenalty]

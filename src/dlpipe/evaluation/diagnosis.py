"""Bias, variance and data mismatch, as the course's strategy chapter reads them.

With training error E_train (on the un-augmented training split), dev error
E_dev (the validation split), an optional train-dev error E_td (held out from
the training distribution) and a human-level proxy for the Bayes error E_bayes:

- avoidable bias = E_train − E_bayes
- variance       = E_td − E_train, or E_dev − E_train without a train-dev split
- data mismatch  = E_dev − E_td (only with a train-dev split)

The largest gap is what to work on next; the remedies are orthogonal fixes
for that one gap. When every gap is below ``tolerance`` none dominates: the
errors differ by less than the dev and test sets can resolve.
"""

from __future__ import annotations

REMEDIES = {
    "avoidable bias": [
        "train a bigger network (more layers or units)",
        "train longer, or with a better optimiser (momentum, RMSprop, Adam)",
        "try another architecture, or search its hyperparameters (`dlpipe tune`)",
        "regularise less (lower weight decay, keep_prob closer to 1)",
    ],
    "variance": [
        "get more training data",
        "regularise: L2 / weight decay, dropout, early stopping",
        "augment the training data (crop, rotate, colour shift, mixup)",
        "try another architecture, or search its hyperparameters (`dlpipe tune`)",
    ],
    "data mismatch": [
        "look at the dev errors to learn how dev data differs from training data",
        "make the training data more like the dev data, or collect more of it",
        "synthesise training examples that resemble the dev data",
    ],
    "none": [
        "nothing stands out: a bigger dev and test set would resolve smaller differences",
        "if human-level error is lower than the proxy, lower evaluate.bayes_error and look again",
    ],
}


def diagnose(
    train_error: float,
    dev_error: float,
    test_error: float | None = None,
    bayes_error: float | None = None,
    train_dev_error: float | None = None,
    tolerance: float = 0.0,
) -> dict:
    """The gaps between the errors, the dominant one ("none" if all are below ``tolerance``)
    and its remedies."""
    bayes = 0.0 if bayes_error is None else bayes_error
    gaps = {"avoidable bias": train_error - bayes}
    if train_dev_error is None:
        gaps["variance"] = dev_error - train_error
    else:
        gaps["variance"] = train_dev_error - train_error
        gaps["data mismatch"] = dev_error - train_dev_error
    largest = max(gaps, key=lambda name: gaps[name])
    dominant = largest if gaps[largest] >= tolerance and gaps[largest] > 0 else "none"
    return {
        "errors": {
            "bayes": bayes_error,
            "train": train_error,
            "train_dev": train_dev_error,
            "dev": dev_error,
            "test": test_error,
        },
        "gaps": {name: round(value, 6) for name, value in gaps.items()},
        "dominant": dominant,
        "remedies": REMEDIES[dominant],
    }


def headline(diagnosis: dict) -> str:
    if diagnosis["dominant"] == "none":
        return "**No gap dominates:** every gap is below evaluate.diagnosis_tolerance."
    return f"**{diagnosis['dominant'].capitalize()} dominates.**"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def to_markdown(name: str, metric: str, diagnosis: dict) -> str:
    errors, gaps = diagnosis["errors"], diagnosis["gaps"]
    bayes_note = "" if errors["bayes"] is not None else " (evaluate.bayes_error unset: taken as 0)"
    lines = [
        f"# Diagnosis: {name}",
        "",
        f"Errors measured as `{metric}`.",
        "",
        "| split | error |",
        "|---|---:|",
        f"| human level / Bayes (proxy){bayes_note} | {_percent(errors['bayes'] or 0.0)} |",
        f"| train (un-augmented) | {_percent(errors['train'])} |",
        f"| train-dev | {_percent(errors['train_dev'])} |",
        f"| dev (val) | {_percent(errors['dev'])} |",
        f"| test | {_percent(errors['test'])} |",
        "",
        "| gap | size |",
        "|---|---:|",
        *[f"| {gap} | {_percent(value)} |" for gap, value in gaps.items()],
        "",
        headline(diagnosis) + " What to try next:",
        "",
        *[f"- {remedy}" for remedy in diagnosis["remedies"]],
        "",
    ]
    return "\n".join(lines)

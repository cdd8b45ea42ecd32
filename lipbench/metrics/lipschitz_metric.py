"""The ``lipschitz`` metric plug-in: gradient norms, per-layer norms and the certified bounds
of the critic (:func:`lipbench.metrics.lipschitz.lipschitz_report`) at every 2-D and image
evaluation, and at the final one of the dual task."""

from __future__ import annotations

from lipbench.metrics.catalog import EVERY, FINAL, LOWER, output, register_metric


def _outputs():
    out = []
    for where in ("real", "fake", "interp"):
        target = 1.0 if where == "interp" else None
        out.append(
            output(f"grad_{where}_mean", None, f"mean ||grad_x D|| at {where} points", target=target, table=True)
        )
        out.append(output(f"grad_{where}_max", None, f"max ||grad_x D|| at {where} points", target=target))
    return out + [
        output("sigma_max", None, "largest per-layer sigma (conv: reshaped kernel, what SN normalizes)", table=True),
        output(
            "lip_upper_est",
            None,
            "product of per-layer operator norm estimates (conv: power iteration); not a bound",
            table=True,
        ),
        output(
            "lip_lower",
            None,
            "lower bound on the critic's Lipschitz constant (max grad norm / pair ascent)",
            table=True,
        ),
        output(
            "lip_upper",
            None,
            "guaranteed upper bound on the critic's Lipschitz constant (NaN: no certificate)",
            table=True,
        ),
        output("lip_ratio", LOWER, "lip_upper / lip_lower: how loose the guaranteed bound is (>= 1)", table=True),
    ]


@register_metric("lipschitz", kinds={"toy2d": EVERY, "image": EVERY, "dual": FINAL}, order=80, outputs=_outputs())
def lipschitz(ev, params):
    """:func:`lipschitz_report` of the critic on the first ``eval.grad_samples`` real and
    generated (dual: P and Q) samples; the pair search draws from ``ev.rng``."""
    g, device = int(ev.run.options.grad_samples), ev.run.device
    from lipbench.metrics.lipschitz import lipschitz_report

    return lipschitz_report(
        ev.critic, ev.real[:g].to(device), ev.fake[:g].to(device), input_shape=ev.run.shape, generator=ev.rng
    )

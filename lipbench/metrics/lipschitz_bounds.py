"""A guaranteed upper bound on a critic's Lipschitz constant, composed over its graph.

The critic's forward is traced with ``torch.fx`` (layers with a rule below are leaves)
and run once on a zero input of one sample. Every node ``v`` gets ``L_v``, an upper
bound on the l2 Lipschitz constant of ``x -> v(x)``:

* the input: 1; any value that does not depend on the input's values (parameters,
  buffers, ``x.shape`` / ``x.size()``): 0;
* ``f(u)`` with ``f`` K-Lipschitz: ``K * L_u`` (the rules of :mod:`lipbench.metrics.lipschitz_rules`;
  layers: :mod:`lipbench.metrics.lipschitz_ops`; ReLU, Tanh, Hardtanh, GroupSort,
  flatten/reshape: 1; LeakyReLU(a), ELU(a): max(1, |a|); Sigmoid: 1/4; BatchNorm in eval
  mode with running statistics: max |gamma| / sqrt(var + eps));
* ``u + w`` and ``u - w``: ``sqrt(m_u) L_u + sqrt(m_w) L_w`` (so a residual block
  ``skip(x) + branch(x)`` gets ``L_skip + L_branch``, composed recursively), where ``m`` is
  how many times broadcasting copies each entry of the operand into the result (1 when
  the shapes agree): a map that copies every entry m times has norm exactly sqrt(m);
  ``c * u`` and ``u / c`` for constants ``c``: ``sqrt(max_i sum_k c_k^2)`` times ``L_u``, the
  sum over the result entries ``k`` that copy entry ``i`` of ``u`` (``|c| sqrt(m)`` for a
  scalar); ``cat``: ``sqrt(sum L^2)``.

Anything else (LayerNorm / GroupNorm / InstanceNorm, a product of two input-dependent
values, a functional conv, a forward that fx cannot trace) has no rule: the bound is NaN
and :func:`critic_lipschitz_bound` names the culprit in ``unsupported``. A module may
declare its own bound with a method ``lipschitz_bound(input) -> (K, method)``.
The bound holds for the critic in eval mode as a function of one sample; a product with
a random value (a critic that is no fixed function) gets no bound. The critic is left
bit-identical (:func:`preserved`): a forward pass at a new input shape may not move a
buffer (sn_conv re-starts its power-iteration vector there).
"""

from __future__ import annotations

import contextlib
import math
import operator

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from lipbench.metrics.lipschitz_rules import function_factor, has_rule, module_bound
from lipbench.models.modes import eval_mode

SHAPE_METHODS = {"size", "dim", "numel", "ndimension", "get_device"}
SHAPE_ATTRS = {"shape", "ndim", "dtype", "device"}
RANDOM = {
    torch.rand,
    torch.randn,
    torch.randint,
    torch.rand_like,
    torch.randn_like,
    torch.randint_like,
    torch.normal,
    torch.bernoulli,
    torch.poisson,
    torch.multinomial,
    F.dropout,
    "normal_",
    "uniform_",
    "bernoulli_",
    "random_",
    "exponential_",
}
ADD = {operator.add, torch.add, "add", operator.sub, torch.sub, "sub"}
MUL = {operator.mul, torch.mul, "mul"}
DIV = {operator.truediv, torch.div, "div"}


@contextlib.contextmanager
def preserved(module: nn.Module):
    """Run the body, then put back every submodule's buffers (the same tensor objects,
    with their old values), its parameters' values, its training flag and its plain
    attributes (bool / int / float / str / None): whatever a forward pass changed."""
    saved = []
    for m in module.modules():
        buffers = {k: (b, None if b is None else b.detach().clone()) for k, b in m._buffers.items()}
        params = {k: (p, None if p is None else p.detach().clone()) for k, p in m._parameters.items()}
        plain = {k: v for k, v in vars(m).items() if v is None or isinstance(v, (bool, int, float, str))}
        saved.append((m, buffers, params, plain))
    try:
        yield module
    finally:
        with torch.no_grad():
            for m, buffers, params, plain in saved:
                for k in [k for k in m._buffers if k not in buffers]:
                    del m._buffers[k]
                for k, (b, value) in buffers.items():
                    m._buffers[k] = b
                    if b is not None and not torch.equal(b, value):
                        b.copy_(value)
                for k, (p, value) in params.items():
                    m._parameters[k] = p
                    if p is not None and not torch.equal(p, value):
                        p.copy_(value)
                m.__dict__.update(plain)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return has_rule(m) or super().is_leaf_module(m, qualname)


# ----------------------------------------------------------------------------- graph values
def _shape_only(n: fx.Node) -> bool:
    """Values that depend on the input's shape only (x.shape, x.size(), x.dim(), ...)."""
    if n.op == "call_method":
        return n.target in SHAPE_METHODS
    return n.op == "call_function" and n.target is getattr and n.args[1] in SHAPE_ATTRS


def _nodes_in(arg) -> set:
    found = set()
    fx.node.map_arg(arg, lambda a: found.add(a))
    return found


def _copies(u, out) -> float:
    """How many times broadcasting copies each entry of ``u`` into ``out`` (1: same shape)."""
    if not torch.is_tensor(u) or not torch.is_tensor(out) or u.numel() == 0:
        return 1.0
    return max(1.0, out.numel() / u.numel())


def _scale_factor(c, u, out) -> float:
    """The norm of ``u -> c * u`` with both broadcast to ``out``'s shape: every entry of
    ``u`` lands in its copies ``k``, scaled by ``c_k``, and different entries never share
    an output, so the norm is ``sqrt(max over entries of sum_k c_k^2)`` exactly."""
    c2 = torch.as_tensor(c, dtype=torch.float64).detach().cpu() ** 2
    if not torch.is_tensor(u) or not torch.is_tensor(out):
        return math.sqrt(float(c2.max()))
    per_entry = c2.expand(out.shape).sum_to_size(u.shape) if c2.dim() else c2 * _copies(u, out)
    return math.sqrt(float(per_entry.max()))


# ----------------------------------------------------------------------------- propagation
class _Propagator(fx.Interpreter):
    """Runs the traced critic and keeps, per node, a bound on its Lipschitz constant."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.lip, self.layers, self.unsupported = {}, {}, []
        self.depends, self.random = set(), set()  # nodes that vary with the input / between calls

    def run_node(self, n: fx.Node):
        value = super().run_node(n)
        self.out = value
        inputs = n.all_input_nodes
        if (n.op == "placeholder" and not self.depends) or (
            any(a in self.depends for a in inputs) and not _shape_only(n)
        ):
            self.depends.add(n)
        if n.target in RANDOM or any(a in self.random for a in inputs):
            self.random.add(n)
        self.lip[n] = self._bound(n) if n in self.depends or n.op == "output" else 0.0
        return value

    def _L(self, a) -> float:
        return self.lip.get(a, 0.0) if isinstance(a, fx.Node) else 0.0

    def _bound(self, n: fx.Node) -> float:
        """L of an input-dependent node (the only placeholder that depends is the first)."""
        if n.op == "placeholder":
            return 1.0
        deps = [a for a in n.all_input_nodes if a in self.depends]
        if n.op == "output":
            return self._L(deps[0]) if len(deps) == 1 else math.sqrt(sum(self._L(a) ** 2 for a in deps))
        if n.op not in ("call_module", "call_function", "call_method"):
            return self._unsupported(n, "input-dependent attribute")
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        if n.op != "call_module":
            combined = self._combination(n, deps, args, kwargs)
            if combined is not None:
                return combined
        if not n.args or deps != [n.args[0]] or _nodes_in((n.args[1:], n.kwargs)) & set(deps):
            return self._unsupported(n, "depends on the input through more than its first argument")
        if n.op == "call_module":
            factor, method, *extra = module_bound(self.module.get_submodule(n.target), args[0])
        else:
            factor, method, *extra = function_factor(n.target, args, kwargs)
        self._record(n.target if n.op == "call_module" else n.name, factor, method, *extra)
        if math.isnan(factor):
            return self._unsupported(n, method)
        return factor * self._L(deps[0])

    def _combination(self, n, deps, args, kwargs):
        """L of sums, concatenations and products / quotients with a constant (None:
        not one of those). Every input-dependent argument must be one the rule sees."""
        target, deps = n.target, set(deps)
        if target in (torch.cat, torch.stack) and n.op == "call_function":
            if not deps <= _nodes_in(n.args[0]) or _nodes_in((n.args[1:], n.kwargs)) & deps:
                return self._unsupported(n, "input-dependent argument outside the tensor list")
            return math.sqrt(sum(self._L(a) ** 2 for a in n.args[0]))
        rest = _nodes_in((n.args[2:], n.kwargs))
        if target in ADD:
            if rest & deps:
                return self._unsupported(n, "input-dependent argument outside the two summands")
            alpha = abs(float(kwargs.get("alpha", 1.0)))
            return sum(
                self._L(a) * (alpha if i == 1 else 1.0) * math.sqrt(_copies(args[i], self.out))
                for i, a in enumerate(n.args[:2])
                if a in deps
            )
        dependent = [bool(_nodes_in(a) & deps) for a in n.args[:2]]  # by position: x * x has two
        if (target in MUL or target in DIV) and _nodes_in(n.args[:2]) & self.random:
            return self._unsupported(n, "scaled by a random value (differs between calls)")
        if target in MUL and sum(dependent) == 1 and not rest & deps and len(n.args) == 2:
            u, other = (args[0], args[1]) if dependent[0] else (args[1], args[0])
            return _scale_factor(other, u, self.out) * self._L(n.args[0] if dependent[0] else n.args[1])
        if target in DIV and dependent == [True, False] and not rest & deps and len(n.args) == 2:
            inverse = 1.0 / torch.as_tensor(args[1], dtype=torch.float64)
            return _scale_factor(inverse, args[0], self.out) * self._L(n.args[0])
        if target in MUL or target in DIV:
            return self._unsupported(n, "product or quotient of input-dependent values")
        return None

    def _record(self, name, factor, method, extra=None) -> None:
        old = self.layers.get(name)
        if old is None or factor > old["bound"]:
            self.layers[name] = {"bound": factor, "bound_method": method, **(extra or {})}

    def _unsupported(self, n: fx.Node, why: str) -> float:
        self.unsupported.append(f"{n.name} ({n.op} {getattr(n.target, '__name__', n.target)}): {why}")
        return math.nan


def critic_lipschitz_bound(critic: nn.Module, input_shape) -> dict:
    """``{"lip_upper", "layers": {module name: {"bound", "bound_method"}}, "unsupported"}``.

    ``lip_upper`` is a guaranteed upper bound on the l2 Lipschitz constant of ``critic``
    in eval mode on one input of shape ``input_shape``, or NaN when some operation has no
    rule (listed in ``unsupported``). The critic is left bit-identical (:func:`preserved`)."""
    with preserved(critic), eval_mode(critic), torch.no_grad():
        root = nn.Sequential(critic) if has_rule(critic) else critic  # a lone layer: trace a call of it
        try:
            graph = _Tracer().trace(root)
        except Exception as e:  # any forward fx cannot trace (data-dependent control flow, ...)
            return {"lip_upper": math.nan, "layers": {}, "unsupported": [f"forward not traceable by torch.fx: {e}"]}
        prop = _Propagator(fx.GraphModule(root, graph))
        p = next(critic.parameters(), None)
        dummy = torch.zeros(
            (1, *tuple(input_shape)),
            device=None if p is None else p.device,
            dtype=p.dtype if p is not None and p.is_floating_point() else None,
        )
        prop.run(dummy)
    out = next(n for n in graph.nodes if n.op == "output")
    upper = prop.lip[out]
    layers = {"" if root is not critic else k: v for k, v in prop.layers.items()}
    return {"lip_upper": math.nan if prop.unsupported else upper, "layers": layers, "unsupported": prop.unsupported}

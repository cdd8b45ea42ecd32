"""The exact operator norm of a convolution as it runs (stride, padding of any mode,
dilation, groups), with a guaranteed upper bound a hair above it.

A ``Conv2d`` on inputs of shape (C, H, W) is a linear map ``A`` whose nonzero entries are
kernel entries (summed where reflect / replicate padding maps two taps onto one pixel).
:func:`conv_grams` builds its Gram ``M`` in float64 without forming ``A``: ``A^T A`` on the
input side or ``A A^T`` on the output side, whichever is smaller. Every pair of kernel
taps ``(t, t')`` contributes the channel block ``K_t^T K_t'`` (input side) or ``K_t K_t'^T``
(output side) at each pixel pair the two taps link through one output (input side) or one
input pixel (output side); the padding decides which taps see which pixel. A pixel only
meets pixels within the kernel's reach, so ``M`` is banded in pixel-major order and is
stored in band form.

:func:`exact_conv_norm` then proves ``||A||^2 = lambda_max(M) <= bound`` with the float64
Cholesky certificate of :mod:`lipbench.metrics.certify` (every rounding error bounded;
the bound is within ~1e-9 relative of the exact value), and returns the Lanczos value
below it as the exact norm. Cost: ``dim * (bw + 1)`` floats and about ``dim * (bw + 1)^2``
flops (:func:`gram_plan` says both before anything is built); a layer whose Gram is
too large keeps the circulant bound of :mod:`lipbench.metrics.lipschitz_ops`.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from lipbench.metrics.certify import Gram, certified_top_eigenvalue


def _pair(v) -> Tuple[int, int]:
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def pad_amounts(weight, padding, dilation) -> Tuple[int, int, int, int]:
    """F.pad amounts (w_left, w_right, h_left, h_right) for an int/tuple/'same'/'valid' padding."""
    kh, kw = weight.shape[-2:]
    dh, dw = _pair(dilation)
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":  # as nn.Conv2d: total d*(k-1), the extra one on the right
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    ph, pw = _pair(padding)
    return (pw, pw, ph, ph)


def _incidences(n: int, k: int, stride: int, dilation: int, left: int, right: int, mode: str):
    """1-D (output o, tap t, input pixel i) triples: tap t of output o reads pixel i (padding
    entries that hold zero are left out; reflect / replicate / circular map to a pixel)."""
    idx = torch.arange(n, dtype=torch.float64).view(1, 1, n)
    if mode == "zeros":
        padded = F.pad(idx, (left, right), value=-1.0)
    else:
        padded = F.pad(idx, (left, right), mode=mode)
    padded = padded.flatten().long().numpy()
    n_out = (len(padded) - dilation * (k - 1) - 1) // stride + 1
    o, t = np.meshgrid(np.arange(n_out), np.arange(k), indexing="ij")
    i = padded[o * stride + t * dilation]
    keep = i >= 0
    return o[keep], t[keep], i[keep], n_out


def _pairs(inc, shared: str):
    """Pairs of 1-D incidences that share the output (``shared='o'``) or the input pixel."""
    o, t, i, _ = inc
    key, pos = (o, i) if shared == "o" else (i, o)
    a, b = np.nonzero(key[:, None] == key[None, :])
    return t[a], t[b], pos[a], pos[b]


def _geometry(weight, input_shape, stride, padding, dilation, padding_mode):
    c, h, w = (int(v) for v in tuple(input_shape)[-3:])
    kh, kw = weight.shape[-2:]
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    wl, wr, hl, hr = pad_amounts(weight, padding, dilation)
    return (c, h, w), _incidences(h, kh, sh, dh, hl, hr, padding_mode), _incidences(w, kw, sw, dw, wl, wr, padding_mode)


def conv_geometry(conv) -> dict:
    """A conv layer's geometry as the keywords of the functions here (and of
    :mod:`lipbench.metrics.lipschitz_ops`): stride, padding, dilation, groups, padding_mode."""
    return {
        "stride": conv.stride,
        "padding": conv.padding,
        "dilation": conv.dilation,
        "groups": conv.groups,
        "padding_mode": conv.padding_mode,
    }


def gram_plan(weight, input_shape, *, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """``(side, dim, bw)`` of the Gram :func:`conv_grams` builds (per group), without building it:
    ``dim * (bw + 1)`` floats stored, about ``dim * (bw + 1)^2`` flops per Cholesky."""
    (c, h, w), inc_h, inc_w = _geometry(weight, input_shape, stride, padding, dilation, padding_mode)
    o_ch, cg = weight.shape[0] // groups, weight.shape[1]
    side = "input" if cg * h * w <= o_ch * inc_h[3] * inc_w[3] else "output"
    shared, ch = ("o", cg) if side == "input" else ("i", o_ch)
    width = w if side == "input" else inc_w[3]
    _, _, ph, ph2 = _pairs(inc_h, shared)
    _, _, pw, pw2 = _pairs(inc_w, shared)
    reach = int(np.max(np.abs((ph2[:, None] - ph[:, None]) * width + (pw2 - pw)[None, :])))
    pixels = h * w if side == "input" else inc_h[3] * inc_w[3]
    return side, pixels * ch, min((reach + 1) * ch - 1, pixels * ch - 1)


def conv_grams(weight, input_shape, *, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """``(grams, side, grid, ch)``: the float64 Gram of the convolution map, one
    :class:`~lipbench.metrics.certify.Gram` per group (the map is block-diagonal over
    groups): ``A^T A`` on the input side or ``A A^T`` on the output side, whichever is
    smaller, indexed ``p * ch + c`` for pixel ``p`` (row-major on ``grid``) and channel ``c``."""
    (c, h, w), inc_h, inc_w = _geometry(weight, input_shape, stride, padding, dilation, padding_mode)
    side, dim, bw = gram_plan(
        weight, input_shape, stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=padding_mode
    )
    shared = "o" if side == "input" else "i"
    grid = (h, w) if side == "input" else (inc_h[3], inc_w[3])
    k = weight.detach().to("cpu", torch.float64).numpy()
    o_ch, cg, kh, kw = k.shape
    o_ch //= groups
    hp, wp = _pairs(inc_h, shared), _pairs(inc_w, shared)
    # products summed into one entry: the contraction (c_out on the input side, c_in on the output
    # side) times the shared outputs or pixels (at most kh kw; reflect / replicate may repeat taps)
    products = (o_ch if side == "input" else cg) * kh * kw * (1 if padding_mode == "zeros" else 16)
    grams = []
    for g in range(groups):
        blocks = _tap_blocks(k[g * o_ch : (g + 1) * o_ch], side)
        bb, reach = _scatter(blocks, hp, wp, kw, grid, duplicates=padding_mode != "zeros")
        grams.append(_to_gram(bb, reach, products))
    return grams, side, grid, (cg if side == "input" else o_ch)


def _tap_blocks(k, side):
    """``blocks[t, t']``: ``K_t^T K_t'`` (input side) or ``K_t K_t'^T`` (output side)."""
    o_ch, cg, kh, kw = k.shape
    taps = k.reshape(o_ch, cg, kh * kw)
    if side == "input":
        flat = taps.transpose(0, 2, 1).reshape(o_ch, kh * kw * cg)
        return (flat.T @ flat).reshape(kh * kw, cg, kh * kw, cg).transpose(0, 2, 1, 3)
    flat = taps.transpose(2, 0, 1).reshape(kh * kw * o_ch, cg)
    return (flat @ flat.T).reshape(kh * kw, o_ch, kh * kw, o_ch).transpose(0, 2, 1, 3)


def _scatter(blocks, hp, wp, kw, grid, duplicates):
    """``(bb, reach)``: every tap pair's block added at each pixel pair ``p <= p'`` it links,
    in block-band form ``bb[p, p' - p]`` (pixels x (reach + 1) x ch x ch)."""
    ch = blocks.shape[-1]
    th, th2, ph, ph2 = hp
    tw, tw2, pw, pw2 = wp
    t1 = (th[:, None] * kw + tw[None, :]).ravel()
    t2 = (th2[:, None] * kw + tw2[None, :]).ravel()
    p1 = (ph[:, None] * grid[1] + pw[None, :]).ravel()
    p2 = (ph2[:, None] * grid[1] + pw2[None, :]).ravel()
    upper = p1 <= p2
    t1, t2, p1, delta = t1[upper], t2[upper], p1[upper], (p2 - p1)[upper]
    reach = int(delta.max()) if len(delta) else 0
    bb = np.zeros((grid[0] * grid[1], reach + 1, ch, ch))
    order = np.lexsort((t2, t1))
    t1, t2, p1, delta = t1[order], t2[order], p1[order], delta[order]
    starts = np.flatnonzero(np.r_[True, (t1[1:] != t1[:-1]) | (t2[1:] != t2[:-1]), True])
    for lo, hi in zip(starts[:-1], starts[1:]):
        if duplicates:  # reflect / replicate padding: one pixel pair may repeat within a tap pair
            np.add.at(bb, (p1[lo:hi], delta[lo:hi]), blocks[t1[lo], t2[lo]])
        else:
            bb[p1[lo:hi], delta[lo:hi]] += blocks[t1[lo], t2[lo]]
    return bb, reach


def _to_gram(bb, reach, products) -> Gram:
    """The Gram from its block band: dense when the band is wide, else LAPACK band storage."""
    pixels, _, ch, _ = bb.shape
    dim, bw = pixels * ch, min((reach + 1) * ch - 1, pixels * ch - 1)
    a, b = np.arange(ch)[:, None], np.arange(ch)[None, :]
    p = np.arange(pixels)
    if 3 * (bw + 1) > 2 * dim:
        m = np.zeros((pixels, ch, pixels, ch))
        for d in range(reach + 1):
            m[p[: pixels - d], :, p[d:], :] = bb[: pixels - d, d]
        m = m.reshape(dim, dim)
        return Gram(np.triu(m) + np.triu(m, 1).T, products)
    band = np.zeros((bw + 1, dim))
    for d in range(reach + 1):
        rows = np.broadcast_to(bw - d * ch + a - b, (pixels - d, ch, ch))
        cols = np.broadcast_to(((p[d:] * ch)[:, None, None] + b), rows.shape)
        keep = rows <= bw  # a diagonal block keeps its upper triangle
        band[rows[keep], cols[keep]] = bb[: pixels - d, d][keep]
    return Gram(band, products, bw)


def exact_conv_norm(
    weight, input_shape, *, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", cap=math.inf, v0=None
) -> Tuple[float, float, Optional[np.ndarray], str]:
    """``(bound, estimate, vector, side)``: a guaranteed upper bound on the operator norm of
    the convolution (max over groups; inf if none below ``cap`` was proved), the Lanczos
    estimate below it, and the top singular vector of the largest group on ``side``
    ('input': a right singular vector, 'output': a left one), shaped (channels, H, W).
    ``v0``: a guess of that vector, same side and shape (a warm start; groups == 1)."""
    grams, side, grid, ch = conv_grams(
        weight, input_shape, stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=padding_mode
    )
    best = (-1.0, 0.0, None)
    start = None if v0 is None or len(grams) > 1 else np.asarray(v0, dtype=float).transpose(1, 2, 0).ravel()
    for gram in grams:
        result = certified_top_eigenvalue(gram, cap=cap**2, v0=start)
        if result[0] > best[0]:
            best = result
    bound, estimate, vector = best
    shaped = vector.reshape(*grid, ch).transpose(2, 0, 1)
    return math.sqrt(bound) * (1 + 1e-12), math.sqrt(max(estimate, 0.0)), shaped, side

"""torch.einsum: Einstein summation over any number of operands, as differentiable tensor ops.

Each operand first loses its repeated subscripts (diagonal views) and the subscripts no other
operand and not the output uses (sums); the operands are then contracted left to right, each pair
as one bmm: shared subscripts still needed later are the batch, the shared ones not needed are
contracted, the rest are the rows and columns (batched dot products and products with nothing
contracted take an element-wise product instead). Size-1 dims broadcast against their partner's size
(torch's rule); '...' stands for the same broadcast dims in every operand. The heavy work is the
C++ bmm and copies; this file only plans the permutes and reshapes.
"""
import functools

from . import _C

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _parse_term(term, where):
    """Subscripts of one term: letters, and None once for '...'."""
    out, i = [], 0
    while i < len(term):
        ch = term[i]
        if ch == ".":
            if term[i:i + 3] != "..." or None in out:
                raise RuntimeError(f"einsum(): found '.' for {where} that is not part of any ellipsis"
                                   if term[i:i + 3] != "..." else
                                   f"einsum(): found more than one ellipsis ('...') for {where}")
            out.append(None)
            i += 3
            continue
        if ch not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript {ch!r} for {where}: subscripts must be "
                               "in [a-zA-Z]")
        out.append(ch)
        i += 1
    return out


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


@functools.lru_cache(maxsize=256)
def _parse(equation, ndims):
    """(subscripts per operand, output subscripts) for operands of these ranks; '...' dims become
    ints 0..n_ell-1, aligned right across operands."""
    n_ops = len(ndims)
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != n_ops:
        raise RuntimeError(f"einsum(): {'more' if n_ops > len(terms) else 'fewer'} operands "
                           f"were provided than specified in the equation ({len(terms)} in "
                           f"{equation!r}, {n_ops} given)")
    parsed = [_parse_term(t, f"operand {k}") for k, t in enumerate(terms)]
    ell = []
    for k, (sub, nd) in enumerate(zip(parsed, ndims)):
        letters = len(sub) - (None in sub)
        if None in sub:
            if letters > nd:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) "
                                   f"is more than the number of dimensions ({nd}) for "
                                   f"operand {k}")
            ell.append(nd - letters)
        elif letters != nd:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) does "
                               f"not match the number of dimensions ({nd}) for operand {k} "
                               "and no ellipsis was given")
        else:
            ell.append(0)
    n_ell = max(ell)
    labels = []
    for sub, e in zip(parsed, ell):
        lab = []
        for s in sub:
            lab.extend(range(n_ell - e, n_ell) if s is None else [s])
        labels.append(lab)
    # the output's subscripts
    counts = {}
    for lab in labels:
        for s in lab:
            counts[s] = counts.get(s, 0) + 1
    if arrow:
        out_sub = _parse_term(rhs, "the output")
        out = []
        for s in out_sub:
            if s is None:
                out.extend(range(n_ell))
            elif s not in counts:
                raise RuntimeError(f"einsum(): output subscript {s} does not appear in the equation "
                                   "for any input operand")
            elif s in out:
                raise RuntimeError(f"einsum(): output subscript {s} appears more than once in the "
                                   "output")
            else:
                out.append(s)
    else:
        out = list(range(n_ell)) + sorted(s for s, c in counts.items()
                                          if isinstance(s, str) and c == 1)
    return tuple(tuple(lab) for lab in labels), tuple(out)


def _permuted(t, perm):
    return t if perm == list(range(len(perm))) else t.permute(*perm)


def einsum(equation, *operands):
    """einsum(equation, *operands) or einsum(equation, [operands]), torch's semantics."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a str, got {type(equation).__name__}")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    labels, out = _parse(equation, tuple(op.dim() for op in operands))
    labels, out = [list(lab) for lab in labels], list(out)
    ops = []
    for k, (op, lab) in enumerate(zip(operands, labels)):
        # repeated subscripts within an operand: its diagonal
        while len(set(lab)) < len(lab):
            s = next(s for s in lab if lab.count(s) > 1)
            i = lab.index(s)
            j = lab.index(s, i + 1)
            if op.shape[i] != op.shape[j]:
                raise RuntimeError(f"einsum(): subscript {s} is repeated for operand {k} but the "
                                   f"sizes don't match, {op.shape[i]} != {op.shape[j]}")
            op = op.diagonal(0, i, j)
            lab = [x for m, x in enumerate(lab) if m not in (i, j)] + [s]
        ops.append([op, lab])

    def needed_after(k):
        need = set(out)
        for _, lab in ops[k + 1:]:
            need.update(lab)
        return need

    def sum_out(op, lab, keep):
        dims = [i for i, s in enumerate(lab) if s not in keep]
        if dims:
            op = op.sum(dims)
            lab = [s for s in lab if s in keep]
        return op, lab

    cur, cur_lab = sum_out(*ops[0], needed_after(0))
    for k in range(1, len(ops)):
        keep = needed_after(k)
        b, b_lab = sum_out(*ops[k], keep | set(cur_lab))
        cur, cur_lab = sum_out(cur, cur_lab, keep | set(b_lab))
        cur, cur_lab = _contract(cur, cur_lab, b, b_lab, keep, k)
    return _permuted(cur, [cur_lab.index(s) for s in out])


def _contract(a, la, b, lb, keep, k):
    """a (subscripts la) times b (lb), summed over the shared subscripts not in keep: one bmm."""
    sa = dict(zip(la, a.shape))
    sb = dict(zip(lb, b.shape))
    shared = [s for s in la if s in sb]
    for s in shared:
        if sa[s] != sb[s] and 1 not in (sa[s], sb[s]):
            name = f"subscript {s}" if isinstance(s, str) else "an ellipsis ('...') dimension"
            raise RuntimeError(f"einsum(): {name} has size {sa[s]} for an earlier operand and "
                               f"{sb[s]} for operand {k}, which do not broadcast")
    batch = [s for s in shared if s in keep]
    contr = [s for s in shared if s not in keep]
    # a size-1 contracted dim against a longer one: sum the longer side first
    for s in contr:
        if sa[s] != sb[s]:
            if sa[s] == 1:
                b = b.sum(lb.index(s), keepdim=True)
                sb[s] = 1
            else:
                a = a.sum(la.index(s), keepdim=True)
                sa[s] = 1
    a_only = [s for s in la if s not in sb]
    b_only = [s for s in lb if s not in sa]
    bs = [max(sa[s], sb[s]) for s in batch]
    ms, ks, ns = [sa[s] for s in a_only], [sa[s] for s in contr], [sb[s] for s in b_only]
    A = _permuted(a, [la.index(s) for s in batch + a_only + contr])
    B = _permuted(b, [lb.index(s) for s in batch + contr + b_only])
    if tuple(A.shape) != (*bs, *ms, *ks):
        A = A.expand(*bs, *ms, *ks)
    if tuple(B.shape) != (*bs, *ks, *ns):
        B = B.expand(*bs, *ks, *ns)
    nb, m, kk, n = _prod(bs), _prod(ms), _prod(ks), _prod(ns)
    if m == 1 and n == 1:  # batched dot products: a product and a row sum beat 1x1 matrix products
        r = (A.reshape(nb, kk) * B.reshape(nb, kk)).sum(-1)
    elif kk == 1:  # nothing contracted: a broadcast product (outer / element-wise)
        r = A.reshape(nb, m, 1) * B.reshape(nb, 1, n)
    else:
        r = _C.bmm(A.reshape(nb, m, kk), B.reshape(nb, kk, n))
    return r.reshape(*bs, *ms, *ns), batch + a_only + b_only

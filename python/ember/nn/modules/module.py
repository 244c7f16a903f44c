"""nn.Module: the base class of every layer and model, with torch's registration rules,
traversal, state_dict format, train/eval, hooks and conversions."""
from collections import OrderedDict, namedtuple

from ... import _C
from ..parameter import Buffer, Parameter

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _RemovableHandle:
    def __init__(self, store, key):
        self._store, self._key = store, key

    def remove(self):
        self._store.pop(self._key, None)


_hook_id = [0]

_STORES = ("_parameters", "_buffers", "_modules")


class _Registry(dict):
    """A module's ``_parameters``, ``_buffers`` or ``_modules``: a dict that also keeps each entry
    in the module's instance ``__dict__``. Reading ``module.weight`` then finds it as a plain
    instance attribute (about 25 ns) instead of failing the normal lookup, raising and catching
    an AttributeError and calling ``Module.__getattr__`` (about 440 ns on CPython 3.11, twice per
    Linear forward). Every mutator keeps the mirror in step, so code that edits these dicts
    directly, as torch code does (``del m._parameters["weight"]``), sees what torch shows. Names
    the module's class defines (methods, properties) are not mirrored: there the class attribute
    wins, as in torch; so does a plain instance attribute of the same name. A registry shared by
    a module and its shallow copy (``copy.copy``) mirrors into both, as torch's shared dict shows
    in both. ``Module.__getattr__`` still answers for a store that has lost its owners."""

    __slots__ = ("_owners",)
    _MISSING = object()

    def __init__(self, owner=None, items=()):
        super().__init__()
        self._owners = [] if owner is None else [owner]  # modules (none while being unpickled)
        for k, v in dict(items).items():
            self[k] = v

    def _mirror(self, key, value, owners=None):
        if not isinstance(key, str):
            return
        for m in self._owners if owners is None else owners:
            if not hasattr(type(m), key):
                m.__dict__[key] = value

    def _drop(self, key, value):
        for m in self._owners:
            d = m.__dict__
            if key in d and d[key] is value:
                del d[key]

    def __setitem__(self, key, value):
        old = dict.get(self, key, _Registry._MISSING)
        # A plain instance attribute of that name (not our mirror) shadows the entry, as in torch.
        free = [m for m in self._owners if key not in m.__dict__ or m.__dict__[key] is old]
        if old is not _Registry._MISSING:
            self._drop(key, old)
        dict.__setitem__(self, key, value)
        self._mirror(key, value, free)

    def __delitem__(self, key):
        value = dict.__getitem__(self, key)
        dict.__delitem__(self, key)
        self._drop(key, value)

    def pop(self, key, default=_MISSING):
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        if default is _Registry._MISSING:
            raise KeyError(key)
        return default

    def popitem(self):
        key, value = dict.popitem(self)
        self._drop(key, value)
        return key, value

    def clear(self):
        for key, value in list(self.items()):
            self._drop(key, value)
        dict.clear(self)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def __ior__(self, other):
        self.update(other)
        return self

    def copy(self):
        return dict(self)

    def __reduce__(self):  # pickling and deepcopy: an unowned registry, attached by __setstate__
        return (_Registry, (None, dict(self)))

    def _attach(self, owner):
        if any(m is owner for m in self._owners):
            return
        self._owners.append(owner)
        d = owner.__dict__
        for k, v in self.items():
            if k not in d:  # one there already is our mirror or a shadowing attribute
                self._mirror(k, v, (owner,))

    def _detach(self, owner):
        self._owners = [m for m in self._owners if m is not owner]


class Module:
    """Base class for all neural-network modules. Subclasses assign Parameters, Modules and
    buffers as attributes in ``__init__`` and define ``forward``."""

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = _Registry(self)
        d["_buffers"] = _Registry(self)
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = _Registry(self)
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    # --- registration ---------------------------------------------------------------------------
    def _check_init(self):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign module attributes before Module.__init__() call")

    def register_parameter(self, name, param):
        self._check_init()
        self._check_name(name, "parameter")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(ember.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        self._check_init()
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, _C.Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(ember.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        self._check_init()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if hasattr(self, name) and name not in self._parameters and name not in self._buffers \
                and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name, value):
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, d, buffers, modules)
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(ember.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, d, params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(ember.nn.Module or None expected)")
            modules[name] = None
        elif isinstance(value, Buffer):
            self._remove_from(name, d, params, modules)
            self.register_buffer(name, value.data, value.persistent)
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, _C.Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(ember.Tensor or None expected)")
            buffers[name] = value
        elif name in _STORES and name in d:  # a whole store replaced: re-mirror it
            old = d[name]
            for k, v in list(old.items()):
                if isinstance(k, str) and d.get(k, d) is v:
                    del d[k]
            if isinstance(old, _Registry):
                old._detach(self)
            if not isinstance(value, _Registry):
                value = _Registry(None, value)
            value._attach(self)
            d[name] = value
        else:
            object.__setattr__(self, name, value)

    def __setstate__(self, state):  # unpickling and deepcopy: registries mirror into this module
        d = self.__dict__
        d.update(state)
        for name in _STORES:
            reg = d.get(name)
            if reg is not None:
                if not isinstance(reg, _Registry):
                    reg = d[name] = _Registry(None, reg)
                reg._attach(self)

    @staticmethod
    def _remove_from(name, *dicts):
        for dct in dicts:
            if dct is not None and name in dct:
                del dct[name]

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # --- forward --------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        if not self._forward_pre_hooks:  # fast path (same behaviour): no hook lists to copy
            out = self.forward(*args, **kwargs)
            if not self._forward_hooks:
                return out
            return self._run_forward_hooks(args, out)
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        return self._run_forward_hooks(args, out)

    def _run_forward_hooks(self, args, out):
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_pre_hook(self, hook):
        _hook_id[0] += 1
        self._forward_pre_hooks[_hook_id[0]] = hook
        return _RemovableHandle(self._forward_pre_hooks, _hook_id[0])

    def register_forward_hook(self, hook):
        _hook_id[0] += 1
        self._forward_hooks[_hook_id[0]] = hook
        return _RemovableHandle(self._forward_hooks, _hook_id[0])

    # --- traversal ------------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # iterative pre-order, children in registration order
            pre, m = stack.pop()
            if remove_duplicate:
                if id(m) in memo:
                    continue
                memo.add(id(m))
            yield pre, m
            children = [(pre + ("." if pre else "") + n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, get, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, m in mods:
            for k, v in get(m):
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + k, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        cls = type(self)
        if cls.named_parameters is not Module.named_parameters or cls.named_modules is not Module.named_modules:
            for _, p in self.named_parameters(recurse=recurse):
                yield p
            return
        # Fast path (a train step calls this through zero_grad): the order and de-duplication of
        # named_parameters, without building the names.
        seen = set()
        for m in self._unique_modules() if recurse else (self,):
            for p in m._parameters.values():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield p

    def _unique_modules(self):
        """self and its descendants, pre-order, each once: named_modules() without the names."""
        if not self._modules:
            return (self,)
        out, memo, stack = [], set(), [self]
        while stack:
            m = stack.pop()
            if id(m) in memo:
                continue
            memo.add(id(m))
            out.append(m)
            mods = m._modules
            if mods:  # leaves (most modules) skip building the list
                stack.extend(reversed([c for c in mods.values() if c is not None]))
        return out

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if item not in mod._modules or mod._modules[item] is None:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{name}`")
        return mod._buffers[name]

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        if args:  # torch's deprecated positional (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        destination = OrderedDict() if destination is None else destination
        for mod_prefix, m in self.named_modules(prefix=prefix.rstrip(".")):
            p = mod_prefix + "." if mod_prefix else ""
            for name, t in m._parameters.items():
                if t is not None:
                    destination[p + name] = t if keep_vars else t.detach()
            for name, t in m._buffers.items():
                if t is not None and name not in m._non_persistent_buffers_set:
                    destination[p + name] = t if keep_vars else t.detach()
        return destination

    def load_state_dict(self, state_dict, strict=True, assign=False):
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        expected = {}
        for mod_prefix, m in self.named_modules():
            p = mod_prefix + "." if mod_prefix else ""
            for name, t in m._parameters.items():
                if t is not None:
                    expected[p + name] = (m, "_parameters", name, t)
            for name, t in m._buffers.items():
                if t is not None and name not in m._non_persistent_buffers_set:
                    expected[p + name] = (m, "_buffers", name, t)
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in expected]
        errors = []
        for key, (m, store, name, cur) in expected.items():
            if key not in state_dict:
                continue
            val = state_dict[key]
            if not isinstance(val, _C.Tensor):
                val = _to_tensor(val)
                if val is None:
                    errors.append(f'While copying the parameter named "{key}", expected torch.Tensor or '
                                  f"Tensor-like object from checkpoint but received {type(state_dict[key])}")
                    continue
            if tuple(val.shape) != tuple(cur.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(val.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(cur.shape)}.")
                continue
            from ...autograd.grad_mode import no_grad
            with no_grad():
                if assign:
                    new = Parameter(val, cur.requires_grad) if store == "_parameters" else val
                    getattr(m, store)[name] = new
                else:
                    cur.copy_(val)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # --- modes and conversions ------------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        if set_to_none:
            _C._grads_to_none(list(self.parameters()))
            return
        for p in self.parameters():
            g = p.grad
            if g is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if g.grad_fn is not None:
                    p.grad = g.detach()
                    g = p.grad
                g.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn, floats_only=True):
        from ...autograd.grad_mode import no_grad
        with no_grad():
            for m in self.modules():
                for name, p in m._parameters.items():
                    if p is None or (floats_only and not p.is_floating_point()):
                        continue
                    new = fn(p)
                    if new is not p:
                        m._parameters[name] = Parameter(new, p.requires_grad)
                        if p.grad is not None:
                            m._parameters[name].grad = fn(p.grad)
                for name, b in m._buffers.items():
                    if b is None or (floats_only and not b.is_floating_point()):
                        continue
                    m._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs):
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        for a in args:
            if isinstance(a, _C.dtype):
                dtype = a
            elif isinstance(a, (str, _C.device)):
                device = a
            elif isinstance(a, _C.Tensor):
                dtype, device = a.dtype, a.device
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")

        def convert(t):
            if device is not None:
                t = t._to_device(device)
            if dtype is not None and t.is_floating_point():
                t = t._to_dtype(dtype)
            return t

        return self._apply(convert)

    def float(self):
        return self._apply(lambda t: t._to_dtype(_C.dtype.float32))

    def double(self):
        return self._apply(lambda t: t._to_dtype(_C.dtype.float64))

    def cpu(self):
        return self._apply(lambda t: t._to_device("cpu"), floats_only=False)

    def cuda(self, device=None):
        return self._apply(lambda t: t._to_device("cuda" if device is None else device), floats_only=False)

    # --- printing -------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = repr(module)
            mod_str = _addindent(mod_str, 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines := extra.split("\n")) == 1 and not child_lines and extra:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _addindent(s, n):
    parts = s.split("\n")
    if len(parts) == 1:
        return s
    first = parts.pop(0)
    return first + "\n" + "\n".join(" " * n + line for line in parts)


def _to_tensor(val):
    """Tensor-like checkpoint values (numpy arrays, objects with __dlpack__ / __array__)."""
    try:
        import numpy as np
        if hasattr(val, "detach") and hasattr(val, "cpu") and hasattr(val, "numpy"):
            val = val.detach().cpu().numpy()  # e.g. a torch tensor
        arr = np.array(np.asarray(val), order="C")
        return _C.from_numpy(arr.copy())
    except Exception:
        return None

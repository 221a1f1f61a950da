"""The base classes of the bitsandbytes optimizers and the GlobalOptimManager.

``Optimizer8bit`` is a ``torch.optim.Optimizer`` whose per-parameter state is
created lazily at the first ``step()`` (so overrides registered after the
optimizer was built, as the Transformers Trainer does for embeddings, take
effect), and whose ``state_dict`` nests the quantization state under
``"__bnb_optimizer_quant_state__"`` as bitsandbytes 0.49+ does.
``Optimizer2State`` / ``Optimizer1State`` run one fused op per parameter:
``optimizer_update_32bit`` (fp32 states) or ``optimizer_update_8bit_blockwise``
(uint8 states with one fp32 absmax per 256 elements). Sharded (DTensor) parameters,
as FSDP2 makes them, keep the states of their local shard (``_sharded.py``).
"""

from __future__ import annotations

import copy
import math
import weakref
from collections import abc as container_abcs
from collections import defaultdict
from itertools import chain

import torch

from .. import _validate, paging
from .. import functional as F
from . import _sharded

#: State entries that are moved between devices but never cast (and nested in state_dict).
QUANT_STATE_KEYS = (
    "qmap1",
    "qmap2",
    "max1",
    "max2",
    "new_max1",
    "new_max2",
    "state1",
    "state2",
    "gnorm_vec",
    "absmax1",
    "absmax2",
    "unorm_vec",
)
NESTED_KEY = "__bnb_optimizer_quant_state__"
#: Paged states are used only for parameters at least this large.
PAGED_MIN_NUMEL = 100_000


class MockArgs:
    """The ``args`` object of an optimizer: ``optim_bits``, ``min_8bit_size``, ``max_unorm``, ``skip_zeros``."""

    def __init__(self, initial_data: dict):
        for key, value in initial_data.items():
            setattr(self, key, value)


class GlobalOptimManager:
    """Per-parameter optimizer config overrides (a process-wide singleton).

    ``register_module_override(module, "weight", {"optim_bits": 32})`` and
    ``override_config(param, key, value)`` may be called before or after the
    optimizer is built; they apply when the parameter's state is created (its
    first ``step()``).
    """

    _instance = None

    def __init__(self):
        raise RuntimeError("Call get_instance() instead")

    def initialize(self) -> None:
        self.pid2config: dict[int, dict] = {}
        self.index2config: dict[tuple[int, int], dict] = {}
        self.optimizer = None
        self.uses_config_override = False
        self.module_weight_config_triple: list[tuple[torch.nn.Module, str, dict]] = []
        # id() of a freed tensor can be reused: remember which tensor each entry was made for
        self._pid_refs: dict[int, weakref.ref] = {}
        self._index_refs: dict[tuple[int, int], weakref.ref] = {}

    def _remember(self, p: torch.Tensor) -> None:
        self._pid_refs[id(p)] = weakref.ref(p)

    def config_for(self, p: torch.Tensor, gindex: int, pindex: int) -> dict:
        """The overrides that apply to parameter p at (gindex, pindex) of an optimizer."""
        out: dict = {}
        ref = self._index_refs.get((gindex, pindex))
        if (gindex, pindex) in self.index2config and (ref is None or ref() is p):
            out.update(self.index2config[(gindex, pindex)])
        ref = self._pid_refs.get(id(p))
        if id(p) in self.pid2config and (ref is None or ref() is p):
            out.update(self.pid2config[id(p)])
        return out

    @classmethod
    def get_instance(cls) -> GlobalOptimManager:
        if cls._instance is None:
            cls._instance = cls.__new__(cls)
            cls._instance.initialize()
        return cls._instance

    def register_parameters(self, params) -> None:
        """Record (group, index) positions of parameters that already have overrides."""
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for gi, group in enumerate(groups):
            for pi, p in enumerate(group["params"]):
                ref = self._pid_refs.get(id(p))
                if id(p) in self.pid2config and (ref is None or ref() is p):
                    self.index2config[(gi, pi)] = self.pid2config[id(p)]
                    self._index_refs[(gi, pi)] = weakref.ref(p)

    def override_config(self, parameters, key=None, value=None, key_value_dict=None) -> None:
        """Override config keys (``optim_bits``, ``lr``, ``betas``, ...) for one parameter or a list."""
        self.uses_config_override = True
        if isinstance(parameters, torch.Tensor):
            parameters = [parameters]
        if key is not None and value is not None:
            if key_value_dict is not None:
                raise ValueError("override_config: pass either key and value or key_value_dict, not both")
            key_value_dict = {key: value}
        if key_value_dict is None:
            return
        for p in parameters:
            ref = self._pid_refs.get(id(p))
            if id(p) in self.pid2config and (ref is None or ref() is p):
                self.pid2config[id(p)].update(key_value_dict)
            else:
                self.pid2config[id(p)] = dict(key_value_dict)
            self._remember(p)

    def register_module_override(self, module: torch.nn.Module, param_name: str, config: dict) -> None:
        """Override the config of ``getattr(module, param_name)`` (applied at the optimizer's first step)."""
        self.module_weight_config_triple.append((module, param_name, config))


def _check_hyper(lr, eps, betas, weight_decay) -> None:
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not eps >= 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if isinstance(betas, float):
        betas = (betas,)
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Optimizer8bit(torch.optim.Optimizer):
    """Base class: lazy per-parameter state, config overrides, nested state_dict, paging."""

    def __init__(self, params, defaults, optim_bits=32, is_paged=False):
        super().__init__(params, defaults)
        self.initialized = False
        self.name2qmap: dict[str, torch.Tensor] = {}
        self.is_paged = is_paged
        self.page_mng = paging.GlobalPageManager.get_instance()
        self.mng = GlobalOptimManager.get_instance()
        self.non_castable_tensor_keys = set(QUANT_STATE_KEYS)
        self._param_dtypes: dict[int, torch.dtype] = {}  # id(p) -> dtype when its state was made
        if optim_bits == 8:
            self.fill_qmap()

    def fill_qmap(self) -> None:
        self.name2qmap["dynamic"] = F.create_dynamic_map(signed=True)
        self.name2qmap["udynamic"] = F.create_dynamic_map(signed=False)

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_param_dtypes", {})

    # ---- state_dict ----------------------------------------------------------
    def state_dict(self):
        sd = super().state_dict()
        params = list(chain.from_iterable(g["params"] for g in self.param_groups))
        nested_state = {}
        for idx, st in sd["state"].items():
            st = dict(st)
            if isinstance(idx, int) and _sharded.is_sharded(params[idx]):
                st = _sharded.export_state(st, params[idx])
            quant = {k: st.pop(k) for k in list(st) if k in self.non_castable_tensor_keys}
            if quant:
                st[NESTED_KEY] = quant
            nested_state[idx] = st
        return {"state": nested_state, "param_groups": sd["param_groups"]}

    def load_state_dict(self, state_dict, move_to_device=True):
        """Load a state_dict of this package or of bitsandbytes (nested or flat quantization keys)."""
        # The loaded state is a copy (as in the original): an optimizer that keeps stepping on
        # the source state_dict's tensors does not change this one's state.
        state_dict = {"state": state_dict["state"], "param_groups": copy.deepcopy(state_dict["param_groups"])}
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has {len(groups)}"
            )
        lens = [len(g["params"]) for g in groups]
        saved_lens = [len(g["params"]) for g in saved_groups]
        if lens != saved_lens:
            raise ValueError(
                f"loaded state dict has groups of sizes {saved_lens}, this optimizer has groups of sizes {lens}"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups), chain.from_iterable(g["params"] for g in groups)
            )
        )

        def cast(param, value, key=None):
            if isinstance(value, torch.Tensor):
                dtype = param.dtype if value.is_floating_point() and key not in self.non_castable_tensor_keys else None
                return value.to(device=param.device if move_to_device else None, dtype=dtype, copy=True)
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, container_abcs.Iterable) and not isinstance(value, str):
                return type(value)(cast(param, v) for v in value)
            return value

        # every state is checked before anything changes: a rejected state dict leaves the optimizer as it was
        self.check_overrides()
        position = {id(p): (gi, pi) for gi, g in enumerate(groups) for pi, p in enumerate(g["params"])}
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k not in id_map:
                state[k] = v
                continue
            param = id_map[k]
            v = dict(v)
            nested = v.pop(NESTED_KEY, None)
            if nested:
                v.update(nested)
            v = _sharded.import_state(v, param)  # DTensor states, per-element absmax
            v = cast(_sharded.local(param), v)
            self._check_loaded_state(param, v, k, position[id(param)])
            state[param] = v
        for param in state:
            if isinstance(param, torch.Tensor):
                self._param_dtypes[id(param)] = param.dtype

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    def _check_loaded_state(self, p: torch.Tensor, st: dict, index, position: tuple[int, int]) -> None:
        """The loaded state of p against this optimizer's config for it (bitsandbytes._validate).
        An empty state (a parameter that never stepped) is left to the first step."""
        if not st:
            return
        gi, pi = position
        config = self.get_config(gi, pi, self.param_groups[gi])
        # 8-bit or not is decided by the whole parameter's size (the same on any number of
        # ranks); the state's sizes are those of the local shard
        _validate.check_optimizer_state(
            _sharded.local(p),
            st,
            f"parameter {index} (group {gi}, position {pi}, shape {tuple(p.shape)})",
            eight_bit=config["optim_bits"] == 8 and p.numel() >= config["min_8bit_size"],
            two_states=isinstance(self, Optimizer2State),
            copies=2 if getattr(self, "optimizer_name", "") == "ademamix" else 1,
            unorm=config["max_unorm"] > 0.0,
        )

    # ---- stepping --------------------------------------------------------------
    def to_gpu(self) -> None:
        """Move loaded states to their parameter's device (after load_state_dict(move_to_device=False))."""
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if not st:
                    continue
                for k, v in st.items():
                    if isinstance(v, torch.Tensor) and v.device != p.device and not getattr(v, "is_paged", False):
                        st[k] = v.to(p.device)

    def check_overrides(self) -> None:
        """Resolve module overrides (register_module_override) to this optimizer's parameters."""
        for module, attr, config in self.mng.module_weight_config_triple:
            target = getattr(module, attr, None)
            if not isinstance(target, torch.Tensor):
                raise ValueError(f"register_module_override: {type(module).__name__}.{attr} is not a tensor")
            for gi, group in enumerate(self.param_groups):
                for pi, p in enumerate(group["params"]):
                    if p is target:
                        self.mng.pid2config[id(p)] = config
                        self.mng._remember(p)
                        self.mng.index2config[(gi, pi)] = config
                        self.mng._index_refs[(gi, pi)] = weakref.ref(p)

    def get_config(self, gindex: int, pindex: int, group: dict) -> dict:
        config = {
            "betas": group["betas"],
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "lr": group["lr"],
            "alpha": group.get("alpha", 0.0),
            "t_alpha": group.get("t_alpha"),
            "t_beta3": group.get("t_beta3"),
        }
        config["optim_bits"] = self.args.optim_bits
        config["min_8bit_size"] = self.args.min_8bit_size
        config["max_unorm"] = self.args.max_unorm
        config["skip_zeros"] = self.args.skip_zeros
        config.update(self.mng.config_for(group["params"][pindex], gindex, pindex))
        return config

    def get_state_buffer(self, p: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
        """A zeroed state buffer shaped like ``p`` (paged when the optimizer is)."""
        return self._state_buffer(p, dtype, tuple(p.shape))

    def _state_buffer(self, p: torch.Tensor, dtype: torch.dtype, shape: tuple) -> torch.Tensor:
        if not self.is_paged or p.numel() < PAGED_MIN_NUMEL or p.device.type != "cuda":
            return torch.zeros(shape, dtype=dtype, device=p.device)
        buf = paging.get_paged(*shape, dtype=dtype, device=p.device)
        buf.zero_()
        self.page_mng.paged_tensors.append(buf)
        return paging.device_view(buf)

    def prefetch_state(self, p: torch.Tensor) -> None:
        if not self.is_paged:
            return
        st = self.state[p]
        for key in ("state1", "state2"):
            s = st.get(key)
            if s is not None and getattr(s, "is_paged", False):
                paging.prefetch_tensor(s)

    def _check_param(self, p: torch.Tensor, index) -> None:
        g = p.grad
        if g.is_sparse or g.layout != torch.strided:
            raise RuntimeError(
                f"{type(self).__name__} does not support sparse gradients (parameter {index} has a {g.layout} "
                "gradient); use a dense gradient, e.g. nn.Embedding(sparse=False)"
            )
        if p.device.type == "meta":
            raise RuntimeError(
                f"{type(self).__name__}: parameter {index} is on the meta device (it has no data to update); "
                "load or materialize the model's weights before stepping"
            )
        st = self.state.get(p)
        if not st or "state1" not in st:
            return
        s1 = st["state1"]
        if s1.device != p.device and not getattr(s1, "is_paged", False):
            raise RuntimeError(
                f"{type(self).__name__}: parameter {index} is on {p.device} but its optimizer state is on "
                f"{s1.device}; move the model before creating the optimizer, or load_state_dict again"
            )
        dtype = self._param_dtypes.get(id(p))
        if dtype is not None and dtype != p.dtype:
            raise RuntimeError(
                f"{type(self).__name__}: parameter {index} changed dtype from {dtype} to {p.dtype} after its "
                "optimizer state was created; create the optimizer after casting the model"
            )

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimization step (states are created at the first step)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not self.initialized:
            self.check_overrides()
            self.to_gpu()
            self.initialized = True
        for gindex, group in enumerate(self.param_groups):
            for pindex, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                self._check_param(p, (gindex, pindex))
                if not _sharded.is_sharded(p):  # FSDP2 keeps a local shard contiguous
                    if not p.is_contiguous():
                        p.data = p.data.contiguous()
                    if not p.grad.is_contiguous():
                        p.grad = p.grad.contiguous()
                st = self.state[p]
                if len(st) == 0:
                    self.init_state(group, p, gindex, pindex)
                self.prefetch_state(p)
                self.update_step(group, p, gindex, pindex)
        if self.is_paged and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return loss

    def _alloc_states(self, group, p, gindex, pindex, two_states: bool) -> None:
        config = self.get_config(gindex, pindex, group)
        bits = config["optim_bits"]
        if bits not in (8, 32):
            raise NotImplementedError(f"Amount of optimizer bits not supported: {bits}")
        # a sharded parameter picks 8-bit by its whole size (the same on any number of ranks)
        # and keeps states shaped like its local shard
        dtype = torch.uint8 if bits == 8 and p.numel() >= config["min_8bit_size"] else torch.float32
        st = self.state[p]
        if _sharded.is_sharded(p):
            _sharded.check_supported(type(self).__name__, (gindex, pindex), config)
        p = _sharded.local(p)
        copies = 2 if self.optimizer_name == "ademamix" else 1
        shape1 = (2, *p.shape) if copies == 2 else tuple(p.shape)
        st["step"] = 0
        if dtype == torch.float32:
            st["state1"] = self._state_buffer(p, torch.float32, shape1)
            if two_states:
                st["state2"] = self.get_state_buffer(p, torch.float32)
        else:
            if "dynamic" not in self.name2qmap:
                self.fill_qmap()
            self.name2qmap["dynamic"] = self.name2qmap["dynamic"].to(p.device)
            self.name2qmap["udynamic"] = self.name2qmap["udynamic"].to(p.device)
            blocks = math.ceil(p.numel() / 256)
            st["state1"] = self._state_buffer(p, torch.uint8, shape1)
            st["qmap1"] = self.name2qmap["dynamic"]
            st["absmax1"] = torch.zeros((2, blocks) if copies == 2 else (blocks,), dtype=torch.float32, device=p.device)
            if two_states:
                st["state2"] = self.get_state_buffer(p, torch.uint8)
                st["qmap2"] = self.name2qmap["udynamic"]
                st["absmax2"] = torch.zeros((blocks,), dtype=torch.float32, device=p.device)
        if config["max_unorm"] > 0.0:
            st["unorm_vec"] = torch.zeros((1,), device=p.device)

    def _run_update(self, group, p, gindex, pindex, beta1, beta2, beta3, alpha) -> None:
        st = self.state[p]
        config = self.get_config(gindex, pindex, group)
        st["step"] += 1
        step = st["step"]
        grad, p = _sharded.local(p.grad).contiguous(), _sharded.local(p)
        if p.numel() == 0:
            return  # an empty shard (more ranks than rows)
        s1 = st["state1"]
        if s1.dtype == torch.float32:
            F.optimizer_update_32bit(
                self.optimizer_name,
                grad,
                p,
                s1,
                beta1,
                config["eps"],
                step,
                config["lr"],
                st.get("state2"),
                beta2,
                beta3,
                alpha,
                config["weight_decay"],
                1.0,
                st["unorm_vec"] if config["max_unorm"] > 0.0 else None,
                max_unorm=config["max_unorm"],
                skip_zeros=config["skip_zeros"],
            )
        else:
            F.optimizer_update_8bit_blockwise(
                self.optimizer_name,
                grad,
                p,
                s1,
                st.get("state2"),
                beta1,
                beta2,
                beta3,
                alpha,
                config["eps"],
                step,
                config["lr"],
                st["qmap1"],
                st.get("qmap2"),
                st["absmax1"],
                st.get("absmax2"),
                weight_decay=config["weight_decay"],
                gnorm_scale=1.0,
                skip_zeros=config["skip_zeros"],
            )


def _make_args(args, optim_bits, min_8bit_size, max_unorm, skip_zeros) -> MockArgs:
    if args is None:
        return MockArgs(
            {"optim_bits": optim_bits, "min_8bit_size": min_8bit_size, "max_unorm": max_unorm, "skip_zeros": skip_zeros}
        )
    return args


class Optimizer2State(Optimizer8bit):
    """Two-state algorithms: adam (Adam, AdamW, LAMB) and ademamix."""

    def __init__(
        self,
        optimizer_name,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        optim_bits=32,
        args=None,
        min_8bit_size=4096,
        max_unorm=0.0,
        skip_zeros=False,
        is_paged=False,
        alpha=0.0,
        t_alpha=None,
        t_beta3=None,
    ):
        _check_hyper(lr, eps, betas, weight_decay)
        if isinstance(betas, str):
            betas = tuple(float(b) for b in betas.strip("()[] ").split(","))
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, alpha=alpha, t_alpha=t_alpha, t_beta3=t_beta3
        )
        super().__init__(params, defaults, optim_bits, is_paged)
        self.args = _make_args(args, optim_bits, min_8bit_size, max_unorm, skip_zeros)
        self.optimizer_name = optimizer_name

    @torch.no_grad()
    def init_state(self, group, p, gindex, pindex):
        self._alloc_states(group, p, gindex, pindex, two_states=True)
        self._param_dtypes[id(p)] = p.dtype

    @torch.no_grad()
    def update_step(self, group, p, gindex, pindex):
        config = self.get_config(gindex, pindex, group)
        betas = config["betas"]
        beta3 = betas[2] if len(betas) > 2 else 0.0
        alpha = config["alpha"]
        if self.optimizer_name == "ademamix":
            step = self.state[p]["step"] + 1
            alpha, beta3 = ademamix_schedules(step, betas[0], beta3, alpha, config["t_alpha"], config["t_beta3"])
        self._run_update(group, p, gindex, pindex, betas[0], betas[1], beta3, alpha)


class Optimizer1State(Optimizer8bit):
    """One-state algorithms: momentum (SGD), lars, rmsprop, adagrad, lion."""

    def __init__(
        self,
        optimizer_name,
        params,
        lr=1e-3,
        betas=(0.9, 0.0),
        eps=1e-8,
        weight_decay=0.0,
        optim_bits=32,
        args=None,
        min_8bit_size=4096,
        max_unorm=0.0,
        skip_zeros=False,
        is_paged=False,
    ):
        _check_hyper(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults, optim_bits, is_paged)
        self.args = _make_args(args, optim_bits, min_8bit_size, max_unorm, skip_zeros)
        self.optimizer_name = optimizer_name

    @torch.no_grad()
    def init_state(self, group, p, gindex, pindex):
        self._alloc_states(group, p, gindex, pindex, two_states=False)
        self._param_dtypes[id(p)] = p.dtype

    @torch.no_grad()
    def update_step(self, group, p, gindex, pindex):
        config = self.get_config(gindex, pindex, group)
        betas = config["betas"]
        self._run_update(group, p, gindex, pindex, betas[0], betas[1], 0.0, 0.0)


def ademamix_schedules(step, beta1, beta3, alpha, t_alpha, t_beta3) -> tuple[float, float]:
    """AdEMAMix warm-ups: alpha_t = min(step*alpha/t_alpha, alpha) and the beta3 schedule up to t_beta3."""
    if t_alpha is not None and t_alpha > 0:
        alpha = min(step * alpha / t_alpha, alpha)
    if t_beta3 is not None and t_beta3 > 0:
        ln1, ln3 = math.log(beta1), math.log(beta3)
        frac = step / t_beta3
        beta3 = min(math.exp((ln1 * ln3) / ((1 - frac) * ln3 + frac * ln1)), beta3)
    return alpha, beta3

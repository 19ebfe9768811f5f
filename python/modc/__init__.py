"""modc: load and run libraries compiled by modc, from Python (DESIGN.md section 10).

    import modc
    with modc.load("out/libtiny_mod.so") as m:          # Model
        logits = m.forward(tokens)                      # int32 [B, T] -> float32 [B, T, V]
        with m.session() as s:                          # Session (causal routing)
            last = s.prefill([1, 2, 3])                 # float32 [V], the last token's logits
            nxt = s.decode(int(last.argmax()))          # float32 [V]
            taken = s.routing(1)                        # uint8 [n]: which tokens took layer 1
    modc.compile("spec.yaml", "out/libtiny_mod.so", shapes=[(1, 64)], defines={"routing.capacity": 0.25})

Only numpy is needed (and a C compiler, for modc itself).  The library's ABI (runtime/modc.h)
is bound with ctypes; every failing call raises modc.Error with the library's message.
"""
import ctypes as C
import os
import shutil
import subprocess

import numpy as np

__all__ = ["Error", "Model", "Session", "load", "compile", "find_modc"]


class Error(RuntimeError):
    """A modc library or the modc command refused a call; the message says why."""


class _Info(C.Structure):
    _fields_ = [("vocab_size", C.c_int32), ("d_model", C.c_int32), ("n_layers", C.c_int32),
                ("max_seq_len", C.c_int32), ("n_shapes", C.c_int32),
                ("shapes", C.POINTER(C.c_int32 * 2)), ("capacity", C.POINTER(C.c_float)),
                ("name", C.c_char_p), ("target_triple", C.c_char_p), ("target_cpu", C.c_char_p),
                ("forward_threshold", C.c_int32)]


_P, _I32P, _F32P, _U8P = C.c_void_p, C.POINTER(C.c_int32), C.POINTER(C.c_float), C.POINTER(C.c_uint8)
_SIGNATURES = {
    "modc_open": (C.c_int, [C.c_char_p, C.c_int, C.POINTER(_P)]),
    "modc_close": (None, [_P]),
    "modc_get_info": (C.POINTER(_Info), [_P]),
    "modc_last_error": (C.c_char_p, []),
    "modc_forward": (C.c_int, [_P, C.c_int, C.c_int, _I32P, _F32P]),
    "modc_session_open": (C.c_int, [_P, C.POINTER(_P)]),
    "modc_prefill": (C.c_int, [_P, _I32P, C.c_int, _F32P]),
    "modc_decode": (C.c_int, [_P, C.c_int32, _F32P]),
    "modc_session_reset": (C.c_int, [_P]),
    "modc_session_close": (None, [_P]),
    "modc_routing": (C.c_int, [_P, C.c_int, _U8P, C.c_int]),
}


def _bind(path):
    try:
        lib = C.CDLL(os.path.abspath(path))
    except OSError as e:
        raise Error(f"cannot load '{path}': {e}") from None
    for name, (res, args) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise Error(f"'{path}' is not a modc library (no {name})") from None
        fn.restype, fn.argtypes = res, args
    return lib


class Info:
    """The model's constants (modc_info): vocab_size, d_model, n_layers, max_seq_len, shapes
    (the (batch, seq_len) pairs modc_forward takes), capacity (per layer), name, target, and
    forward_threshold (True: modc_forward routes each token by threshold, as sessions do)."""

    def __init__(self, raw):
        self.vocab_size, self.d_model = raw.vocab_size, raw.d_model
        self.n_layers, self.max_seq_len = raw.n_layers, raw.max_seq_len
        self.shapes = [(raw.shapes[i][0], raw.shapes[i][1]) for i in range(raw.n_shapes)]
        self.capacity = [float(raw.capacity[i]) for i in range(raw.n_layers)]
        self.name = raw.name.decode()
        self.target_triple, self.target_cpu = raw.target_triple.decode(), raw.target_cpu.decode()
        self.forward_threshold = bool(raw.forward_threshold)

    def __repr__(self):
        return (f"Info(name={self.name!r}, vocab_size={self.vocab_size}, d_model={self.d_model}, "
                f"n_layers={self.n_layers}, max_seq_len={self.max_seq_len}, shapes={self.shapes})")


class _Closable:
    """close() on leaving a `with` block and when garbage-collected."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Model(_Closable):
    """An open model (modc_open).  Close it, or use it as a context manager."""

    def __init__(self, lib_path, threads=0, weights=None):
        self._lib = _bind(lib_path)
        self._m = _P()
        self._check(self._lib.modc_open(os.fsencode(weights) if weights else None, int(threads),
                                        C.byref(self._m)))
        self.info = Info(self._lib.modc_get_info(self._m).contents)

    def _check(self, rc):
        if rc < 0:
            raise Error(self._lib.modc_last_error().decode(errors="replace"))
        return rc

    def _open(self):
        if not self._m:
            raise Error("the model is closed")
        return self._m

    def forward(self, tokens):
        """tokens int [B, T] (a compiled shape) -> logits float32 [B, T, vocab] (top-k routing)."""
        t = np.ascontiguousarray(tokens, dtype=np.int32)
        if t.ndim == 1:
            t = t[None]
        if t.ndim != 2:
            raise Error(f"forward takes tokens [batch, seq_len], got shape {t.shape}")
        B, T = t.shape
        out = np.empty((B, T, self.info.vocab_size), dtype=np.float32)
        self._check(self._lib.modc_forward(self._open(), B, T, t.ctypes.data_as(_I32P), out.ctypes.data_as(_F32P)))
        return out

    def session(self):
        """A new Session (modc_session_open) on this model."""
        return Session(self)

    def close(self):
        if getattr(self, "_m", None):
            self._lib.modc_close(self._m)
            self._m = _P()


class Session(_Closable):
    """Prefill and decode with causal routing (modc_session_*); keeps its model open."""

    def __init__(self, model):
        self._model, self._s = model, _P()
        model._check(model._lib.modc_session_open(model._open(), C.byref(self._s)))
        self._logits = np.empty(model.info.vocab_size, dtype=np.float32)
        self.length = 0

    def _handle(self):
        if not self._s:
            raise Error("the session is closed")
        return self._s

    def prefill(self, tokens):
        """Append tokens; returns the last token's logits (float32 [vocab], a copy)."""
        t = np.ascontiguousarray(tokens, dtype=np.int32).reshape(-1)
        self._model._check(self._model._lib.modc_prefill(self._handle(), t.ctypes.data_as(_I32P), len(t),
                                                         self._logits.ctypes.data_as(_F32P)))
        self.length += len(t)
        return self._logits.copy()

    def decode(self, token):
        """Append one token; returns its logits (float32 [vocab], a copy)."""
        self._model._check(self._model._lib.modc_decode(self._handle(), int(token), self._logits.ctypes.data_as(_F32P)))
        self.length += 1
        return self._logits.copy()

    def routing(self, layer):
        """uint8 [n]: 1 where session token t took routed layer `layer`'s block."""
        out = np.zeros(max(self.length, 1), dtype=np.uint8)
        n = self._model._check(self._model._lib.modc_routing(self._handle(), int(layer), out.ctypes.data_as(_U8P),
                                                             self.length))
        return out[:n]

    def reset(self):
        self._model._check(self._model._lib.modc_session_reset(self._handle()))
        self.length = 0

    def close(self):
        if getattr(self, "_s", None):
            self._model._lib.modc_session_close(self._s)
            self._s = _P()


def load(lib, threads=0, weights=None):
    """Open a library modc compiled: a Model (use `with` or .close())."""
    return Model(lib, threads=threads, weights=weights)


def find_modc():
    """The modc command: $MODC, else the one this package was installed with (the package in
    P/lib/modc/python, modc in P/bin), else the source tree's build/modc, else modc on PATH."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("MODC"), os.path.join(here, "..", "..", "..", "..", "bin", "modc"),
                  os.path.join(here, "..", "..", "build", "modc"), shutil.which("modc")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.normpath(c)
    raise Error("cannot find the modc command: set $MODC or put modc on PATH")


def compile(spec, out, shapes=None, cpu=None, weights_dtype=None, tuning=None, defines=None,
            embed_weights=False, modc=None):
    """Run `modc compile spec -o out` with these options; returns out.  defines: a dict of
    spec keys (-D key=value).  Raises Error with modc's message when it fails."""
    cmd = [modc or find_modc(), "compile", os.fspath(spec), "-o", os.fspath(out), "-q"]
    for b, t in shapes or []:
        cmd += ["--shape", f"{int(b)},{int(t)}"]
    if cpu:
        cmd += ["--cpu", cpu]
    if weights_dtype:
        cmd += ["--weights-dtype", weights_dtype]
    if tuning:
        cmd += ["--tuning", os.fspath(tuning)]
    if embed_weights:
        cmd.append("--embed-weights")
    for k, v in (defines or {}).items():
        v = ("true" if v else "false") if isinstance(v, bool) else v
        cmd += ["-D", f"{k}={v}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise Error(r.stderr.strip().removeprefix("modc: error: ") or f"modc compile exited {r.returncode}")
    return os.fspath(out)

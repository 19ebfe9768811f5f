#!/usr/bin/env python3
"""generate.py: text generation with any library modc emits, from Python (ctypes + numpy).

    python3 generate.py LIB [--weights FILE] [--prompt TEXT | --tokens 1,2,3] [--max-new N]
                            [--temperature T] [--seed S] [--threads N]

The same ABI as examples/generate.c (runtime/modc.h), bound by ctypes: the library is
loaded by path and its modc_* functions declared here once, so this file serves every model.
With a 256-token vocabulary the prompt's bytes are the tokens and bytes are printed;
otherwise give --tokens and token ids are printed.  Greedy at temperature 0, else sampling
from softmax(logits / T) with a seeded generator.
"""
import argparse
import ctypes as C
import sys

import numpy as np


class ModcInfo(C.Structure):
    _fields_ = [("vocab_size", C.c_int32), ("d_model", C.c_int32), ("n_layers", C.c_int32),
                ("max_seq_len", C.c_int32), ("n_shapes", C.c_int32),
                ("shapes", C.POINTER(C.c_int32 * 2)), ("capacity", C.POINTER(C.c_float)),
                ("name", C.c_char_p), ("target_triple", C.c_char_p), ("target_cpu", C.c_char_p)]


class ModcError(RuntimeError):
    pass


class Modc:
    """One loaded library and its model; methods raise ModcError with modc_last_error()."""

    def __init__(self, lib_path, weights=None, threads=0):
        self.lib = lib = C.CDLL(lib_path)
        p, i32p, f32p = C.c_void_p, C.POINTER(C.c_int32), C.POINTER(C.c_float)
        sigs = {"modc_open": (C.c_int, [C.c_char_p, C.c_int, C.POINTER(p)]),
                "modc_close": (None, [p]),
                "modc_get_info": (C.POINTER(ModcInfo), [p]),
                "modc_last_error": (C.c_char_p, []),
                "modc_session_open": (C.c_int, [p, C.POINTER(p)]),
                "modc_prefill": (C.c_int, [p, i32p, C.c_int, f32p]),
                "modc_decode": (C.c_int, [p, C.c_int32, f32p]),
                "modc_session_close": (None, [p])}
        for name, (res, args) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self.model = p()
        self._check(lib.modc_open(weights.encode() if weights else None, threads,
                                  C.byref(self.model)))
        self.info = lib.modc_get_info(self.model).contents
        self.logits = np.zeros(self.info.vocab_size, dtype=np.float32)
        self.session = p()
        self._check(lib.modc_session_open(self.model, C.byref(self.session)))

    def _check(self, rc):
        if rc < 0:
            raise ModcError(self.lib.modc_last_error().decode(errors="replace"))

    def _out(self):
        return self.logits.ctypes.data_as(C.POINTER(C.c_float))

    def prefill(self, tokens):
        toks = np.ascontiguousarray(tokens, dtype=np.int32)
        self._check(self.lib.modc_prefill(self.session, toks.ctypes.data_as(
            C.POINTER(C.c_int32)), len(toks), self._out()))
        return self.logits

    def decode(self, token):
        self._check(self.lib.modc_decode(self.session, int(token), self._out()))
        return self.logits

    def close(self):
        self.lib.modc_session_close(self.session)
        self.lib.modc_close(self.model)


def sample(logits, temperature, rng):
    if temperature <= 0:
        return int(np.argmax(logits))
    z = (logits.astype(np.float64) - logits.max()) / temperature
    p = np.exp(z)
    return int(rng.choice(len(p), p=p / p.sum()))


def prompt_tokens(args, vocab):
    if args.tokens:
        return [int(t) for t in args.tokens.split(",") if t]
    if vocab != 256:
        raise ModcError(f"vocabulary is {vocab}, not bytes; give --tokens")
    return list(args.prompt.encode())


def emit(token, vocab):
    if vocab == 256:
        sys.stdout.buffer.write(bytes([token]))
    else:
        sys.stdout.write(f"{token} ")
    sys.stdout.flush()


def generate(m, args):
    vocab, max_seq = m.info.vocab_size, m.info.max_seq_len
    prompt = prompt_tokens(args, vocab)
    rng = np.random.default_rng(args.seed)
    logits = m.prefill(prompt)
    for t in prompt:
        emit(t, vocab)
    length = len(prompt)
    for i in range(args.max_new):
        tok = sample(logits, args.temperature, rng)
        emit(tok, vocab)
        if i + 1 == args.max_new or length == max_seq:
            break
        logits = m.decode(tok)
        length += 1
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib")
    ap.add_argument("--weights")
    ap.add_argument("--prompt", default="Once upon a time")
    ap.add_argument("--tokens")
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    try:
        m = Modc(args.lib, args.weights, args.threads)
    except (ModcError, OSError) as e:
        sys.exit(f"generate: {e}")
    try:
        generate(m, args)
    except ModcError as e:
        sys.exit(f"generate: {e}")
    finally:
        m.close()


if __name__ == "__main__":
    main()

"""test_modc.py: the Python package (python/modc) against the command line it binds.

A small random-weight spec is compiled with modc.compile; modc.load's forward must give the
logits `modc bench --dump` wrote for the same tokens through the C ABI; a prefill of n tokens
must match n decodes (logits and routing traces); bad calls raise modc.Error with the
library's message; context managers close what they opened.

usage: python3 test_modc.py MODC SOURCE_DIR WORK_DIR
"""
import os
import shutil
import subprocess
import sys
import unittest

import numpy as np

MODC, SRC, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.join(SRC, "python"))
import modc  # noqa: E402


def setUpModule():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    shutil.copy(os.path.join(SRC, "tests", "cli", "small.yaml"), WORK)
    subprocess.run([os.path.join(os.path.dirname(MODC), "modc-randweights"), os.path.join(WORK, "small.yaml"),
                    "--seed", "4"], check=True, capture_output=True)
    modc.compile(os.path.join(WORK, "small.yaml"), os.path.join(WORK, "out", "libsmall.so"),
                 shapes=[(2, 8), (1, 16)], modc=MODC)


LIB = lambda: os.path.join(WORK, "out", "libsmall.so")  # noqa: E731


class TestModel(unittest.TestCase):
    def test_info(self):
        with modc.load(LIB(), threads=2) as m:
            self.assertEqual((m.info.name, m.info.vocab_size, m.info.n_layers), ("small", 256, 3))
            self.assertEqual(m.info.shapes, [(2, 8), (1, 16)])
            self.assertEqual(m.info.capacity, [1.0, 0.25, 1.0])
            self.assertFalse(m.info.forward_threshold)

    def test_forward_by_threshold(self):
        # routing.forward: threshold: the last row of a forward call is a prefill's last logits
        lib = os.path.join(WORK, "fthr", "libsmall.so")
        modc.compile(os.path.join(WORK, "small.yaml"), lib, shapes=[(1, 16)], defines={"routing.forward": "threshold"},
                     modc=MODC)
        tok = np.random.default_rng(5).integers(0, 256, 16).astype(np.int32)
        with modc.load(lib, threads=2) as m, m.session() as s:
            self.assertTrue(m.info.forward_threshold)
            got = m.forward(tok.reshape(1, 16))[0, -1]
            np.testing.assert_allclose(got, s.prefill(tok), rtol=1e-4, atol=1e-4)

    def test_forward_matches_the_c_abi(self):
        prefix = os.path.join(WORK, "dump")
        subprocess.run([MODC, "bench", LIB(), "--threads", "2", "--repeats", "1", "--no-session", "--dump", prefix,
                        "-q"], check=True, capture_output=True)
        tok = np.array(open(prefix + ".tokens").read().split(), dtype=np.int32).reshape(2, 8)
        want = np.fromfile(prefix + ".logits", dtype=np.float32).reshape(2, 8, 256)
        with modc.load(LIB(), threads=2) as m:
            got = m.forward(tok)
        self.assertEqual(got.dtype, np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

    def test_session_prefill_equals_decodes(self):
        tok = np.random.default_rng(3).integers(0, 256, 20)
        with modc.load(LIB()) as m, m.session() as a, m.session() as b:
            last = a.prefill(tok)
            for t in tok:
                step = b.decode(t)
            np.testing.assert_allclose(last, step, rtol=1e-4, atol=1e-4)
            ra, rb = a.routing(1), b.routing(1)
            self.assertEqual((ra.dtype, len(ra)), (np.uint8, 20))
            np.testing.assert_array_equal(ra, rb)
            a.reset()
            self.assertEqual(len(a.routing(1)), 0)
            np.testing.assert_allclose(a.prefill(tok), last, rtol=0, atol=0)

    def test_errors(self):
        with modc.load(LIB()) as m:
            with self.assertRaisesRegex(modc.Error, "shape"):
                m.forward(np.zeros((3, 5), dtype=np.int32))
            with m.session() as s:
                with self.assertRaisesRegex(modc.Error, "out of range"):
                    s.decode(999)
                with self.assertRaisesRegex(modc.Error, "dense"):
                    s.routing(0)
        with self.assertRaisesRegex(modc.Error, "closed"):
            m.forward(np.zeros((1, 16), dtype=np.int32))
        with self.assertRaisesRegex(modc.Error, "cannot load"):
            modc.load(os.path.join(WORK, "nope.so"))
        with self.assertRaisesRegex(modc.Error, "unknown key 'capcity'"):
            modc.compile(os.path.join(WORK, "small.yaml"), os.path.join(WORK, "bad", "lib.so"),
                         defines={"routing.capcity": 1}, modc=MODC)
        self.assertFalse(os.path.exists(os.path.join(WORK, "bad", "lib.so")))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])

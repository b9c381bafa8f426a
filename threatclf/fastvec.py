"""Compiled, exact re-implementation of a fitted ``TfidfVectorizer.transform``.

Why this module exists: scikit-learn tokenises in pure Python, which caps labelling at a
few thousand passages per second. The classifier's features are TF-IDF vectors from
fitted ``TfidfVectorizer`` objects followed by linear models, so this module snapshots a
fitted vectorizer into plain numpy arrays and redoes tokenisation, n-gram extraction,
counting, tf/idf weighting, normalisation and (optionally) linear scoring in numba,
roughly 15-20x faster per core.

The output is meant to be *identical* to ``vectorizer.transform(texts)``: same CSR
structure (sorted int32 column indices), values equal up to the last bit or so (float64;
float32 output is computed in float64 and rounded, so it can differ from sklearn's
float32 arithmetic by an ulp). ``decision_function`` sums in a different order than
``X @ coef.T``: differences are ~1e-15 relative.

How it stays exact:

* lowercasing is Python's ``str.lower`` on each document (done in Python);
* ``\\w`` and ``\\s`` are the sets Python's ``re`` uses: read once per process from
  ``re`` itself over every code point (``_char_flags``);
* vocabulary lookups only accept a hit after comparing the whole key: character n-grams
  of <= 5 code points are stored as exact 126-bit keys (``_build_packed``), longer ones
  with their code points (``_build_table``); word n-grams are keyed by the sequence of
  token ids of their tokens (exact since tokens never contain a space). Hash collisions
  cost time, never correctness;
* tf/idf/norm settings are read from the fitted ``vectorizer._tfidf`` (that is what
  ``TfidfVectorizer.transform`` uses), the analyzer settings from the vectorizer.

Speed: ``char_wb`` n-grams depend only on the whitespace-delimited word, so each distinct
word's feature ids are computed once per call and thread and then reused; word tokens
are looked up in a token dictionary built from the vocabulary. Internal feature ids are
ordered by document frequency so that frequent features share cache lines.
``decision_function`` never builds the sparse matrix: with rows
``[idf, idf * coef[:, f]]`` precomputed, a document's scores are ``sum(tf * W[f]) / norm``.

Threads: the batch is cut into ``n_threads`` contiguous blocks (balanced by characters;
blocks under ``_MIN_CHARS_PER_THREAD`` characters are not split off) that run the
``nogil`` kernels on a thread pool; ``n_threads=1`` runs in the calling thread only.
Results do not depend on ``n_threads``. Compilation is cached on disk (``cache=True``);
a cold first call compiles for ~10 s. Where no cache folder can be written (a read-only
install, and a home folder that is not writable), the kernels are compiled in every process,
with one warning that names ``NUMBA_CACHE_DIR``.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import numba


def njit(**options):
    """numba's ``njit``; with ``cache=True``, a cache numba cannot place (no writable folder:
    ``RuntimeError: cannot cache function``) means compiling anew in each process, not failing."""
    def compile_kernel(function):
        try:
            return numba.njit(**options)(function)
        except RuntimeError as exc:
            if not options.get("cache") or "cannot cache" not in str(exc):
                raise
            if not _NO_CACHE_SAID:
                _NO_CACHE_SAID.append(True)
                warnings.warn("threatclf's compiled scorer cannot be cached on disk here (no writable folder for "
                              "numba's cache): it is compiled again in each process (15-30 s). Set NUMBA_CACHE_DIR "
                              "to a writable folder to keep it", RuntimeWarning, stacklevel=2)
            return numba.njit(**{**options, "cache": False})(function)
    return compile_kernel


_NO_CACHE_SAID: list = []  # the warning is given once, not once per kernel

__all__ = ["CompiledTfidf", "CompiledLinearScorer", "is_supported"]

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"

_FNV_BASIS = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_DEBRUIJN_MUL = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN = np.zeros(64, dtype=np.int32)
for _i in range(64):
    _DEBRUIJN[((((1 << _i) * 0x03F79D71B4CB0A89) & (2**64 - 1)) >> 58)] = _i
del _i
_K1 = np.uint64(0xC2B2AE3D27D4EB4F)
_M42 = np.uint64((1 << 42) - 1)
_PACK_MAX = 5
#: Packed char tables store a feature id + 1 in the 22 bits above the 42 bits of key: at most this many features.
PACKED_MAX_FEATURES = (1 << (64 - 42)) - 1
_FLAG_WORD = np.uint8(1)
_FLAG_SPACE = np.uint8(2)

_NORM_CODES = {None: 0, "l1": 1, "l2": 2}
_ANALYZER_CODES = {"word": 0, "char_wb": 1, "char": 2}
# blocks smaller than this are not worth a thread
_MIN_CHARS_PER_THREAD = 20_000

# --------------------------------------------------------------------------------------
# code point classes, read from ``re`` itself
# --------------------------------------------------------------------------------------
_CHAR_FLAGS: np.ndarray | None = None
_CHAR_FLAGS_LOCK = threading.Lock()


def _build_char_flags() -> np.ndarray:
    """uint8 per code point: bit 0 = matches ``\\w``, bit 1 = matches ``\\s`` (``re``, str).

    ``\\s`` is also what ``str.split()`` splits on (both are ``Py_UNICODE_ISSPACE``); the
    unit tests check that, and ``\\w`` == ``str.isalnum() or "_"``, over all code points.
    """
    n = sys.maxunicode + 1
    every = "".join(map(chr, range(n)))
    flags = np.zeros(n, dtype=np.uint8)
    for m in re.finditer(r"\w+", every):
        flags[m.start() : m.end()] |= 1
    for m in re.finditer(r"\s+", every):
        flags[m.start() : m.end()] |= 2
    flags.setflags(write=False)
    return flags


def _char_flags() -> np.ndarray:
    global _CHAR_FLAGS
    if _CHAR_FLAGS is None:
        with _CHAR_FLAGS_LOCK:
            if _CHAR_FLAGS is None:
                _CHAR_FLAGS = _build_char_flags()
    return _CHAR_FLAGS


# --------------------------------------------------------------------------------------
# numba kernels
#
# Hash tables are uint64 arrays of shape (capacity, 4), capacity a power of two, load
# <= 0.5, linear probing from the top bits of hash * golden ratio. A row is
#   [hash, id + 1 (0 = empty slot), key length, key offset in the key pool]
# and a hit needs equal hash, equal length and equal key elements (code points or token
# ids), so lookups are exact whatever the hash function does.
# --------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _hash_range(buf, start, length):
    h = _FNV_BASIS
    for k in range(start, start + length):
        h = (h ^ np.uint64(buf[k])) * _FNV_PRIME
    return h


@njit(cache=True, nogil=True)
def _build_table(pool, off, key_id, bits):
    """Table of keys pool[off[k]:off[k+1]] -> key_id[k] (keys must be distinct)."""
    cap = 1 << bits
    mask = cap - 1
    shift = np.uint64(64 - bits)
    tab = np.zeros((cap, 4), dtype=np.uint64)
    for k in range(off.shape[0] - 1):
        ln = off[k + 1] - off[k]
        h = _hash_range(pool, off[k], ln)
        i = np.intp((h * _GOLDEN) >> shift)
        while tab[i, 1] != 0:
            i = (i + 1) & mask
        tab[i, 0] = h
        tab[i, 1] = np.uint64(key_id[k] + 1)
        tab[i, 2] = np.uint64(ln)
        tab[i, 3] = np.uint64(off[k])
    return tab


@njit(cache=True, nogil=True, inline="always")
def _lookup(h, buf, start, length, tab, shift, pool):
    """Id of the key equal to buf[start:start+length] (whose hash is h), or -1."""
    mask = tab.shape[0] - 1
    i = np.intp((h * _GOLDEN) >> shift)
    while True:
        idp1 = np.int64(tab[i, 1])
        if idp1 == 0:
            return np.int64(-1)
        if tab[i, 0] == h and np.int64(tab[i, 2]) == length:
            p = np.int64(tab[i, 3])
            same = True
            for k in range(length):
                if np.int64(pool[p + k]) != np.int64(buf[start + k]):
                    same = False
                    break
            if same:
                return idp1 - 1
        i = (i + 1) & mask


@njit(cache=True, nogil=True, inline="always")
def _pack(buf, start, length):
    """Exact 126-bit key of a string of <= 6 code points: 21 bits per (code point + 1)."""
    lo = np.uint64(0)
    hi = np.uint64(0)
    for k in range(min(length, 3)):
        lo = (lo << np.uint64(21)) | (np.uint64(buf[start + k]) + np.uint64(1))
    for k in range(3, length):
        hi = (hi << np.uint64(21)) | (np.uint64(buf[start + k]) + np.uint64(1))
    return lo, hi


@njit(cache=True, nogil=True)
def _build_packed(pool, off, key_id, bits, max_len):
    """Table (capacity, 2) of short keys (1..max_len <= 5 code points) stored exactly:
    row = [chars 1-3, chars 4-5 | (id + 1) << 42]; row[0] == 0 marks an empty slot."""
    cap = 1 << bits
    mask = cap - 1
    shift = np.uint64(64 - bits)
    tab = np.zeros((cap, 2), dtype=np.uint64)
    for k in range(off.shape[0] - 1):
        ln = off[k + 1] - off[k]
        if ln == 0 or ln > max_len:
            continue  # can never be generated
        lo, hi = _pack(pool, off[k], ln)
        i = np.intp(((lo ^ (hi * _K1)) * _GOLDEN) >> shift)
        while tab[i, 0] != 0:
            i = (i + 1) & mask
        tab[i, 0] = lo
        tab[i, 1] = hi | (np.uint64(key_id[k] + 1) << np.uint64(42))
    return tab


@njit(cache=True, nogil=True, inline="always")
def _lookup_packed(buf, start, length, tab, shift):
    """Id of the key buf[start:start+length] (length <= 5) in a packed table, or -1."""
    lo, hi = _pack(buf, start, length)
    mask = tab.shape[0] - 1
    i = np.intp(((lo ^ (hi * _K1)) * _GOLDEN) >> shift)
    while True:
        r = tab[i, 0]
        if r == 0:
            return np.int64(-1)
        if r == lo and (tab[i, 1] & _M42) == hi:
            return np.int64(tab[i, 1] >> np.uint64(42)) - 1
        i = (i + 1) & mask


@njit(cache=True, nogil=True, inline="always")
def _lookup_any(h, buf, start, length, tab, shift, pool, packed):
    if packed:
        return _lookup_packed(buf, start, length, tab, shift)
    return _lookup(h, buf, start, length, tab, shift, pool)


@njit(cache=True, nogil=True)
def _sort_cols(touched, nt, perm, bitmap):
    """touched[:nt] (distinct internal ids) := their output columns, ascending.

    Small rows are sorted directly; larger ones through a bitmap over all columns
    (set, then scan with a de Bruijn lowest-bit lookup), which is linear.
    """
    for k in range(nt):
        touched[k] = perm[touched[k]]
    n_words = bitmap.shape[0]
    if nt * 16 < n_words:
        touched[:nt].sort()
        return
    for k in range(nt):
        c = touched[k]
        bitmap[c >> 6] |= np.uint64(1) << np.uint64(c & 63)
    k = 0
    for w in range(n_words):
        x = bitmap[w]
        if x == 0:
            continue
        bitmap[w] = 0
        base = w << 6
        while x != 0:
            low = x & (~x + np.uint64(1))
            touched[k] = base + _DEBRUIJN[np.intp((low * _DEBRUIJN_MUL) >> np.uint64(58))]
            k += 1
            x ^= low


@njit(cache=True, nogil=True, inline="always")
def _emit_row(row, touched, nt, counter, idf, perm, inv, sublinear, binary, norm_kind,
              log_tab, want_csr, out_idx, out_val, pos, want_scores, W, scores, acc,
              bitmap):
    """Turn the counts of one document into its CSR row and/or its scores.

    ``touched[:nt]`` are internal feature ids; ``perm`` maps them to output columns.
    Resets ``counter`` for the next document.
    """
    if nt == 0:
        return pos
    if want_csr:
        _sort_cols(touched, nt, perm, bitmap)
    n_labels = acc.shape[0]
    for l in range(n_labels):
        acc[l] = 0.0
    nrm = 0.0
    for k in range(nt):
        if want_csr:
            col = touched[k]
            f = inv[col]
        else:
            f = touched[k]
            col = f
        c = counter[f]
        counter[f] = 0
        if binary or c == 1:
            tf = 1.0
        elif sublinear:
            if c < log_tab.shape[0]:
                tf = log_tab[c]
            else:
                tf = np.log(np.float64(c)) + 1.0
        else:
            tf = np.float64(c)
        v = tf * (W[f, 0] if want_scores else idf[f])
        if norm_kind == 2:
            nrm += v * v
        elif norm_kind == 1:
            nrm += abs(v)
        if want_csr:
            out_idx[pos + k] = col
            out_val[pos + k] = v
        if want_scores:
            for l in range(n_labels):
                acc[l] += tf * W[f, l + 1]
    if norm_kind == 2:
        nrm = np.sqrt(nrm)
    if norm_kind == 0 or nrm == 0.0:
        nrm = 1.0
    if want_csr and norm_kind != 0:
        for k in range(nt):
            out_val[pos + k] = out_val[pos + k] / nrm
    if want_scores:
        for l in range(n_labels):
            scores[row, l] += acc[l] / nrm
    return pos + nt


@njit(cache=True, nogil=True)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, nogil=True)
def _rehash(tab, bits):
    cap = 1 << bits
    mask = cap - 1
    shift = np.uint64(64 - bits)
    new = np.zeros((cap, 4), dtype=np.uint64)
    for r in range(tab.shape[0]):
        if tab[r, 1] != 0:
            i = np.intp((tab[r, 0] * _GOLDEN) >> shift)
            while new[i, 1] != 0:
                i = (i + 1) & mask
            for c in range(4):
                new[i, c] = tab[r, c]
    return new


@njit(cache=True, nogil=True)
def _max_len(doc_off, d0, d1):
    m = 0
    for d in range(d0, d1):
        m = max(m, doc_off[d + 1] - doc_off[d])
    return m


@njit(cache=True, nogil=True)
def _new_out(want_csr, n_docs, n_features):
    n = max(1 << 16, 2 * n_features) if want_csr else 0
    return (np.zeros(n_docs + 1, dtype=np.int64), np.empty(n, dtype=np.int32),
            np.empty(n, dtype=np.float64))


# The hot loops below live in "chunk" functions whose arrays are never re-bound: numba
# otherwise reference-counts such arrays on every use (atomic inc/dec), which was ~45%
# of the run time. A chunk processes documents until one might not fit in the current
# buffers, then returns so that the caller can grow them and call it again.
_NEED_OUT = 1
_NEED_IDS = 2
_NEED_POOL = 3
_NEED_TABLE = 4


@njit(cache=True, nogil=True)
def _word_chunk(cps, doc_off, d0, d1, flags, min_n, max_n,
                ttab, tshift, tpool, tok_uni, tok_stop, gtab, gshift, gpool,
                idf, perm, inv, sublinear, binary, norm_kind, log_tab,
                want_csr, want_scores, W, scores,
                counter, touched, acc, bitmap, doc_tok, indptr, out_idx, out_val, st):
    n_features = counter.shape[0]
    lo = max(min_n, 2)
    d = st[0]
    pos = st[1]
    status = 0
    while d < d1:
        if want_csr and out_idx.shape[0] - pos < n_features:
            status = _NEED_OUT
            break
        s = doc_off[d]
        e = doc_off[d + 1]
        nt = 0
        n_tok = 0
        i = s
        while i < e:
            if not (flags[cps[i]] & _FLAG_WORD):
                i += 1
                continue
            j = i
            h = _FNV_BASIS
            while j < e and (flags[cps[j]] & _FLAG_WORD):
                h = (h ^ np.uint64(cps[j])) * _FNV_PRIME
                j += 1
            if j - i >= 2:
                t = _lookup(h, cps, i, j - i, ttab, tshift, tpool)
                if t >= 0:
                    if tok_stop[t]:
                        i = j
                        continue
                    if min_n == 1:
                        f = tok_uni[t]
                        if f >= 0:
                            touched[nt] = f
                            nt += counter[f] == 0
                            counter[f] += 1
                doc_tok[n_tok] = t
                n_tok += 1
            i = j
        if max_n >= lo:
            for a in range(n_tok - lo + 1):
                if doc_tok[a] < 0:
                    continue
                hh = _FNV_BASIS
                for m in range(max_n):
                    if a + m >= n_tok:
                        break
                    t = doc_tok[a + m]
                    if t < 0:
                        break
                    hh = (hh ^ np.uint64(t)) * _FNV_PRIME
                    if m + 1 >= lo:
                        f = _lookup(hh, doc_tok, a, m + 1, gtab, gshift, gpool)
                        if f >= 0:
                            touched[nt] = f
                            nt += counter[f] == 0
                            counter[f] += 1
        pos = _emit_row(d - d0, touched, nt, counter, idf, perm, inv, sublinear, binary,
                        norm_kind, log_tab, want_csr, out_idx, out_val, pos, want_scores,
                        W, scores, acc, bitmap)
        indptr[d - d0 + 1] = pos
        d += 1
    st[0] = d
    st[1] = pos
    return status


@njit(cache=True, nogil=True)
def _kernel_word(cps, doc_off, d0, d1, flags, min_n, max_n,
                 ttab, tshift, tpool, tok_uni, tok_stop, gtab, gshift, gpool,
                 n_features, idf, perm, inv, sublinear, binary, norm_kind, log_tab,
                 want_csr, want_scores, W, scores):
    """analyzer='word' (default token pattern) for documents d0..d1-1.

    Tokens are looked up in a dictionary of every token that occurs in a vocabulary
    term or the stop list (``ttab``); n-grams (n >= 2) are looked up as sequences of
    token ids (``gtab``), which is exact because tokens never contain a space.
    Returns (indptr int64[n+1], indices int32, values float64); the last two are empty
    unless want_csr. Scores are *added* to scores[row, :].
    """
    n_docs = d1 - d0
    counter = np.zeros(n_features, dtype=np.int32)
    touched = np.empty(n_features + 1, dtype=np.int32)
    acc = np.zeros(scores.shape[1] if want_scores else 0, dtype=np.float64)
    bitmap = np.zeros((n_features + 63) // 64 if want_csr else 0, dtype=np.uint64)
    doc_tok = np.empty(_max_len(doc_off, d0, d1) // 2 + 2, dtype=np.int32)
    indptr, out_idx, out_val = _new_out(want_csr, n_docs, n_features)
    st = np.zeros(2, dtype=np.int64)
    st[0] = d0
    while True:
        status = _word_chunk(cps, doc_off, d0, d1, flags, min_n, max_n,
                             ttab, tshift, tpool, tok_uni, tok_stop, gtab, gshift, gpool,
                             idf, perm, inv, sublinear, binary, norm_kind, log_tab,
                             want_csr, want_scores, W, scores,
                             counter, touched, acc, bitmap, doc_tok, indptr, out_idx,
                             out_val, st)
        if status == 0:
            break
        out_idx = _grow(out_idx, st[1] + n_features)
        out_val = _grow(out_val, st[1] + n_features)
    pos = st[1]
    return indptr, out_idx[:pos], out_val[:pos]


@njit(cache=True, nogil=True)
def _char_chunk(char_wb, cps, doc_off, d0, d1, flags, min_n, max_n,
                tab, shift, pool, packed, idf, perm, inv, sublinear, binary,
                norm_kind, log_tab, want_csr, want_scores, W, scores,
                counter, touched, acc, bitmap, scratch, indptr, out_idx, out_val,
                wtab, wpool, ids, w_hash, w_pos, w_len, w_start, st):
    # st = [next document, pos, n_ids, n_wpool, n_words, wbits]
    n_features = counter.shape[0]
    nn = max_n - min_n + 1
    d = st[0]
    pos = st[1]
    n_ids = st[2]
    n_wpool = st[3]
    n_words = st[4]
    wbits = st[5]
    wmask = wtab.shape[0] - 1
    wshift = np.uint64(64 - wbits)
    status = 0
    while d < d1:
        s = doc_off[d]
        e = doc_off[d + 1]
        dl = e - s
        if want_csr and out_idx.shape[0] - pos < n_features:
            status = _NEED_OUT
            break
        if char_wb:
            if ids.shape[0] - n_ids < (3 * dl + 2) * (nn + 1):
                status = _NEED_IDS
                break
            if wpool.shape[0] - n_wpool < dl:
                status = _NEED_POOL
                break
            if 2 * (n_words + dl // 2 + 1) > wtab.shape[0]:
                status = _NEED_TABLE
                break
        nt = 0
        if not char_wb:
            # collapse runs of >= 2 whitespace chars to " " (re.sub(r"\s\s+", " "))
            L = 0
            i = s
            while i < e:
                c = cps[i]
                if flags[c] & _FLAG_SPACE:
                    j = i + 1
                    while j < e and (flags[cps[j]] & _FLAG_SPACE):
                        j += 1
                    scratch[L] = np.uint32(32) if j - i >= 2 else c
                    L += 1
                    i = j
                else:
                    scratch[L] = c
                    L += 1
                    i += 1
            for a in range(L):
                h = _FNV_BASIS
                for m in range(1, max_n + 1):
                    if a + m > L:
                        break
                    h = (h ^ np.uint64(scratch[a + m - 1])) * _FNV_PRIME
                    if m >= min_n:
                        f = _lookup_any(h, scratch, a, m, tab, shift, pool, packed)
                        if f >= 0:
                            touched[nt] = f
                            nt += counter[f] == 0
                            counter[f] += 1
        else:
            # pass 1: the document's words (hash, start, length)
            nw = 0
            i = s
            while i < e:
                if flags[cps[i]] & _FLAG_SPACE:
                    i += 1
                    continue
                j = i
                h = _FNV_BASIS
                while j < e and not (flags[cps[j]] & _FLAG_SPACE):
                    h = (h ^ np.uint64(cps[j])) * _FNV_PRIME
                    j += 1
                w_hash[nw] = h
                w_pos[nw] = i
                w_len[nw] = j - i
                nw += 1
                i = j
            # pass 2: their cached feature lists (independent lookups overlap in memory)
            for w in range(nw):
                h = w_hash[w]
                i = w_pos[w]
                wl = w_len[w]
                slot = np.intp((h * _GOLDEN) >> wshift)
                start = np.int64(-1)
                while True:
                    if wtab[slot, 1] == 0:
                        break
                    if wtab[slot, 0] == h and np.int64(wtab[slot, 1]) == wl + 1:
                        p = np.int64(wtab[slot, 2])
                        same = True
                        for k in range(wl):
                            if wpool[p + k] != cps[i + k]:
                                same = False
                                break
                        if same:
                            start = np.int64(wtab[slot, 3])
                            break
                    slot = (slot + 1) & wmask
                if start < 0:
                    # ---- new word: n-grams of " " + word + " " (sklearn's loop)
                    L = wl + 2
                    scratch[0] = 32
                    for k in range(wl):
                        scratch[k + 1] = cps[i + k]
                    scratch[L - 1] = 32
                    start = n_ids
                    n_ids += 1
                    if L < min_n:
                        f = _lookup_any(_hash_range(scratch, 0, L), scratch, 0, L, tab,
                                        shift, pool, packed)
                        if f >= 0:
                            ids[n_ids] = f
                            n_ids += 1
                    else:
                        top = min(max_n, L)
                        for a in range(L):
                            hh = _FNV_BASIS
                            for m in range(1, top + 1):
                                if a + m > L:
                                    break
                                hh = (hh ^ np.uint64(scratch[a + m - 1])) * _FNV_PRIME
                                if m >= min_n:
                                    f = _lookup_any(hh, scratch, a, m, tab, shift, pool,
                                                    packed)
                                    if f >= 0:
                                        ids[n_ids] = f
                                        n_ids += 1
                    ids[start] = n_ids - start - 1
                    for k in range(wl):
                        wpool[n_wpool + k] = cps[i + k]
                    wtab[slot, 0] = h
                    wtab[slot, 1] = np.uint64(wl + 1)
                    wtab[slot, 2] = np.uint64(n_wpool)
                    wtab[slot, 3] = np.uint64(start)
                    n_wpool += wl
                    n_words += 1
                w_start[w] = start
            # pass 3: count
            for w in range(nw):
                start = w_start[w]
                cnt = ids[start]
                for k in range(start + 1, start + 1 + cnt):
                    f = ids[k]
                    touched[nt] = f
                    nt += counter[f] == 0
                    counter[f] += 1
        pos = _emit_row(d - d0, touched, nt, counter, idf, perm, inv, sublinear, binary,
                        norm_kind, log_tab, want_csr, out_idx, out_val, pos, want_scores,
                        W, scores, acc, bitmap)
        indptr[d - d0 + 1] = pos
        d += 1
    st[0] = d
    st[1] = pos
    st[2] = n_ids
    st[3] = n_wpool
    st[4] = n_words
    return status


@njit(cache=True, nogil=True)
def _kernel_char(char_wb, cps, doc_off, d0, d1, flags, min_n, max_n,
                 tab, shift, pool, packed, n_features, idf, perm, inv, sublinear, binary,
                 norm_kind, log_tab, want_csr, want_scores, W, scores):
    """analyzer='char_wb' (char_wb=True) or 'char' for documents d0..d1-1.

    char_wb: the features of a whitespace-delimited word are computed once per call and
    kept in a cache (``wtab`` -> ``ids``), keyed by the word's code points (``wpool``).
    Returns like :func:`_kernel_word`.
    """
    n_docs = d1 - d0
    counter = np.zeros(n_features, dtype=np.int32)
    touched = np.empty(n_features + 1, dtype=np.int32)
    acc = np.zeros(scores.shape[1] if want_scores else 0, dtype=np.float64)
    bitmap = np.zeros((n_features + 63) // 64 if want_csr else 0, dtype=np.uint64)
    max_len = _max_len(doc_off, d0, d1)
    scratch = np.empty(max_len + 2, dtype=np.uint32)
    indptr, out_idx, out_val = _new_out(want_csr, n_docs, n_features)
    nn = max_n - min_n + 1
    wb = max_len // 2 + 2 if char_wb else 0
    w_hash = np.empty(wb, dtype=np.uint64)
    w_pos = np.empty(wb, dtype=np.int64)
    w_len = np.empty(wb, dtype=np.int64)
    w_start = np.empty(wb, dtype=np.int64)
    wbits = 12
    wtab = np.zeros((1 << wbits, 4) if char_wb else (1, 4), dtype=np.uint64)
    wpool = np.empty(1 << 16 if char_wb else 0, dtype=np.uint32)
    ids = np.empty(1 << 18 if char_wb else 0, dtype=np.int32)
    st = np.zeros(6, dtype=np.int64)
    st[0] = d0
    st[5] = wbits
    while True:
        status = _char_chunk(char_wb, cps, doc_off, d0, d1, flags, min_n, max_n,
                             tab, shift, pool, packed, idf, perm, inv, sublinear, binary,
                             norm_kind, log_tab, want_csr, want_scores, W, scores,
                             counter, touched, acc, bitmap, scratch, indptr, out_idx,
                             out_val, wtab, wpool, ids, w_hash, w_pos, w_len, w_start, st)
        if status == 0:
            break
        d = st[0]
        dl = doc_off[d + 1] - doc_off[d]
        if status == _NEED_OUT:
            out_idx = _grow(out_idx, st[1] + n_features)
            out_val = _grow(out_val, st[1] + n_features)
        elif status == _NEED_IDS:
            ids = _grow(ids, st[2] + (3 * dl + 2) * (nn + 1))
        elif status == _NEED_POOL:
            wpool = _grow(wpool, st[3] + dl)
        else:
            while 2 * (st[4] + dl // 2 + 1) > (1 << st[5]):
                st[5] += 1
            wtab = _rehash(wtab, st[5])
    pos = st[1]
    return indptr, out_idx[:pos], out_val[:pos]


@njit(cache=True, nogil=True)
def _docs_with_surrogates(units, off):
    n = off.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    for d in range(n):
        for k in range(off[d], off[d + 1]):
            if (units[k] & 0xF800) == 0xD800:
                out[d] = True
                break
    return out


@njit(cache=True, nogil=True)
def _widen(units, off, flagged, utf32):
    """uint32 code points: UTF-16 units of clean documents, ``utf32`` (concatenated, in
    order) for the ``flagged`` ones."""
    n = off.shape[0] - 1
    lens = np.empty(n, dtype=np.int64)
    for d in range(n):
        lens[d] = off[d + 1] - off[d]
    # lengths of the flagged documents in code points: walk utf32 by their UTF-16 sizes
    # (a code point takes 2 units iff it is > U+FFFF; lone surrogates take 1)
    q = 0
    for t in range(flagged.shape[0]):
        d = flagged[t]
        units_left = lens[d]
        count = 0
        while units_left > 0:
            units_left -= 2 if utf32[q] > 0xFFFF else 1
            q += 1
            count += 1
        lens[d] = count
    new_off = np.zeros(n + 1, dtype=np.int64)
    for d in range(n):
        new_off[d + 1] = new_off[d] + lens[d]
    cps = np.empty(new_off[n], dtype=np.uint32)
    q = 0
    t = 0
    for d in range(n):
        dst = new_off[d]
        if t < flagged.shape[0] and flagged[t] == d:
            for k in range(lens[d]):
                cps[dst + k] = utf32[q + k]
            q += lens[d]
            t += 1
        else:
            for k in range(off[d], off[d + 1]):
                cps[dst + k - off[d]] = units[k]
    return cps, new_off


@njit(cache=True, nogil=True)
def _scatter(indptr_out, idx_out, val_out, row0, indptr_b, idx_b, val_b, col_off, fill):
    """Copy a block's rows of one matrix into the final CSR arrays after earlier parts.

    ``fill[r]`` is how many entries of global row row0 + r are already written.
    """
    n = indptr_b.shape[0] - 1
    for r in range(n):
        dst = indptr_out[row0 + r] + fill[r]
        a = indptr_b[r]
        b = indptr_b[r + 1]
        for k in range(a, b):
            idx_out[dst] = idx_b[k] + col_off
            val_out[dst] = val_b[k]
            dst += 1
        fill[r] += b - a


# --------------------------------------------------------------------------------------
# Python side
# --------------------------------------------------------------------------------------
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _forget_pool_after_fork() -> None:
    # a forked child inherits the pool object but not its threads
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(
                    max_workers=max(2, os.cpu_count() or 2),
                    thread_name_prefix="threatclf-fastvec",
                )
    return _POOL


def _encode_terms(terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(terms) + 1, dtype=np.int64)
    if terms:
        np.cumsum(np.fromiter(map(len, terms), dtype=np.int64, count=len(terms)),
                  out=off[1:])
    # a writable copy: unpickled arrays are writable, and numba compiles separately
    # for read-only arrays
    cps = np.frombuffer("".join(terms).encode("utf-32-le", "surrogatepass"),
                        dtype=np.uint32).copy()
    return cps, off


def _key_table(pool: np.ndarray, off: np.ndarray,
               key_id: np.ndarray) -> tuple[np.ndarray, int]:
    n = off.shape[0] - 1
    bits = max(4, int(2 * max(n, 1) - 1).bit_length())  # capacity >= 2n
    return _build_table(pool, off, np.asarray(key_id, dtype=np.int64), bits), bits


def _decode_one(doc, encoding: str, decode_error: str) -> str:
    if isinstance(doc, bytes):
        return doc.decode(encoding, decode_error)
    if isinstance(doc, str):
        return doc
    if doc is np.nan:
        raise ValueError("np.nan is an invalid document, expected byte or unicode string.")
    raise TypeError(f"documents must be str or bytes, got {type(doc).__name__}")


_NO_UTF32 = np.zeros(0, dtype=np.uint32)


class _Batch:
    """Documents (after optional lowercasing) as one uint32 code point array + offsets.

    Documents are encoded as UTF-16 (the cheapest codec from Python); the few that
    contain surrogates (astral characters such as emoji, or lone surrogates) are
    re-encoded as UTF-32, and numba merges both into code points.
    """

    __slots__ = ("cps", "off", "n")

    def __init__(self, texts, lowercase: bool, encoding="utf-8", decode_error="strict"):
        if isinstance(texts, (str, bytes)):
            raise ValueError(
                "Iterable over raw text documents expected, string object received."
            )
        if not isinstance(texts, list):
            texts = list(texts)
        docs = texts
        try:
            if lowercase:
                encs = [t.lower().encode("utf-16-le", "surrogatepass") for t in docs]
            else:
                encs = [t.encode("utf-16-le", "surrogatepass") for t in docs]
        except (TypeError, AttributeError):
            docs = [_decode_one(t, encoding, decode_error) for t in texts]
            if lowercase:
                docs = [t.lower() for t in docs]
                lowercase = False
            encs = [t.encode("utf-16-le", "surrogatepass") for t in docs]
        n = len(encs)
        units = np.frombuffer(b"".join(encs), dtype=np.uint16)
        off = np.zeros(n + 1, dtype=np.int64)
        if n:
            np.cumsum(np.fromiter(map(len, encs), dtype=np.int64, count=n), out=off[1:])
            off //= 2
        flagged = np.flatnonzero(_docs_with_surrogates(units, off))
        if flagged.size:
            # astral characters or lone surrogates: re-encode those documents as UTF-32
            if lowercase:
                enc32 = b"".join([docs[i].lower().encode("utf-32-le", "surrogatepass")
                                  for i in flagged])
            else:
                enc32 = b"".join([docs[i].encode("utf-32-le", "surrogatepass")
                                  for i in flagged])
            utf32 = np.frombuffer(enc32, dtype=np.uint32)
        else:
            utf32 = _NO_UTF32
        # always uint32 code points: one compiled variant of every kernel
        units, off = _widen(units, off, flagged, utf32)
        self.cps = units
        self.off = off
        self.n = n


def _blocks(off: np.ndarray, n_threads: int) -> list[tuple[int, int]]:
    n = off.shape[0] - 1
    total = int(off[-1])
    k = max(1, min(int(n_threads), n, total // _MIN_CHARS_PER_THREAD + 1))
    if k == 1:
        return [(0, n)]
    cuts = np.searchsorted(off, np.linspace(0, total, k + 1)[1:-1], side="left")
    bounds = [0] + sorted(set(int(c) for c in cuts if 0 < c < n)) + [n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _run_blocks(fn, blocks):
    if len(blocks) == 1:
        return [fn(*blocks[0])]
    pool = _pool()
    futures = [pool.submit(fn, a, b) for a, b in blocks[1:]]
    first = fn(*blocks[0])
    return [first] + [f.result() for f in futures]


def _check_supported(vectorizer) -> None:
    """Raise ValueError naming the first setting this module cannot reproduce."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(vectorizer, TfidfVectorizer):
        raise ValueError(
            f"expected a fitted sklearn TfidfVectorizer, got {type(vectorizer).__name__}"
        )
    for name in ("build_analyzer", "build_preprocessor", "build_tokenizer", "decode",
                 "_word_ngrams", "_char_ngrams", "_char_wb_ngrams", "_count_vocab",
                 "transform", "get_stop_words"):
        if getattr(type(vectorizer), name) is not getattr(TfidfVectorizer, name):
            raise ValueError(f"unsupported: subclass overrides TfidfVectorizer.{name}")
    check_is_fitted(vectorizer, msg="The TF-IDF vectorizer is not fitted")
    if not hasattr(vectorizer, "_tfidf") or not hasattr(vectorizer, "vocabulary_"):
        raise ValueError("unsupported: the TF-IDF vectorizer is not fitted")
    v = vectorizer
    if v.input != "content":
        raise ValueError(f"unsupported setting input={v.input!r} (only 'content')")
    if callable(v.analyzer) or v.analyzer not in _ANALYZER_CODES:
        raise ValueError(
            f"unsupported setting analyzer={v.analyzer!r} (only 'word', 'char_wb', 'char')"
        )
    if v.strip_accents is not None:
        raise ValueError(f"unsupported setting strip_accents={v.strip_accents!r}")
    if v.preprocessor is not None:
        raise ValueError("unsupported setting preprocessor (must be None)")
    if not isinstance(v.lowercase, (bool, np.bool_)):
        raise ValueError(f"unsupported setting lowercase={v.lowercase!r}")
    if v.analyzer == "word":
        if v.tokenizer is not None:
            raise ValueError("unsupported setting tokenizer (must be None)")
        if v.token_pattern != DEFAULT_TOKEN_PATTERN:
            raise ValueError(
                f"unsupported setting token_pattern={v.token_pattern!r} "
                f"(only the default {DEFAULT_TOKEN_PATTERN!r})"
            )
        try:
            v.get_stop_words()
        except Exception as exc:  # noqa: BLE001 - reported as unsupported
            raise ValueError(f"unsupported setting stop_words={v.stop_words!r}") from exc
    try:
        min_n, max_n = v.ngram_range
        ok = int(min_n) == min_n and int(max_n) == max_n and 1 <= min_n <= max_n
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"unsupported setting ngram_range={v.ngram_range!r}")
    if np.dtype(v.dtype) not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"unsupported setting dtype={v.dtype!r} (float64 or float32)")
    t = v._tfidf
    if t.norm not in _NORM_CODES:
        raise ValueError(f"unsupported setting norm={t.norm!r}")
    vocab = v.vocabulary_
    n = len(vocab)
    if n == 0:
        raise ValueError("unsupported: empty vocabulary_")
    idf = getattr(t, "idf_", None)
    if idf is not None and np.shape(idf) != (n,):
        raise ValueError("unsupported: idf_ length differs from the vocabulary size")


def is_supported(vectorizer) -> bool:
    """True if :meth:`CompiledTfidf.from_vectorizer` accepts ``vectorizer``."""
    try:
        _check_supported(vectorizer)
    except ValueError:
        return False
    return True


class CompiledTfidf:
    """A fitted ``TfidfVectorizer`` frozen into arrays; ``transform`` is exact and fast.

    Build with :meth:`from_vectorizer`. Instances hold only numpy arrays and plain
    Python values, so they pickle.
    """

    def __init__(self, *, analyzer: str, lowercase: bool, ngram_range: tuple[int, int],
                 norm, sublinear_tf: bool, binary: bool, dtype, idf: np.ndarray,
                 terms: Sequence[str], stop_words: Sequence[str] | None,
                 encoding: str = "utf-8", decode_error: str = "strict"):
        self.analyzer = str(analyzer)
        self.lowercase = bool(lowercase)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.norm = norm
        self.sublinear_tf = bool(sublinear_tf)
        self.binary = bool(binary)
        self.dtype = np.dtype(dtype)
        self.encoding = encoding
        self.decode_error = decode_error
        self.idf = np.ascontiguousarray(idf, dtype=np.float64)
        n = self.idf.shape[0]
        if len(terms) != n:
            raise ValueError("idf and terms differ in length")
        # internal feature ids: by increasing idf (decreasing document frequency), so the
        # features hit most often share cache lines in the counters and weight rows
        self.perm = np.argsort(self.idf, kind="stable").astype(np.int32)  # internal->col
        self.inv = np.empty(n, dtype=np.int32)                               # col->internal
        self.inv[self.perm] = np.arange(n, dtype=np.int32)
        self.idf_internal = np.ascontiguousarray(self.idf[self.perm])
        tab = np.zeros(256, dtype=np.float64)
        tab[1:] = np.log(np.arange(1, 256, dtype=np.float64)) + 1.0
        self.log_tab = tab
        stop = sorted(stop_words) if (stop_words and self.analyzer == "word") else []
        if self.analyzer == "word":
            self._init_word_tables(terms, stop)
        else:
            self.pool, off = _encode_terms(terms)
            # n-grams of <= 5 code points: exact packed keys, denser table, no pool reads
            # (a packed row keeps the id in its top 22 bits: a larger vocabulary takes the pool table)
            self.packed = self.ngram_range[1] <= _PACK_MAX and n < PACKED_MAX_FEATURES
            if self.packed:
                n_short = int(np.count_nonzero(np.diff(off) <= _PACK_MAX))
                self.tab_bits = max(4, int(np.ceil(max(n_short, 1) * 1.4)).bit_length())
                self.tab = _build_packed(self.pool, off, self.inv.astype(np.int64),
                                         self.tab_bits, _PACK_MAX)
            else:
                self.tab, self.tab_bits = _key_table(self.pool, off, self.inv)

    def _init_word_tables(self, terms: Sequence[str], stop: Sequence[str]) -> None:
        """Token dictionary + n-gram table keyed by token-id sequences."""
        tok_index: dict[str, int] = {}
        setdefault = tok_index.setdefault
        uni: dict[int, int] = {}
        ng_ids: list[int] = []
        ng_len: list[int] = []
        ng_fid: list[int] = []
        inv = self.inv.tolist()
        for j, term in enumerate(terms):
            parts = term.split(" ")
            if len(parts) == 1:
                uni[setdefault(term, len(tok_index))] = inv[j]
            else:
                ng_ids.extend([setdefault(p, len(tok_index)) for p in parts])
                ng_len.append(len(parts))
                ng_fid.append(inv[j])
        stop_ids = [setdefault(w, len(tok_index)) for w in stop]
        n_tok = len(tok_index)
        self.tok_uni = np.full(n_tok, -1, dtype=np.int32)
        if uni:
            self.tok_uni[np.fromiter(uni.keys(), np.int64, len(uni))] = np.fromiter(
                uni.values(), np.int64, len(uni))
        self.tok_stop = np.zeros(n_tok, dtype=np.bool_)
        self.tok_stop[np.asarray(stop_ids, dtype=np.int64)] = True
        self.tpool, toff = _encode_terms(list(tok_index))
        self.ttab, self.ttab_bits = _key_table(self.tpool, toff, np.arange(n_tok))
        self.gpool = np.asarray(ng_ids, dtype=np.int32)
        goff = np.zeros(len(ng_len) + 1, dtype=np.int64)
        np.cumsum(np.asarray(ng_len, dtype=np.int64), out=goff[1:])
        self.gtab, self.gtab_bits = _key_table(self.gpool, goff, np.asarray(ng_fid))

    @classmethod
    def from_vectorizer(cls, vectorizer) -> "CompiledTfidf":
        """Snapshot a fitted ``TfidfVectorizer`` (not modified). ValueError if unsupported."""
        _check_supported(vectorizer)
        v = vectorizer
        vocab = v.vocabulary_
        n = len(vocab)
        terms: list = [None] * n
        try:
            for term, idx in vocab.items():
                if terms[idx] is not None:
                    raise IndexError
                terms[idx] = term
        except (IndexError, TypeError) as exc:
            raise ValueError("unsupported: vocabulary_ indices are not 0..n-1") from exc
        if any(not isinstance(t, str) for t in terms):
            raise ValueError("unsupported: vocabulary_ indices are not 0..n-1 / non-str terms")
        t = v._tfidf
        idf = getattr(t, "idf_", None)
        idf = np.ones(n) if idf is None else np.asarray(idf, dtype=np.float64)
        stop = v.get_stop_words() if v.analyzer == "word" else None
        return cls(analyzer=v.analyzer, lowercase=v.lowercase, ngram_range=v.ngram_range,
                   norm=t.norm, sublinear_tf=t.sublinear_tf, binary=v.binary,
                   dtype=v.dtype, idf=idf, terms=terms, stop_words=stop,
                   encoding=v.encoding, decode_error=v.decode_error)

    @property
    def n_features(self) -> int:
        return int(self.idf.shape[0])

    def __repr__(self) -> str:
        return (f"CompiledTfidf(analyzer={self.analyzer!r}, ngram_range={self.ngram_range},"
                f" n_features={self.n_features}, norm={self.norm!r})")

    # -- internals ---------------------------------------------------------------------
    def _batch(self, texts) -> _Batch:
        return _Batch(texts, self.lowercase, self.encoding, self.decode_error)

    def _run(self, batch: _Batch, d0: int, d1: int, want_csr: bool, W, scores):
        want_scores = scores is not None
        if not want_scores:
            W = _EMPTY_W
            scores = _EMPTY_W
        common = (self.idf_internal, self.perm, self.inv, self.sublinear_tf, self.binary,
                  _NORM_CODES[self.norm], self.log_tab, want_csr, want_scores, W, scores)
        min_n, max_n = self.ngram_range
        if self.analyzer == "word":
            return _kernel_word(
                batch.cps, batch.off, d0, d1, _char_flags(), min_n, max_n,
                self.ttab, np.uint64(64 - self.ttab_bits), self.tpool, self.tok_uni,
                self.tok_stop, self.gtab, np.uint64(64 - self.gtab_bits), self.gpool,
                self.n_features, *common)
        return _kernel_char(
            self.analyzer == "char_wb", batch.cps, batch.off, d0, d1, _char_flags(),
            min_n, max_n, self.tab, np.uint64(64 - self.tab_bits), self.pool, self.packed,
            self.n_features, *common)

    def transform(self, texts: Sequence[str], n_threads: int = 1) -> sp.csr_matrix:
        """Same as ``vectorizer.transform(texts)`` (CSR, sorted indices)."""
        return _transform_many([self], texts, n_threads, None, None, want_csr=True)[0]


_EMPTY_W = np.zeros((0, 0), dtype=np.float64)


def _transform_many(tfidfs: Sequence[CompiledTfidf], texts, n_threads: int,
                    Ws, intercept, want_csr: bool):
    """Run all ``tfidfs`` over ``texts``; hstack their CSR outputs and/or score them."""
    if not isinstance(texts, list):
        if isinstance(texts, (str, bytes)):
            raise ValueError(
                "Iterable over raw text documents expected, string object received."
            )
        texts = list(texts)
    n_threads = max(1, int(n_threads))
    batches: dict = {}
    for t in tfidfs:
        key = (t.lowercase, t.encoding, t.decode_error)
        if key not in batches:
            batches[key] = t._batch(texts)
    first = next(iter(batches.values()))
    n = first.n
    blocks = _blocks(first.off, n_threads)
    want_scores = Ws is not None
    scores = np.zeros((n, intercept.shape[0]), dtype=np.float64) if want_scores else None

    def work(d0, d1):
        parts = []
        for b, t in enumerate(tfidfs):
            batch = batches[(t.lowercase, t.encoding, t.decode_error)]
            parts.append(t._run(batch, d0, d1, want_csr,
                                Ws[b] if want_scores else None,
                                scores[d0:d1] if want_scores else None))
        return parts

    results = _run_blocks(work, blocks)
    if want_scores:
        scores += intercept
    if not want_csr:
        return None, scores

    n_cols = sum(t.n_features for t in tfidfs)
    dtype = np.result_type(*[t.dtype for t in tfidfs])
    if len(results) == 1 and len(tfidfs) == 1:
        indptr, idx, val = results[0][0]
        X = _make_csr(indptr, idx, val.astype(dtype, copy=False), (n, n_cols))
        return X, scores
    row_nnz = np.zeros(n, dtype=np.int64)
    for (d0, d1), parts in zip(blocks, results):
        for indptr, _, _ in parts:
            row_nnz[d0:d1] += np.diff(indptr)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    nnz = int(indptr[-1])
    idx_out = np.empty(nnz, dtype=np.int32)
    val_out = np.empty(nnz, dtype=dtype)
    col_offs = np.cumsum([0] + [t.n_features for t in tfidfs])

    def copy(i):
        d0, d1 = blocks[i]
        fill = np.zeros(d1 - d0, dtype=np.int64)
        for b, (ip, ix, vl) in enumerate(results[i]):
            _scatter(indptr, idx_out, val_out, d0, ip, ix, vl.astype(dtype, copy=False),
                     int(col_offs[b]), fill)

    if len(blocks) == 1:
        copy(0)
    else:
        list(_pool().map(copy, range(len(blocks))))
    return _make_csr(indptr, idx_out, val_out, (n, n_cols)), scores


def _make_csr(indptr, idx, val, shape) -> sp.csr_matrix:
    if int(indptr[-1]) <= np.iinfo(np.int32).max and shape[1] <= np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
        idx = idx.astype(np.int32, copy=False)
    else:
        idx = idx.astype(np.int64)
    X = sp.csr_matrix((val, idx, indptr), shape=shape, copy=False)
    X.has_sorted_indices = True
    return X


def _aligned_empty(shape, align: int = 64) -> np.ndarray:
    n = int(np.prod(shape))
    buf = np.empty(n + align // 8, dtype=np.float64)
    skip = (-buf.ctypes.data % align) // 8
    return buf[skip : skip + n].reshape(shape)


class CompiledLinearScorer:
    """``hstack([t.transform(texts) for t in tfidfs]) @ coef.T + intercept``, fused.

    ``coef`` has shape (n_labels, sum of the tfidfs' n_features), columns in ``tfidfs``
    order (a FeatureUnion / hstack); ``intercept`` has shape (n_labels,).
    """

    def __init__(self, tfidfs: Sequence[CompiledTfidf], coef: np.ndarray,
                 intercept: np.ndarray):
        self.tfidfs = list(tfidfs)
        if not self.tfidfs:
            raise ValueError("need at least one CompiledTfidf")
        coef = np.asarray(coef.toarray() if sp.issparse(coef) else coef, dtype=np.float64)
        if coef.ndim == 1:
            coef = coef[None, :]
        n_cols = sum(t.n_features for t in self.tfidfs)
        if coef.ndim != 2 or coef.shape[1] != n_cols:
            raise ValueError(
                f"coef must have shape (n_labels, {n_cols}), got {np.shape(coef)}"
            )
        intercept = np.broadcast_to(np.asarray(intercept, dtype=np.float64),
                                    (coef.shape[0],)).copy()
        self.coef = coef
        self.intercept = intercept
        self._build_weights()

    def _build_weights(self) -> None:
        # Per tfidf, one 64-byte aligned row per internal feature id:
        # [idf, idf * coef[0], ..., idf * coef[n_labels - 1], padding], so that a feature
        # costs one cache line when scoring.
        self.Ws = []
        start = 0
        width = -(-(self.n_labels + 1) // 8) * 8
        for t in self.tfidfs:
            stop = start + t.n_features
            W = _aligned_empty((t.n_features, width))
            W[:, 0] = t.idf_internal
            W[:, 1 : self.n_labels + 1] = (self.coef[:, start:stop].T * t.idf[:, None])[t.perm]
            W[:, self.n_labels + 1 :] = 0.0
            self.Ws.append(W)
            start = stop

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["Ws"]  # derived; rebuilt (and re-aligned) on load
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build_weights()

    @property
    def n_features(self) -> int:
        return sum(t.n_features for t in self.tfidfs)

    @property
    def n_labels(self) -> int:
        return int(self.coef.shape[0])

    def transform(self, texts, n_threads: int = 1) -> sp.csr_matrix:
        return _transform_many(self.tfidfs, texts, n_threads, None, None, want_csr=True)[0]

    def decision_function(self, texts, n_threads: int = 1) -> np.ndarray:
        return _transform_many(self.tfidfs, texts, n_threads, self.Ws, self.intercept,
                               want_csr=False)[1]

    def transform_and_score(self, texts, n_threads: int = 1):
        return _transform_many(self.tfidfs, texts, n_threads, self.Ws, self.intercept,
                               want_csr=True)

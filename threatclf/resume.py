"""Resumable runs: ``OUTPUT.partial/`` and the lock that keeps two runs off one output.

Each finished chunk of a run is three files in ``OUTPUT.partial/`` — records, rejects and a
done-marker written last — beside a manifest holding the run's fingerprint (inputs with their
sizes and time stamps, the model's weights digest, the options). A resumed run continues only
if the fingerprint is unchanged, and says in words what differs if not. Each chunk's stats
hold 8-byte digests of its row ids, from which the end of a run counts duplicate ids.

Two helpers here serve batch.py's other messages too: :func:`option_named` (a keyword
argument with the ``threatclf label`` flag that sets it) and :func:`make_folder` (an output
folder, made before its lock is taken).
"""
from __future__ import annotations

import base64
import glob
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .exceptions import DataError
from .readers import LENGTH_REASONS, is_stdin, path_within, txt_file_paths
from .writers import _json_line, atomic_path

if TYPE_CHECKING:  # pragma: no cover - for type hints only
    from .batch import LabelOptions
    from .classifier import ThreatClassifier

__all__ = ["CLI_FLAGS", "OUTPUT_FORMAT", "PARTIAL_SUFFIX", "ChunkStore", "digests_of", "exclusive_run", "id_digests",
           "input_stamps", "interrupted_rejects", "lock_path_of", "make_folder", "option_named", "run_fingerprint"]

logger = logging.getLogger("threatclf")


PARTIAL_SUFFIX = ".partial"


# ---------------------------------------------------------------------------------- files
def input_stamps(inputs: Sequence[Path]) -> list[dict]:
    """Each input's path, size, time stamp and SHA-256 (for a .txt folder, a digest of its files'
    names, sizes, time stamps and contents): changed, the input is not what was labelled. The digest catches
    an edit that keeps size and time stamp (``cp -p``, ``rsync -t`` and ``tar x`` restore the
    time); reading the input once more costs a second or so a gigabyte, against minutes to label it."""
    files = []
    for path in inputs:
        if is_stdin(path):  # read once, as it comes: nothing to stamp
            files.append({"path": "-"})
        elif not path.is_dir():
            stat = path.stat()
            entry = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            if path.is_file():  # not a named pipe: reading it here would take the rows the run is to label
                with open(path, "rb") as handle:
                    entry["sha256"] = hashlib.file_digest(handle, "sha256").hexdigest()
            files.append(entry)
        else:  # a folder of .txt files: a file added, removed or edited anywhere in it (not the folder's
            # own time stamp, which an output or its OUTPUT.partial/ written into it would move)
            entry = {"path": str(path.resolve())}
            listing = hashlib.sha256()
            for file in sorted(txt_file_paths(path)):
                try:
                    file_stat = os.stat(file)
                except OSError:  # a link to nothing, or in a loop: rejected
                    file_stat = os.lstat(file)
                listing.update(json.dumps([path_within(file, path), file_stat.st_size, file_stat.st_mtime_ns,
                                           _content_digest(file)]).encode("utf-8", "surrogateescape"))
            entry["txt_files_sha256"] = listing.hexdigest()
            files.append(entry)
    return files


def _content_digest(file: str) -> str | None:
    """A .txt file's SHA-256; None for one that cannot be read (its row is rejected, saying why)."""
    try:
        with open(file, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def interrupted_rejects(partial: Path) -> str | None:
    """The rejects file an interrupted run in ``partial`` was to write, as its manifest says."""
    try:
        return json.loads((partial / "manifest.json").read_text(encoding="utf-8")).get(_REJECTS_NAMED)
    except (OSError, ValueError, AttributeError):
        return None


def run_fingerprint(inputs: Sequence[Path], model: ThreatClassifier, reader_options: dict, options: LabelOptions,
                     rejects_path: Path) -> dict:
    """What must be unchanged for a resumed run to continue an earlier one."""
    files = input_stamps(inputs)
    digest = hashlib.sha256(model._decision_digest().encode())
    digest.update(json.dumps(model.training_fingerprint_, sort_keys=True).encode())
    model_digest = digest.hexdigest()  # what the model computes, whether loaded or in memory
    return {"inputs": files, "named": [os.fspath(path) for path in inputs], "model": model_digest,
            "reader": reader_options, "options": asdict(options), "output_format": OUTPUT_FORMAT,
            "code": code_stamp(), _MODEL_NAMED: _describe_model(model), _MODEL_FOLDER: _model_folder(model),
            _REJECTS_NAMED: str(rejects_path.resolve())}


#: The modules whose code shapes an output row: passages, features, scores, evidence, layout.
_ROW_MODULES = ("text", "features", "fastvec", "classifier", "evidence", "readers", "batch", "writers")


def code_stamp() -> dict:
    """threatclf's version and a digest of the modules that shape output rows: a run resumed under
    other code would write rows of two versions into one output (evidence terms, say, change
    between releases), and an editable install keeps its version while its code changes."""
    import importlib

    from . import __version__

    digest = hashlib.sha256()
    for name in _ROW_MODULES:
        digest.update(Path(importlib.import_module(f"{__package__}.{name}").__file__).read_bytes())
    return {"version": __version__, "sha256": digest.hexdigest()}


#: The output rows' layout; a run interrupted under another cannot be resumed (0.6 gave passage rows
#: their evidence; 0.7 keeps integers whole across inputs, carries a Parquet file's named index and
#: rejects JSONL rows holding an output field or `_source`/`_line`).
OUTPUT_FORMAT = 3


#: A manifest entry that says which model made a run, for messages; not compared on resume.
_MODEL_NAMED = "model_described"


#: The rejects file a run writes: a resume may write it without --overwrite; not compared.
_REJECTS_NAMED = "rejects_path"


#: The model folder a run's model came from, resolved (None for a model fitted in memory), for
#: messages: the same folder with another model in it was saved again since; not compared.
_MODEL_FOLDER = "model_folder"


def _model_folder(model: ThreatClassifier) -> str | None:
    path = getattr(model, "path_", None)
    return None if path is None else os.path.realpath(path)


def _describe_model(model: ThreatClassifier) -> str:
    path = getattr(model, "path_", None)
    name = (getattr(model, "metadata_", None) or {}).get("name")
    if path is not None:
        return f"the model folder {path}" + (f" ({name})" if name and name != Path(str(path)).name else "")
    return f"a model fitted in memory (labels {', '.join(model.labels_)})"


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class ChunkStore:
    """``OUTPUT.partial/``: one records file, one rejects file and one done-marker per chunk."""

    def __init__(self, output: Path):
        self.folder = output.with_name(output.name + PARTIAL_SUFFIX)

    def open(self, fingerprint: dict, resume: bool, restart: bool = False) -> set[int]:
        self.remove_leftovers()  # a run killed while removing its folder: done, but its hidden copy stayed
        manifest = self.folder / "manifest.json"
        if self.folder.exists():
            if resume:
                try:
                    previous = json.loads(manifest.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    previous = None
                # inputs as named (rows record the names) are compared from 0.11 on, when manifests hold them
                ignored = {_MODEL_NAMED, _MODEL_FOLDER, _REJECTS_NAMED}
                if isinstance(previous, dict) and "named" not in previous:
                    ignored.add("named")
                compared = {k: v for k, v in fingerprint.items() if k not in ignored}
                raised = isinstance(previous, dict) and _only_the_text_limit_raised(previous, fingerprint, ignored)
                if raised and not self._rejected_for_length():
                    # a run stopped by a text over the limit goes on with a higher one: its finished chunks
                    # held no text over the old limit, so they are what the new one would have made
                    _atomic_write_text(manifest, json.dumps(fingerprint, indent=1))
                    return self.done()
                if not isinstance(previous, dict) or {k: v for k, v in previous.items() if k not in ignored} != compared:
                    why = (" — a higher limit continues a run only when its finished chunks rejected no text as "
                           "over the old one, and these did: the higher limit would label those rows" if raised else "")
                    raise DataError(
                        f"cannot resume: {self.folder} was made from {_what_differs(previous, fingerprint)}{why}; "
                        "run again with --restart (restart=True) to discard it and start over"
                    )
                return self.done()
            finished = len(self.done())
            try:
                named = json.loads(manifest.read_text(encoding="utf-8")).get("named") or []
            except (OSError, ValueError, AttributeError):
                named = []
            if finished and not restart and any(isinstance(n, str) and is_stdin(Path(n)) for n in named):
                raise DataError(
                    f"{self.folder} holds {finished} finished chunk{'s' if finished > 1 else ''} of an earlier run "
                    "reading standard input (-), which cannot be resumed: run again with --restart (restart=True) to "
                    "discard it and start over")
            if finished and not restart:  # hours of work are not thrown away by a forgotten flag
                raise DataError(
                    f"{self.folder} holds {finished} finished chunk{'s' if finished > 1 else ''} of an earlier run: "
                    "add --resume "
                    "(resume=True) to continue it, or --restart (restart=True) to discard it and start over"
                )
            logger.warning("starting over: removing %s left by an earlier run", self.folder)
            self.remove()
        self.folder.mkdir(parents=True)
        _atomic_write_text(manifest, json.dumps(fingerprint, indent=1))
        return set()

    def _rejected_for_length(self) -> bool:
        """Whether a finished chunk rejected a row for being over the text limit (a larger limit
        would have labelled it)."""
        return any(str(reject.get("reason", "")).startswith(LENGTH_REASONS)
                   for index in self.done() for reject in self.read(index, 1))

    def done(self) -> set[int]:
        """The chunks whose three files are all there (the marker is written last)."""
        marked = {int(p.name.split("-")[1].split(".")[0]) for p in self.folder.glob("chunk-*.done.json")}
        return {index for index in marked if all(path.exists() for path in self.paths(index)[:2])}

    def remove(self) -> None:
        """Delete the folder in one step, as far as a resume can tell: it is renamed away first, so
        a kill while its files go cannot leave chunks that look finished without their records."""
        doomed = self.folder.with_name(f".{self.folder.name}.{secrets.token_hex(4)}.removing")
        try:
            os.rename(self.folder, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def remove_leftovers(self) -> list[Path]:
        """Remove what a run killed while removing its folder left (hidden, as large as the output)."""
        pattern = re.compile(rf"\.{re.escape(self.folder.name)}\.[0-9a-f]{{8}}\.removing")
        left = [p for p in self.folder.parent.glob(f".{glob.escape(self.folder.name)}.*.removing")
                if pattern.fullmatch(p.name)]
        for folder in left:
            shutil.rmtree(folder, ignore_errors=True)
        return left

    def paths(self, index: int) -> tuple[Path, Path, Path]:
        stem = self.folder / f"chunk-{index:07d}"
        return Path(f"{stem}.jsonl"), Path(f"{stem}.rejects.jsonl"), Path(f"{stem}.done.json")

    def write(self, index: int, records: list[dict], rejects: list[dict], stats: dict) -> None:
        records_path, rejects_path, done_path = self.paths(index)
        _atomic_write_text(records_path, "".join(map(_json_line, records)))
        _atomic_write_text(rejects_path, "".join(map(_json_line, rejects)))
        _atomic_write_text(done_path, json.dumps(stats))  # last: the chunk counts as done from here

    def stats(self, index: int) -> dict:
        return json.loads(self.paths(index)[2].read_text(encoding="utf-8"))

    def read(self, index: int, which: int) -> list[dict]:
        with open(self.paths(index)[which], encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def read_lines(self, index: int) -> str:
        """A chunk's records as written: one JSON object a line."""
        with open(self.paths(index)[0], encoding="utf-8") as handle:
            return handle.read()


def _only_the_text_limit_raised(previous: dict, current: dict, ignored: set) -> bool:
    """Whether two fingerprints differ in nothing but a larger ``max_text_chars`` (None: no limit)."""
    then = (previous.get("reader") or {}).get("max_text_chars")
    now = current["reader"].get("max_text_chars")
    if then == now or then is None or not (now is None or (isinstance(then, int) and now > then)):
        return False
    raised = dict(previous, reader=dict(previous["reader"], max_text_chars=now))
    return ({k: v for k, v in raised.items() if k not in ignored}
            == {k: v for k, v in current.items() if k not in ignored})


def _what_differs(previous, current: dict) -> str:
    """Which part of a run's fingerprint changed, in words, for the cannot-resume message."""
    if not isinstance(previous, dict):
        return "an unreadable earlier run"
    if previous.get("output_format") != current["output_format"]:
        return "an earlier version of threatclf, whose output rows are laid out differently"
    then, now = previous.get("code"), current.get("code")
    if then != now and isinstance(now, dict):  # its rows could differ from this version's (evidence terms, scores)
        if not isinstance(then, dict) or then.get("version") != now["version"]:
            made_by = f"threatclf {then.get('version')}" if isinstance(then, dict) else "an earlier threatclf"
            return (f"{made_by} (this is {now['version']}), whose rows may differ from this version's: finish it "
                    "with that version, or start over with this one")
        return (f"other threatclf code of the same version, {now['version']} (an install edited since: its rows may "
                "differ); finish it with that code, or start over")
    if previous.get("inputs") != current["inputs"]:
        return "other input files (or the files changed since): " + _inputs_differ(previous.get("inputs"), current["inputs"])
    if "named" in previous and previous["named"] != current["named"]:
        then, now = (", ".join(names) for names in (previous["named"], current["named"]))
        return (f"the same inputs named otherwise ({then}; this run names {now}): name them as then, since the "
                "rows record the names (a rejected row's source, the ids FILE:LINE of rows without one)")
    if previous.get("model") != current["model"]:
        then = previous.get(_MODEL_NAMED)
        folder = previous.get(_MODEL_FOLDER)
        if folder is not None and folder == current.get(_MODEL_FOLDER):
            return (f"another model: the model folder {folder} holds another model now than when the run began "
                    "(saved again since): to continue it, put that model back, or start over")
        return (f"another model ({then}; this run has {current[_MODEL_NAMED]}): to continue it, pass that model "
                "(--model)" if then else "another model")
    changed = []
    for part in ("reader", "options"):
        then, now = previous.get(part) or {}, current[part]
        changed += [f"{option_named(name)}: {_option_value(then.get(name))} (now {_option_value(now.get(name))})"
                    for name in dict.fromkeys([*then, *now]) if now.get(name) != then.get(name)]
    return "other options: " + ", ".join(changed) if changed else "other options"


#: The keyword arguments of label_files that ``threatclf label`` sets with a flag of the same name.
CLI_FLAGS = frozenset({"passages", "threshold", "top_terms", "keep_text", "text_col", "id_col", "chunk_size",
                       "max_text_chars", "csv_sep", "encoding", "max_words"})


def option_named(name: str) -> str:
    """A keyword argument with the command-line flag that sets it: ``chunk_size (--chunk-size)``."""
    return f"{name} (--{name.replace('_', '-')})" if name in CLI_FLAGS else name


def _option_value(value) -> str:
    return "not given" if value is None else repr(value)


def _inputs_differ(previous, current: list[dict]) -> str:
    """The first input that differs, and how (added, removed, its size or modification time)."""
    before = {f.get("path"): f for f in previous or [] if isinstance(f, dict)}
    now = {f["path"]: f for f in current}
    for path in now:
        if path not in before:
            return f"{path} was not an input then"
        changed = [f"{key} {before[path].get(key)} -> {now[path].get(key)}" for key in ("size", "mtime_ns")
                   if before[path].get(key) != now[path].get(key)]
        if before[path].get("txt_files_sha256") != now[path].get("txt_files_sha256"):
            changed.append("a .txt file in it was added, removed or edited")
        if not changed and before[path].get("sha256") != now[path].get("sha256"):
            changed.append("its content, though its size and time stamp are the same (copied with cp -p, "
                           "rsync -t or tar, which restore the time?)")
        if changed:
            return f"{path} changed ({', '.join(changed)})"
    gone = [path for path in before if path not in now]
    return f"{gone[0]} was an input then" if gone else "the inputs are in another order"


def id_digests(ids: list) -> str:
    """64-bit digests of row ids, as base64 text for the chunk's stats: duplicates are counted at the
    end from 8 bytes a row (11 while the stats are held), not from the ids."""
    packed = b"".join(hashlib.blake2b(str(i).encode("utf-8", "surrogatepass"), digest_size=8).digest() for i in ids)
    return base64.b64encode(packed).decode("ascii")


def digests_of(stats: dict) -> np.ndarray:
    """A chunk's id digests, from its stats (runs begun by 0.6, which stored a list, are not resumed)."""
    return np.frombuffer(base64.b64decode(stats.get("id_digests", "")), dtype="<u8")


@contextmanager
def exclusive_run(output: Path, what: str = "output folder") -> Iterator[None]:
    """Hold the lock of ``output`` for a run, or raise DataError if another process holds it.

    The lock is a hidden file beside the output, ``.NAME.lock``, held with an OS lock that dies
    with its process and removed on release (a killed run leaves an empty file, which the next
    run takes over). Runs on one machine are kept apart whatever their user or temporary folder;
    a network file system may not pass the lock between machines. A folder made for the output
    is removed again if the run fails leaving it empty (a mistake found before any work).
    ``what`` names the folder in an error (``folder of the rejects file`` for a rejects file's lock).
    """
    folder = output.parent
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    make_folder(folder, what)
    lock_path = lock_path_of(output)
    try:
        while True:
            handle = _open_lock_file(lock_path)
            try:
                _try_lock(handle)
            except OSError:
                handle.close()
                raise DataError(f"another threatclf run is writing {output}; wait for it to finish (or stop it), "
                                "then run again, with --resume if it was stopped") from None
            try:  # the run that held it may have removed it before we locked: lock the new one
                if os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino:
                    break
            except FileNotFoundError:
                pass
            handle.close()
        try:
            yield
        finally:
            try:
                os.unlink(lock_path)  # while still held: a run that opened it before is sent to a new file
            except OSError:
                pass
            handle.close()
    except BaseException:
        for made_folder in made:  # deepest first; each only if empty
            try:
                made_folder.rmdir()
            except OSError:
                break
        raise


def lock_path_of(output: Path) -> Path:
    """The hidden file beside ``output`` that a run writing it holds locked."""
    return output.parent / f".{output.name}.lock"


def _open_lock_file(path: Path):
    try:
        return open(path, "a+b")
    except PermissionError as denied:
        try:  # another user's lock file: an OS lock needs no write access
            return open(path, "rb")
        except FileNotFoundError:  # no such file, and none may be made: the folder is not writable
            raise DataError(f"output folder {path.parent} cannot be written: {denied.strerror}") from None
        except OSError as exc:
            raise DataError(f"cannot use the lock file {path}: {exc.strerror or exc}") from None
    except OSError as exc:
        raise DataError(f"output folder {path.parent} cannot be written: {exc.strerror or exc}") from None


def _try_lock(handle) -> None:
    """Lock ``handle``'s file without waiting; OSError if another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        raise DataError(f"{what} {folder} cannot be made: " + (f"{in_the_way} is a file, not a folder"
                        if in_the_way is not None else f"{exc.strerror or exc}")) from None

"""Labelling on Dask gives what labelling in one process gives."""
import json
import os
import re
import shutil

import pandas as pd
import pytest

import threatclf
from builders import tiny_corpus

dd = pytest.importorskip("dask.dataframe", reason="the dask extra is not installed")  # installed by .[test]


@pytest.fixture(scope="module")
def frame():
    texts, _ = tiny_corpus()
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "test"})


def test_dask_dataframe_matches_label_dataframe(small_model, frame):
    expected = threatclf.label_dataframe(frame, small_model, id_col="id")
    result = threatclf.label_dask(dd.from_pandas(frame, npartitions=4), small_model, id_col="id").compute()
    assert result["id"].tolist() == expected["id"].tolist()
    assert result["labels"].tolist() == expected["labels"].tolist()
    pd.testing.assert_series_equal(result["score_terrorism"], expected["score_terrorism"], check_dtype=False)


def test_dask_passages_from_a_model_folder(saved_small_model, small_model, frame):
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", passages=True)
    lazy = threatclf.label_dask(dd.from_pandas(frame, npartitions=3), str(saved_small_model), id_col="id", passages=True)
    assert list(lazy.columns) == list(expected.columns)
    result = lazy.compute().reset_index(drop=True)
    assert result["labels"].tolist() == expected["labels"].tolist()


def test_dask_splits_passages_at_max_words_as_label_dataframe_does(small_model, frame):
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", passages=True, max_words=4)
    assert len(expected) > len(frame)  # the texts are longer than 4 words: split
    result = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), small_model, id_col="id", passages=True,
                                  max_words=4).compute().reset_index(drop=True)
    assert result[["id", "start", "end"]].values.tolist() == expected[["id", "start", "end"]].values.tolist()
    with pytest.raises(threatclf.DataError, match="max_words must be an integer >= 1, got 0"):
        threatclf.label_dask(dd.from_pandas(frame, npartitions=2), small_model, id_col="id", max_words=0)


def test_dask_cluster_with_worker_processes(small_model, frame):
    distributed = pytest.importorskip("distributed")
    expected = threatclf.label_dataframe(frame, small_model, id_col="id")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        result = threatclf.label_dask(dd.from_pandas(frame, npartitions=4), small_model, id_col="id").compute()
    assert result["labels"].tolist() == expected["labels"].tolist()


def test_missing_text_column_is_a_clear_error(small_model, frame):
    with pytest.raises(threatclf.DataError, match="column 'body' not found"):
        threatclf.label_dask(dd.from_pandas(frame, npartitions=2), small_model, text_col="body")


@pytest.mark.parametrize("passages", [False, True])
def test_dask_flat_output_writes_parquet(small_model, frame, tmp_path, passages):
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", passages=passages)
    lazy = threatclf.label_dask(dd.from_pandas(frame, npartitions=3), small_model, id_col="id", passages=passages,
                                flat=True)
    lazy.to_parquet(tmp_path / "out")
    back = pd.read_parquet(tmp_path / "out").reset_index(drop=True)
    assert back["labels"].tolist() == [";".join(names) for names in expected["labels"]]
    assert back["score_terrorism"].tolist() == pytest.approx(expected["score_terrorism"].tolist())
    if not passages:
        import json

        assert [json.loads(e) for e in back["evidence"]] == json.loads(expected["evidence"].to_json(orient="values"))


def test_model_folder_saved_over_is_loaded_anew(small_model, frame, tmp_path):
    # a worker keeps a folder's model while the folder is unchanged, not after a new model is saved there
    folder = small_model.save(tmp_path / "model")
    first = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), str(folder), id_col="id").compute()
    assert "score_terrorism" in first
    texts, labels = tiny_corpus()
    other = threatclf.ThreatClassifier(min_df=1, cv=3).fit(texts, [["violent"] if "terrorism" in lab else [] for lab in labels])
    other.save(folder, overwrite=True)
    second = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), str(folder), id_col="id").compute()
    expected = threatclf.label_dataframe(frame, other, id_col="id")
    assert "score_violent" in second and "score_terrorism" not in second
    assert second["labels"].tolist() == expected["labels"].tolist()


@pytest.mark.parametrize("passages", [False, True])
def test_empty_partitions_have_the_columns_and_dtypes_of_full_ones(small_model, frame, passages):
    full = threatclf.label_dataframe(frame, small_model, id_col="id", passages=passages)
    empty = threatclf.label_dataframe(frame.iloc[:0], small_model, id_col="id", passages=passages)
    pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
    # a filter that empties some partitions: they concatenate with the others unchanged
    lazy = dd.from_pandas(frame, npartitions=4)
    lazy = lazy[lazy["id"].isin(["d0", "d1"])]
    result = threatclf.label_dask(lazy, small_model, id_col="id", passages=passages).compute()
    assert sorted(result["id"].unique()) == ["d0", "d1"]
    assert result["score_terrorism"].dtype == "float64" and result["labels"].map(type).eq(list).all()


@pytest.mark.parametrize("options", [{}, {"flat": True}, {"passages": True}, {"passages": True, "flat": True}])
def test_the_dtypes_dask_is_told_are_those_the_partitions_hold(small_model, frame, options):
    import dask

    with dask.config.set(scheduler="synchronous"):
        for ids in ([f"d{i}" for i in range(len(frame))], list(range(len(frame)))):
            lazy = threatclf.label_dask(dd.from_pandas(frame.assign(id=ids), npartitions=3), small_model, id_col="id",
                                        **options)
            computed = lazy.compute()
            assert list(computed.columns) == list(lazy._meta.columns)
            assert {c: str(t) for c, t in computed.dtypes.items()} == {c: str(t) for c, t in lazy._meta.dtypes.items()}


def test_a_bad_row_is_named_by_partition_and_id(small_model, frame):
    broken = frame.copy()
    broken["text"] = broken["text"].astype(object)
    broken.loc[len(broken) - 1, "text"] = None
    lazy = threatclf.label_dask(dd.from_pandas(broken, npartitions=2), small_model, id_col="id")
    last = broken["id"].iloc[-1]
    with pytest.raises(threatclf.DataError, match=rf"partition 1: row \d+ \(id '{last}'\): 'text' is missing"):
        lazy.compute()


def test_passages_without_an_id_need_a_known_index(small_model, frame):
    frame = frame.drop(columns="id")  # the index is the id
    unknown_index = dd.from_pandas(frame, npartitions=2).clear_divisions()  # as read_csv/read_json give
    with pytest.raises(threatclf.DataError, match="pass id_col="):
        threatclf.label_dask(unknown_index, small_model, passages=True)
    # an index Dask knows (sorted divisions) is accepted, and gives the ids label_dataframe gives
    result = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), small_model, passages=True).compute()
    expected = threatclf.label_dataframe(frame, small_model, passages=True)
    assert result["id"].tolist() == expected["id"].tolist()


def test_dask_passage_rows_carry_the_input_columns(small_model, frame):
    frame = frame.assign(desk=[f"desk {i % 3}" for i in range(len(frame))], words=frame["text"].str.len())
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", passages=True)
    lazy = threatclf.label_dask(dd.from_pandas(frame, npartitions=3), small_model, id_col="id", passages=True)
    assert list(lazy.columns) == list(expected.columns) \
        and list(expected.columns[expected.columns.get_loc("passage") - 2:][:2]) == ["desk", "words"]
    result = lazy.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(result.drop(columns="evidence"), expected.drop(columns="evidence"),
                                  check_dtype=False)
    assert dict(lazy.dtypes)["words"] == result["words"].dtype  # the meta Dask was given is the result's


@pytest.mark.parametrize("options, message", [
    ({"threshold": {"nonexistent": 0.5}}, "unknown labels"),
    ({"threshold": {"terrorism": 1.5}}, "between 0 and 1"),
    ({"threshold": "terrorism=0.6"}, "command line"),
    ({"top_terms": -1}, "top_terms"),
    ({"id_col": "missing"}, "id column 'missing' not found"),
])
def test_options_are_checked_before_any_partition_runs(small_model, frame, options, message):
    with pytest.raises(threatclf.DataError, match=message):
        threatclf.label_dask(dd.from_pandas(frame, npartitions=2), small_model, **options)


def test_an_unfitted_model_is_refused_up_front(frame):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        threatclf.label_dask(dd.from_pandas(frame, npartitions=2), threatclf.ThreatClassifier())
    with pytest.raises(NotFittedError):
        threatclf.label_dataframe(frame, threatclf.ThreatClassifier())


def test_passage_rows_leave_the_inputs_divisions_behind(small_model, frame):
    # passage rows are numbered from 0 in each partition: divisions kept from the input would
    # send .loc to the wrong partition
    indexed = dd.from_pandas(frame.set_index("id"), npartitions=3)
    assert indexed.known_divisions
    lazy = threatclf.label_dask(indexed, small_model, passages=True)
    assert not lazy.known_divisions
    computed = lazy.compute()
    assert len(lazy.loc[1].compute()) == len(computed.loc[1]) == 3
    # article rows keep the input's index, and so its divisions
    assert threatclf.label_dask(indexed, small_model).divisions == indexed.divisions


def test_passage_texts_of_a_categorical_column_survive_on_dask(small_model, frame):
    categorical = frame.assign(text=frame["text"].astype("category"))
    lazy = threatclf.label_dask(dd.from_pandas(categorical, npartitions=2), small_model, id_col="id", passages=True)
    result = lazy.compute()
    assert result["text"].notna().all() and dict(lazy.dtypes)["text"] == result["text"].dtype
    source = frame.set_index("id")["text"]
    assert all(row.text == source[row.id][row.start:row.end] for row in result.itertuples())


def test_a_pandas_dataframe_is_pointed_to_label_dataframe(small_model, frame):
    with pytest.raises(threatclf.DataError, match="takes a dask.dataframe.DataFrame, got DataFrame; for a pandas "
                                                  "DataFrame use threatclf.label_dataframe"):
        threatclf.label_dask(frame, small_model)


def test_a_worker_holds_one_model_however_it_is_named(saved_small_model, monkeypatch):
    from threatclf import distributed, persistence

    loads = []
    real = persistence.load_model
    monkeypatch.setattr(persistence, "load_model", lambda path=None, **kw: loads.append(path) or real(path, **kw))
    monkeypatch.setattr(persistence, "default_model_path", lambda: saved_small_model)
    distributed._LOADED.clear()
    first = distributed._model_from_path(None)
    assert distributed._model_from_path(str(saved_small_model)) is first  # the bundled folder by name: the same
    relative = os.path.relpath(saved_small_model)
    assert distributed._model_from_path(relative) is first  # and by a relative path
    assert len(loads) == 1 and len(distributed._LOADED) == 1
    distributed._LOADED.clear()


def test_a_workers_threads_asking_at_once_load_the_model_once(saved_small_model, monkeypatch):
    import threading
    import time

    from threatclf import distributed, persistence

    loads = []
    real = persistence.load_model

    def slow_load(path=None, **kw):
        loads.append(path)
        time.sleep(0.3)  # long enough for every thread to ask while the first one loads
        return real(path, **kw)

    monkeypatch.setattr(persistence, "load_model", slow_load)
    distributed._LOADED.clear()
    got = []
    threads = [threading.Thread(target=lambda: got.append(distributed._model_from_path(str(saved_small_model))))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(got) == 4 and all(model is got[0] for model in got)
    distributed._LOADED.clear()


def test_a_worker_keeps_a_few_model_folders_and_drops_the_least_recently_used(saved_small_model, monkeypatch):
    # two models compared in one compute() had each partition load its model again (one was kept)
    from threatclf import distributed, persistence

    loads = []
    monkeypatch.setattr(persistence, "load_model", lambda path=None, **kw: loads.append(path) or object())
    distributed._LOADED.clear()
    folders = []
    for k in range(distributed.MODELS_KEPT + 1):
        folder = saved_small_model.parent / f"copy{k}"
        shutil.copytree(saved_small_model, folder)
        folders.append(os.path.realpath(folder))
    first, second = (distributed._model_from_path(f) for f in folders[:2])
    for _ in range(3):  # partitions of two graphs, interleaved
        assert distributed._model_from_path(folders[0]) is first and distributed._model_from_path(folders[1]) is second
    assert len(loads) == 2
    for folder in folders[2:]:  # one folder more than are kept: the least recently used (folders[0]) goes
        distributed._model_from_path(folder)
    assert len(distributed._LOADED) == distributed.MODELS_KEPT and folders[0] not in distributed._LOADED
    assert distributed._model_from_path(folders[-1]) is distributed._LOADED[folders[-1]][1] and len(loads) == 2 + len(folders[2:])
    distributed._model_from_path(folders[0])
    assert len(loads) == 3 + len(folders[2:])  # loaded again
    distributed._LOADED.clear()


def test_a_threshold_given_to_label_dask_labels_every_partition(small_model, frame):
    # kills d10: the partitions labelled with the model's own cut-offs, the option checked only
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", threshold=0.05)
    assert expected["labels"].tolist() != threatclf.label_dataframe(frame, small_model, id_col="id")["labels"].tolist()
    result = threatclf.label_dask(dd.from_pandas(frame, npartitions=3), small_model, id_col="id",
                                  threshold=0.05).compute()
    assert result["labels"].tolist() == expected["labels"].tolist()


def test_top_terms_given_to_label_dask_reach_the_evidence(small_model, frame):
    # kills d11: the evidence of the partitions kept the default 5 terms
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", top_terms=1)
    assert any(item["terms"] for items in expected["evidence"] for item in items)
    result = threatclf.label_dask(dd.from_pandas(frame, npartitions=3), small_model, id_col="id",
                                  top_terms=1).compute()
    assert result["evidence"].tolist() == expected["evidence"].tolist()
    assert all(len(item["terms"]) <= 1 for items in result["evidence"] for item in items)


def test_passages_with_an_id_column_need_no_known_index(small_model, frame):
    # kills d14: read_csv/read_json give unknown divisions; with id_col= the index is not needed
    unknown_index = dd.from_pandas(frame, npartitions=2).clear_divisions()
    assert not unknown_index.known_divisions
    result = threatclf.label_dask(unknown_index, small_model, id_col="id", passages=True).compute()
    expected = threatclf.label_dataframe(frame, small_model, id_col="id", passages=True)
    assert result[["id", "passage", "start", "end"]].values.tolist() == \
        expected[["id", "passage", "start", "end"]].values.tolist()


def test_article_rows_need_no_known_index(small_model, frame):
    # kills d15: article rows keep the input's own index, known or not; only passage rows need an id
    unknown_index = dd.from_pandas(frame.drop(columns="id"), npartitions=2).clear_divisions()
    result = threatclf.label_dask(unknown_index, small_model).compute()
    expected = threatclf.label_dataframe(frame.drop(columns="id"), small_model)
    assert result["labels"].tolist() == expected["labels"].tolist()


def test_flat_evidence_is_the_json_text_threatclf_label_writes(tmp_path):
    # kills d20: non-ASCII evidence terms came out as \\u escapes, unlike the CSV of `threatclf label`
    texts, labels = tiny_corpus()
    umlauts = [t.replace("o", "\u00f6") for t in texts]  # every term with an "o" is not ASCII
    model = threatclf.ThreatClassifier(min_df=1, cv=3, C=10.0).fit(umlauts, labels)
    frame = pd.DataFrame({"id": [f"d{i}" for i in range(len(umlauts))], "text": umlauts})
    source = tmp_path / "in.jsonl"
    frame.to_json(source, orient="records", lines=True, force_ascii=False)
    threatclf.label_files(source, tmp_path / "out.csv", model, progress=False)
    written = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert written["evidence"].str.contains("\u00f6").any()
    flat = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), model, id_col="id", flat=True).compute()
    assert flat["evidence"].tolist() == written["evidence"].tolist()
    assert flat["labels"].tolist() == written["labels"].tolist()


def test_a_model_folder_with_any_file_rewritten_at_the_same_size_is_loaded_anew(saved_small_model, tmp_path,
                                                                                 monkeypatch):
    # kills d03 (cache keyed on the files' names and sizes) and d08 (on the first file only): the old model stayed
    import shutil

    from threatclf import distributed, persistence

    folder = tmp_path / "model"
    shutil.copytree(saved_small_model, folder)
    loads = []
    monkeypatch.setattr(persistence, "load_model", lambda path=None, **kw: loads.append(path) or object())
    distributed._LOADED.clear()
    model = distributed._model_from_path(str(folder))
    assert distributed._model_from_path(str(folder)) is model and len(loads) == 1
    for k, name in enumerate(sorted(p.name for p in folder.iterdir())):
        old = (folder / name).read_bytes()
        new = bytes([old[0] ^ 1]) + old[1:]  # another file of the same size, saved over the old one
        (tmp_path / name).write_bytes(new)
        os.replace(tmp_path / name, folder / name)
        again = distributed._model_from_path(str(folder))
        assert again is not model and len(loads) == k + 2, name
        assert len(distributed._LOADED) == 1  # the old model is dropped, not kept beside the new one
        model = again
    distributed._LOADED.clear()


def test_flat_changes_only_the_labels_and_evidence_of_article_rows(small_model, frame):
    # kills d21: the input's text column, carried on article rows, keeps its dtype in the flat form
    lazy = dd.from_pandas(frame.assign(text=frame["text"].astype("category")), npartitions=2)
    nested = threatclf.label_dask(lazy, small_model, id_col="id").compute()
    flat = threatclf.label_dask(lazy, small_model, id_col="id", flat=True).compute()
    pd.testing.assert_frame_equal(flat.drop(columns=["labels", "evidence"]), nested.drop(columns=["labels", "evidence"]))


def test_a_model_folder_saved_over_after_label_dask_is_an_error_not_a_second_model(small_model, frame, tmp_path):
    # the columns Dask was told came from the first model; partitions labelled by the second would mix them
    folder = small_model.save(tmp_path / "model")
    lazy = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), str(folder), id_col="id")
    assert lazy.compute()["labels"].tolist() == threatclf.label_dataframe(frame, small_model, id_col="id")["labels"].tolist()
    texts, labels = tiny_corpus()
    other = threatclf.ThreatClassifier(min_df=1, cv=3).fit(texts, [["violent"] if "terrorism" in lab else []
                                                                   for lab in labels])
    other.save(folder, overwrite=True)
    with pytest.raises(threatclf.DataError, match=rf"partition \d: the model folder {re.escape(str(folder))} has "
                                                  r"changed since label_dask\(\) was called .*call label_dask\(\) again"):
        lazy.compute()
    again = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), str(folder), id_col="id")
    assert "score_violent" in again.columns and again.compute()["score_violent"].notna().all()


def test_a_model_folder_a_worker_cannot_read_is_named_as_such(small_model, frame, tmp_path, monkeypatch):
    # a folder only the calling machine has was reported as "changed since label_dask() was
    # called", and calling again gave the same error
    folder = small_model.save(tmp_path / "model")
    lazy = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), str(folder), id_col="id")
    shutil.move(folder, tmp_path / "elsewhere")  # as on a worker that does not have it
    with pytest.raises(threatclf.DataError, match=rf"partition \d: the model folder {re.escape(str(folder))} cannot be "
                                                  r"read on the worker on .*: a model folder must be readable at the "
                                                  r"same path on every worker; or pass the loaded model"):
        lazy.compute()


def test_a_relative_model_folder_is_the_callers_not_each_workers(small_model, frame, tmp_path, monkeypatch):
    # a dask worker runs in its own current folder: the path is made absolute where it was given
    small_model.save(tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    lazy = threatclf.label_dask(dd.from_pandas(frame, npartitions=2), "model", id_col="id")
    monkeypatch.chdir(tmp_path.parent)  # the worker's folder is another
    assert lazy.compute()["labels"].tolist() == threatclf.label_dataframe(frame, small_model, id_col="id")["labels"].tolist()


def test_a_model_that_is_neither_a_classifier_nor_a_folder_is_refused_by_name(frame):
    with pytest.raises(TypeError, match="model must be a ThreatClassifier, a model folder or None, got dict"):
        threatclf.label_dask(dd.from_pandas(frame, npartitions=2), {"model": 1}, id_col="id")


def _mixed_inputs(tmp_path, frame):
    """A JSONL file whose ids pandas would read as floats (a null among long whole numbers), a
    CSV file and a Parquet file: what read_dask must read as `threatclf label` does."""
    texts = frame["text"].tolist()
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("\n".join([
        f'{{"id": 1234567890123456789, "text": "{texts[0]}", "title": "=HYPERLINK(1)"}}',
        f'{{"id": null, "text": "{texts[1]}", "title": "x"}}',
        f'{{"id": 7, "text": "{texts[2]}", "title": "y"}}']) + "\n", encoding="utf-8")
    csv = tmp_path / "b.csv"
    frame.iloc[3:6][["id", "text"]].assign(title="z").to_csv(csv, index=False)
    parquet = tmp_path / "c.parquet"
    frame.iloc[6:9][["id", "text"]].assign(title="w").to_parquet(parquet, index=False)
    return [str(jsonl), str(csv), str(parquet)]


@pytest.mark.parametrize("passages", [False, True])
def test_read_dask_reads_files_as_threatclf_label_does(small_model, frame, tmp_path, passages):
    files = _mixed_inputs(tmp_path, frame)
    threatclf.label_files(files, tmp_path / "out.parquet", small_model, passages=passages, keep_text=True,
                          progress=False)
    expected = pd.read_parquet(tmp_path / "out.parquet")
    ddf = threatclf.read_dask(files, columns=["title"])
    assert ddf.npartitions == 3
    result = threatclf.label_dask(ddf, small_model, id_col="id", passages=passages, flat=True).compute()
    assert result["id"].tolist()[:3] == ["1234567890123456789", "a.jsonl:2", "7"]  # as written, not 1.23e+18
    assert result["id"].tolist() == expected["id"].tolist()
    assert result["labels"].fillna("").tolist() == expected["labels"].fillna("").tolist()
    assert result["title"].tolist() == expected["title"].tolist()
    # a glob names the same files, in order
    assert threatclf.read_dask(str(tmp_path / "[ab].*")).npartitions == 2  # a.jsonl, b.csv


def test_read_dask_raises_naming_the_file_and_line_of_a_bad_row(tmp_path):
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text('{"id": "a", "text": "Rain."}\n', encoding="utf-8")
    bad.write_text('{"id": "a", "text": "Rain."}\n{"id": "b", "text": null}\n', encoding="utf-8")
    ddf = threatclf.read_dask([good, bad])  # the file is fine to start with: its rows are read in a partition
    with pytest.raises(threatclf.DataError, match=r"bad\.jsonl: line 2: text is null"):
        ddf.compute()
    with pytest.raises(threatclf.DataError, match=r"bad\.jsonl: line 2: text is null"):
        threatclf.read_dask([bad, good])  # the first file is read when called, for its columns' types
    with pytest.raises(threatclf.DataError, match="no input file matches"):
        threatclf.read_dask(str(tmp_path / "none-*.jsonl"))
    with pytest.raises(threatclf.DataError, match="missing.jsonl"):
        threatclf.read_dask(tmp_path / "missing.jsonl")  # said when called, not at compute()


def test_label_dask_warns_when_ids_were_read_as_floats(small_model, tmp_path):
    source = tmp_path / "ids.jsonl"
    source.write_text('{"id": 7, "text": "Rain."}\n{"id": null, "text": "Sun."}\n', encoding="utf-8")
    ddf = dd.read_json(str(source), lines=True, blocksize=None, dtype=False)
    with pytest.warns(UserWarning, match=r"the id column 'id' holds floats.*threatclf\.read_dask"):
        threatclf.label_dask(ddf, small_model, id_col="id")


def test_escape_formulas_on_dask_gives_the_cells_threatclf_label_writes(small_model, frame, tmp_path):
    files = _mixed_inputs(tmp_path, frame)
    threatclf.label_files(files[0], tmp_path / "out.csv", small_model, escape_formulas=True, progress=False)
    written = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert written["title"].tolist()[0] == "'=HYPERLINK(1)"
    result = threatclf.label_dask(threatclf.read_dask(files[0]), small_model, id_col="id", flat=True,
                                  escape_formulas=True).compute()
    assert result["title"].tolist() == written["title"].tolist()
    assert dict(result.dtypes) == dict(threatclf.label_dask(threatclf.read_dask(files[0]), small_model, id_col="id",
                                                            flat=True, escape_formulas=True)._meta.dtypes)
    with pytest.raises(threatclf.DataError, match="ask for flat=True too"):
        threatclf.label_dask(threatclf.read_dask(files[0]), small_model, escape_formulas=True)


def test_workers_on_another_release_are_named_as_such():
    from threatclf import distributed

    with pytest.raises(threatclf.DataError, match=r"partition 2: the worker on .* runs threatclf "
                                                  rf"{re.escape(threatclf.__version__)}, the calling process 0\.0\.1"):
        distributed._check_identity(None, "what the caller's bundled model was", {"number": 2}, "0.0.1")


def test_the_readmes_dask_example_runs_as_written_and_keeps_input_order(tmp_path):
    # the README's block, run in a folder holding its examples/; worker processes re-import it
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("distributed")
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Scaling out"):]
    block = section[section.index("```python\n") + len("```python\n"):]
    block = block[:block.index("```")]
    assert "threatclf.read_dask(" in block and "label_dask(" in block
    shutil.copytree(root / "examples", tmp_path / "examples")
    (tmp_path / "example.py").write_text(block, encoding="utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    written = pd.read_parquet(tmp_path / "labelled")
    expected = threatclf.label_dataframe(pd.read_json(tmp_path / "examples" / "articles.jsonl", lines=True, dtype=False),
                                         id_col="id")
    assert written["id"].tolist() == expected["id"].tolist()
    assert written["labels"].fillna("").str.split(";").map(lambda x: [v for v in x if v]).tolist() == \
        [list(v) for v in expected["labels"]]
    assert "title" in written.columns and "__null_dask_index__" not in written.columns


def test_read_dask_keeps_carried_values_as_read_and_flat_writes_them_as_threatclf_label_does(small_model, tmp_path):
    source = tmp_path / "nest.jsonl"
    source.write_text('{"id": 1, "text": "Cartel smuggled cocaine.", "tags": ["a", "b"], "n": 3, "meta": {"k": 1}}\n'
                      '{"id": 2, "text": "Rain.", "tags": [], "n": 4, "meta": null}\n', encoding="utf-8")
    computed = threatclf.read_dask(source).compute()
    assert computed["tags"].tolist() == ['["a", "b"]', "[]"]  # JSON, not Python's "['a', 'b']"
    assert computed["n"].tolist() == [3, 4]  # numbers, not "3"
    threatclf.label_files(source, tmp_path / "out.csv", small_model, progress=False)
    written = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    flat = threatclf.label_dask(threatclf.read_dask(source), small_model, id_col="id", flat=True).compute()
    assert flat["tags"].tolist() == written["tags"].tolist() == ['["a", "b"]', "[]"]
    assert flat["meta"].tolist()[0] == written["meta"].tolist()[0] == '{"k": 1}'


def test_flat_writes_dates_times_and_decimals_as_the_text_threatclf_label_writes(small_model, tmp_path):
    import datetime
    import decimal

    source = tmp_path / "dated.parquet"
    pd.DataFrame({"id": ["a", "b"], "text": ["Bomb attack in the city.", "Cartel boss held."],
                  "when": pd.to_datetime(["2024-01-02 03:04:05", None]), "day": [datetime.date(2024, 1, 2), None],
                  "amount": [decimal.Decimal("12.50"), decimal.Decimal("1")]}).to_parquet(source)
    threatclf.label_files(source, tmp_path / "out.parquet", small_model, progress=False)
    written = pd.read_parquet(tmp_path / "out.parquet")
    flat = threatclf.label_dask(threatclf.read_dask(source), small_model, id_col="id", flat=True)
    flat.to_parquet(tmp_path / "dask", write_index=False)
    from_dask = pd.read_parquet(tmp_path / "dask")
    for column in ("when", "day", "amount"):
        assert from_dask[column].tolist()[0] == written[column].tolist()[0], column
        assert from_dask[column].isna().tolist() == written[column].isna().tolist(), column
        assert all(isinstance(v, str) for frame in (from_dask, written) for v in frame[column].dropna())
    assert from_dask["when"].tolist()[0] == "2024-01-02T03:04:05"
    # an in-memory frame's timestamps too, as threatclf label writes a Parquet input's
    frame = pd.DataFrame({"id": ["a"], "text": ["Bomb attack."], "when": pd.to_datetime(["2024-01-02"]),
                          "took": pd.to_timedelta(["1h"])})
    import dask.dataframe as dd

    out = threatclf.label_dask(dd.from_pandas(frame, npartitions=1), small_model, id_col="id", flat=True).compute()
    assert out["when"].tolist() == ["2024-01-02T00:00:00"] and out["took"].tolist() == ["P0DT1H0M0S"]


def test_read_dask_without_columns_refuses_a_file_whose_columns_differ_from_the_firsts(tmp_path):
    first, second = tmp_path / "p1.jsonl", tmp_path / "p2.jsonl"
    first.write_text('{"id": 1, "text": "Rain."}\n', encoding="utf-8")
    second.write_text('{"id": 2, "text": "Sun.", "source": "x"}\n', encoding="utf-8")
    with pytest.raises(threatclf.DataError, match=r"p2\.jsonl: columns \['source'\] differ from the first file's \[\] "
                                                  r"\(not in the first file: \['source'\]\): name the columns"):
        threatclf.read_dask(str(tmp_path / "p*.jsonl")).compute()
    # named, the first file's rows get a null there
    with pytest.warns(UserWarning, match=r"columns \['source'\] are in no row of .*p1\.jsonl"):
        both = threatclf.read_dask(str(tmp_path / "p*.jsonl"), columns=["source"]).compute()
    assert both["source"].isna().tolist() == [True, False] and both["source"].tolist()[1] == "x"


def test_read_dask_reads_the_files_the_caller_named_wherever_workers_run(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    (tmp_path / "here" / "data.jsonl").write_text('{"id": "here", "text": "Rain."}\n', encoding="utf-8")
    (tmp_path / "there" / "data.jsonl").write_text('{"id": "there", "text": "Rain."}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path / "here")
    ddf = threatclf.read_dask("data.jsonl")
    monkeypatch.chdir(tmp_path / "there")  # as a worker started elsewhere
    assert ddf.compute()["id"].tolist() == ["here"]
    with pytest.raises(threatclf.DataError, match="not standard input"):
        threatclf.read_dask("-")


def test_read_dask_partitions_serve_dask_column_selection(small_model, tmp_path):
    # Dask pushes a selection (ddf[["id", "text"]], drop, set_index) into the reader as columns=
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(f'{{"id": "{name}", "text": "Rain.", "title": "T{name}"}}\n',
                                                encoding="utf-8")
    ddf = threatclf.read_dask(str(tmp_path / "*.jsonl"))
    assert ddf[["id", "text"]].compute().columns.tolist() == ["id", "text"]
    assert ddf["text"].str.len().compute().tolist() == [5, 5]
    assert ddf.drop(columns=["title"]).compute().columns.tolist() == ["id", "text"]
    assert ddf.set_index("id").compute().index.tolist() == ["a", "b"]
    labelled = threatclf.label_dask(ddf[["id", "text"]], small_model, id_col="id").compute()
    assert labelled["id"].tolist() == ["a", "b"]


def test_read_dask_names_rows_without_ids_by_path_when_two_files_share_a_name(small_model, tmp_path, monkeypatch):
    for day in ("d1", "d2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "part-0.jsonl").write_text('{"text": "Rain."}\n{"text": "Sun."}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    files = ["d1/part-0.jsonl", "d2/part-0.jsonl"]
    threatclf.label_files(files, tmp_path / "out.jsonl", small_model, progress=False)
    expected = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert expected == ["d1/part-0.jsonl:1", "d1/part-0.jsonl:2", "d2/part-0.jsonl:1", "d2/part-0.jsonl:2"]
    assert threatclf.read_dask(files).compute()["id"].tolist() == expected
    assert threatclf.read_dask("d1/part-0.jsonl").compute()["id"].tolist() == ["part-0.jsonl:1", "part-0.jsonl:2"]


def test_read_dask_takes_columns_from_the_first_file_with_rows_and_conforms_the_others(small_model, tmp_path):
    (tmp_path / "0-empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "1.jsonl").write_text('{"id": "a", "text": "Rain.", "n": null}\n', encoding="utf-8")
    (tmp_path / "2-empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "3.jsonl").write_text('{"id": "b", "text": "Sun.", "n": 5}\n{"id": "c", "text": "Fog.", "n": 2.5}\n',
                                      encoding="utf-8")
    ddf = threatclf.read_dask(str(tmp_path / "*.jsonl"))
    computed = ddf.compute()
    # null in the first file: a text column, which the later numbers join as text (as label_files writes a
    # column whose type differs across files), so that every partition fits the declared types
    assert computed["n"].tolist()[1:] == ["5.0", "2.5"] and computed["id"].tolist() == ["a", "b", "c"]
    assert str(computed["n"].dtype) == str(ddf.dtypes["n"])
    threatclf.label_dask(ddf, small_model, id_col="id", flat=True).to_parquet(tmp_path / "out", write_index=False)
    assert sorted(pd.read_parquet(tmp_path / "out")["id"]) == ["a", "b", "c"]
    # numbers first and text later cannot be one column: an error naming the file and column
    (tmp_path / "4.jsonl").write_text('{"id": "d", "text": "Hail.", "n": "many"}\n', encoding="utf-8")
    (tmp_path / "1.jsonl").write_text('{"id": "a", "text": "Rain.", "n": 1}\n', encoding="utf-8")
    (tmp_path / "3.jsonl").write_text('{"id": "b", "text": "Sun.", "n": 5}\n', encoding="utf-8")
    with pytest.raises(threatclf.DataError, match=r"4\.jsonl: column 'n' holds .* where the first file's held Int64"):
        threatclf.read_dask(str(tmp_path / "*.jsonl")).compute()


@pytest.mark.parametrize("first, later, changed", [
    ('"n": 1', '"n": 2.5', r"column 'n' holds Float64 values where the first file's held Int64, which would change "
                           r"them \(2\.5 read as 2\): .* put first a file whose column holds Float64 values"),
    ('"n": true', '"n": 7', r"column 'n' holds Int64 values where the first file's held boolean, which would "
                            r"change them \(7 read as True\)"),
    ('"n": 7', '"n": false', r"held Int64, which would change them \(False read as 0\)"),
    ('"n": 1', '"n": 12345678901234567890', r"held Int64, which would change them \(12345678901234567890 read as "),
])
def test_read_dask_refuses_a_later_file_whose_values_the_first_files_type_would_change(tmp_path, first, later,
                                                                                     changed):
    # numpy and pandas cast 2.5 to 2 and 7 to True without a word; threatclf label writes them as they are
    (tmp_path / "1.jsonl").write_text(f'{{"id": "a", "text": "Rain.", {first}}}\n', encoding="utf-8")
    (tmp_path / "2.jsonl").write_text(f'{{"id": "b", "text": "Sun.", {later}}}\n', encoding="utf-8")
    with pytest.raises(threatclf.DataError, match=r"2\.jsonl: .*" + changed):
        threatclf.read_dask([tmp_path / "1.jsonl", tmp_path / "2.jsonl"]).compute(scheduler="synchronous")


def test_read_dask_casts_a_later_file_whose_values_the_first_files_type_holds(tmp_path):
    pd.DataFrame({"id": ["a"], "text": ["Rain."], "price": [2.75]}).to_parquet(tmp_path / "1.parquet")
    pd.DataFrame({"id": ["b"], "text": ["Sun."], "price": [3]}).to_parquet(tmp_path / "2.parquet")
    frame = threatclf.read_dask([tmp_path / "1.parquet", tmp_path / "2.parquet"]).compute(scheduler="synchronous")
    assert frame["price"].tolist() == [2.75, 3.0] and str(frame["price"].dtype) == "float64"


def test_read_dask_warns_of_a_named_column_the_first_file_lacks(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"doc": "a", "body": "Rain.", "title": "T"}\n', encoding="utf-8")
    with pytest.warns(UserWarning, match=r"columns \['titel'\] are in no row of .*a\.jsonl"):
        ddf = threatclf.read_dask(tmp_path / "a.jsonl", id_col="doc", text_col="body", columns=["titel"])
    assert ddf.compute()["titel"].isna().all()
    # the id and text fields named under their own names are the id and text columns, not extra nulls
    ddf = threatclf.read_dask(tmp_path / "a.jsonl", id_col="doc", text_col="body", columns=["doc", "body", "title"])
    assert ddf.columns.tolist() == ["id", "text", "title"]


def test_txt_folders_among_several_inputs_are_named_after_the_folder_as_threatclf_label_names_them(tmp_path):
    from threatclf.distributed import read_dask
    from threatclf.readers import iter_batches

    for day, text in (("day1", "Customs seized cocaine."), ("day2", "A bomb exploded.")):
        (tmp_path / day).mkdir()
        (tmp_path / day / "0001.txt").write_text(text)
    folders = [str(tmp_path / "day1"), str(tmp_path / "day2")]
    expected = [i for b in iter_batches(folders) for i in b.frame["id"]]
    assert expected == ["day1/0001.txt", "day2/0001.txt"]
    assert read_dask(folders).compute()["id"].tolist() == expected
    assert read_dask(folders[:1]).compute()["id"].tolist() == ["0001.txt"]

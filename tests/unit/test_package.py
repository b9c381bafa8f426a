"""The package itself: what importing it does, and what it offers."""
import json
import subprocess
import sys

import threatclf


def test_importing_threatclf_has_no_side_effects():
    # in a fresh interpreter: this one has imported everything already
    # (after its dependencies: numpy, scipy and pandas set warning filters and import pyarrow themselves)
    code = """if True:
        import json, logging, sys, warnings
        import joblib, numpy, pandas, scipy.sparse, sklearn.linear_model, sklearn.feature_extraction.text
        filters, handlers = list(warnings.filters), list(logging.getLogger().handlers)
        levels = logging.getLogger("threatclf").level
        import threatclf
        print(json.dumps({"filters": warnings.filters == filters, "handlers": logging.getLogger().handlers == handlers,
                          "level": logging.getLogger("threatclf").level == levels,
                          "heavy": sorted(m for m in ("numba", "threatclf.batch", "threatclf.distributed", "dask",
                                                      "tqdm") if m in sys.modules)}))
    """
    said = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert said == {"filters": True, "handlers": True, "level": True, "heavy": []}


def test_everything_in_all_is_there_and_listed_by_dir():
    for name in threatclf.__all__:
        assert getattr(threatclf, name) is not None, name
    assert set(threatclf.__all__) <= set(dir(threatclf))  # label_files and label_dask are imported on first use
    assert callable(threatclf.label_files) and callable(threatclf.label_dask)

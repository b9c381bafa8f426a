"""Made ``model-v1/`` once, with threatclf 0.1 (model format 1). Do not re-run for a new format:
the point of the folder is to stay as old versions wrote it. Kept to show how it was made."""
import json
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent))
from builders import small_model  # noqa: E402

model = small_model()
folder = model.save(here / "model-v1", overwrite=True, name="model-v1 (test fixture)")
texts = ["Militants bombed the market.", "Customs seized heroin and the gang that smuggled it.",
         "The minister embezzled public funds.", "A sunny day at the beach."]
expected = {"texts": texts, "proba": model.predict_proba(texts).to_numpy().tolist(), "labels": model.predict(texts)}
(here / "model-v1-expected.json").write_text(json.dumps(expected, indent=1) + "\n")

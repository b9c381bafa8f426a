"""The model card: what a saved model's README.md says, from the metadata save() writes."""
import pytest

from threatclf import LABEL_DEFINITIONS
from threatclf.modelcard import render_model_card

LABELS = ["corruption", "drug_trafficking"]


def metadata(**changes):
    """Metadata as save() writes it, for two of the codebook's labels."""
    meta = dict(labels=LABELS, thresholds={label: 0.4 for label in LABELS}, threatclf_version="x", format_version=1,
                sklearn_version="x", numpy_version="x", created="now",
                settings={"features": "word+char", "calibrate": True, "threshold": "f1"},
                training_data={"rows": 10}, label_definitions={label: LABEL_DEFINITIONS[label] for label in LABELS})
    meta.update(changes)
    return meta


def test_codebook_labels_are_defined_without_a_note_on_whose_definition_it_is():
    card = render_model_card(metadata())
    assert f"| `corruption` | 0.400 | {LABEL_DEFINITIONS['corruption']} |" in card
    assert "codebook definition" not in card


def test_a_fixed_threshold_of_one_is_shown_as_a_number():
    card = render_model_card(metadata(thresholds={"corruption": 1.0, "drug_trafficking": 0.4}))
    assert "| `corruption` | 1.000 |" in card and "never" not in card


def test_a_label_not_learned_is_explained():
    card = render_model_card(metadata(thresholds={"corruption": 2.0, "drug_trafficking": 0.4}))
    assert "| `corruption` | never (not learned) |" in card
    assert "*never (not learned)*: the label's out-of-fold scores picked it out no better than shuffled" in card
    assert "*never (not learned)*" not in render_model_card(metadata())


def test_labels_with_few_examples_are_named_in_the_limits():
    card = render_model_card(metadata(training_data={"rows": 500, "positives": {"corruption": 29,
                                                                               "drug_trafficking": 30}}))
    limits = card.split("## Limits", 1)[1]
    assert "- Few examples: `corruption` (29). Under about 30 examples a label's threshold and figures" in limits
    assert "drug_trafficking` (" not in limits
    ample = metadata(training_data={"rows": 500, "positives": {"corruption": 300, "drug_trafficking": 30}})
    assert "Few examples" not in render_model_card(ample)


def test_a_model_tuned_on_some_rows_says_so():
    card = render_model_card(metadata(training_data={"rows": 10, "tuning_rows": 6}))
    assert "calibration and thresholds learned from the out-of-fold scores of 6 of these rows only" in card
    assert "6 of these rows" not in render_model_card(metadata())


def test_figures_show_the_macro_f1_and_a_calibration_error_of_zero():
    figures = {"labels": {label: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "pr_auc": 0.5, "support": 3}
                          for label in LABELS},
               "macro_f1": 0.41, "micro_f1": 0.77, "n_samples": 6, "calibration_error": 0.0}
    card = render_model_card(metadata(metrics={"dev": figures}))
    assert "| **macro F1** | | | **0.410** | | 6 |" in card and "0.770" not in card.split("macro F1")[1][:40]
    assert "Calibration error 0.000:" in card
    assert "most rows score near 0, so a gap in the middle of the range counts for little" in card


def test_text_given_for_the_card_is_in_it():
    assert "Extra text from the trainer." in render_model_card(metadata(), extra="## Notes\n\nExtra text from the trainer.")


@pytest.mark.parametrize("features, sees", [("word+char", "words and character sequences"), ("word", "words,"),
                                            ("char", "character sequences,")])
def test_the_limits_say_what_the_model_sees(features, sees):
    card = render_model_card(metadata(settings={"features": features, "calibrate": True, "threshold": "f1"}))
    assert f"the model sees {sees}" in card


def test_settings_are_written_with_sorted_keys_at_every_level():
    card = render_model_card(metadata(settings={"features": "word", "calibrate": True,
                                                "threshold": {"drug_trafficking": 0.3, "corruption": 0.6}}))
    assert card.index('"corruption": 0.6') < card.index('"drug_trafficking": 0.3')

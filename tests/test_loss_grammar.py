"""The one loss grammar (`LossSpec`) and the one owner of eps (`presets.output_bias`)."""

import pytest

from keras_robust import losses
from keras_robust import presets

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    "text, num_classes, name, eps",
    [
        ("mae", None, "mae", 0.0),
        ("MAE", None, "mae", 0.0),
        ("genCE", None, "gce", 0.0),
        ("GeneralizedCrossEntropy", None, "gce", 0.0),
        ("mae*1.5", None, "mae", 1.5),
        (" boundCE * 2.5 ", None, "boundce", 2.5),
        # Paper Sec. 3.2 and Tables 2, 3: MAE* 0.5 and 3.0, boundCE* 0 and 2.5.
        ("mae*", 10, "mae", 0.5),
        ("mae*", 100, "mae", 3.0),
        ("boundce*", 10, "boundce", 0.0),
        ("boundce*", 100, "boundce", 2.5),
        ("gce*", 100, "gce", 0.0),
    ],
)
def test_parse(text, num_classes, name, eps):
    assert losses.LossSpec.parse(text, num_classes) == losses.LossSpec(name, eps)


@pytest.mark.parametrize(
    "spec, text, label",
    [
        (losses.LossSpec("gce"), "gce", "genCE"),
        (losses.LossSpec("mae", 0.5), "mae*0.5", "MAE*0.5"),
        (losses.LossSpec("mae", 3.0), "mae*3.0", "MAE*3.0"),
        (losses.LossSpec("boundce", 2.5), "boundce*2.5", "boundCE*2.5"),
        (losses.LossSpec("boundce", 0.0), "boundce", "boundCE"),
        (losses.LossSpec("actPas1"), "actpas1", "actPas1"),
    ],
)
def test_text_and_label_spell_the_spec_and_parse_back(spec, text, label):
    assert spec.text == str(spec) == text
    assert spec.label == label
    assert losses.LossSpec.parse(text) == spec
    assert losses.LossSpec.parse(label) == spec


@pytest.mark.parametrize(
    "text, num_classes, fragments",
    [
        ("nosuchloss", None, ["'nosuchloss'", "NAME*EPS"]),
        ("mae*x", None, ["'mae*x'", "'x'", ">= 0"]),
        ("mae*-1", None, ["'mae*-1'", ">= 0"]),
        ("mae*nan", None, ["'mae*nan'"]),
        ("mae**", None, ["'mae**'"]),
        ("mae*", None, ["'mae*'", "num_classes", "mae*0.5"]),
        ("", None, ["''"]),
        (3, None, ["3"]),
        ("mae*", 1, ["num_classes=1"]),
    ],
)
def test_bad_text_is_one_clear_line(text, num_classes, fragments):
    with pytest.raises(ValueError) as error:
        losses.LossSpec.parse(text, num_classes)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_get_takes_the_grammar_and_the_papers_setting_for_a_class_count():
    loss = losses.get("mae*", num_classes=100, from_logits=True)
    assert isinstance(loss, losses.ProbabilityMeanAbsoluteError)
    assert loss.output_bias == 3.0 and loss.from_logits
    assert losses.get("boundce*1.5").output_bias == 1.5
    # Paper Table 1 at 100 classes: symCE alpha 6.0, beta 0.2; given values win.
    sce = losses.get("symCE", num_classes=100)
    assert (sce.alpha, sce.beta) == (6.0, 0.2)
    assert losses.get("sce", num_classes=100, beta=1.0).beta == 1.0
    assert losses.get("sce").alpha == 0.1
    assert losses.get("mae", output_bias=0.5).output_bias == 0.5
    with pytest.raises(ValueError, match="already sets eps"):
        losses.get("mae*0.5", output_bias=1.0)


def test_display_name():
    assert [losses.display_name(name) for name in losses.LOSS_NAMES] == [
        "CE", "MAE", "genCE", "symCE", "actPas1", "actPas2", "biTemp", "boundCE",
    ]


def test_output_bias_has_one_rounding_rule():
    # Eq. 2 rounded to one decimal at every class count; never negative,
    # and 0 where the target is at or below 1/c (boundCE*'s 0.1 at c <= 10).
    assert presets.output_bias("boundce", 5) == 0.0
    assert presets.output_bias("boundce", 10) == 0.0
    for num_classes in (3, 20, 50, 100, 200):
        eps = presets.output_bias("mae", num_classes)
        assert eps >= 0 and eps == round(eps, 1)
    assert presets.output_bias("mae", 20) < presets.output_bias("mae", 100)


def test_recommend_takes_eps_from_the_one_owner_and_logits_by_default():
    # recommend(0.0, 100) is boundCE* with the presets' eps 2.5 (paper Table 3).
    loss = losses.recommend(0.0, 100)
    assert isinstance(loss, losses.BoundedCrossEntropy)
    assert loss.output_bias == presets.output_bias("boundce", 100) == 2.5
    # Zoo models output logits: the recommendation expects them by default.
    assert losses.recommend(0.2, 10).from_logits
    assert not losses.recommend(0.2, 10, from_logits=False).from_logits

"""r1lib: the math behind DeepSeek-R1 as a small, exact NumPy library.

The package's folders are its layers; imports only point down them (``tests/test_layers.py``
keeps it so):

- **core** (the modules at the top, ``r1lib/*.py``): the formulas practitioners import, NumPy
  only, vectorised, strict about input, each with its formula in the docstring:
  ``softmax`` (temperature softmax, entropy), ``divergence`` (KL, generalized JSD),
  ``distillation`` (the T^2-scaled soft-target loss and its gradient), ``kl_estimators`` (k1,
  k2, k3), ``metrics`` (pass@k, majority vote, maj@k), ``error_bars`` (clustered and paired
  standard errors, pass@1), ``grpo`` (group advantages, the clipped surrogate, DeepSeekMath's
  objective), ``grpo_loss`` (TRL's GRPO-family loss and its exact gradient: Dr. GRPO, DAPO,
  GSPO, CISPO, the KL choices), ``passk_advantage`` (pass@k as the training objective: Chen et
  al.'s analytical advantage); with their input checks (``validation``) and fast paths
  (``kernels``);
- **grading/**: answer extraction and normalisation, the builtin grader, math-verify in worker
  processes, and scoring with the ``r1-score`` command (``python -m r1lib.score``);
- **labs/**: the teaching simulations the notebooks run, built on the core and the grader:
  ``distill_train`` (01), ``eval_sim`` (02), ``kl_studies`` (03), ``grpo_toy`` (04),
  ``length_toy`` (05), ``r1_recipe`` (06) and ``lm`` (a tiny transformer in NumPy, 07);
- **figures/**: the notebooks' panels and figures (matplotlib, ipywidgets): the shared style
  (``figures.style``), the slider-panel machinery (``figures.panels``) and one module per topic;
- **exercises/**: the graded exercises (``r1lib.exercises.check("02.1", answer)``,
  ``r1lib.exercises.hint("02.1")``), above the labs, never importing figures.

Order: core < grading < labs < figures, and labs < exercises. ``import r1lib`` needs only NumPy:
the figure layer (matplotlib, ipywidgets) is not imported here, and math-verify loads in the
grading workers when first asked for. The labs are namespaces: ``from r1lib.labs import
kl_studies`` (also reachable as ``r1lib.kl_studies``).
"""
from . import exercises
from .distillation import distillation_grad, distillation_loss
from .divergence import generalized_jsd, kl_divergence, kl_from_logits
from .error_bars import (Estimate, VarianceComponents, clustered_se, detectable_difference, detection_power,
                         mean_with_se, naive_se, paired_difference, pass_at_1, questions_needed, samples_needed,
                         standard_error, unpaired_difference, variance_components)
from .grading import GRADERS, extract_answer, is_correct, normalize_answer, parse_answer
from .grpo import (clipped_surrogate, clipped_surrogate_grad, group_advantages, grpo_objective,
                   grpo_objective_grad, sequence_mean)
from .grpo_loss import (clip_fractions, drop_constant_groups, dynamic_sampling_mask, grpo_loss, grpo_loss_and_grad,
                        grpo_loss_grad, overlong_penalty)
from .kl_estimators import kl_k1, kl_k2, kl_k3
from .labs import distill_train, eval_sim, grpo_toy, kl_studies, length_toy, r1_recipe
from .metrics import maj_at_k, majority_vote, pass_at_k
from .passk_advantage import passk_advantages
from .softmax import entropy, log_softmax, softmax

__version__ = "0.1.0"

__all__ = [
    # softmax.py, divergence.py
    "softmax", "log_softmax", "entropy", "kl_divergence", "kl_from_logits", "generalized_jsd",
    # distillation.py
    "distillation_loss", "distillation_grad",
    # metrics.py, error_bars.py, grading/
    "pass_at_k", "majority_vote", "maj_at_k",
    "Estimate", "mean_with_se", "pass_at_1", "naive_se", "clustered_se", "paired_difference",
    "unpaired_difference", "VarianceComponents", "variance_components", "standard_error",
    "detection_power", "detectable_difference", "questions_needed", "samples_needed",
    "extract_answer", "normalize_answer", "parse_answer", "is_correct", "GRADERS",
    # kl_estimators.py
    "kl_k1", "kl_k2", "kl_k3",
    # grpo.py
    "group_advantages", "clipped_surrogate", "clipped_surrogate_grad", "sequence_mean",
    "grpo_objective", "grpo_objective_grad",
    # grpo_loss.py
    "grpo_loss", "grpo_loss_grad", "grpo_loss_and_grad", "clip_fractions", "overlong_penalty", "dynamic_sampling_mask",
    "drop_constant_groups",
    # passk_advantage.py
    "passk_advantages",
    # labs (teaching simulations), used as namespaces; graded exercises (r1lib.exercises.check)
    "distill_train", "eval_sim", "kl_studies", "grpo_toy", "length_toy", "r1_recipe", "exercises",
]

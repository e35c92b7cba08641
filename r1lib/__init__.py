"""r1lib: the math behind DeepSeek-R1 as a small, exact NumPy library.

Every formula of the notebooks lives here once:

- ``softmax``, ``divergence``: temperature softmax, entropy, KL, generalized JSD (log space);
- ``distillation``: the T^2-scaled soft-target loss and its gradient;
  ``distill_train``: NumPy teachers/students and the three ways to distil (notebook 01);
- ``metrics``: pass@k, majority vote, maj@k; ``error_bars``: clustered and paired standard
  errors; ``answers``: final-answer extraction, normalisation and the builtin grader;
  ``grading``: the graders behind ``is_correct(text, gold, grader="auto")`` (math-verify in
  worker processes with a time limit, imported only when used); ``score``: the ``r1-score``
  command (``python -m r1lib.score SAMPLES.jsonl``); ``eval_sim``: a simulated benchmark
  (notebook 02);
- ``kl_estimators``: k1, k2, k3; ``kl_studies``: their closed forms, Monte Carlo and gradient
  studies (notebook 03);
- ``grpo_loss``: TRL's GRPO-family loss and its exact gradient (Dr. GRPO, DAPO, GSPO, CISPO, the
  KL choices), DAPO's overlong penalty and dynamic sampling;
- ``grpo``: group advantages, the clipped surrogate and the GRPO objective; ``grpo_toy``: a toy
  R1-style task trained with GRPO (notebook 04); ``length_toy``: a toy with free output length,
  trained with ``grpo_loss``'s switches (notebook 05);
- ``r1_recipe``: the R1 pipeline in miniature, from a base policy to a distilled student, with a
  reward-hacking loop (notebook 06).

``exercises``: the graded exercises of every notebook (``r1lib.exercises.check("02.1", answer)``).

``plotting``, ``widgets`` and the ``figures`` package (figure style, slider panels, one figure
module per notebook) import matplotlib/ipywidgets and are not imported here, so the numeric core
needs only NumPy. The teaching modules (``distill_train``, ``eval_sim``, ``kl_studies``,
``grpo_toy``, ``length_toy``, ``r1_recipe``) are used as namespaces: ``from r1lib import kl_studies``.
Imports point down the layers: figures -> teaching modules (labs) -> core.
"""
from . import distill_train, eval_sim, exercises, grpo_toy, kl_studies, length_toy, r1_recipe
from .answers import GRADERS, extract_answer, is_correct, normalize_answer, parse_answer
from .distillation import distillation_grad, distillation_loss
from .divergence import generalized_jsd, kl_divergence, kl_from_logits
from .error_bars import (Estimate, clustered_se, mean_with_se, naive_se, paired_difference, pass_at_1,
                         unpaired_difference)
from .grpo import (clipped_surrogate, clipped_surrogate_grad, group_advantages, grpo_objective,
                   grpo_objective_grad, sequence_mean)
from .grpo_loss import (clip_fractions, drop_constant_groups, dynamic_sampling_mask, grpo_loss, grpo_loss_and_grad,
                        grpo_loss_grad, overlong_penalty)
from .kl_estimators import kl_k1, kl_k2, kl_k3
from .metrics import maj_at_k, majority_vote, pass_at_k
from .softmax import entropy, log_softmax, softmax

__version__ = "0.1.0"

__all__ = [
    # softmax.py, divergence.py
    "softmax", "log_softmax", "entropy", "kl_divergence", "kl_from_logits", "generalized_jsd",
    # distillation.py
    "distillation_loss", "distillation_grad",
    # metrics.py, error_bars.py, answers.py
    "pass_at_k", "majority_vote", "maj_at_k",
    "Estimate", "mean_with_se", "pass_at_1", "naive_se", "clustered_se", "paired_difference",
    "unpaired_difference",
    "extract_answer", "normalize_answer", "parse_answer", "is_correct", "GRADERS",
    # kl_estimators.py
    "kl_k1", "kl_k2", "kl_k3",
    # grpo.py
    "group_advantages", "clipped_surrogate", "clipped_surrogate_grad", "sequence_mean",
    "grpo_objective", "grpo_objective_grad",
    # grpo_loss.py
    "grpo_loss", "grpo_loss_grad", "grpo_loss_and_grad", "clip_fractions", "overlong_penalty", "dynamic_sampling_mask",
    "drop_constant_groups",
    # teaching modules, used as namespaces; graded exercises (r1lib.exercises.check)
    "distill_train", "eval_sim", "kl_studies", "grpo_toy", "length_toy", "r1_recipe", "exercises",
]

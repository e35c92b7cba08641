"""r1lib: the math behind DeepSeek-R1 as a small, exact NumPy library.

Every formula of the notebooks lives here once: temperature softmax and KL (``softmax``,
``divergence``), knowledge distillation (``distillation``), evaluation metrics (``metrics``),
the GRPO KL estimators (``kl_estimators``) and GRPO itself (``grpo``). Plotting and widget helpers
(``plotting``, ``widgets``) import matplotlib/ipywidgets lazily, so the numeric core needs only
NumPy.
"""
from .distillation import distillation_grad, distillation_loss
from .divergence import generalized_jsd, kl_divergence, kl_from_logits
from .grpo import group_advantages
from .kl_estimators import kl_k1, kl_k2, kl_k3
from .metrics import maj_at_k, majority_vote, pass_at_k
from .softmax import entropy, log_softmax, softmax

__version__ = "0.1.0"

__all__ = [
    "softmax", "log_softmax", "entropy",
    "kl_divergence", "kl_from_logits", "generalized_jsd",
    "distillation_loss", "distillation_grad",
    "pass_at_k", "majority_vote", "maj_at_k",
    "kl_k1", "kl_k2", "kl_k3",
    "group_advantages",
]

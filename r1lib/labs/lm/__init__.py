"""The tiny transformer: a decoder-only language model in NumPy, forward and backward by hand.

``tokens`` holds the vocabulary (:func:`encode`, :func:`decode`); ``layers`` each layer's forward
beside its backward; ``model`` the :class:`Transformer` (logits in, ``dL/dlogits`` back);
``optim`` AdamW and gradient clipping; ``sampling`` :func:`generate` and :func:`log_probs` (text),
:func:`sample` and :func:`completion_log_probs` (token ids). The R1 recipe on top: ``arithmetic``
the task language (:func:`problems`, the corpus, the rewards), ``stages`` one seeded function
per stage (:func:`pretrain`, :func:`r1_zero`, :func:`rejection_sample`, :func:`sft`,
:func:`distill`, :func:`on_policy_distill`, :func:`evaluate`), ``checkpoints`` the shipped
weights (:func:`load`, :func:`load_log`), ``build`` rebuilds them (``make models``).
"""
from .model import Config, KVCache, Transformer, param_shapes
from .optim import AdamW, clip_grad_norm, global_norm
from .sampling import Samples, ScoredCompletions, completion_log_probs, generate, log_probs, sample
from .tokens import EOS, PAD, TOKEN_ID, VOCAB, VOCAB_SIZE, decode, encode
from .arithmetic import problems
from .checkpoints import STAGES, load, load_log
from .stages import distill, evaluate, grpo, on_policy_distill, pretrain, r1_zero, rejection_sample, sft

__all__ = ["VOCAB", "TOKEN_ID", "VOCAB_SIZE", "PAD", "EOS", "encode", "decode",
           "Config", "Transformer", "KVCache", "param_shapes",
           "AdamW", "clip_grad_norm", "global_norm",
           "generate", "log_probs", "sample", "completion_log_probs", "Samples", "ScoredCompletions",
           "problems", "STAGES", "load", "load_log",
           "pretrain", "r1_zero", "grpo", "rejection_sample", "sft", "distill", "on_policy_distill", "evaluate"]

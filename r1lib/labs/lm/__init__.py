"""The tiny transformer: a decoder-only language model in NumPy, forward and backward by hand.

``tokens`` holds the vocabulary (:func:`encode`, :func:`decode`).
"""
from .tokens import EOS, PAD, TOKEN_ID, VOCAB, VOCAB_SIZE, decode, encode

__all__ = ["VOCAB", "TOKEN_ID", "VOCAB_SIZE", "PAD", "EOS", "encode", "decode"]

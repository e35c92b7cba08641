"""The tiny transformer's vocabulary: a fixed list of tokens, text <-> token ids.

Six special tags are single tokens (``"<eos>"``, ``"<think>"``, ...); every other token is one
character: the digits, the arithmetic signs, a little punctuation, space, newline and the
lowercase letters (the base model's corpus holds some plain words: "so the answer is 85").

>>> encode("<think>12+3</think>")
array([ 2,  7,  8, 16,  9,  3])
>>> decode(encode("so 7<eos>"))
'so 7<eos>'

The tags are matched whole, and ``"<"`` is not a token on its own, so the split of a text into
tokens is unique: ``decode(encode(s)) == s`` for every text over the alphabet and
``encode(decode(ids))`` gives back ``ids`` (both property-tested).
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...validation import describe

__all__ = ["VOCAB", "TOKEN_ID", "VOCAB_SIZE", "SPECIAL_TOKENS", "PAD", "EOS", "encode", "decode",
           "check_token_ids"]

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<eos>", "<think>", "</think>", "<answer>", "</answer>")
VOCAB: tuple[str, ...] = (SPECIAL_TOKENS
                          + tuple("0123456789")
                          + tuple("+-*=()")
                          + (" ", "\n", ".", ",", ":")
                          + tuple("abcdefghijklmnopqrstuvwxyz"))
TOKEN_ID: dict[str, int] = {token: i for i, token in enumerate(VOCAB)}
VOCAB_SIZE: int = len(VOCAB)
PAD: int = TOKEN_ID["<pad>"]
EOS: int = TOKEN_ID["<eos>"]

# One alternation: a whole tag first, otherwise any single character (DOTALL so "\n" is one too).
_SPLIT = re.compile("|".join(re.escape(tag) for tag in SPECIAL_TOKENS) + "|.", re.DOTALL)
_VOCAB_ARRAY = np.array(VOCAB, dtype=object)


def encode(text: str) -> np.ndarray:
    """Token ids of ``text``: each tag in :data:`SPECIAL_TOKENS` is one token, any other
    character is one token.

    Returns a 1-D int64 array (empty for ``""``). A character outside the vocabulary (a capital
    letter, ``"<"`` outside a tag, ...) raises ValueError naming the character and its position.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {describe(text)}")
    pieces = _SPLIT.findall(text)
    try:
        return np.fromiter((TOKEN_ID[p] for p in pieces), dtype=np.int64, count=len(pieces))
    except KeyError:
        pass
    position = 0  # the slow path only finds and names the first unknown character
    for piece in pieces:
        if piece not in TOKEN_ID:
            raise ValueError(f"text has character {piece!r} at position {position}, which is not in "
                             f"the vocabulary (lowercase letters, digits, '+-*=()', ' \\n.,:' and the tags "
                             f"{', '.join(SPECIAL_TOKENS)}): {describe(text)}")
        position += len(piece)
    raise AssertionError("unreachable")  # pragma: no cover


def decode(ids: Any) -> str:
    """The text of a 1-D sequence of token ids (the concatenation of their tokens).

    Ids are integers in ``[0, VOCAB_SIZE)``; one out of range raises ValueError naming the id and
    its position. ``"<pad>"`` and ``"<eos>"`` are decoded like any other token (strip them
    yourself if you do not want them in the text).
    """
    if isinstance(ids, (str, bytes)) or ids is None:
        raise TypeError(f"ids must be a 1-D sequence of integers, got {describe(ids)}")
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return ""
    return "".join(_VOCAB_ARRAY[check_token_ids(arr, "ids")])


def check_token_ids(arr: np.ndarray, name: str, vocab_size: int = VOCAB_SIZE) -> np.ndarray:
    """``arr`` as int64 token ids, each in ``[0, vocab_size)``.

    Raises TypeError for a dtype that is not an integer (booleans included), and ValueError
    naming ``name``, the first id out of range and its position.
    """
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= vocab_size))
    if bad.size:
        raise ValueError(f"{name} has token id {int(arr[bad[0]])} at position {int(bad[0])}, "
                         f"outside [0, {vocab_size})")
    return arr.astype(np.int64, copy=False)

"""The tiny transformer's vocabulary (r1lib.labs.lm.tokens): round trips, uniqueness, strictness."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from r1lib.labs.lm import tokens
from r1lib.labs.lm.tokens import EOS, PAD, SPECIAL_TOKENS, TOKEN_ID, VOCAB, VOCAB_SIZE, decode, encode

CHARS = [t for t in VOCAB if len(t) == 1]
# Texts over the alphabet: any mix of whole tags and single characters.
texts = st.lists(st.sampled_from(CHARS + list(SPECIAL_TOKENS)), max_size=60).map("".join)


def test_vocabulary_is_the_issue_list():
    assert VOCAB[:6] == ("<pad>", "<eos>", "<think>", "</think>", "<answer>", "</answer>")
    expected = set("0123456789+-*=() \n.,:abcdefghijklmnopqrstuvwxyz") | set(SPECIAL_TOKENS)
    assert set(VOCAB) == expected and len(VOCAB) == len(expected) == VOCAB_SIZE == 53
    assert all(VOCAB[TOKEN_ID[t]] == t for t in VOCAB)
    assert (VOCAB[PAD], VOCAB[EOS]) == ("<pad>", "<eos>")


def test_tags_are_one_token_and_characters_one_each():
    ids = encode("<think>12+3</think> so <answer>15</answer><eos>")
    expected = [TOKEN_ID[t] for t in ["<think>", "1", "2", "+", "3", "</think>", " ", "s", "o", " ",
                                      "<answer>", "1", "5", "</answer>", "<eos>"]]
    assert ids.tolist() == expected
    assert ids.dtype == np.int64 and encode("").shape == (0,)


@given(texts)
def test_decode_encode_round_trip(text):
    assert decode(encode(text)) == text


@given(st.lists(st.integers(0, VOCAB_SIZE - 1), max_size=60))
def test_encode_decode_round_trip(ids):
    # The split is unique: "<" is no token on its own, so no run of tokens spells a tag.
    assert encode(decode(ids)).tolist() == ids


def test_decode_takes_arrays_of_any_int_dtype():
    ids = encode("12*3=36")
    assert decode(ids.astype(np.int32)) == decode(ids.tolist()) == "12*3=36"
    assert decode([]) == "" and decode(np.array([], dtype=np.int64)) == ""


@pytest.mark.parametrize("text, char, position", [
    ("12+3=15!", "'!'", 7), ("Carry", "'C'", 0), ("a<b", "'<'", 1), ("<think>x</thin>", "'<'", 8),
    ("\t", "'\\t'", 0), ("<eos>é", "'é'", 5)])
def test_unknown_character_names_character_and_position(text, char, position):
    with pytest.raises(ValueError) as info:
        encode(text)
    assert f"character {char} at position {position}" in str(info.value)


@pytest.mark.parametrize("ids, token_id, position", [([1, 2, 53], 53, 2), ([-1], -1, 0), (np.array([5, 99, 7]), 99, 1)])
def test_out_of_range_id_names_id_and_position(ids, token_id, position):
    with pytest.raises(ValueError) as info:
        decode(ids)
    assert f"token id {token_id}" in str(info.value) and f"position {position}" in str(info.value)


@pytest.mark.parametrize("call, error, words", [
    (lambda: encode(b"12"), TypeError, ["text", "str"]),
    (lambda: encode(None), TypeError, ["text"]),
    (lambda: decode("12"), TypeError, ["ids"]),
    (lambda: decode([1.0, 2.0]), TypeError, ["ids", "integer"]),
    (lambda: decode([True]), TypeError, ["ids"]),
    (lambda: decode([[1, 2]]), ValueError, ["ids", "1-D"]),
])
def test_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert all(w in str(info.value) for w in words)


def test_public_names():
    assert set(tokens.__all__) >= {"VOCAB", "TOKEN_ID", "PAD", "EOS", "encode", "decode"}

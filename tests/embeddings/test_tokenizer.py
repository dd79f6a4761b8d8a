"""The WordPiece tokenizer gives the ids the model was trained with (from vocab.txt)."""

# ruff: noqa: RUF001, RUF002  # look-alike Unicode characters are the point of these cases

from __future__ import annotations

import pytest

from threadloom.embeddings import _unicode8
from threadloom.embeddings._tokenizer import WordPieceTokenizer
from threadloom.errors import EmbeddingError


def ids(vocab: dict[str, int], *tokens: str) -> list[int]:
    """[CLS] tokens... [SEP] as ids, spelled by token."""
    return [vocab["[CLS]"], *(vocab[t] for t in tokens), vocab["[SEP]"]]


def test_vocab_ids_are_line_numbers(vocab: dict[str, int]) -> None:
    """vocab.txt's line number is the id: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102."""
    assert (vocab["[PAD]"], vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"]) == (0, 100, 101, 102)


def test_words_are_lowercased_and_wrapped_in_cls_and_sep(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """Plain words map to their vocabulary ids, lowercased, between [CLS] and [SEP]."""
    assert tokenizer.encode("Hello World") == ids(vocab, "hello", "world")


def test_punctuation_is_split_off(tokenizer: WordPieceTokenizer, vocab: dict[str, int]) -> None:
    """Every punctuation character is its own token, ASCII symbols included."""
    assert tokenizer.encode("Hi, you!") == ids(vocab, "hi", ",", "you", "!")
    assert tokenizer.encode("a+b=c$") == ids(vocab, "a", "+", "b", "=", "c", "$")
    assert tokenizer.encode("“ok”…") == ids(vocab, "“", "ok", "”", "…")


def test_unknown_words_split_into_word_pieces(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """Out-of-vocabulary words become the longest matching pieces, continued with ##."""
    assert tokenizer.tokenize("embeddings") == ["em", "##bed", "##ding", "##s"]
    assert tokenizer.encode("tokenization") == ids(vocab, "token", "##ization")
    # Greedy longest match first: "##ffa" wins over "##ff" + "##able".
    assert tokenizer.tokenize("unaffable") == ["una", "##ffa", "##ble"]


def test_accents_are_stripped(tokenizer: WordPieceTokenizer, vocab: dict[str, int]) -> None:
    """Accented letters lose their accents: "Crème Brûlée" is "creme brulee"."""
    assert tokenizer.encode("Café") == ids(vocab, "cafe")
    assert tokenizer.encode("Crème Brûlée") == tokenizer.encode("creme brulee")


def test_greek_capital_sigma_lowercases_without_the_final_form(
    tokenizer: WordPieceTokenizer,
) -> None:
    """Σ lowercases to σ even at the end of a word, character by character like the model's tokenizer."""
    assert tokenizer.tokenize("ΟΣ") == tokenizer.tokenize("οσ")


def test_cjk_ideographs_become_single_tokens(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """Each CJK ideograph is its own word, even without spaces."""
    assert tokenizer.encode("東京") == ids(vocab, "東", "京")
    assert tokenizer.encode("ok東") == ids(vocab, "ok", "東")


def test_control_characters_are_dropped_and_odd_spaces_separate(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """Control and format characters vanish; tabs, newlines and Unicode spaces split words."""
    assert tokenizer.encode("he\x00l\u200blo") == ids(vocab, "hello")
    expected = ids(vocab, "a", "b", "c", "d", "e")
    assert tokenizer.encode("a\tb\nc\u00a0d\u2028e") == expected
    assert tokenizer.encode("a\r\nb c\u3000d e") == expected


def test_words_with_no_pieces_and_very_long_words_are_unknown(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """A word with no full WordPiece cover, or over 100 characters, is one [UNK]."""
    assert tokenizer.encode("€") == ids(vocab, "€")
    assert tokenizer.encode("hi 😀") == ids(vocab, "hi", "[UNK]")
    assert tokenizer.encode("a" * 101) == ids(vocab, "[UNK]")
    assert len(tokenizer.encode("a" * 100)) > 3


def test_special_tokens_written_in_the_text_are_kept_whole(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """A literal "[SEP]" in the text is the [SEP] token; other bracketed words are not special."""
    assert tokenizer.encode("a [SEP] b") == ids(vocab, "a", "[SEP]", "b")
    assert tokenizer.encode("[sep]") == ids(vocab, "[", "sep", "]")


def test_empty_and_blank_text_give_only_cls_and_sep(tokenizer: WordPieceTokenizer) -> None:
    """Nothing to tokenize still gives [CLS] [SEP]."""
    assert tokenizer.encode("") == [101, 102]
    assert tokenizer.encode(" \n\t ") == [101, 102]


def test_long_text_is_truncated_to_the_model_maximum(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """Text longer than 256 tokens keeps its first 254 pieces and still ends with [SEP]."""
    encoded = tokenizer.encode("word " * 1000)
    assert tokenizer.max_length == 256
    assert len(encoded) == 256
    assert encoded[0] == vocab["[CLS]"] and encoded[-1] == vocab["[SEP]"]
    assert set(encoded[1:-1]) == {vocab["word"]}
    assert tokenizer.encode("word " * 254) == encoded


def test_the_ascii_fast_path_agrees_with_the_general_path(tokenizer: WordPieceTokenizer) -> None:
    """ASCII text tokenizes the same whether or not a non-ASCII character is present."""
    text = "Ready? Set_go! (it's 9:30pm) -- see a[i] & {x}\tOK\x7f"
    assert tokenizer.encode(text + " é") == tokenizer.encode(text)[:-1] + tokenizer.encode("é")[1:]


@pytest.mark.parametrize("length", [0, 1])
def test_a_max_length_without_room_for_cls_and_sep_is_rejected(length: int) -> None:
    """max_length must leave room for the two special tokens."""
    with pytest.raises(EmbeddingError, match="max_length"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], max_length=length)


def test_a_vocabulary_without_special_tokens_is_rejected() -> None:
    """A vocabulary lacking [UNK] cannot tokenize, and says so."""
    with pytest.raises(EmbeddingError, match=r"\[UNK\]"):
        WordPieceTokenizer(["[PAD]", "[CLS]", "[SEP]", "a"])


def test_characters_are_classified_by_unicode_8(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """Marks and punctuation added to Unicode after 8.0 are ordinary characters, as in the reference."""
    # U+2E43, a dash added in Unicode 9, is not punctuation here: it joins the word, unknown.
    assert tokenizer.encode("a\u2e43b") == ids(vocab, "[UNK]")
    # U+1734 was a non-spacing mark in Unicode 8 (a spacing mark since 14): it is stripped.
    assert tokenizer.encode("a\u1734b") == ids(vocab, "ab")
    # Unassigned code points are kept, not dropped like control characters.
    assert tokenizer.encode("a\u0378b") == ids(vocab, "[UNK]")
    assert tokenizer.encode("a\u200bb") == ids(vocab, "ab")


def test_cjk_extension_e_starts_where_the_reference_starts_it(
    tokenizer: WordPieceTokenizer, vocab: dict[str, int]
) -> None:
    """U+2B920 and later are isolated like other ideographs; U+2B820..U+2B91F are not."""
    assert tokenizer.encode("a\U0002b920b") == ids(vocab, "a", "[UNK]", "b")
    assert tokenizer.encode("a\U0002b820b") == ids(vocab, "[UNK]")


def test_the_unicode_tables_are_sorted_disjoint_ranges() -> None:
    """Each generated table parses into increasing, non-overlapping code point ranges."""
    for table in (_unicode8.CONTROL, _unicode8.PUNCTUATION, _unicode8.NONSPACING_MARK):
        previous_end = -1
        for item in table.split():
            first, _, last = item.partition("-")
            start, end = int(first, 16), int(last or first, 16)
            assert previous_end < start <= end <= 0x10FFFF, item
            previous_end = end

"""A BERT WordPiece tokenizer in pure Python, read from ``vocab.txt``.

It reproduces the uncased BERT pipeline that all-MiniLM-L6-v2 was trained with:

1. special tokens written literally in the text (``[SEP]``, ...) are kept whole;
2. clean: drop NUL, U+FFFD and control, format, private-use and surrogate
   characters, turn every white-space character into a plain space;
3. put spaces around CJK ideographs, so each becomes its own word;
4. strip accents (NFD, then drop non-spacing marks) and lowercase;
5. split on white space and isolate every punctuation character;
6. WordPiece: greedy longest match, continuations prefixed ``##``; a word
   with no full match, or longer than 100 characters, becomes ``[UNK]``;
7. ``[CLS] ... [SEP]``, truncated to ``max_length`` tokens.

Characters are classified (control, punctuation, non-spacing mark) by Unicode
8.0, as the reference implementation does, not by Python's newer tables; the
ids match the reference tokenizer's on every code point below U+30000.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from threadloom.embeddings import _unicode8
from threadloom.errors import EmbeddingError

__all__ = ["WordPieceTokenizer"]

# Unicode's White_Space property (what the reference tokenizer uses), not just category Zs.
_WHITESPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The ideograph blocks BERT isolates. The reference starts the Extension E range at
# U+2B920 rather than U+2B820, and the model was used that way: we follow it.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in _SPECIAL) + ")")
# ASCII fast path: after cleaning, words are runs of letters/digits, and every
# other visible ASCII character is punctuation in BERT's sense.
_ASCII_PIECES = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_SPACE = re.compile(r"[\t\n\r]")


_Ranges = tuple[list[int], list[int]]


def _ranges(table: str) -> _Ranges:
    starts, ends = [], []
    for item in table.split():
        first, _, last = item.partition("-")
        starts.append(int(first, 16))
        ends.append(int(last or first, 16))
    return starts, ends


_CONTROL = _ranges(_unicode8.CONTROL)
_PUNCTUATION = _ranges(_unicode8.PUNCTUATION)
_NONSPACING_MARK = _ranges(_unicode8.NONSPACING_MARK)


def _in(cp: int, ranges: _Ranges) -> bool:
    i = bisect_right(ranges[0], cp) - 1
    return i >= 0 and cp <= ranges[1][i]


@lru_cache(maxsize=8192)
def _char_class(ch: str) -> int:
    """0 keep, 1 drop (control), 2 white space, 3 punctuation, 4 CJK ideograph."""
    cp = ord(ch)
    if ch in _WHITESPACE:
        # Tab, newline and carriage return count as white space; \v, \f and U+0085
        # are control characters first, so they are dropped.
        return 1 if ch in "\v\f\x85" else 2
    # Control, format, private-use and surrogate characters are dropped; unassigned
    # code points are not: the reference keeps them as ordinary characters.
    if cp == 0 or cp == 0xFFFD or _in(cp, _CONTROL):
        return 1
    # Every non-alphanumeric ASCII character counts as punctuation ($, +, ^, ...).
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return 3
    if _in(cp, _PUNCTUATION):
        return 3
    if any(lo <= cp <= hi for lo, hi in _CJK_RANGES):
        return 4
    return 0


@lru_cache(maxsize=8192)
def _is_nonspacing_mark(ch: str) -> bool:
    return _in(ord(ch), _NONSPACING_MARK)


def _strip_accents_lower(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not _is_nonspacing_mark(c))
    # The reference lowercases character by character; str.lower() alone would turn a
    # word-final capital sigma into the final form "\u03c2", a different vocabulary entry.
    return stripped.replace("\u03a3", "\u03c3").lower()


class WordPieceTokenizer:
    """Uncased BERT WordPiece tokenization, matching the model's ``tokenizer.json``.

    >>> tok = WordPieceTokenizer.from_vocab_file(path_to_vocab)  # doctest: +SKIP
    >>> tok.encode("Hello, world!")  # doctest: +SKIP
    [101, 7592, 1010, 2088, 999, 102]
    """

    def __init__(
        self,
        vocab: Sequence[str],
        *,
        max_length: int = 256,
        max_chars_per_word: int = 100,
    ) -> None:
        if max_length < 2:
            raise EmbeddingError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        self.vocab: dict[str, int] = {}
        for i, token in enumerate(vocab):
            # Keep the first id if a token repeats, as the reference loader does.
            self.vocab.setdefault(token, i)
        for token in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"):
            if token not in self.vocab:
                raise EmbeddingError(f"the vocabulary has no {token} token")
        self.unk_id = self.vocab["[UNK]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        self.max_length = max_length
        self.max_chars_per_word = max_chars_per_word
        # Per-instance cache: chat text repeats words a lot, and WordPiece is the slow part.
        self._word_ids = lru_cache(maxsize=65536)(self._wordpiece)

    @classmethod
    def from_vocab_file(cls, path: Path, *, max_length: int = 256) -> WordPieceTokenizer:
        """Load ``vocab.txt`` (one token per line, line number = id)."""
        with path.open(encoding="utf-8") as f:
            vocab = [line.rstrip("\n").rstrip("\r") for line in f]
        return cls(vocab, max_length=max_length)

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text``: ``[CLS] pieces... [SEP]``, at most ``max_length`` long."""
        budget = self.max_length - 2
        ids: list[int] = [self.cls_id]
        for part in _SPECIAL_RE.split(text) if "[" in text else (text,):
            if not part:
                continue
            special = self.vocab.get(part) if part in _SPECIAL else None
            if special is not None:
                ids.append(special)
            else:
                for word in self.words(part):
                    ids.extend(self._word_ids(word))
                    if len(ids) > budget:
                        break
            if len(ids) > budget:
                break
        del ids[budget + 1 :]
        ids.append(self.sep_id)
        return ids

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` as strings, without ``[CLS]``/``[SEP]`` (for inspection)."""
        inverse = {i: t for t, i in self.vocab.items()}
        return [inverse[i] for i in self.encode(text)[1:-1]]

    def words(self, text: str) -> list[str]:
        """Normalize ``text`` and split it into words and single punctuation marks."""
        if text.isascii():
            text = _ASCII_CONTROL.sub("", text)
            text = _ASCII_SPACE.sub(" ", text).lower()
            return _ASCII_PIECES.findall(text)
        # General path: clean and mark CJK first, then strip accents and lowercase.
        out: list[str] = []
        for ch in text:
            kind = _char_class(ch)
            if kind == 0 or kind == 3:
                out.append(ch)
            elif kind == 2:
                out.append(" ")
            elif kind == 4:
                out.extend((" ", ch, " "))
        normalized = _strip_accents_lower("".join(out))
        words: list[str] = []
        for chunk in normalized.split(" "):
            start = 0
            for i, ch in enumerate(chunk):
                # Stripping and lowercasing can expose new characters; classify after them.
                if _char_class(ch) == 3:
                    if start < i:
                        words.append(chunk[start:i])
                    words.append(ch)
                    start = i + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def _wordpiece(self, word: str) -> tuple[int, ...]:
        if len(word) > self.max_chars_per_word:
            return (self.unk_id,)
        vocab = self.vocab
        pieces: list[int] = []
        start = 0
        n = len(word)
        while start < n:
            end = n
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)
            pieces.append(found)
            start = end
        return tuple(pieces)

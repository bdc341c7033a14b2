"""Turn text into integer sequences a network can read: word Tokenizer, padding, characters.

`Tokenizer` and `pad_sequences` behave like the ones in Keras, so programs written for
Keras port over unchanged:

    tok = Tokenizer(num_words=10_000, oov_token="<unk>")
    tok.fit_on_texts(train_texts)               # word_index: 1 = "<unk>", then by frequency
    seqs = tok.texts_to_sequences(test_texts)   # lists of word indices (0 is never used)
    X = pad_sequences(seqs, maxlen=50)          # (n, 50) int32, zeros in front
    bag = tok.texts_to_matrix(test_texts, mode="tfidf")   # (n, num_words) for small models

`CharVocab` maps the characters of a text to indices and back, for character-level
language models.
"""

import numpy as np

# The characters Keras's Tokenizer removes by default: ASCII punctuation, tab and newline
# (not the apostrophe, so "don't" stays one word).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(text, filters=KERAS_FILTERS, lower=True, split=" "):
    """Split one text into words: lower-case it, turn each filter character into `split`,
    split on `split`, drop empty strings.

    >>> text_to_word_sequence("Hello, world!  Hello.")
    ['hello', 'world', 'hello']
    """
    if not isinstance(text, str):
        raise TypeError(f"text_to_word_sequence: expected a str, got {type(text).__name__}")
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({char: split for char in filters}))
    return [word for word in text.split(split) if word]


class Tokenizer:
    """Word tokenizer with a vocabulary ranked by frequency (Keras semantics).

    num_words:  if given, only the words whose index is below num_words are kept (so the
                num_words - 1 most frequent, counting the oov token); the others become
                the oov index, or are dropped when there is no oov token.
    oov_token:  a stand-in for unknown words; it gets index 1 and words start at 2.
    lower, filters, split: how a text is cut into words (text_to_word_sequence).

    After fit_on_texts:
    word_counts   {word: occurrences}, in order of first appearance
    word_docs     {word: number of texts containing it}
    word_index    {word: index}, 1-based, most frequent first, ties in order of first
                  appearance; index 0 is left free for padding
    index_word    the inverse of word_index
    document_count  the number of texts seen
    """

    def __init__(self, num_words=None, oov_token=None, lower=True, filters=KERAS_FILTERS,
                 split=" "):
        if num_words is not None and (not isinstance(num_words, int) or num_words < 1):
            raise ValueError(f"Tokenizer: num_words must be a positive int or None, "
                             f"got {num_words!r}")
        self.num_words = num_words
        self.oov_token = oov_token
        self.lower = lower
        self.filters = filters
        self.split = split
        self.word_counts = {}
        self.word_docs = {}
        self.word_index = {}
        self.index_word = {}
        self.document_count = 0

    def _words(self, text):
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """Count the words of `texts` (a list of str) and rebuild the vocabulary.

        Calling it again adds to the counts, as in Keras.
        """
        texts = _as_text_list(texts, "Tokenizer.fit_on_texts")
        for text in texts:
            words = self._words(text)
            self.document_count += 1
            for word in words:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            for word in set(words):
                self.word_docs[word] = self.word_docs.get(word, 0) + 1
        # sorted() is stable, so words with equal counts keep their first-seen order.
        ranked = sorted(self.word_counts, key=self.word_counts.get, reverse=True)
        if self.oov_token is not None:
            ranked = [self.oov_token] + [word for word in ranked if word != self.oov_token]
        self.word_index = {word: i for i, word in enumerate(ranked, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}
        return self

    def _kept(self, index):
        """Whether a word index survives the num_words cut-off."""
        return self.num_words is None or index < self.num_words

    def texts_to_sequences(self, texts):
        """One list of word indices per text.

        Unknown words, and words cut off by num_words, become the oov index (1) if there
        is an oov token and are dropped otherwise.
        """
        texts = _as_text_list(texts, "Tokenizer.texts_to_sequences")
        oov_index = self.word_index.get(self.oov_token)
        sequences = []
        for text in texts:
            sequence = []
            for word in self._words(text):
                index = self.word_index.get(word)
                if index is not None and self._kept(index):
                    sequence.append(index)
                elif oov_index is not None:
                    sequence.append(oov_index)
            sequences.append(sequence)
        return sequences

    def sequences_to_texts(self, sequences):
        """The words back from index sequences, joined by spaces (to look at the data)."""
        oov_index = self.word_index.get(self.oov_token)
        texts = []
        for sequence in sequences:
            words = []
            for index in np.asarray(sequence, dtype=np.int64).ravel().tolist():
                if index in self.index_word and self._kept(index):
                    words.append(self.index_word[index])
                elif oov_index is not None:
                    words.append(self.oov_token)
            texts.append(" ".join(words))
        return texts

    def _matrix_width(self):
        if self.num_words is not None:
            return self.num_words
        if not self.word_index:
            raise ValueError("Tokenizer: fit_on_texts first, or give num_words, to size the matrix")
        return len(self.word_index) + 1

    def sequences_to_matrix(self, sequences, mode="binary"):
        """A (len(sequences), width) float64 bag-of-words matrix; column j is word index j.

        width is num_words, or len(word_index) + 1; column 0 stays zero. Per text and word:
        binary  1 if the word occurs
        count   the number of occurrences c
        freq    c / length of the text
        tfidf   (1 + log c) * log(1 + document_count / (1 + texts containing the word))
        """
        if mode not in MATRIX_MODES:
            raise ValueError(f"Tokenizer: unknown matrix mode {mode!r}; use one of {MATRIX_MODES}")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: fit_on_texts first: tfidf needs document frequencies")
        width = self._matrix_width()
        idf = self._idf(width) if mode == "tfidf" else None
        matrix = np.zeros((len(sequences), width))
        for row, sequence in enumerate(sequences):
            sequence = np.asarray(sequence, dtype=np.int64).ravel()
            if sequence.size == 0:
                continue
            counts = np.bincount(sequence[sequence < width], minlength=width).astype(np.float64)
            present = counts > 0
            if mode == "binary":
                matrix[row] = present
            elif mode == "count":
                matrix[row] = counts
            elif mode == "freq":
                matrix[row] = counts / sequence.size
            else:
                matrix[row, present] = (1 + np.log(counts[present])) * idf[present]
        return matrix

    def _idf(self, width):
        """log(1 + N / (1 + df)) for every column, df = texts containing that word."""
        doc_freq = np.zeros(width)
        for word, count in self.word_docs.items():
            index = self.word_index[word]
            if index < width:
                doc_freq[index] = count
        return np.log(1 + self.document_count / (1 + doc_freq))

    def texts_to_matrix(self, texts, mode="binary"):
        """texts_to_sequences, then sequences_to_matrix (see there for the modes)."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)


def _as_text_list(texts, where):
    if isinstance(texts, str):
        raise TypeError(f"{where}: expected a list of texts, got a single str; wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{where}: text {i} is a {type(text).__name__}, expected str")
    return texts


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0):
    """Stack sequences of different lengths into one (n, maxlen) array (Keras semantics).

    Shorter sequences are filled with `value`, before them (padding="pre", the default:
    a recurrent network then reads the real words last) or after ("post"). Longer ones
    lose their first elements (truncating="pre") or their last ("post"). maxlen defaults
    to the longest sequence. Elements may themselves be vectors: the result is then
    (n, maxlen, *element_shape).

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
    array([[2, 3],
           [0, 4]], dtype=int32)
    """
    for name, option in (("padding", padding), ("truncating", truncating)):
        if option not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {option!r}")
    sequences = [np.asarray(s.numpy() if hasattr(s, "numpy") else s) for s in sequences]
    lengths = [len(s) for s in sequences]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be >= 0, got {maxlen}")
    element_shape = next((s.shape[1:] for s in sequences if len(s)), ())
    out = np.full((len(sequences), maxlen) + element_shape, value, dtype=dtype)
    for row, sequence in enumerate(sequences):
        if len(sequence) == 0:
            continue
        if sequence.shape[1:] != element_shape:
            raise ValueError(f"pad_sequences: sequence {row} has elements of shape "
                             f"{sequence.shape[1:]}, the first non-empty one {element_shape}")
        if truncating == "pre":
            kept = sequence[max(len(sequence) - maxlen, 0):]
        else:
            kept = sequence[:maxlen]
        if padding == "pre":
            out[row, maxlen - len(kept):] = kept
        else:
            out[row, :len(kept)] = kept
    return out


class CharVocab:
    """The characters of a text, each with an index: sorted, so the same text always gives
    the same vocabulary.

    >>> vocab = CharVocab("hello")
    >>> vocab.itos, vocab.encode("hell").tolist(), vocab.decode([2, 3])
    (['e', 'h', 'l', 'o'], [1, 0, 2, 2], 'lo')
    """

    def __init__(self, text=None):
        self.stoi = {}
        self.itos = []
        if text is not None:
            self.fit(text)

    def fit(self, text):
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.fit: expected a str, got {type(text).__name__}")
        self.itos = sorted(set(text))
        self.stoi = {char: i for i, char in enumerate(self.itos)}
        return self

    @property
    def size(self):
        return len(self.itos)

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        """The indices of the characters of `text`, as an int64 array."""
        try:
            return np.array([self.stoi[char] for char in text], dtype=np.int64)
        except KeyError as error:
            raise KeyError(f"CharVocab.encode: character {error.args[0]!r} is not in the "
                           f"vocabulary of {self.size} characters") from None

    def decode(self, indices):
        """The text spelled by `indices` (a list, an array or a minidl Tensor)."""
        if hasattr(indices, "numpy"):
            indices = indices.numpy()
        indices = np.asarray(indices).ravel().tolist()
        for index in indices:
            if not 0 <= index < self.size:
                raise IndexError(f"CharVocab.decode: index {index} is outside 0..{self.size - 1}")
        return "".join(self.itos[index] for index in indices)

    def __repr__(self):
        return f"CharVocab(size={self.size})"

"""Keras building blocks that encode raw features, shared by retrieval and ranking.

Lookup layers read vocabulary files (see `Vocabularies.write_files`), so exported
SavedModels carry the vocabularies as assets. Every lookup has an out-of-vocabulary
bucket: an unknown value still gets an embedding.
"""

from __future__ import annotations

import tensorflow as tf

from core import features as F


def regularizer(l2: float):
    """An L2 regularizer, or None when l2 is 0."""
    return tf.keras.regularizers.l2(l2) if l2 > 0 else None


def embedding_penalty(l2: float, per_lookup: bool = False) -> dict:
    """An Embedding's L2 penalty as its keyword arguments.

    By default the whole table, every step (`embeddings_regularizer`). Its gradient is dense,
    so every row of the table changes at every step and LazyAdam cannot skip any: the step
    costs O(vocabulary). `per_lookup` penalises only the rows a batch looked up, averaged over
    the batch (`activity_regularizer`): SGD matrix factorisation's per-rating penalty, a
    sparse gradient, and a row penalised in proportion to how often it is seen.
    """
    penalty = regularizer(l2)
    if penalty is None:
        return {}
    return {"activity_regularizer" if per_lookup else "embeddings_regularizer": penalty}


def embedding(
    vocab_file: str, dim: int, l2: float = 0.0, per_lookup: bool = False
) -> tf.keras.Sequential:
    """[batch...] string -> [batch..., dim]: StringLookup (1 OOV bucket) then Embedding."""
    lookup = tf.keras.layers.StringLookup(vocabulary=vocab_file)
    return tf.keras.Sequential(
        [
            lookup,
            tf.keras.layers.Embedding(
                lookup.vocabulary_size(), dim, **embedding_penalty(l2, per_lookup)
            ),
        ]
    )


def age_bucket_embedding(dim: int) -> tf.keras.Sequential:
    """[batch] float32 `bucketized_user_age` -> [batch, dim]; an unknown bucket is OOV."""
    return tf.keras.Sequential(
        [
            tf.keras.layers.Lambda(lambda ages: tf.cast(ages, tf.int64)),
            tf.keras.layers.IntegerLookup(vocabulary=[int(a) for a in F.AGE_BUCKETS]),
            tf.keras.layers.Embedding(len(F.AGE_BUCKETS) + 1, dim),
        ]
    )


def zip_prefix(zip_codes: tf.Tensor) -> tf.Tensor:
    """TensorFlow twin of `features.zip_prefix` ([batch] string -> [batch] string)."""
    return tf.strings.substr(tf.strings.upper(tf.strings.strip(zip_codes)), 0, F.ZIP_PREFIX_LENGTH)


# Standardised values are clipped here: a request far outside the training range (a
# timestamp of 0, or years after the data) saturates instead of dominating the model.
STANDARDIZED_LIMIT = 5.0


def standardize(values: tf.Tensor, stats: tuple[float, float]) -> tf.Tensor:
    """(x - mean) / std, clipped to +-STANDARDIZED_LIMIT; computed in float64 (timestamps
    lose seconds in float32), returned as float32."""
    mean, variance = stats
    scaled = (tf.cast(values, tf.float64) - mean) / max(variance, 1e-12) ** 0.5
    return tf.cast(tf.clip_by_value(scaled, -STANDARDIZED_LIMIT, STANDARDIZED_LIMIT), tf.float32)


def clip_time(timestamps: tf.Tensor, time_range: tuple[int, ...]) -> tf.Tensor:
    """Request times clipped to the training data's (first, last) timestamp, so time features
    never extrapolate (a request 30 years later reads as the end of the data). `()`: as is."""
    if not time_range:
        return timestamps
    first, last = (tf.constant(t, timestamps.dtype) for t in time_range)
    return tf.clip_by_value(timestamps, first, last)


def masked_mean(embeddings: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean over axis 1 of [batch, n, dim] where mask [batch, n] is true; zeros if none."""
    weights = tf.cast(mask, embeddings.dtype)[..., tf.newaxis]
    return tf.reduce_sum(embeddings * weights, axis=1) / tf.maximum(
        tf.reduce_sum(weights, axis=1), 1.0
    )


def normalized_multi_hot(values: tf.Tensor) -> tf.Tensor:
    """[batch, n] multi-hot -> each row divided by its count (zeros stay zeros)."""
    values = tf.cast(values, tf.float32)
    return values / tf.maximum(tf.reduce_sum(values, axis=1, keepdims=True), 1.0)


class Demographics(tf.keras.layers.Layer):
    """User demographics -> [batch, 4 * dim + 1]: occupation, zip prefix, age bucket and
    gender embeddings, and the standardised age in years."""

    def __init__(
        self,
        vocab_files: dict[str, str],
        age_stats: tuple[float, float],
        dim: int,
        l2: float,
        per_lookup: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.occupation = embedding(vocab_files["user_occupation_text"], dim, l2, per_lookup)
        self.zip_prefix = embedding(vocab_files["zip_prefix"], dim, l2, per_lookup)
        self.age_bucket = age_bucket_embedding(dim)
        self.gender = tf.keras.layers.Embedding(2, dim)
        self.age_stats = age_stats

    def call(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.concat(
            [
                self.occupation(inputs[F.USER_OCCUPATION_TEXT.name]),
                self.zip_prefix(zip_prefix(inputs[F.USER_ZIP_CODE.name])),
                self.age_bucket(inputs[F.BUCKETIZED_USER_AGE.name]),
                self.gender(tf.cast(inputs[F.USER_GENDER.name], tf.int64)),
                standardize(inputs[F.RAW_USER_AGE.name], self.age_stats)[:, tf.newaxis],
            ],
            axis=1,
        )


class TitleEncoder(tf.keras.layers.Layer):
    """[batch] string titles -> [batch, dim] mean of their token embeddings."""

    def __init__(self, vocab_file: str, dim: int, l2: float, per_lookup: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.tokens = tf.keras.layers.TextVectorization(vocabulary=vocab_file)
        self.embedding = tf.keras.layers.Embedding(
            self.tokens.vocabulary_size(),
            dim,
            mask_zero=True,
            **embedding_penalty(l2, per_lookup),
        )

    def call(self, titles: tf.Tensor) -> tf.Tensor:
        return self.embed_tokens(self.tokens(titles))

    def embed_tokens(self, tokens: tf.Tensor) -> tf.Tensor:
        """[batch, length] token ids (0 pads) -> [batch, dim]: for titles tokenised once."""
        return masked_mean(self.embedding(tokens), tf.not_equal(tokens, 0))

"""Synthetic MovieLens in the ml-latest-small / ml-20m layout, at any size.

    recsys data synthesize --ratings 20000000 --users 138000 --movies 27000 --out DIR

Writes `DIR/ratings.csv` (userId,movieId,rating,timestamp) and `DIR/movies.csv`
(movieId,title,genres), read back as dataset "movielens-csv" through TFDS's own parser.
Shaped like MovieLens where the models can tell:

* long tails: movie popularity and user activity are log-normal (a few blockbusters and
  heavy raters, many rarely rated movies and light users), every user rates at least 5;
* taste: each movie belongs to one of `TASTES` groups (its genres follow the group) and each
  user prefers a few groups (Dirichlet), so who rated what is predictable from what else
  they rated; ratings are higher for preferred groups, with user and movie biases;
* time: each user is active over a stretch of the years 1996-2018, ratings spread over it;
  titles carry a release year (the ranking model reads it), before the movie's first rating.

Sampling is vectorised (no per-user loop, no re-sort of every pair when the users whose
draws repeated a movie draw again): a few seconds per million ratings here
(`benchmarks/results/scale.md`).
"""

from __future__ import annotations

import os
import time

import numpy as np

from core import features as F

TASTES = 24  # taste groups of movies
FIRST, LAST = 820_454_400, 1_537_833_600  # 1996-01-01 .. 2018-09-25, as MovieLens 20M/25M
MIN_RATINGS = 5  # per user, as MovieLens
EXPLORE = 0.1  # share of a user's ratings drawn from any taste group


def synthesize(
    out: str, ratings: int, users: int, movies: int, seed: int = 0, log=print
) -> dict[str, int]:
    """Writes the two files; returns the counts written (a user asked for more ratings than
    there are movies gets fewer, so the total may fall a little short)."""
    if ratings < users * MIN_RATINGS or movies < 10:
        raise ValueError(
            f"--ratings {ratings} must be at least {MIN_RATINGS} per user ({users} users) and "
            f"--movies at least 10"
        )
    started = time.time()
    rng = np.random.default_rng(seed)
    # Movies: taste group, popularity (log-normal), genres, release year.
    group = rng.integers(0, TASTES, movies)
    popularity = rng.lognormal(0.0, 2.0, movies)
    named = [g for g in F.GENRES if g not in ("Unknown", "(no genres listed)")]
    group_genres = rng.choice(named, (TASTES, 3))
    # Users: activity (log-normal, at least MIN_RATINGS) and taste over groups (Dirichlet).
    activity = rng.lognormal(0.0, 1.1, users)
    share = activity / activity.sum() * (ratings - MIN_RATINGS * users)
    counts = MIN_RATINGS + np.floor(share).astype(np.int64)
    counts[np.argsort(np.floor(share) - share)[: ratings - counts.sum()]] += 1  # exact total
    taste = rng.dirichlet(np.full(TASTES, 0.15), users)
    # Ratings: each user's count of (group by taste, then movie by popularity in the group),
    # drawn again for the users whose draws repeated a movie, until the counts are met.
    sampler = _Sampler(group, popularity, taste, rng)
    user = np.repeat(np.arange(users), counts)
    keys = np.unique(user.astype(np.int64) * movies + sampler.draw(user))
    have = np.bincount(keys // movies, minlength=users)
    for round_ in range(30):  # after 10 rounds, users who exhausted their tastes explore
        missing = np.repeat(np.arange(users), np.maximum(counts - have, 0))
        if not len(missing):
            break
        drawn = sampler.draw(missing, EXPLORE if round_ < 10 else 1.0)
        new = np.unique(missing.astype(np.int64) * movies + drawn)
        at = np.searchsorted(keys, new)
        new, at = _absent(keys, new, at)
        keys = np.insert(keys, at, new)  # stays sorted: one copy, not a sort of every key
        have += np.bincount(new // movies, minlength=users)
    pairs = keys
    user, movie = (keys // movies).astype(np.int64), (keys % movies).astype(np.int64)
    # Rating: 2.9 + biases + taste for the movie's group + noise, rounded to half stars.
    user_bias = rng.normal(0.0, 0.4, users)
    movie_bias = rng.normal(0.0, 0.35, movies) + 0.15 * np.log(popularity)
    liking = taste[user, group[movie]] * TASTES  # 1 = average taste for that group
    value = 2.9 + user_bias[user] + movie_bias[movie] + 0.35 * np.log1p(liking)
    value += rng.normal(0.0, 0.6, len(user))
    stars = np.clip(np.round(value * 2) / 2, 0.5, 5.0)
    # Time: each user's active stretch; ratings in order within it.
    begin = rng.uniform(FIRST, LAST - 86_400 * 30, users)
    length = np.minimum(rng.exponential(86_400 * 365, users) + 3600, LAST - begin)
    when = (begin[user] + rng.random(len(user)) * length[user]).astype(np.int64)
    released = np.zeros(movies, np.int64) + LAST
    np.minimum.at(released, movie, when)  # first rated; released some years before
    year = 1970 + (released / (365.2425 * 86_400)).astype(np.int64)
    year = np.maximum(1920, year - rng.exponential(6.0, movies).astype(np.int64))

    os.makedirs(out, exist_ok=True)
    _write(
        os.path.join(out, "movies.csv"),
        "movieId,title,genres",
        (
            f'{m + 1},"Synthetic Movie {m + 1} ({year[m]})",'
            + "|".join(sorted(set(group_genres[group[m]][: 1 + m % 3])))
            for m in range(movies)
        ),
    )
    by_time = np.lexsort((when, user))
    _write(
        os.path.join(out, "ratings.csv"),
        "userId,movieId,rating,timestamp",
        (
            f"{u + 1},{m + 1},{s:g},{t}"
            for u, m, s, t in zip(
                user[by_time].tolist(),
                movie[by_time].tolist(),
                stars[by_time].tolist(),
                when[by_time].tolist(),
            )
        ),
    )
    written = {"ratings": int(len(pairs)), "users": int(users), "movies": int(movies)}
    log(f"wrote {written} to {out} in {time.time() - started:.0f} s")
    return written


class _Sampler:
    """Draws one movie per given user: a taste group by the user's taste, then a movie of
    that group by popularity (inverse CDF over the movies sorted by group)."""

    def __init__(self, group, popularity, taste, rng):
        self.rng, self.taste = rng, np.cumsum(taste, axis=1)
        self.order = np.argsort(group, kind="stable")
        groups = np.arange(taste.shape[1])
        self.starts = np.searchsorted(group[self.order], groups)
        self.ends = np.searchsorted(group[self.order], groups, side="right")
        self.cumulative = np.cumsum(popularity[self.order])
        self.below = np.where(self.starts > 0, self.cumulative[np.maximum(self.starts - 1, 0)], 0)
        self.span = self.cumulative[np.maximum(self.ends - 1, 0)] - self.below
        self.nonempty = np.flatnonzero(self.ends > self.starts)

    def draw(self, user: np.ndarray, explore: float = EXPLORE) -> np.ndarray:
        chosen = (self.taste[user] < self.rng.random(len(user))[:, None]).sum(axis=1)
        chosen = np.minimum(chosen, self.taste.shape[1] - 1)
        outside = self.rng.random(len(user)) < explore  # now and then, outside one's taste
        chosen[outside] = self.rng.integers(0, self.taste.shape[1], int(outside.sum()))
        empty = self.ends[chosen] == self.starts[chosen]
        chosen[empty] = self.rng.choice(self.nonempty, int(empty.sum()))
        point = self.below[chosen] + self.rng.random(len(user)) * self.span[chosen]
        at = np.searchsorted(self.cumulative, point)
        return self.order[np.clip(at, self.starts[chosen], self.ends[chosen] - 1)]


def _absent(keys: np.ndarray, new: np.ndarray, at: np.ndarray):
    """The values of sorted `new` not in sorted `keys`, and where each goes in `keys`."""
    inside = at < len(keys)
    inside[inside] = keys[at[inside]] == new[inside]
    return new[~inside], at[~inside]


def _write(path: str, header: str, lines, chunk: int = 200_000) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) == chunk:
                f.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            f.write("\n".join(batch) + "\n")

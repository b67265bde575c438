"""Writes tiny, seeded data in MovieLens 100K's file formats (u.data, u.item, u.user).

The generator also returns what it wrote, so tests compute their expectations
from the records themselves, independently of the code under test.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

# u.item's genre columns, in the file's order (TFDS renames "Children's" to "Children").
ML_100K_GENRES = (
    "Unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
OCCUPATIONS = ("administrator", "artist", "engineer", "student", "writer", "none")
WORDS = ("star", "night", "love", "war", "the", "city", "dark", "river", "king", "blue")


@dataclasses.dataclass
class TinyMovieLens:
    """What `write` wrote.

    Attributes:
      folder: The ml-100k-format folder.
      ratings: (user_id, movie_id, rating, timestamp) tuples, file order.
      movies: movie_id -> (title, [genre names]).
      users: user_id -> (age, gender "M"/"F", occupation, zip code).
    """

    folder: pathlib.Path
    ratings: list[tuple[str, str, int, int]]
    movies: dict[str, tuple[str, list[str]]]
    users: dict[str, tuple[int, str, str, str]]


def write(
    folder: pathlib.Path, seed: int, num_users: int = 12, num_movies: int = 20, per_user: int = 8
) -> TinyMovieLens:
    """Writes the files; every user rates `per_user` distinct movies, some at equal times."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    movies = {}
    item_lines = []
    for m in range(1, num_movies + 1):
        words = f"{WORDS[m % len(WORDS)].title()} {WORDS[(3 * m) % len(WORDS)].title()}"
        title = f"{words} {m} ({1980 + m})"
        flags = (rng.random(len(ML_100K_GENRES)) < 0.15).astype(int)
        genres = [g for g, f in zip(ML_100K_GENRES, flags) if f]
        movies[str(m)] = (title, genres)
        item_lines.append(
            f"{m}|{title}|01-Jan-{1980 + m}||http://example.invalid/{m}|"
            + "|".join(map(str, flags))
        )
    users = {}
    user_lines = []
    for u in range(1, num_users + 1):
        age = int(rng.integers(12, 70))
        gender = "M" if rng.random() < 0.5 else "F"
        occupation = OCCUPATIONS[u % len(OCCUPATIONS)]
        zip_code = f"{int(rng.integers(10000, 99999))}"
        users[str(u)] = (age, gender, occupation, zip_code)
        user_lines.append(f"{u}|{age}|{gender}|{occupation}|{zip_code}")
    ratings = []
    for u in range(1, num_users + 1):
        rated = rng.choice(np.arange(1, num_movies + 1), size=per_user, replace=False)
        # Steps of 0 make ties, which the temporal split breaks by movie id.
        times = 880_000_000 + np.cumsum(rng.choice([0, 60, 3600], size=per_user)) + u * 10
        for m, t in zip(rated, times):
            ratings.append((str(u), str(m), int(rng.integers(1, 6)), int(t)))
    order = rng.permutation(len(ratings))  # the file is not in time order
    ratings = [ratings[i] for i in order]
    (folder / "u.item").write_text("\n".join(item_lines) + "\n", encoding="ISO-8859-1")
    (folder / "u.user").write_text("\n".join(user_lines) + "\n", encoding="ISO-8859-1")
    (folder / "u.data").write_text("\n".join("\t".join(map(str, r)) for r in ratings) + "\n")
    return TinyMovieLens(folder, ratings, movies, users)

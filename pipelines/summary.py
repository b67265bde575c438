"""`recsys data summary`: what a dataset and split contain, as a dict and as Markdown."""

from __future__ import annotations

import datetime

import numpy as np

from core import features as F
from core.data import MovieLens
from core.splits import Split


def summarize(data: MovieLens, split: Split, split_name: str) -> dict:
    """Counts, rating histogram, time range and a leakage check of one split.

    `users_with_future_in_train` counts users having a train rating later than one
    of their validation or test ratings (0 for the temporal split by construction).
    `users_validation_after_test` counts users whose validation rating is later than
    their test rating (0 for the temporal split).
    """
    ratings = data.ratings
    timestamps = ratings[F.TIMESTAMP.name]
    values, counts = np.unique(ratings[F.USER_RATING.name], return_counts=True)
    parts = {}
    for part, rows in split.parts().items():
        parts[part] = {
            "ratings": int(len(rows)),
            "users": int(len(np.unique(ratings[F.USER_ID.name][rows]))),
            "movies": int(len(np.unique(ratings[F.MOVIE_ID.name][rows]))),
        }
    return {
        "dataset": data.name,
        "split": split_name,
        "ratings": data.num_ratings,
        "users": int(len(np.unique(ratings[F.USER_ID.name]))),
        "movies": int(len(data.movies[F.MOVIE_ID.name])),
        "rated_movies": int(len(np.unique(ratings[F.MOVIE_ID.name]))),
        "has_demographics": data.has_demographics,
        "splits": parts,
        "rating_histogram": {f"{v:g}": int(c) for v, c in zip(values, counts)},
        "time_range_utc": [_utc(timestamps.min()), _utc(timestamps.max())],
        **_leakage(ratings[F.USER_ID.name], timestamps, split),
    }


def to_markdown(summary: dict) -> str:
    """The summary as Markdown tables."""
    lines = [
        f"# {summary['dataset']}, {summary['split']} split",
        "",
        "| ratings | users | movies (catalogue) | movies rated | demographics "
        "| first rating (UTC) | last rating (UTC) |",
        "|---:|---:|---:|---:|:---:|---|---|",
        f"| {summary['ratings']:,} | {summary['users']:,} | {summary['movies']:,} | "
        f"{summary['rated_movies']:,} | {'yes' if summary['has_demographics'] else 'no'} | "
        f"{summary['time_range_utc'][0]} | {summary['time_range_utc'][1]} |",
        "",
        "| split | ratings | users | movies |",
        "|---|---:|---:|---:|",
    ]
    for part, row in summary["splits"].items():
        lines.append(f"| {part} | {row['ratings']:,} | {row['users']:,} | {row['movies']:,} |")
    lines += ["", "| rating | count |", "|---:|---:|"]
    lines += [f"| {r} | {c:,} |" for r, c in summary["rating_histogram"].items()]
    lines += [
        "",
        f"Users with a train rating later than one of their validation/test ratings: "
        f"{summary['users_with_future_in_train']:,}",
        f"Users whose validation rating is later than their test rating: "
        f"{summary['users_validation_after_test']:,}",
    ]
    return "\n".join(lines) + "\n"


def _utc(seconds) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), datetime.UTC).strftime("%Y-%m-%d %H:%M")


def _leakage(user_ids: np.ndarray, timestamps: np.ndarray, split: Split) -> dict:
    users, inverse = np.unique(user_ids, return_inverse=True)

    def per_user(rows: np.ndarray, reduce, empty: float) -> np.ndarray:
        out = np.full(len(users), empty)
        reduce.at(out, inverse[rows], timestamps[rows].astype(float))
        return out

    last_train = per_user(split.train, np.maximum, -np.inf)
    first_held_out = per_user(np.concatenate([split.validation, split.test]), np.minimum, np.inf)
    last_validation = per_user(split.validation, np.maximum, -np.inf)
    first_test = per_user(split.test, np.minimum, np.inf)
    return {
        "users_with_future_in_train": int(np.sum(last_train > first_held_out)),
        "users_validation_after_test": int(np.sum(last_validation > first_test)),
    }

"""The README's measured figures, rendered from `benchmarks/results/*.json`.

    python -m benchmarks.readme          # rewrite README.md's result blocks
    python -m benchmarks.readme --check  # exit 1 when README.md is out of step

A block is `<!-- results:NAME -->` ... `<!-- /results -->`; its text is RENDER[NAME] of
`benchmarks/results/<file>.json`, ending with when, on what and by which command the file
was measured. Prose outside the blocks states no measured numbers, so a fresh benchmark run
plus this script keeps the README true (`tests/benchmarks/test_readme.py` checks it).
"""

from __future__ import annotations

import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
BLOCK = re.compile(r"(<!-- results:([\w-]+) -->\n)(.*?)(<!-- /results -->)", re.S)


def _load(name: str) -> dict:
    with open(os.path.join(RESULTS, name + ".json")) as f:
        return json.load(f)


def _stamp(result: dict) -> str:
    m = result.get("measured")
    if not m:
        return "_(not stamped: measured before results recorded where and when)_\n"
    return f"_`{m['command']}`: {m['wall_seconds']:.0f} s on {m['date']}, {m['machine']}._\n"


def _table(head: list[str], rows: list[list[str]], best: dict[int, str] | None = None) -> str:
    """Markdown table; `best`: column -> "max"/"min", whose best cell is bold."""
    cells = [list(r) for r in rows]
    for column, how in (best or {}).items():
        values = [(float(r[column]), i) for i, r in enumerate(cells) if r[column]]
        if values:
            i = (max if how == "max" else min)(values)[1]
            cells[i][column] = f"**{cells[i][column]}**"
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines) + "\n"


def _f(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


RECOMMEND_ROWS = {
    "two-stage (ours)": "two-stage: the 100 best unseen, ordered by the ranker's `score` (ours)",
    "retrieval alone": "retrieval alone (two-tower, seen excluded)",
    "rating-ordered ranking": "retrieval, then ordered by predicted rating (the previous "
    "`recommender`)",
    "adjacency (newest movie)": "adjacency: movies rated right after the user's newest one",
    "item-to-item (5 newest)": "item-to-item: co-rating cosine to the user's 5 newest movies",
    "popularity": "popularity",
}


def recommend(r: dict) -> str:
    keys = ("hr@10", "ndcg@10", "recall@50", "sampled_hr@10")
    rows = [
        [label, *(_f(r["metrics"][name].get(k)) for k in keys)]
        for name, label in RECOMMEND_ROWS.items()
        if name in r["metrics"]
    ]
    head = ["top 10 produced by", "HR@10", "NDCG@10", "Recall@50", "sampled HR@10 (NCF)"]
    ours, alone = r["metrics"]["two-stage (ours)"], r["metrics"]["retrieval alone"]
    targets = "; ".join(
        f"{name} >= {t['target']} ({'met' if t['met'] else 'not met'}: {t['value']}"
        + (
            ", 95 % interval {}-{} over users".format(*t["interval_95"])
            if "interval_95" in t
            else ""
        )
        + ")"
        for name, t in r["targets"].items()
    )
    grpc = r.get("grpc", {})
    by_second = ", ".join(
        f"{g['ratio']:.2f}x on the {g['users']} test ratings {group}"
        for group, g in r.get("by_second", {}).items()
    )
    by_second = f" By test rating: {by_second}." if by_second else ""
    return (
        _table(head, rows, {1: "max", 2: "max", 3: "max", 4: "max"})
        + f"\nTwo-stage against retrieval alone: {ours['hr@10'] / alone['hr@10']:.2f}x HR@10, "
        f"{ours['ndcg@10'] / alone['ndcg@10']:.2f}x NDCG@10, on {r['users']} test users."
        f"{by_second} "
        f"Targets: {targets}. Through the local gRPC server: {grpc.get('same_top_k')} of "
        f"{grpc.get('users')} users got the identical top {grpc.get('k')}.\n\n" + _stamp(r)
    )


def retrieval(r: dict) -> str:
    names = {"two-tower": "two-tower (ours)", "popularity": "popularity"}
    names["tfrs-tutorial"] = "TFRS tutorial model"
    rows = []
    for name, label in names.items():
        random, temporal = r["metrics"][name].get("random"), r["metrics"][name].get("temporal")
        rows.append(
            [
                label,
                _f(random and random["top_k_accuracy"]["100"]),
                _f(temporal and temporal["recall"]["10"]),
                _f(temporal and temporal["recall"]["100"]),
                _f(temporal and temporal["ndcg@10"]),
                _f(temporal and temporal["sampled_hr@10"]),
            ]
        )
    head = ["model", "top-100 accuracy (tutorial protocol)", "Recall@10", "Recall@100"]
    head += ["NDCG@10", "sampled HR@10 (NCF)"]
    t, index = r["targets"], r["index"]
    setting = index["index"]
    return (
        _table(head, rows, {i: "max" for i in range(1, 6)})
        + f"\nOurs: {t['top100_vs_tutorial']['ratio']:.2f}x the tutorial model's top-100 "
        f"accuracy, {t['recall10_vs_popularity']['ratio']:.2f}x popularity's Recall@10. The "
        f"ScaNN index ({setting['num_leaves']} leaves, {setting['num_leaves_to_search']} "
        f"searched, {setting['num_reordering_candidates']} reordered) finds "
        f"{index['scann_recall@10']:.4f} of brute force's top 10 and "
        f"{index['scann_recall@100']:.4f} of its top 100; one query through the TFRS layers: "
        f"ScaNN {index['scann_ms_per_query@10']:.2f} ms, brute force "
        f"{index['brute_force_ms_per_query@10']:.2f} ms.\n\n" + _stamp(r)
    )


RANKING_ROWS = {
    "dcn+autorec": "DCN network averaged with I-AutoRec (ours)",
    "dcn-ranking": "... the DCN network alone (DCN-v2 + deep + dot product)",
    "i-autorec": "... I-AutoRec alone",
    "matrix-factorisation": "biased matrix factorisation",
    "user+item-bias": "user + item bias",
    "tfrs-tutorial": "TFRS tutorial ranking model",
    "global-mean": "global mean",
}


def ranking(r: dict) -> str:
    rows = [
        [label, *(_f(r["metrics"][name][k]) for k in ("rmse", "mae", "ndcg@10"))]
        for name, label in RANKING_ROWS.items()
        if name in r["metrics"]
    ]
    t = r["targets"]
    return (
        _table(["model", "RMSE", "MAE", "NDCG@10 per user"], rows, {1: "min", 2: "min", 3: "max"})
        + f"\nTarget RMSE <= {t['rmse']['target']}: {'met' if t['rmse']['met'] else 'not met'}; "
        f"best peer {t['below_every_peer']['best_peer']}.\n\n" + _stamp(r)
    )


def serving(r: dict) -> str:
    p = r["paths"]

    def pair(a: str, b: str, key: str) -> str:
        return f"{p[a][key]:.2f} / {p[b][key]:.2f}"

    rows = [
        [
            "retrieval, ScaNN / brute force",
            pair("retrieval (ScaNN)", "retrieval_bruteforce", "p50_ms"),
            pair("retrieval (ScaNN)", "retrieval_bruteforce", "p95_ms"),
        ],
        [
            "similar_movies, ScaNN / brute force",
            pair("similar_movies (ScaNN)", "similar_movies (brute force)", "p50_ms"),
            pair("similar_movies (ScaNN)", "similar_movies (brute force)", "p95_ms"),
        ],
    ]
    for name, label in (
        ("ranking (100 candidates)", "ranking, 100 candidates (both heads)"),
        ("two-stage, client-side", "two-stage, client-side (metadata + retrieval + ranking)"),
        ("two-stage, composite", "two-stage, one call to the composite `recommender`"),
    ):
        rows.append([label, f"{p[name]['p50_ms']:.2f}", f"{p[name]['p95_ms']:.2f}"])
    return (
        _table(["path", "p50 ms", "p95 ms"], rows)
        + f"\n{r['users']} users, one request at a time.\n\n"
        + _stamp(r)
    )


def load(r: dict) -> str:
    settings = r["settings"]
    streams = sorted({int(k.split("/")[1]) for k in settings["batching on"]})

    def cell(setting: str, api: str, n: int) -> str:
        level = settings[setting].get(f"{api}/{n}")
        if not level:
            return ""
        return f"{level['requests_per_second']:.0f} req/s, p99 {level['p99_ms']:.0f} ms"

    rows = [
        [
            str(n),
            cell("batching off", "gRPC", n),
            cell("batching on", "gRPC", n),
            cell("batching on", "REST", n),
        ]
        for n in streams
    ]
    on = settings["batching on"]
    gain = on["gRPC/32"]["requests_per_second"] / on["gRPC/1"]["requests_per_second"]
    failures = sum(level["failures"] for s in settings.values() for level in s.values())
    head = ["streams", "gRPC, batching off", "gRPC, batching on", "REST, batching on"]
    return (
        _table(head, rows) + f"\nBatching on, 32 streams give {gain:.1f}x the throughput of one; "
        f"{failures} failed requests in all, {r['seconds_per_level']:.0f} s per level.\n\n"
        + _stamp(r)
    )


def soak(r: dict) -> str:
    rss = r["server_rss"]
    return (
        f"{r['seconds']:.0f} s from {r['threads']} threads, {len(r['by_kind'])} kinds of "
        f"request: {r['requests']} requests, {r['failures']} failures; server RSS "
        f"{rss['start_mb']:.0f} MB at start, {rss['peak_mb']:.0f} MB peak, {rss['end_mb']:.0f} MB "
        f"at end; {'still serving' if r['still_serving'] else 'NOT serving'} afterwards.\n\n"
        + _stamp(r)
    )


def embeddings(r: dict) -> str:
    genre, overlap = r["genre_agreement@10"], r["co_rating_overlap@10"]
    star = r["examples"].get("Star Wars (1977)", [])
    return (
        f"For the {r['movies']} movies with at least {r['min_ratings']} training ratings, the 10 "
        f"nearest by candidate-tower cosine share a genre with the movie "
        f"{100 * genre['embedding']:.1f} % of the time (random neighbours "
        f"{100 * genre['random']:.1f} %, co-rating cosine neighbours "
        f"{100 * genre['co-rating cosine']:.1f} %), and {100 * overlap['embedding']:.1f} % of "
        f"them are among its 10 nearest by co-rating cosine (random: "
        f"{100 * overlap['random']:.2f} %). Star Wars' nearest: {', '.join(star)}.\n\n" + _stamp(r)
    )


def index_million(r: dict) -> str:
    rows = [
        [
            name,
            _f(m["recall@100"]),
            f"{m['p50_ms']:.2f}",
            f"{m['p99_ms']:.2f}",
            f"{m['in_process_p50_ms']:.2f}",
            f"{m['size_mb']:.0f}",
            f"{m['load_seconds']:.1f}",
        ]
        for name, m in r["models"].items()
    ]
    c = r["chosen"]
    head = [
        "model",
        "recall@100 vs brute force",
        "p50 ms",
        "p99 ms",
        "in process p50 ms",
        "SavedModel MB",
        "load s",
    ]
    return (
        _table(head, rows)
        + f"\n{r['movies']:,} movies x {r['dimensions']} dimensions, {r['queries']} real test "
        f"queries, single queries through the local gRPC server"
        f"{' (in a process of its own)' if r.get('server_in_own_process') else ''}; query tower "
        f"with {r.get('attention_layers', 0)} attention blocks; tuned setting "
        f"{c['num_leaves']} leaves, {c['num_leaves_to_search']} searched, "
        f"{c['num_reordering_candidates']} reordered; ScaNN {r['speedup_p50']}x faster than brute "
        f"force at p50 through the server, {r['speedup_in_process_p50']}x as models called in "
        f"process.\n\n" + _stamp(r)
    )


def fresh_clone(r: dict) -> str:
    steps = {s["command"]: s for s in r["steps"]}
    tests = r.get("tests", {})
    parts = []
    if "make demo" in steps:
        parts.append(
            f"`make setup` {steps['make setup']['seconds']:.0f} s (warm pip cache), then "
            f"`make demo` {steps['make demo']['seconds']:.0f} s"
        )
    if tests:
        parts.append(
            f"`.ci/run` {steps['bash .ci/run']['seconds']:.0f} s in a second clean clone: "
            f"{tests.get('passed', 0)} tests passed and {tests.get('skipped', 0)} skipped in "
            f"{tests['seconds']:.0f} s"
        )
    return f"From a fresh clone of {r['commit']}: " + "; ".join(parts) + ".\n\n" + _stamp(r)


RENDER = {
    "recommend": (recommend, "recommend"),
    "retrieval": (retrieval, "retrieval"),
    "ranking": (ranking, "ranking"),
    "serving": (serving, "serving"),
    "load": (load, "load"),
    "soak": (soak, "soak"),
    "embeddings": (embeddings, "embeddings"),
    "fresh-clone": (fresh_clone, "fresh_clone"),
    "index-million": (index_million, "index-million"),
}


def render(text: str) -> str:
    """`text` with every result block rendered anew.

    Raises:
      KeyError: a block names no renderer.
    """

    def block(match: re.Match) -> str:
        function, file = RENDER[match.group(2)]
        if not os.path.isfile(os.path.join(RESULTS, file + ".json")):
            text = f"_(not measured yet: `benchmarks/results/{file}.json` is missing)_\n"
        else:
            text = function(_load(file))
        return match.group(1) + text + match.group(4)

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = os.path.join(REPO, "README.md")
    with open(path) as f:
        text = f.read()
    fresh = render(text)
    if "--check" in argv:
        if fresh != text:
            print(
                "README.md is out of step with benchmarks/results: run python -m benchmarks.readme"
            )
            return 1
        return 0
    with open(path, "w") as f:
        f.write(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The metric every benchmark's pass rates come from: pass@k, by the unbiased estimator of
Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", arXiv 2107.03374).

Per task, with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k); a benchmark's
pass@k is the mean over its tasks. With one greedy sample per task, pass@1 is the fraction
of tasks whose sample passes. The scorer (ossinstruct/evaluate/score.py) hands this
estimator to each benchmark's ``aggregate`` hook.
"""

from __future__ import annotations


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of Chen et al. 2021: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod

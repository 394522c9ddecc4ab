"""What HumanEval+ and MBPP+ share (EvalPlus, Liu et al. 2023, arXiv 2305.01210).

- plugin.py: EvalPlusBenchmark, the base class of both plug-ins: prompt styles,
  post-processing, the one-sample-per-task samples, evalplus's check of the base and plus
  tests, pass@1 on each, the self-check's sample, the summary's labels and notes.
- data.py: the release files (evalplus's download or a local copy), ground truth.
- check.py: the sandbox handler (evalplus's untrusted_check of one sample).
"""

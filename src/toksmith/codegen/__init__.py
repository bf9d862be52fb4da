"""Code-generation evaluation: HumanEval and MBPP pass@k with sandboxed execution and token healing.

Stages, one module each: ``benchmarks`` (problems, prompts, selection), ``generate`` (sampling from an HF model),
``healing`` (N-step token healing), ``sandbox`` (contained execution), ``passk`` (the unbiased estimator) and
``evaluate`` (resumable orchestration and the summary). Nothing heavy is imported here.
"""

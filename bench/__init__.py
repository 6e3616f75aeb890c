"""fileio's benchmark suite: ``pytest bench/``, serially.

It uses only fileio's public API (``fileio.__all__``), so that this suite can measure an older commit's fileio
as well as the current one (the CI gate does both). Where each part lives:

- ``matrix``: profiles and ``--fileio-*`` options turned into cases (pure, unit-tested);
- ``control``: the control case, plain ``os.write`` code that shares nothing with fileio;
- ``test_save``: the timed, verified case;
- ``sweep``: a job's cases measured together, sweep by sweep, each round in a ``runner`` process;
- ``runner``: one side's fileio in an interpreter of its own, warm (kept) or cold (one round each);
- ``memory``: a case's peak memory, the caller's process tree sampled from /proc;
- ``tables``: the end-of-run table per job;
- ``gate``: the regression analysis of two runs (``python -m bench.gate BASELINE CURRENT``);
- ``gate_plugin``: ``--fileio-gate``, registered only when asked for;
- ``conftest``: pytest's hooks, each handing off to the modules above.
"""

# The fileio API_VERSION this suite needs, the one way it asks what a fileio offers: a commit whose fileio is
# older cannot be measured by this suite, and the gate says so (7: what measures, plots and verifies by
# digest is taken from its module, forget_measurements from fileio.auto.figures). The ceiling is measured by
# a runner of this checkout's, so that a fileio of API 7 (measure_ceiling in fileio.probe) is measured.
REQUIRED_API = 7

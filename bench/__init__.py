"""fileio's benchmark suite: ``pytest bench/``, serially.

It uses only fileio's public API (``fileio.__all__``), so that this suite can measure an older commit's fileio
as well as the current one (the CI gate does both). Where each part lives:

- ``matrix``: profiles and ``--fileio-*`` options turned into cases (pure, unit-tested);
- ``control``: the control case, plain ``os.write`` code that shares nothing with fileio;
- ``test_save``: the timed, verified case;
- ``tables``: the end-of-run table per job;
- ``gate``: the regression analysis of two runs (``python -m bench.gate BASELINE CURRENT``);
- ``gate_plugin``: ``--fileio-gate``, registered only when asked for;
- ``conftest``: pytest's hooks, each handing off to the modules above.
"""

# The fileio API_VERSION this suite needs: raise it together with fileio's when the suite starts to use a
# newly exported name. A commit whose fileio is older cannot be measured by this suite, and the gate says so.
REQUIRED_API = 1

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

import fileio

# The fileio API_VERSION this suite needs: a commit whose fileio is older cannot be measured by this suite,
# and the gate says so. Where the suite can do without a newer name, it asks has_api() instead of raising it.
REQUIRED_API = 1


def has_api(version: int) -> bool:
    """Whether the fileio being measured has the names of API ``version`` (2: the probe, plot_run,
    load_workload; 3: WarmPool): older ones are measured without what needs them."""
    return version <= fileio.API_VERSION

"""The benchmark suites that ``benchmarks/run.py`` runs, one module each.

``base`` holds what every suite uses: the settings, the ``Measurement`` a suite returns and
the timing helpers. A suite module exposes one function ``suite(settings)``; ``run.py``
registers it by name in ``SUITES``.
"""

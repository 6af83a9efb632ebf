"""Reference implementations of the seven TracSeq upstream services (see UPSTREAMS.md).

Run them with ``python -m sandbox``; embed them with ``sandbox.runner.serve`` and
``sandbox.store.open_store``; start them for a test with ``sandbox.runner.SandboxProcess``.
"""

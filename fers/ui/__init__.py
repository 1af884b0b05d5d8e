"""The FERS Gradio app: :func:`build_app` makes the Blocks, :func:`launch` serves it.

Files: ``layout`` (page and wiring), ``callbacks`` (event handlers -> ``gr.Error`` on bad input),
``inputs`` (uploads -> :func:`fers.io.cube.load_cube`), ``results`` (maps, tables, downloads, API JSON),
``analysis`` (threshold mask, pixel spectrum, PCA view), ``limits`` (upload / cube size limits),
``tempdirs`` (the only place the app writes).
"""

import threading

from fers.ui.limits import MAX_FILE_SIZE, max_file_size  # noqa: F401


def build_app(local_paths: bool = False):
    """Build the Blocks app (does not start a server)."""
    from fers.ui.layout import build_app as _build

    return _build(local_paths=local_paths)


def launch(server_name=None, server_port=None, local_paths: bool = False, **kwargs):
    """Serve the app on ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` (default 127.0.0.1:7860).

    Uploads above ``MAX_FILE_SIZE`` (500 MB, env ``FERS_APP_MAX_FILE_SIZE``) are refused by Gradio; cubes above
    :func:`fers.ui.limits.max_cube_values` are refused by the app with a message. Client files are read
    and detected in worker processes (:mod:`fers.ui.worker`) with the limits of
    :func:`fers.ui.limits.serving`; at most that many detections run at once, the rest wait in a bounded
    queue. ``local_paths``: the checkpoint box reads server paths (never in a Space)."""
    import logging

    from fers.settings import export_env, settings
    from fers.ui import worker
    from fers.ui.limits import serving
    from fers.ui.tempdirs import app_temp_root

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # matplotlib's font cache goes to our temp dir too, unless the user chose a config dir
    export_env({"MPLCONFIGDIR": str(app_temp_root() / "matplotlib")}, overwrite=False)
    from fers.ui.callbacks import EXAMPLES_DIR

    limits = serving()
    pool = worker.Pool(limits["workers"], limits["worker_memory"], limits["time_limit"])
    worker.configure(pool)
    threading.Thread(target=pool.warm, daemon=True, name="fers-warm").start()
    demo = build_app(local_paths=local_paths)
    demo.queue(default_concurrency_limit=limits["workers"], max_size=limits["queue_size"])
    _stop_on_sigterm()
    env = settings()
    name = server_name or env.server_name or "127.0.0.1"
    port = int(server_port or env.server_port or 7860)
    try:
        return demo.launch(server_name=name, server_port=port, max_file_size=max_file_size(),
                           allowed_paths=[str(EXAMPLES_DIR)], **kwargs)
    finally:
        pool.close()


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a container stopping) ends the server as Ctrl-C does: Gradio closes it, its
    ``delete_cache`` removes the files it made, and the app's temp dir goes at exit. (Python's default
    for SIGTERM is to die on the spot and leave everything behind.) Main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)

"""The FERS Gradio app: :func:`build_app` makes the Blocks, :func:`launch` serves it.

Files: ``layout`` (page and wiring), ``callbacks`` (event handlers -> ``gr.Error`` on bad input),
``inputs`` (uploads -> :func:`fers.io.cube.load_cube`), ``results`` (maps, tables, downloads, API JSON),
``analysis`` (threshold mask, pixel spectrum, PCA view), ``limits`` (upload / cube size limits),
``tempdirs`` (the only place the app writes).
"""

import os

from fers.ui.limits import MAX_FILE_SIZE, max_file_size  # noqa: F401


def build_app():
    """Build the Blocks app (does not start a server)."""
    from fers.ui.layout import build_app as _build

    return _build()


def launch(server_name=None, server_port=None, **kwargs):
    """Serve the app on ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` (default 127.0.0.1:7860).

    Uploads above ``MAX_FILE_SIZE`` (500 MB, env ``FERS_APP_MAX_FILE_SIZE``) are refused by Gradio; cubes above
    :func:`fers.ui.limits.max_cube_values` are refused by the app with a message.
    """
    from fers.ui.tempdirs import app_temp_root

    # matplotlib's font cache goes to our temp dir too, unless the user chose a config dir
    os.environ.setdefault("MPLCONFIGDIR", str(app_temp_root() / "matplotlib"))
    from fers.ui.callbacks import EXAMPLES_DIR

    demo = build_app()
    demo.queue(default_concurrency_limit=1)
    _stop_on_sigterm()
    name = server_name or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(server_port or os.environ.get("GRADIO_SERVER_PORT", "7860"))
    return demo.launch(server_name=name, server_port=port, max_file_size=max_file_size(),
                       allowed_paths=[str(EXAMPLES_DIR)], **kwargs)


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

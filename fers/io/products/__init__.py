"""Readers for calibrated imaging-spectrometer products (one module per product family).

Each reader is ``read(path, max_bytes=None, mmap=False) -> (cube (H, W, B), meta)`` like the readers of
:mod:`fers.io.formats`; ``meta`` may hold ``wavelengths`` (nm), ``fwhm`` (nm), ``bad_bands`` (bool,
True = bad), ``nodata``, ``nodata_source`` and ``georef`` (:class:`fers.io.georef.Georef`); every
other key is reported in ``Scene.info``. Each module declares its :class:`fers.io.registry.Reader`
(``READER``: extensions, header peek, reader), registered by :mod:`fers.io.readers`.

* ``.nc``: EMIT L2A reflectance / L1B radiance NetCDF4 (:mod:`fers.io.products.emit`);
* ``.he5``: PRISMA L2B/L2C/L2D HDF-EOS5 (:mod:`fers.io.products.prisma`);
* EnMAP L2A: a GeoTIFF with its ``METADATA.XML`` beside it (:mod:`fers.io.products.enmap`).
"""

"""Use the FERS ONNX models from any program with only NumPy and ONNX Runtime (no fers, no torch).

    python export/embed_example.py CUBE.npy weights/onnx/fers_b100_spe.onnx weights/onnx/fers_b100_spa.onnx

CUBE.npy is an (H, W, B) cube, bands last. Band count, band adapter and normalisation are read from
the model metadata; the anomaly maps follow paper eq. 17-23. Prints the model's default method's
five strongest pixels and saves every map to CUBE.maps.npz.
"""

import json
import sys

import numpy as np
import onnxruntime as ort


def open_model(path):
    """ONNX Runtime session + its ``fers.*`` metadata (JSON values decoded)."""
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = {}
    for key, value in sess.get_modelmeta().custom_metadata_map.items():
        if key.startswith("fers."):
            try:
                meta[key[5:]] = json.loads(value)
            except ValueError:
                meta[key[5:]] = value
    return sess, meta


def adapt_bands(cube, n, rule="resample"):
    """metadata 'band_adapter_name': 'resample' = the whole band range linearly resampled to n bands;
    'first' = the first n bands if B >= n, else the same interpolation."""
    b = cube.shape[-1]
    if b == n or (b > n and rule == "first"):
        return cube[..., :n]
    pos = np.linspace(0.0, b - 1.0, n)
    j = np.minimum(pos.astype(int), b - 2)
    t = pos - j
    return cube[..., j] * (1 - t) + cube[..., j + 1] * t


def normalise(cube, scale):
    """metadata 'normalization': scale * (2 * (x - min) / (max - min) - 1) over the whole cube."""
    lo, hi = cube.min(), cube.max()
    return (scale * (2 * (cube - lo) / (hi - lo) - 1)).astype(np.float32)


def rx(cube):
    """Global RX (eq. 17): Mahalanobis distance of every pixel to the cube's mean and covariance
    (pseudo-inverse dropping eigenvalues below B * 1e-12 of the largest, as fers.detectors.rx does)."""
    x = cube.reshape(-1, cube.shape[-1]).astype(np.float64)
    xc = x - x.mean(axis=0)
    inv = np.linalg.pinv(np.cov(xc, rowvar=False), rtol=x.shape[1] * 1e-12, hermitian=True)
    return np.einsum("ij,jk,ik->i", xc, inv, xc).reshape(cube.shape[:2])


def minmax(s):
    return (s - s.min()) / (s.max() - s.min())


def ranks(s):
    return np.argsort(np.argsort(s, axis=None)).astype(np.float64)


def pulled(r0, rb):
    """A branch map pulled toward plain RX by its reliability w = max(0, Spearman(r0, rb)) (fusion_rel)."""
    w = max(0.0, float(np.corrcoef(ranks(r0), ranks(rb))[0, 1]))
    return w * minmax(rb) + (1 - w) * minmax(r0)


def detect(cube, spe_path, spa_path):
    """(H, W, B) cube -> (dict of (H, W) maps, default method name)."""
    spe, meta = open_model(spe_path)
    spa, _ = open_model(spa_path)
    n = int(meta["n_bands"])
    h = normalise(adapt_bands(cube.astype(np.float32), n, meta.get("band_adapter_name", "first")),
                  meta["normalization"]["scale"])
    x = np.ascontiguousarray(h.transpose(2, 0, 1)[None])  # (1, n, H, W)
    f_spe = spe.run(None, {"cube": x})[0][0].transpose(1, 2, 0)  # (H, W, n)
    f_spa = spa.run(None, {"cube": x})[0][0].transpose(1, 2, 0)
    maps = {"rx": rx(h), "spectral": rx(h + f_spe), "spatial": rx(h + f_spa),
            "fusion_add": rx(h + f_spe + f_spa)}
    maps["fusion_mult"] = minmax(maps["spatial"]) * minmax(maps["spectral"])
    maps["fusion_rx"] = minmax(maps["rx"]) * maps["fusion_mult"]
    maps["fusion_rel"] = pulled(maps["rx"], maps["spatial"]) * pulled(maps["rx"], maps["spectral"])
    return maps, meta["default_fusion"]


if __name__ == "__main__":
    cube_path, spe_path, spa_path = sys.argv[1:4]
    maps, best = detect(np.load(cube_path, allow_pickle=False), spe_path, spa_path)
    top = np.argsort(maps[best], axis=None)[::-1][:5]
    print(best, "top pixels (row, col):", [tuple(int(i) for i in np.unravel_index(k, maps[best].shape)) for k in top])
    np.savez(cube_path.rsplit(".", 1)[0] + ".maps.npz", **maps)

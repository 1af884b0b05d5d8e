"""Static int8 (QDQ, per-channel) Spe-FENs: speed against float32 in ONNX Runtime and what they cost in AUC.

    python tests/benchmarks/bench_quantize.py [--bands 200 50] [--variants u8s8 s8s8 u8u8] [--runs 5]

Prints numbers; ships nothing. For each band count N the shipped ``weights/onnx/fers_b{N}_spe.onnx`` is
quantised with ``onnxruntime.quantization.quantize_static`` (QDQ, per-channel weights, MinMax
calibration) into the user cache (``fers.cache.cache_dir() / "quantized"``). Calibration uses
*training background only*: two 32x32 crops of every training-split background cube (the ABU
background scenes not held out, and ``../shared/data/background`` without the held-out sensor),
each normalised as a whole and adapted to N as at inference. Variants are the activation/weight
types: ``u8s8`` (ORT's fast x86 kernel, which can saturate on CPUs without VNNI), ``s8s8``, ``u8u8``.

Then, on ``100 x 100 x N`` inputs in one process (alternating, medians): Spe-FEN float32 vs each int8
file, and the features' relative RMS error. AUC differences (int8 minus float32, every model map of
:mod:`fers.methods`, the float32 Spa-FEN in both) on the held-out validation scenes (abu-beach-3 and
abu-urban-1, their real anomaly maps; the other-sensors CASI scene) and, for reporting only, on the
six benchmark scenes. A quantised model could be a default only if every difference is within 1e-3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np  # noqa: E402
from _repo import REPO  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TRAIN_BACKGROUND = ("abu/abu-beach-1.mat", "abu/abu-beach-2.mat", "abu/abu-urban-2.mat", "abu/abu-urban-4.mat",
                    "abu/abu-urban-5.mat", "background/aviris-jasper-ridge-100x100x198.npy",
                    "background/aviris-moffett-50x50x184.npy", "background/aviris-unknown-90x90x224.npy",
                    "background/rosis-paviau-50x50x103.npy", "background/casi-muufl-51x88x72.npy")
HELD_OUT = ("abu/abu-beach-3.mat", "abu/abu-urban-1.mat", "other-sensors/casi-muufl-100x100x64.mat")
BENCHMARK = ("abu/abu-airport-1.mat", "abu/abu-airport-2.mat", "abu/abu-airport-3.mat", "abu/abu-airport-4.mat",
             "abu/abu-urban-3.mat", "abu/abu-beach-4-crop100.mat")
VARIANTS = ("u8s8", "s8s8", "u8u8")
MODEL_MAPS = ("spectral", "spatial", "fusion_add", "fusion_mult", "fusion_rx")


def normalised(cube: np.ndarray, n: int) -> np.ndarray:
    """``(H, W, B)`` -> the model input ``(H, W, n)`` float32 (default adapter, whole-cube min-max)."""
    from fers.bands import parse_band_spec, prepare_bands
    from fers.normalize import normalize_cube

    return normalize_cube(prepare_bands(np.asarray(cube, dtype=np.float32), parse_band_spec(str(n)))[0])


def background_cube(rel: str) -> np.ndarray:
    path = DATA / rel
    if path.suffix == ".npy":
        return np.load(path)
    from fers.io import load_cube

    return load_cube(path).cube


def calibration_inputs(n: int, seed: int = 0) -> list:
    """Two ``(1, n, 32, 32)`` crops of each training background cube (present ones)."""
    rng = np.random.default_rng(seed)
    out = []
    for rel in TRAIN_BACKGROUND:
        if not (DATA / rel).is_file():
            continue
        h = normalised(background_cube(rel), n)
        for _ in range(2):
            r, c = (int(rng.integers(0, s - 32 + 1)) for s in h.shape[:2])
            out.append(np.ascontiguousarray(h[r : r + 32, c : c + 32].transpose(2, 0, 1)[None]))
    return out


def quantise(n: int, variant: str) -> str:
    """The int8 Spe-FEN file for ``n`` bands (made once into the user cache)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from fers.cache import cache_dir
    from fers.enhance.paths import find_onnx

    folder = cache_dir() / "quantized"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"fers_b{n}_spe.{variant}.onnx"
    if target.is_file():
        return str(target)
    pre = folder / f"fers_b{n}_spe.pre.onnx"
    if not pre.is_file():
        quant_pre_process(str(find_onnx(n)[0]), str(pre), skip_symbolic_shape=True)
    inputs = calibration_inputs(n)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"cube": x} for x in inputs)

        def get_next(self):
            return next(self.it, None)

    types = {"u": QuantType.QUInt8, "s": QuantType.QInt8}
    tmp = target.with_suffix(".tmp.onnx")
    quantize_static(str(pre), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=types[variant[0]], weight_type=types[variant[2]])
    os.replace(tmp, target)
    return str(target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bands", type=int, nargs="+", default=[200, 50])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()

    import onnxruntime as ort

    from fers.enhance.onnx_backend import CPU, OnnxEnhancer, session_options
    from fers.enhance.paths import find_onnx
    from fers.io import load_cube
    from fers.methods import method_maps
    from fers.metrics import auc

    print(f"# {os.cpu_count()} CPUs, onnxruntime {ort.__version__}, load average {os.getloadavg()}")
    scenes = {}
    for rel in HELD_OUT + BENCHMARK:
        if (DATA / rel).is_file():
            s = load_cube(DATA / rel)
            scenes[rel] = (s.cube, s.gt)
    for n in a.bands:
        spe, spa = find_onnx(n)
        if not spe.is_file():
            print(f"# no shipped {n}-band model")
            continue
        files = {"f32": str(spe), **{v: quantise(n, v) for v in a.variants}}
        sess = {k: ort.InferenceSession(f, session_options(), providers=[CPU]) for k, f in files.items()}
        x = np.ascontiguousarray(normalised(background_cube(TRAIN_BACKGROUND[0]), n)[:100, :100].transpose(2, 0, 1)[None])
        ref = sess["f32"].run(None, {"cube": x})[0]
        times = {k: [] for k in sess}
        for _ in range(a.runs):
            for k, s in sess.items():
                t = time.perf_counter()
                s.run(None, {"cube": x})
                times[k].append(time.perf_counter() - t)
        f32 = statistics.median(times["f32"])
        print(f"\n## {n} bands: Spe-FEN on {x.shape} float32 {f32 * 1e3:.0f} ms (median of {a.runs})")
        print("| variant | ms | speed-up | feature rel. RMS error |\n|---|---|---|---|")
        for k in a.variants:
            o = sess[k].run(None, {"cube": x})[0]
            err = float(np.sqrt(np.mean((o - ref) ** 2) / np.mean(ref ** 2)))
            t = statistics.median(times[k])
            print(f"| {k} | {t * 1e3:.0f} | {f32 / t:.2f}x | {err:.2e} |")
        spa_sess = OnnxEnhancer(spe, spa, providers=[CPU]).sessions[1]
        print("\n| scene (role) | variant | " + " | ".join(f"dAUC {m}" for m in MODEL_MAPS) + " | max abs |")
        print("|---|---|" + "---|" * (len(MODEL_MAPS) + 1))
        for rel, (cube, gt) in scenes.items():
            from fers.bands import nearest_model_bands

            if nearest_model_bands(cube.shape[2]) != n or gt is None:
                continue
            h = normalised(cube, n)
            xin = np.ascontiguousarray(h.transpose(2, 0, 1)[None])
            f_spa = spa_sess.run(None, {"cube": xin})[0][0].transpose(1, 2, 0)
            base = None
            for k in ("f32", *a.variants):
                f_spe = sess[k].run(None, {"cube": xin})[0][0].transpose(1, 2, 0)
                maps = method_maps(h, f_spe, f_spa)
                aucs = {m: auc(maps[m], gt) for m in MODEL_MAPS}
                if base is None:
                    base = aucs
                    continue
                d = [aucs[m] - base[m] for m in MODEL_MAPS]
                role = "benchmark, reporting only" if rel in BENCHMARK else "held-out"
                print(f"| {rel.split('/')[-1][:-4]} ({role}) | {k} | " + " | ".join(f"{v:+.1e}" for v in d)
                      + f" | {max(abs(v) for v in d):.1e} |", flush=True)
    print(f"\n# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

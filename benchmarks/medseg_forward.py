"""Forward time of the medseg networks beside the convolutional baseline of the same input, in one run.

Inference (eval mode, no grad, batch 1) and one training step's forward+backward, medians over ``--repeats``
interleaved calls (so machine noise hits every network alike), in ms, and each network's ratio to its baseline:

- Swin UNETR (MONAI ``SwinUNETR``) on a 4 x 64^3 crop, feature size 12 (the pipeline's default) and 48 (the
  paper's), against MONAI's 3D ``UNet`` (channels 16-256, the MONAI BraTS tutorial's size) on the same crop;
- HybridGNet (:class:`sciconv_medseg.models.hybridgnet.HybridGNet`) on a 1 x S x S chest X-ray, against the chest task's
  pixel baseline, MONAI's 2D ``UNet`` with 3 organ channels (:func:`sciconv_medseg.models.unet.UNetNet`'s default
  size), at S = 128 (the pipeline's default) and 256.

Run:  .venv/bin/python benchmarks/medseg_forward.py [--repeats 7] [--threads 2] [--no-train]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn


def _swin(feature_size: int) -> nn.Module:
    from monai.networks.nets import SwinUNETR

    return SwinUNETR(in_channels=4, out_channels=3, feature_size=feature_size, spatial_dims=3)


def _unet3d() -> nn.Module:
    from monai.networks.nets import UNet

    return UNet(spatial_dims=3, in_channels=4, out_channels=3, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2))


def _hybridgnet(size: int) -> nn.Module:
    from sciconv_medseg.models.hybridgnet import HybridGNet

    return HybridGNet(image_size=size)


def _unet2d(size: int) -> nn.Module:
    from sciconv import DataSpec
    from sciconv_medseg.models.unet import UNetNet

    return UNetNet(DataSpec((1, size, size), 240, "segmentation"))


def _calls(model: nn.Module, x: torch.Tensor, train: bool) -> tuple[Callable[[], object], Callable[[], object]]:
    def infer() -> object:
        model.eval()
        with torch.no_grad():
            return model(x)

    def step() -> object:
        model.train()
        model.zero_grad(set_to_none=True)
        out = model(x)
        out.float().square().mean().backward()
        return out

    return infer, (step if train else infer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-train", action="store_true", help="time inference only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train = not args.no_train

    groups = [
        (
            "brain MRI 4x64^3",
            torch.randn(1, 4, 64, 64, 64),
            [("Swin UNETR f12", _swin(12)), ("Swin UNETR f48", _swin(48))],
            ("UNet 3D", _unet3d()),
        ),
        (
            "chest X-ray 128^2",
            torch.rand(1, 1, 128, 128),
            [("HybridGNet", _hybridgnet(128))],
            ("UNet 2D", _unet2d(128)),
        ),
        (
            "chest X-ray 256^2",
            torch.rand(1, 1, 256, 256),
            [("HybridGNet", _hybridgnet(256))],
            ("UNet 2D", _unet2d(256)),
        ),
    ]
    print(f"threads {args.threads}, repeats {args.repeats}, medians in ms (ratio to the baseline of the same input)\n")
    print("| input | network | params (M) | inference ms | ratio | train step ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for label, x, models, (base_name, base) in groups:
        entries = [*models, (base_name, base)]
        calls = {name: _calls(m, x, train) for name, m in entries}
        for infer, step in calls.values():  # warm-up (oneDNN primitive caches, allocator)
            infer()
            if train:
                step()
        times: dict[str, dict[str, list[float]]] = {name: {"infer": [], "step": []} for name, _ in entries}
        for _ in range(args.repeats):
            for name, (infer, step) in calls.items():
                t = time.perf_counter()
                infer()
                times[name]["infer"].append(time.perf_counter() - t)
                if train:
                    t = time.perf_counter()
                    step()
                    times[name]["step"].append(time.perf_counter() - t)
        med = {
            n: {k: statistics.median(v) * 1e3 if v else float("nan") for k, v in d.items()} for n, d in times.items()
        }
        for name, model in entries:
            params = sum(p.numel() for p in model.parameters()) / 1e6
            ri = med[name]["infer"] / med[base_name]["infer"]
            rs = med[name]["step"] / med[base_name]["step"] if train else float("nan")
            step_ms = f"{med[name]['step']:.1f}" if train else "-"
            print(f"| {label} | {name} | {params:.2f} | {med[name]['infer']:.1f} | {ri:.2f} | {step_ms} | {rs:.2f} |")


if __name__ == "__main__":
    main()

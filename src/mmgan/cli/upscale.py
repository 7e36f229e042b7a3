"""`mmgan upscale` and `mmgan interpolate`: super-resolution runs (srresnet, esrgan; mmgan train --task upscale).

    mmgan upscale RUN --image photo.jpg|FOLDER --out big.png|FOLDER [--tile 128] [--overlap 8] [--context 0]
    mmgan interpolate PSNR_RUN GAN_RUN --alpha 0.8 --out EXPORT
"""
from __future__ import annotations

from .commands import COMMANDS
from .options import add_device, add_tiling
from ..api.upscale import interpolate, upscale_to_path


def _add_upscale(sub):
    p = sub.add_parser("upscale", help="make images larger with a super-resolution run",
                       description="Upscale images of any size by the run's scale (srresnet / esrgan runs: mmgan train "
                       "--task upscale). Big images go through in tiles, each read with extra context and blended "
                       "with its neighbours, so there are no seams and memory stays bounded. Grey and colour images "
                       "are converted to the model's channels; transparency is composited onto white.")
    p.add_argument("run", help="run folder, checkpoint folder or exported pipeline (e.g. from mmgan interpolate)")
    p.add_argument("--image", required=True, help="an image file, or a folder of images (then --out is a folder)")
    p.add_argument("--out", required=True, help="output file (.png, .jpg, ...) or folder (PNGs named after the inputs)")
    add_tiling(p, 128, "input pixels")
    add_device(p)


def _run_upscale(args) -> int:
    for path in upscale_to_path(args.run, args.image, args.out, tile=args.tile, overlap=args.overlap,
                                context=args.context, device=args.device):
        print(path)
    return 0


def _add_interpolate(sub):
    p = sub.add_parser("interpolate", help="blend a PSNR super-resolution run with its GAN twin (ESRGAN)",
                       description="Network interpolation (Wang et al. 2018): every weight (1 - alpha) * PSNR + "
                       "alpha * GAN, for an esrgan run and the srresnet run it started from (model.extra.init_from). "
                       "alpha trades fidelity (0: sharp-edged but smooth PSNR output) for texture (1: the GAN's). "
                       "Writes an exported pipeline that mmgan upscale, the Pipeline and the server take.")
    p.add_argument("psnr_run", help="the PSNR run (srresnet)")
    p.add_argument("gan_run", help="its GAN twin (esrgan)")
    p.add_argument("--alpha", type=float, default=0.8, help="share of the GAN's weights (default 0.8, ESRGAN's)")
    p.add_argument("--out", required=True, help="folder for the exported pipeline")


def _run_interpolate(args) -> int:
    print(f"exported: {interpolate(args.psnr_run, args.gan_run, args.alpha, args.out)}")
    return 0


COMMANDS["upscale"] = (_add_upscale, _run_upscale)
COMMANDS["interpolate"] = (_add_interpolate, _run_interpolate)

